"""Conversations -> token ids and labels -> packed training sequences.

- `encode` renders a conversation through the tokenizer's chat template (`ChatFormat`), tokenizes it
  with offsets and sets `labels = input_ids` exactly on the tokens that begin in what is learned (a
  turn's content, a native call's name or arguments, the template text around them and the turn's
  end-of-turn token) and touch no piece that is not (a BPE token can run across the boundary, ` {"`
  from the template's space into masked arguments: it is not learned), -100 elsewhere. BOS is added the
  way the tokenizer declares it.
- `pack` places whole conversations into rows of `max_length` (first fit, longest first). A
  conversation longer than a row is cut at turn boundaries into pieces that each begin with its context
  (everything before the first assistant turn: the system turn with the tools, the first user turn), so
  no turn is learned without the tools in view; `truncate` keeps the first piece only.
- `collate` gives ids, labels and per-piece position ids, with no attention mask: transformers builds the
  block-diagonal causal mask from positions that restart at 0 (eager, SDPA), and flash attention runs
  variable-length kernels on them, so no token attends across pieces.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from agentflan.data.schema import CAPABILITIES, Conversation
from agentflan.training.chat_format import ChatFormat

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    capabilities: list[int] | None = None  # per token: the index in CAPABILITIES of its piece's label, or -1
    message_starts: list[int] = field(default_factory=list)  # token index where each message begins
    roles: list[str] = field(default_factory=list)

    @property
    def trainable(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)

    @property
    def context_end(self) -> int:
        """Tokens before the first assistant turn: the context every piece of a long conversation repeats."""
        return next((s for s, r in zip(self.message_starts, self.roles) if r == "assistant"), len(self.input_ids))


def encode(fmt: ChatFormat, conv: Conversation) -> Encoded:
    rendered = fmt.render_with_spans(conv)
    bos = fmt.bos(rendered.text)
    enc = fmt.tokenizer(rendered.text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = bos + list(enc["input_ids"]), [(0, 0)] * len(bos) + list(enc["offset_mapping"])
    labels = [IGNORE] * len(ids)
    capabilities = [-1] * len(ids)
    spans, masked = rendered.spans, rendered.masked
    span_i = masked_i = 0
    for i, (start, end) in enumerate(offsets):
        while span_i < len(spans) and start >= spans[span_i][1]:
            span_i += 1
        while masked_i < len(masked) and start >= masked[masked_i][1]:
            masked_i += 1
        touches_masked = masked_i < len(masked) and masked[masked_i][0] < end
        if span_i < len(spans) and spans[span_i][0] <= start < spans[span_i][1] and end > start and not touches_masked:
            labels[i] = ids[i]
            capability = spans[span_i][2]
            capabilities[i] = CAPABILITIES.index(capability) if capability in CAPABILITIES else -1
    starts, t = [], 0
    for char_start in rendered.message_starts:  # the first token that begins at or after the message's first character
        while t < len(ids) and (offsets[t][0] < char_start or (t < len(bos) and char_start > 0)):
            t += 1
        starts.append(0 if char_start == 0 else t)
    return Encoded(ids, labels, capabilities, starts, rendered.roles)


@dataclass
class Packed:
    """Rows of `max_length` tokens. `segments` numbers the conversations within a row (0 = padding)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    segments: list[list[int]]
    positions: list[list[int]]
    capabilities: list[list[int]] = field(default_factory=list)  # per token, as in `Encoded`
    documents: int = 0
    split_documents: int = 0  # conversations longer than a row, learned in pieces (or truncated)
    dropped_documents: int = 0  # conversations whose context alone is longer than a row: not learned
    dropped_trainable_tokens: int = 0  # trainable tokens lost to truncation and dropping
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


Piece = tuple[list[int], list[int], list[int]]  # ids, labels, capabilities


def _pieces(enc: Encoded, max_length: int, mode: str) -> list[Piece]:
    """A conversation as one piece, or, when longer than a row, pieces that each start with its context.

    The turns after the context are grouped greedily into pieces of at most `max_length` tokens with the
    context in front; a piece ends before a user or tool turn where it can, so each piece starts with the
    question its first reply answers. A turn too long for a piece on its own is cut at the row's end. A
    conversation whose context alone fills a row cannot be learned with its tools in view: no pieces.
    """
    n, caps = len(enc.input_ids), enc.capabilities or [-1] * len(enc.input_ids)
    if n <= max_length:
        return [(enc.input_ids, enc.labels, caps)]
    ctx = enc.context_end
    if ctx >= max_length:
        return []
    bounds = [s for s in enc.message_starts if s >= ctx] + [n]
    turns = [(a, b, role) for (a, b), role in zip(zip(bounds, bounds[1:]), enc.roles[-len(bounds) + 1 :]) if b > a]
    room = max_length - ctx
    groups: list[list[tuple[int, int, str]]] = [[]]
    for turn in turns:
        size = sum(b - a for a, b, _ in groups[-1])
        if groups[-1] and size + turn[1] - turn[0] > room:
            carry = []
            if (
                turn[2] == "assistant"
                and len(groups[-1]) > 1
                and groups[-1][-1][2] != "assistant"
                and groups[-1][-1][1] - groups[-1][-1][0] + turn[1] - turn[0] <= room
            ):
                carry = [groups[-1].pop()]  # the question travels with its reply
            groups.append(carry)
        groups[-1].append(turn)
    pieces = []
    for group in groups:
        ids, labels, piece_caps = list(enc.input_ids[:ctx]), [IGNORE] * ctx, [-1] * ctx
        for a, b, _ in group:
            ids += enc.input_ids[a:b]
            labels += enc.labels[a:b]
            piece_caps += caps[a:b]
        pieces.append((ids[:max_length], labels[:max_length], piece_caps[:max_length]))
        if mode == "truncate":
            break
    return pieces


def pack(
    encoded: Iterable[Encoded], max_length: int, pad_id: int, long_conversations: str = "repeat_context"
) -> Packed:
    """First-fit-decreasing packing of conversations into rows of `max_length`.

    A conversation longer than a row becomes pieces (`_pieces`; counted in `split_documents`, those that
    cannot keep their context in `dropped_documents`); each piece is its own segment with positions from 0.
    """
    out = Packed([], [], [], [])
    pieces: list[tuple[list[int], list[int], list[int]]] = []
    for enc in encoded:
        if not enc.input_ids:
            continue
        out.documents += 1
        parts = _pieces(enc, max_length, long_conversations)
        out.split_documents += len(enc.input_ids) > max_length and bool(parts)
        out.dropped_documents += not parts
        out.dropped_trainable_tokens += enc.trainable - sum(1 for p in parts for x in p[1] if x != IGNORE)
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
        out.positions.append(poss + list(range(pad)))  # padding is a sequence of its own, after every real token
    return out


def collate(packed: Packed, rows: list[int]):
    """Tensors for the given rows: ids, labels and position ids (no mask: positions mark the pieces)."""
    import torch

    return {
        "input_ids": torch.tensor([packed.input_ids[r] for r in rows]),
        "labels": torch.tensor([packed.labels[r] for r in rows]),
        "position_ids": torch.tensor([packed.positions[r] for r in rows]),
    }


def target_count(packed: Packed, rows: list[int]) -> int:
    """Labelled tokens the given rows contribute to the loss (labels are shifted: position 0 predicts nothing)."""
    return sum(1 for r in rows for x in packed.labels[r][1:] if x != IGNORE)


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
