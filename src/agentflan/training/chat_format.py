"""A tokenizer's chat format, whatever its template: which turns the loss covers, BOS, and end-of-turn tokens.

The template is treated as a black box, as TRL and axolotl do for arbitrary templates: the conversation is
rendered with a growing prefix of its messages, and each trainable assistant turn's span is the text that
rendering it adds after the generation prompt (its content and end-of-turn token(s)). Tools go through the
template's own `tools` argument when it takes one; otherwise they are written into the system turn the way
`prompts.render_system` writes them (the ChatML template of the tiny model does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentflan.config import ParamsError
from agentflan.data.prompts import render_system
from agentflan.data.schema import Conversation, Tool


class TemplateError(ParamsError):
    """The chat template cannot be used for training as it is (the message says what to set instead)."""


@dataclass
class Rendered:
    text: str
    spans: list[tuple[int, int, str | None]]  # (start, end, capability) of each trainable assistant turn
    message_starts: list[int]  # character offset where each message's rendering begins
    roles: list[str]


@dataclass
class ChatFormat:
    """How one tokenizer writes conversations; built once per tokenizer with `ChatFormat.of`."""

    tokenizer: object
    takes_tools: bool
    add_bos: bool
    end_of_turn_ids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, tokenizer) -> ChatFormat:
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError("the tokenizer has no chat template; set model.chat_template: chatml")
        if not getattr(tokenizer, "is_fast", False):
            raise TemplateError("loss masks need a fast tokenizer (character offsets); this one is not")
        template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else str(tokenizer.chat_template)
        bos = tokenizer.bos_token_id
        add_bos = bos is not None and tokenizer("a")["input_ids"][:1] == [bos]
        fmt = cls(tokenizer, "tools" in template, add_bos)
        fmt.end_of_turn_ids = fmt._end_of_turn_ids()
        return fmt

    def messages(self, conv: Conversation) -> tuple[list[dict[str, str]], list[dict] | None]:
        """The conversation as (messages, tools) for `apply_chat_template`."""
        return self.dialogue(conv.to_messages(), conv.tools_openai())

    def dialogue(self, messages: list[dict[str, str]], tools: list[dict] | None) -> tuple[list[dict[str, str]], list[dict] | None]:
        """(messages, tools) as this template takes them: tools as an argument, or written into the system turn."""
        if not tools or self.takes_tools:
            return messages, tools or None
        offered = [Tool(t["function"]["name"], t["function"].get("description", ""), t["function"].get("parameters", {}))
                   for t in tools]
        if messages and messages[0]["role"] == "system":
            return [{**messages[0], "content": render_system(messages[0]["content"], offered)}, *messages[1:]], None
        return [{"role": "system", "content": render_system("", offered)}, *messages], None

    def render(self, messages: list[dict[str, str]], tools: list[dict] | None, generation_prompt: bool = False) -> str:
        return self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=generation_prompt)

    def render_with_spans(self, conv: Conversation) -> Rendered:
        """The conversation's text and the spans of its trainable assistant turns, by prefix diffing."""
        messages, tools = self.messages(conv)
        text = self.render(messages, tools)
        offset = len(messages) - len(conv.turns)  # a system turn added to hold the tools
        starts, spans, previous = [], [], ""
        for i, message in enumerate(messages):
            upto = self.render(messages[: i + 1], tools)
            if not text.startswith(upto) or not upto.startswith(previous):
                raise TemplateError(f"conversation {conv.id}: the chat template renders turn {i} differently once later turns "
                                    "follow, so loss masks cannot be found by prefix; set model.chat_template: chatml")
            starts.append(len(previous))
            turn = conv.turns[i - offset] if i >= offset else None
            if turn is not None and turn.trainable:
                prompt = self.render(messages[:i], tools, generation_prompt=True)
                if not upto.startswith(prompt):
                    raise TemplateError(f"conversation {conv.id}: the generation prompt of turn {i} is not a prefix of the turn; "
                                        "set model.chat_template: chatml")
                end = len(upto.rstrip())  # the content and its end-of-turn token, not the newline after it
                spans.append((len(prompt), end, turn.capability))
            previous = upto
        return Rendered(text, spans, starts, [m["role"] for m in messages])

    def bos(self, text: str) -> list[int]:
        """[BOS] when the tokenizer adds one and the template did not write it, else []."""
        if self.add_bos and not text.startswith(self.tokenizer.bos_token):
            return [self.tokenizer.bos_token_id]
        return []

    def encode_prompts(self, texts: list[str]) -> list[list[int]]:
        return [self.bos(t) + self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def _end_of_turn_ids(self) -> list[int]:
        """The special tokens the template closes an assistant turn with, and the tokenizer's EOS."""
        probe = "Sure."
        messages = [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": probe}]
        full = self.render(messages, None)
        tail = full[len(self.render(messages[:1], None, generation_prompt=True)):].split(probe, 1)[-1]
        special = set(self.tokenizer.all_special_ids) | set(self.tokenizer.get_added_vocab().values())
        ids = [i for i in self.tokenizer(tail, add_special_tokens=False)["input_ids"] if i in special]
        eos = self.tokenizer.eos_token_id
        return list(dict.fromkeys([*ids[:1], *([eos] if eos is not None else [])]))
