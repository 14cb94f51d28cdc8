"""Field checks for result records: types, finite numbers, ranges, lengths.

A record is written by anyone who can copy a file into the results folder, so
every value the board reads is checked here before it reaches a table, a
figure or a file name: names are bounded strings, numbers are finite and in
their range (metrics in the range :data:`mgbench.schema.METRICS` gives), integers are bounded, nested settings are
plain JSON of bounded size. Each check appends ``"<field> (<why>)"`` to a
list of problems rather than raising, so that one message names every fault.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

#: Longest name (dataset, task, model, relation, loss, protocol, features recipe).
MAX_NAME = 128
#: Longest string anywhere else in a definition (a hyperparameter value, a study name...).
MAX_TEXT = 1000
#: Largest record file read at all; records are a few KB.
MAX_FILE_BYTES = 1 << 20
#: Deepest nesting and most values in a definition's nested settings.
MAX_DEPTH = 8
MAX_VALUES = 10_000
#: Integers in a definition's settings (beyond this JSON readers lose precision).
MAX_INT = 2 ** 53
#: Largest seed: numpy's and scikit-learn's seeds are 32-bit.
MAX_SEED = 2 ** 32 - 1
MAX_PARAMETERS = 10 ** 13
MAX_SECONDS = 1e8                # three years of training
MAX_MEGABYTES = 1e9              # a petabyte
#: Longest integer literal the JSON reader converts; longer ones are refused by field.
_MAX_DIGITS = 30


class HugeNumber:
    """An integer literal too long to convert (Python refuses over 4300 digits, slowly)."""

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))

    def __repr__(self) -> str:
        return f"a {self.digits}-digit number"


def parse_int(literal: str) -> int | HugeNumber:
    """``json.loads``'s integer hook: short literals become ``int``, long ones a marker."""
    return int(literal) if len(literal) <= _MAX_DIGITS else HugeNumber(literal)


def describe(value: Any, limit: int = 40) -> str:
    """A bounded description of ``value`` for a message: never the whole of a long string."""
    if isinstance(value, HugeNumber):
        return repr(value)
    if isinstance(value, str) and len(value) > limit:
        return f"a {len(value)}-character string"
    text = repr(value)
    return text if len(text) <= limit else f"a {type(value).__name__} of {len(text)} characters"


Problems = list[str]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_name(problems: Problems, field: str, value: Any, *, optional: bool = False,
               empty: bool = False) -> None:
    """A short name: a string of 1..MAX_NAME characters (``None`` if ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        problems.append(f"{field} (not a string: {describe(value)})")
    elif not value and not empty:
        problems.append(f"{field} (empty)")
    elif len(value) > MAX_NAME:
        problems.append(f"{field} ({len(value)} characters, at most {MAX_NAME})")


def check_int(problems: Problems, field: str, value: Any, low: int, high: int, *,
              optional: bool = False) -> None:
    """An integer in ``[low, high]`` (``None`` if ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, HugeNumber):
        problems.append(f"{field} ({describe(value)} outside [{low}, {high}])")
    elif not isinstance(value, int) or isinstance(value, bool):
        problems.append(f"{field} (not an integer: {describe(value)})")
    elif not low <= value <= high:
        problems.append(f"{field} ({describe(value)} outside [{low}, {high}])")


def check_number(problems: Problems, field: str, value: Any, low: float, high: float, *,
                 optional: bool = False) -> None:
    """A finite number in ``[low, high]`` (``None`` if ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, HugeNumber):
        problems.append(f"{field} ({describe(value)} outside [{low:g}, {high:g}])")
        return
    if not _is_number(value):
        problems.append(f"{field} (not a number: {describe(value)})")
        return
    try:
        inside = math.isfinite(value) and low <= value <= high
    except OverflowError:            # an int too large for a float
        inside = False
    if not inside:
        problems.append(f"{field} ({describe(value)} outside [{low:g}, {high:g}])")


def check_json(problems: Problems, field: str, value: Any) -> None:
    """Plain JSON of bounded size: string keys, bounded strings and integers, finite numbers."""
    count = 0

    def walk(path: str, item: Any, depth: int) -> str | None:
        nonlocal count
        count += 1
        if count > MAX_VALUES:
            return f"more than {MAX_VALUES} values"
        if depth > MAX_DEPTH:
            return f"{path}: nested deeper than {MAX_DEPTH}"
        if isinstance(item, dict):
            for key, sub in item.items():
                if len(key) > MAX_NAME:
                    return f"{path}: a key of {len(key)} characters, at most {MAX_NAME}"
                if (why := walk(f"{path}.{key}", sub, depth + 1)) is not None:
                    return why
        elif isinstance(item, list):
            for i, sub in enumerate(item):
                if (why := walk(f"{path}[{i}]", sub, depth + 1)) is not None:
                    return why
        elif isinstance(item, str):
            if len(item) > MAX_TEXT:
                return f"{path}: {len(item)} characters, at most {MAX_TEXT}"
        elif isinstance(item, bool) or item is None:
            pass
        elif isinstance(item, int):
            if abs(item) > MAX_INT:
                return f"{path}: {describe(item)} outside ±2^53"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{path}: {item!r} is not finite"
        else:
            return f"{path}: {describe(item)}"
        return None

    why = walk(field, value, 0)
    if why is not None:
        problems.append(f"{field} ({why})" if not why.startswith(field) else why)


def check_dict(problems: Problems, field: str, value: Any, *, optional: bool = False) -> bool:
    """A JSON object of bounded size; returns whether it may be read further."""
    if value is None and optional:
        return False
    if not isinstance(value, dict):
        problems.append(f"{field} (not an object: {describe(value)})")
        return False
    before = len(problems)
    check_json(problems, field, value)
    return len(problems) == before


def check_fields(problems: Problems, field: str, value: dict[str, Any],
                 checks: dict[str, Callable[[Problems, str, Any], None]]) -> None:
    """Run ``checks[key]`` on each key of ``value`` that is present."""
    for key, check in checks.items():
        if key in value:
            check(problems, f"{field}.{key}", value[key])


def loads(text: str) -> Any:
    """``json.loads`` with long integer literals kept as :class:`HugeNumber` markers."""
    return json.loads(text, parse_int=parse_int)
