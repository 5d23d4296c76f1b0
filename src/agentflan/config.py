"""params.yaml sections -> typed, checked config dataclasses (config flows into code in one place).

`from_section(Cls, values, "convert")` refuses unknown keys and values of the wrong type, naming the
key (`convert.react_fraction: ...`), before any work is done. Range checks live in each config's
`check()`, which raises `ParamsError` with the key too.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class ParamsError(ValueError):
    """A params.yaml value that cannot work; the message names the key."""


def fraction(section: str, key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ParamsError(f"{section}.{key}: {value} is not a fraction between 0 and 1")


def non_negative(section: str, key: str, value: float) -> None:
    if value < 0:
        raise ParamsError(f"{section}.{key}: {value} must not be negative")


def _coerce(section: str, key: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ParamsError(f"{section}.{key}: expected {hint.__name__}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{section}.{key}: expected a list, got {value!r}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{section}.{key}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def from_section(cls: type[T], values: dict[str, Any] | None, section: str) -> T:
    values = values or {}
    if not isinstance(values, dict):
        raise ParamsError(f"{section}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ParamsError(f"{section}.{unknown[0]}: unknown key (known: {', '.join(sorted(fields))})")
    obj = cls(**{k: _coerce(section, k, hints[k], v) for k, v in values.items()})
    check = getattr(obj, "check", None)
    if check:
        check()
    return obj
