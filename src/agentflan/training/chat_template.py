"""The chat template: used in training, in evaluation and by users (`tokenizer.apply_chat_template`).

ChatML-style turns. When `tools` are passed, they are rendered into the system turn exactly as
`prompts.render_system` writes them (header, then one `tojson` line per tool), so the Agent-FLAN export
and the training text agree; without a system message, a system turn holding only the tools is added.
"""

from __future__ import annotations

from agentflan.data.prompts import TOOLS_HEADER

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = (IM_START, IM_END, PAD)

CHAT_TEMPLATE = (
    "{%- macro tool_block() -%}"
    "{{ '" + TOOLS_HEADER.replace("'", "\\'") + "' }}"
    "{%- for tool in tools %}{{ '\\n' }}{{ (tool.function if tool.function is defined else tool) | tojson }}{%- endfor -%}"
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


def turn_prefix(role: str) -> str:
    return f"{IM_START}{role}\n"


TURN_SUFFIX = f"{IM_END}\n"
