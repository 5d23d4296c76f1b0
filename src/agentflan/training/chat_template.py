"""The ChatML chat template (the tiny model's, and a base model's when it has none or params ask for it).

ChatML turns. When `tools` are passed, they are rendered into the system turn exactly as
`prompts.render_system` writes them (header, then one compact `prompts.tool_line` per tool), so the Agent-FLAN export
and the training text agree; without a system message, a system turn holding only the tools is added.
"""

from __future__ import annotations

from agentflan.data.prompts import TOOLS_HEADER, render_system
from agentflan.data.schema import Conversation

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = (IM_START, IM_END, PAD)

CHAT_TEMPLATE = (
    "{%- macro tool_block() -%}"
    "{{ '" + TOOLS_HEADER.replace("'", "\\'") + "' }}"
    "{%- for tool in tools %}{%- set f = tool.function if tool.function is defined else tool -%}"
    "{%- set props = f.parameters.properties if (f.parameters is defined and f.parameters.properties is defined) else {} -%}"
    "{%- set req = f.parameters.required if (f.parameters is defined and f.parameters.required is defined) else [] -%}"
    "{{ '\\n' + f.name + '(' }}"
    "{%- for name, spec in props.items() -%}{{ ', ' if not loop.first else '' }}{{ name }}{{ '' if name in req else '?' }}: "
    "{{ spec.type if (spec.type is defined and spec.type is string) else 'any' }}{%- endfor -%}"
    "{{ '): ' + (f.description if f.description is defined else '') }}"
    "{%- endfor -%}"
    "{%- endmacro -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and message.role != 'system' and tools -%}"
    "{{ '<|im_start|>system\\n' }}{{ tool_block() }}{{ '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.role == 'system' and tools -%}"
    "{%- if message.content -%}{{ message.content + '\\n\\n' }}{%- endif -%}{{ tool_block() }}"
    "{%- else -%}{{ message.content }}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def chatml_text(conv: Conversation) -> str:
    """The conversation as `CHAT_TEMPLATE` writes it, without a tokenizer (the tiny tokenizer is trained on it)."""
    parts = []
    if conv.tools_openai() and (not conv.turns or conv.turns[0].role != "system"):
        parts.append(f"{IM_START}system\n{render_system('', conv.tools)}{IM_END}\n")
    for turn in conv.turns:
        content = render_system(turn.content, conv.tools) if (turn.role == "system" and conv.tools_openai()) else turn.content
        parts.append(f"{IM_START}{turn.role}\n{content}{IM_END}\n")
    return "".join(parts)
