"""The ChatML chat template (the tiny model's, and a base model's when it has none or params ask for it).

ChatML turns, with tools and tool calls written the Hermes / Qwen2.5 way, so that every OpenAI-compatible
server that knows that syntax (`transformers serve`, vLLM's `hermes` tool parser) returns the model's calls as
`tool_calls`:
- offered `tools`: a `<tools>` block of their JSON schemas in the system turn (`prompts.render_system` writes the
  same text for the Agent-FLAN export); without a system message, a system turn holding only the tools is added;
- an assistant message's `tool_calls`: after its content, one `<tool_call>\\n{"name": ..., "arguments": ...}\\n
  </tool_call>` each (`prompts.tool_call_text`), arguments given as an object or as a JSON string;
- a `tool` message: `<tool_response>` around its content.
The generation prompt is `<|im_start|>assistant\\n`, the anchor transformers' Qwen2 response template parses from.
"""

from __future__ import annotations

from agentflan.data.prompts import TOOLS_FOOTER, TOOLS_HEADER
from agentflan.data.schema import Conversation

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = (IM_START, IM_END, PAD)
# the tool-calling markers: one token each in the tiny vocabulary, not special (decoded text keeps them, so the
# response parser sees them)
TOOL_MARKERS = ("<tools>", "</tools>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
RESPONSE_TEMPLATE_FAMILY = (
    "qwen2"  # transformers' fallback response template for this syntax (`tokenizer.response_template`)
)


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


CHAT_TEMPLATE = (
    "{%- macro tool_block() -%}"
    "{{ " + _literal(TOOLS_HEADER) + " }}"
    "{%- for tool in tools %}{{ '\\n' }}{{ (tool.function if tool.function is defined else tool) | tojson }}{%- endfor -%}"
    "{{ '\\n' + " + _literal(TOOLS_FOOTER) + " }}"
    "{%- endmacro -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and message.role != 'system' and tools -%}"
    "{{ '<|im_start|>system\\n' }}{{ tool_block() }}{{ '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.role == 'system' and tools -%}"
    "{%- if message.content -%}{{ message.content + '\\n\\n' }}{%- endif -%}{{ tool_block() }}"
    "{%- elif message.role == 'tool' -%}"
    "{{ '<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- else -%}"
    "{%- if message.content -%}{{ message.content }}{%- endif -%}"
    "{%- for call in (message.tool_calls or []) -%}{%- set f = call.function if call.function is defined else call -%}"
    "{{ '\\n' if (message.content or not loop.first) else '' }}{{ '<tool_call>\\n{\"name\": \"' + f.name + '\", \"arguments\": ' }}"
    "{{ f.arguments if f.arguments is string else f.arguments | tojson }}{{ '}\\n</tool_call>' }}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def chatml_text(conv: Conversation) -> str:
    """The conversation as `CHAT_TEMPLATE` renders it, without a tokenizer (the tiny tokenizer is trained on it)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(
        conversations=[conv.to_messages()], tools=conv.tools_openai(), chat_template=CHAT_TEMPLATE
    )
    return rendered[0]
