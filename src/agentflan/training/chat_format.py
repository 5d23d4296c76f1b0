"""A tokenizer's chat format, whatever its template: which tokens the loss covers, BOS, end-of-turn tokens, and
whether it can carry native tool calls.

The template is treated as a black box, as TRL and axolotl do for arbitrary templates: the conversation is
rendered with a growing prefix of its messages, and each trainable assistant turn's region is the text that
rendering it adds after the generation prompt (its content, its calls and end-of-turn token(s)). Inside that
region each piece of the turn (`Turn.pieces`: the content, each native call's name and its arguments) is found
where the template wrote it. A learned piece's text is labelled, a piece that is not learned is left out, and
the template's own text around the pieces (`<tool_call>\\n{"name": "`, `", "arguments": `, the closing markers,
the end-of-turn token) is labelled with the turn, so that `mix.retrieval=0.25` removes the loss from tool-name
tokens only and the model still learns to open and close every call. A piece the template does not write
(Llama 3.1 drops the content of a message with calls) teaches nothing.

Tools go through the template's own `tools` argument when it takes one; otherwise they are written into the system
turn the way `prompts.render_system` writes them. Native tool calls need a template that renders `tool_calls` and a
response template that parses them back (`tokenizer.response_template`); `require_native` says what to set instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from agentflan.config import ParamsError
from agentflan.data.prompts import render_system
from agentflan.data.schema import Conversation, Piece, Tool, Turn


class TemplateError(ParamsError):
    """The chat template cannot be used for training as it is (the message says what to set instead)."""


@dataclass
class Rendered:
    text: str
    spans: list[
        tuple[int, int, str | None]
    ]  # (start, end, capability) of what is learned: pieces and the template text around them
    message_starts: list[int]  # character offset where each message's rendering begins
    roles: list[str]
    masked: list[tuple[int, int]] = field(default_factory=list)  # pieces that are not learned, inside learned turns


_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "agentflan_probe_tool",
        "description": "A probe.",
        "parameters": {"type": "object", "properties": {"probe_argument": {"type": "string"}}},
    },
}
_PROBE_CALL = {
    "type": "function",
    "function": {"name": "agentflan_probe_tool", "arguments": {"probe_argument": "probe_value_42"}},
}


def argument_renderings(arguments: dict) -> list[str]:
    """The ways a template's `tojson` (or a hand-written one) can write an arguments object."""
    out = []
    for ascii_only in (False, True):
        for separators in ((", ", ": "), (",", ":")):
            for sort_keys in (False, True):
                out.append(json.dumps(arguments, ensure_ascii=ascii_only, separators=separators, sort_keys=sort_keys))
    return list(dict.fromkeys(out))


@dataclass
class ChatFormat:
    """How one tokenizer writes conversations; built once per tokenizer with `ChatFormat.of`."""

    tokenizer: object
    takes_tools: bool = False
    add_bos: bool = False
    renders_tool_calls: bool = False
    parses_tool_calls: bool = False
    end_of_turn_ids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, tokenizer) -> ChatFormat:
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError("the tokenizer has no chat template; set model.chat_template: chatml")
        if not getattr(tokenizer, "is_fast", False):
            raise TemplateError("loss masks need a fast tokenizer (character offsets); this one is not")
        bos = tokenizer.bos_token_id
        fmt = cls(tokenizer, add_bos=bos is not None and tokenizer("a")["input_ids"][:1] == [bos])
        fmt.takes_tools = "agentflan_probe_tool" in fmt._probe([{"role": "user", "content": "Hi."}], [_PROBE_TOOL])
        fmt.renders_tool_calls = "probe_value_42" in fmt._probe(
            [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "", "tool_calls": [_PROBE_CALL]}],
            [_PROBE_TOOL],
        )
        fmt.parses_tool_calls = getattr(tokenizer, "response_template", None) is not None
        fmt.end_of_turn_ids = fmt._end_of_turn_ids()
        return fmt

    def _probe(self, messages: list[dict], tools: list[dict]) -> str:
        """What the template writes for a probe conversation ("" when it refuses it)."""
        try:
            return self.render(messages, tools)
        except Exception:  # a template that raises on tools or calls cannot take them  # noqa: BLE001
            return ""

    def require_native(self) -> None:
        """Refuse native tool calls when this template cannot write them or no response template can read them back."""
        if not self.renders_tool_calls:
            raise TemplateError(
                "convert.call_style: native needs a chat template that renders assistant tool_calls; this "
                "model's does not: set convert.call_style: elicited (or model.chat_template: chatml)"
            )
        if not self.parses_tool_calls:
            raise TemplateError(
                "convert.call_style: native needs a response template to read tool calls back (the tokenizer's "
                "response_template, or transformers' fallback for its model type); this model has none: set "
                "convert.call_style: elicited (or model.chat_template: chatml)"
            )

    def messages(self, conv: Conversation) -> tuple[list[dict], list[dict] | None]:
        """The conversation as (messages, tools) for `apply_chat_template`."""
        return self.dialogue(conv.to_messages(), conv.tools_openai())

    def dialogue(self, messages: list[dict], tools: list[dict] | None) -> tuple[list[dict], list[dict] | None]:
        """(messages, tools) as this template takes them: tools as an argument, or written into the system turn."""
        if not tools or self.takes_tools:
            return messages, tools or None
        offered = [
            Tool(t["function"]["name"], t["function"].get("description", ""), t["function"].get("parameters", {}))
            for t in tools
        ]
        if messages and messages[0]["role"] == "system":
            return [{**messages[0], "content": render_system(messages[0]["content"], offered)}, *messages[1:]], None
        return [{"role": "system", "content": render_system("", offered)}, *messages], None

    def render(self, messages: list[dict], tools: list[dict] | None, generation_prompt: bool = False) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=False, add_generation_prompt=generation_prompt
        )

    def render_with_spans(self, conv: Conversation) -> Rendered:
        """The conversation's text and the spans of its learned pieces, by prefix diffing."""
        messages, tools = self.messages(conv)
        if not self.renders_tool_calls and any(m.get("tool_calls") for m in messages):
            self.require_native()
        text = self.render(messages, tools)
        offset = len(messages) - len(conv.turns)  # a system turn added to hold the tools
        starts, spans, masked, previous = [], [], [], ""
        for i in range(len(messages)):
            turn = conv.turns[i - offset] if i >= offset else None
            upto = self.render(messages[: i + 1], tools)
            if not (text.startswith(upto) and upto.startswith(previous)):
                if turn is not None and turn.trainable:
                    raise TemplateError(
                        f"conversation {conv.id}: the chat template renders turn {i} differently once later "
                        "turns follow, so loss masks cannot be found by prefix; set model.chat_template: chatml"
                    )
                starts.append(starts[-1] if starts else 0)  # the template writes it together with the next message
                continue  # (Qwen2.5 groups consecutive tool results in one turn)
            starts.append(len(previous))
            if turn is not None and turn.trainable:
                prompt = self.render(messages[:i], tools, generation_prompt=True)
                if not upto.startswith(prompt):
                    raise TemplateError(
                        f"conversation {conv.id}: the generation prompt of turn {i} is not a prefix of the turn; "
                        "set model.chat_template: chatml"
                    )
                end = len(upto.rstrip())  # the turn and its end-of-turn token, not the newline after it
                for a, b, capability, learned in turn_tiles(upto, len(prompt), end, turn, conv.id):
                    (spans.append((a, b, capability)) if learned else masked.append((a, b)))
            previous = upto
        return Rendered(text, spans, starts, [m["role"] for m in messages], masked)

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
        tail = full[len(self.render(messages[:1], None, generation_prompt=True)) :].split(probe, 1)[-1]
        special = set(self.tokenizer.all_special_ids) | set(self.tokenizer.get_added_vocab().values())
        ids = [i for i in self.tokenizer(tail, add_special_tokens=False)["input_ids"] if i in special]
        eos = self.tokenizer.eos_token_id
        return list(dict.fromkeys([*ids[:1], *([eos] if eos is not None else [])]))


def turn_tiles(text: str, start: int, end: int, turn: Turn, conv_id: str) -> list[tuple[int, int, str | None, bool]]:
    """The region [start, end) of an assistant turn as (start, end, capability, learned) tiles: each piece where the
    template wrote it (learned when the piece is), and the template's text around them, learned with no capability
    (so the per-capability loss measures the pieces themselves), except the closing text and end-of-turn token after
    the last piece, which count with it as they always have. A call's name or arguments that cannot be found where the
    template should have written them is an error, never a silently wrong mask."""
    found: list[tuple[int, int, Piece]] = []
    cursor = start
    for piece in turn.pieces():
        if piece.key == "content":
            options = [piece.text.strip()] if piece.text.strip() else []
        elif piece.key.startswith("name:"):
            options = [piece.text]
        else:
            options = argument_renderings(turn.tool_calls[piece.call_index].arguments)
        hits = sorted((at, o) for o in options if (at := text.find(o, cursor, end)) >= 0)
        if not hits:
            if piece.key == "content":
                continue  # the template does not write this message's content: nothing of it can be learned
            raise TemplateError(
                f"conversation {conv_id}: the chat template does not write the {piece.part} of a tool call "
                f"({piece.text[:40]!r}) where expected; set model.chat_template: chatml"
            )
        at, option = hits[0]
        found.append((at, at + len(option), piece))
        cursor = at + len(option)
    tiles, cursor = [], start
    for a, b, piece in found:
        if a > cursor:
            tiles.append((cursor, a, None, True))
        tiles.append((a, b, piece.capability, piece.loss))
        cursor = b
    if cursor < end:
        tiles.append((cursor, end, found[-1][2].capability if found else turn.capability, True))
    return tiles
