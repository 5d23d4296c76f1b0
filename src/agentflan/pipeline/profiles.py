"""One summary row per record, the frames the Great Expectations suites run on, kept as columns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agentflan.data.schema import PSEUDO_TOOLS, Conversation, Piece


def raw_row(fmt: str, index: int, record: Any) -> dict[str, Any]:
    """A raw upstream record: id, turn count, roles (for `expectations/raw_<format>.json`)."""
    rec = record if isinstance(record, dict) else {}
    turns = rec.get("conversations", rec.get("conversation"))
    turns = turns if isinstance(turns, list) else []
    roles = [t.get("from", t.get("role")) if isinstance(t, dict) else None for t in turns]
    return {
        "id": str(rec.get("id", "")),
        "index": index,
        "n_turns": len(turns),
        "first_role": roles[0] if roles else None,
        "last_role": roles[-1] if roles else None,
        "roles": ",".join(sorted({str(r) for r in roles})),
        "empty_values": sum(
            1 for t in turns if isinstance(t, dict) and not str(t.get("value", t.get("content", ""))).strip()
        ),
    }


def _unknown_calls(conv: Conversation) -> int:
    offered = {t.name for t in conv.tools}
    return sum(1 for c in conv.calls if c.name not in offered and c.name not in PSEUDO_TOOLS)


# Each field of a canonical conversation's profile row, from the record and its learned pieces. A stage computes only
# the fields its suites check (`validation.suite_columns`): all sixteen took a sixth of decompose's per-record work
# (5 Dec 2026), and its suite reads four.
ROW_FIELDS: dict[str, Callable[[Conversation, list[Piece]], Any]] = {
    "id": lambda conv, learned: conv.id,
    "source": lambda conv, learned: conv.source,
    "kind": lambda conv, learned: conv.kind,
    "style": lambda conv, learned: conv.style,
    "n_turns": lambda conv, learned: len(conv.turns),
    "n_assistant": lambda conv, learned: sum(1 for t in conv.turns if t.role == "assistant"),
    "n_trainable": lambda conv, learned: sum(1 for t in conv.turns if t.trainable),
    "first_role": lambda conv, learned: conv.turns[0].role if conv.turns else None,
    "last_role": lambda conv, learned: conv.turns[-1].role if conv.turns else None,
    "query_chars": lambda conv, learned: len(conv.query),
    "n_tools": lambda conv, learned: len(conv.tools),
    "n_calls": lambda conv, learned: len(conv.calls),
    "unknown_calls": lambda conv, learned: _unknown_calls(conv),
    "empty_trainable": lambda conv, learned: sum(1 for p in learned if not p.text.strip()),
    "unlabelled": lambda conv, learned: sum(1 for t in conv.turns if t.role == "assistant" and t.capability is None),
    "trainable_chars": lambda conv, learned: sum(len(p.text) for p in learned),
}


def row_fields(columns: Iterable[str]) -> tuple[str, ...]:
    """Of a stage's kept columns, those a conversation's profile row has (the rest the stage adds itself)."""
    return tuple(k for k in columns if k in ROW_FIELDS)


def conversation_row(
    conv: Conversation, learned: list[Piece] | None = None, fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """A canonical conversation (for `expectations/converted.json` and later boundaries): the `ROW_FIELDS` named
    in `fields` (`row_fields` of what the stage keeps; default every one). `learned`: `conv.learned_pieces()` when the
    caller has them already."""
    learned = conv.learned_pieces() if learned is None else learned
    return {key: ROW_FIELDS[key](conv, learned) for key in (ROW_FIELDS if fields is None else fields)}


class Profile:
    """Summary rows collected while a stage streams its records, held as one list per field rather than a dict per
    row (measured on converted ToolBench conversations: about 150 bytes a record against 490 for a dict per row;
    short repeated strings such as `kind` are stored once), because expectations such as unique ids need every row
    at once. `keep`: the fields kept of each row (`validation.suite_columns` of the stage's suites: what they check;
    default every field). `frame()` is what `validate` takes."""

    REPEATED = 64  # strings up to this length are shared between rows (kinds, sources, roles, splits)

    def __init__(self, rows: Iterable[dict[str, Any]] = (), keep: Iterable[str] | None = None):
        self.keep = tuple(keep) if keep is not None else None
        self.columns: dict[str, list[Any]] = {key: [] for key in self.keep or ()}  # a frame of no rows has them too
        self._fields: Any = None  # the first row's keys: every row has them
        self._strings: dict[str, str] = {}
        for row in rows:
            self.add(row)

    def add(self, row: dict[str, Any]) -> None:
        if self._fields is None:
            if self.keep is None and self.columns.keys() != row.keys():  # every field (none extended yet)
                if self.columns:
                    raise ValueError(f"profile row fields {sorted(row)} differ from {sorted(self.columns)}")
                self.columns = {key: [] for key in row}
            if missing := [key for key in self.columns if key not in row]:
                raise ValueError(f"profile rows lack the field(s) {missing} that the suites check")
            self._fields = row.keys()
            self._lists = [(key, key != "id", column) for key, column in self.columns.items()]  # shared strings?
        elif row.keys() != self._fields:
            raise ValueError(f"profile row fields {sorted(row)} differ from the first row's {sorted(self._fields)}")
        strings, short = self._strings, self.REPEATED
        for key, shared, column in self._lists:
            value = row[key]
            if shared and value.__class__ is str and len(value) <= short:
                value = strings.setdefault(value, value)
            column.append(value)

    def extend(self, columns: dict[str, list[Any]]) -> None:
        """The columns of another profile (a chunk's, made in a worker process) appended to these."""
        if self.columns and columns and columns.keys() != self.columns.keys():
            raise ValueError(f"profile fields {sorted(columns)} differ from {sorted(self.columns)}")
        for key, values in columns.items():
            self.columns.setdefault(key, []).extend(values)

    def frame(self):
        """The columns as a DataFrame; text columns hold the profile's own strings (pandas' default Arrow strings
        copy every value, and GX's unique check turns them back into Python strings: 90 MiB more at 500k ids)."""
        import pandas as pd

        return pd.DataFrame({k: pd.Series(v, dtype=object) if _text(v) else v for k, v in self.columns.items()})


def _text(values: list[Any]) -> bool:
    return isinstance(next((v for v in values if v is not None), None), str)


def query_split_rows(profile: Profile) -> Profile:
    """Distinct (query_key, split) pairs, in the order first met: a query in both splits shows up as a duplicate
    query_key."""
    pairs = dict.fromkeys(zip(profile.columns.get("query_key", []), profile.columns.get("split", [])))
    rows = Profile(keep=("query_key", "split"))
    rows.extend({"query_key": [q for q, _ in pairs], "split": [s for _, s in pairs]})
    return rows


def raw_frame(path: str, fmt: str):
    """The raw-boundary frame of one upstream file (unreadable lines become rows without an id)."""
    from agentflan.data.jsonio import iter_raw

    return Profile(raw_row(fmt, r.index, r.data) for r in iter_raw(path)).frame()
