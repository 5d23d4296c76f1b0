"""Conversations -> token ids and labels -> packed training sequences.

- `render_with_spans` writes a conversation as the chat template does and returns, for every
  `loss: true` assistant turn, the character span of its content plus its end-of-turn marker.
  (`tests/test_train_data.py` checks the text equals `tokenizer.apply_chat_template`.)
- `encode` tokenizes with offsets and sets `labels = input_ids` exactly on the tokens inside those
  spans, -100 elsewhere: the loss is on trainable assistant turns and their end-of-turn token only.
- `pack` places whole conversations into rows of `max_length` (first fit, longest first); only a
  conversation longer than a row is cut. Every row carries segment ids; `collate` turns them into a
  block-diagonal causal attention mask and per-segment position ids, so no token attends across
  conversations. Padding is what first-fit leaves over (`padding_fraction` in the metrics).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from agentflan.data.prompts import render_system
from agentflan.data.schema import CAPABILITIES, Conversation
from agentflan.training.chat_template import IM_END, TURN_SUFFIX, turn_prefix

IGNORE = -100


def render_with_spans(conv: Conversation) -> tuple[str, list[tuple[int, int, str | None]]]:
    """The chat-template text of a conversation and the (start, end, capability) spans the loss covers."""
    tools = conv.tools_openai()
    parts: list[str] = []
    spans: list[tuple[int, int, str | None]] = []
    pos = 0

    def add(text: str) -> None:
        nonlocal pos
        parts.append(text)
        pos += len(text)

    if tools and (not conv.turns or conv.turns[0].role != "system"):
        add(turn_prefix("system") + render_system("", conv.tools) + TURN_SUFFIX)
    for turn in conv.turns:
        add(turn_prefix(turn.role))
        content = render_system(turn.content, conv.tools) if (turn.role == "system" and tools) else turn.content
        start = pos
        add(content)
        if turn.trainable:
            spans.append((start, pos + len(IM_END), turn.capability))
        add(TURN_SUFFIX)
    return "".join(parts), spans


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    capabilities: list[int] | None = None  # per token: the index in CAPABILITIES of its turn's label, or -1

    @property
    def trainable(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def encode(tokenizer, conv: Conversation) -> Encoded:
    text, spans = render_with_spans(conv)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = [IGNORE] * len(enc["input_ids"])
    capabilities = [-1] * len(enc["input_ids"])
    span_i = 0
    for i, (start, end) in enumerate(enc["offset_mapping"]):
        while span_i < len(spans) and start >= spans[span_i][1]:
            span_i += 1
        if span_i < len(spans) and spans[span_i][0] <= start and end <= spans[span_i][1] and end > start:
            labels[i] = enc["input_ids"][i]
            capability = spans[span_i][2]
            capabilities[i] = CAPABILITIES.index(capability) if capability in CAPABILITIES else -1
    return Encoded(list(enc["input_ids"]), labels, capabilities)


@dataclass
class Packed:
    """Rows of `max_length` tokens. `segments` numbers the conversations within a row (0 = padding)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    segments: list[list[int]]
    positions: list[list[int]]
    capabilities: list[list[int]] = field(default_factory=list)  # per token, as in `Encoded`
    documents: int = 0
    split_documents: int = 0  # conversations that continue from one row into the next
    pad_tokens: int = 0

    @property
    def rows(self) -> int:
        return len(self.input_ids)

    @property
    def tokens(self) -> int:
        return sum(len(r) for r in self.input_ids)

    @property
    def padding_fraction(self) -> float:
        return self.pad_tokens / max(1, self.tokens)

    @property
    def trainable_tokens(self) -> int:
        return sum(1 for row in self.labels for x in row if x != IGNORE)


def _pieces(enc: Encoded, max_length: int, boundary_id: int | None) -> list[tuple[list[int], list[int], list[int]]]:
    """A conversation as one piece, or several when it is longer than a row.

    Cuts fall on a turn boundary (a `boundary_id` token, never trained on) where one fits in the row;
    a cut inside a turn drops the label of the continuation's first token, which would otherwise be
    predicted from the previous segment in the row.
    """
    out, offset, n = [], 0, len(enc.input_ids)
    caps = enc.capabilities or [-1] * n
    while offset < n:
        end = min(offset + max_length, n)
        if end < n and boundary_id is not None:
            cut = max((p for p in range(offset + 1, end + 1) if p < n and enc.input_ids[p] == boundary_id), default=None)
            end = cut or end
        labels = enc.labels[offset:end]
        if offset and enc.input_ids[offset] != boundary_id:
            labels = [IGNORE] + labels[1:]
        out.append((enc.input_ids[offset:end], labels, caps[offset:end]))
        offset = end
    return out


def pack(encoded: Iterable[Encoded], max_length: int, pad_id: int, boundary_id: int | None = None) -> Packed:
    """First-fit-decreasing packing of whole conversations into rows of `max_length`.

    A conversation longer than a row is cut into pieces, at turn boundaries where possible (counted
    in `split_documents`); each piece is its own segment, so it attends only to itself.
    """
    out = Packed([], [], [], [])
    pieces: list[tuple[list[int], list[int], list[int]]] = []
    for enc in encoded:
        if not enc.input_ids:
            continue
        out.documents += 1
        parts = _pieces(enc, max_length, boundary_id)
        out.split_documents += len(parts) > 1
        pieces.extend(parts)
    order = sorted(range(len(pieces)), key=lambda i: (-len(pieces[i][0]), i))  # stable: deterministic rows
    rows: list[list[int]] = []  # piece indices per row
    free: list[int] = []
    for i in order:
        size = len(pieces[i][0])
        row = next((r for r, room in enumerate(free) if room >= size), None)
        if row is None:
            rows.append([]), free.append(max_length)
            row = len(rows) - 1
        rows[row].append(i)
        free[row] -= size
    for members in rows:
        ids: list[int] = []
        labels: list[int] = []
        caps: list[int] = []
        segs: list[int] = []
        poss: list[int] = []
        for segment, i in enumerate(members, start=1):
            piece_ids, piece_labels, piece_caps = pieces[i]
            ids += piece_ids
            labels += piece_labels
            caps += piece_caps
            segs += [segment] * len(piece_ids)
            poss += range(len(piece_ids))
        pad = max_length - len(ids)
        out.pad_tokens += pad
        out.input_ids.append(ids + [pad_id] * pad)
        out.labels.append(labels + [IGNORE] * pad)
        out.capabilities.append(caps + [-1] * pad)
        out.segments.append(segs + [0] * pad)
        out.positions.append(poss + [0] * pad)
    return out


def collate(packed: Packed, rows: list[int]):
    """Tensors for the given rows: ids, labels, a 4D block-diagonal causal mask and position ids."""
    import torch

    input_ids = torch.tensor([packed.input_ids[r] for r in rows])
    labels = torch.tensor([packed.labels[r] for r in rows])
    segments = torch.tensor([packed.segments[r] for r in rows])
    positions = torch.tensor([packed.positions[r] for r in rows])
    length = input_ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    same = (segments[:, :, None] == segments[:, None, :]) & (segments[:, :, None] > 0)
    allowed = same & causal
    allowed |= torch.eye(length, dtype=torch.bool)  # padding rows attend to themselves (no NaN rows)
    mask = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask[:, None], "position_ids": positions}


def unigram_loss(train: Packed, validation: Packed, vocab_size: int) -> float:
    """Cross-entropy (nats/token) of a token-frequency model fit on train labels, on validation labels."""
    counts = Counter(x for row in train.labels for x in row if x != IGNORE)
    total = sum(counts.values()) + vocab_size  # add-one smoothing
    nll, n = 0.0, 0
    for row in validation.labels:
        for x in row:
            if x != IGNORE:
                nll -= math.log((counts[x] + 1) / total)
                n += 1
    return nll / max(1, n)
