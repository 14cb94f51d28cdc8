"""``--seeds`` and a suite's ``seeds:``: a typo is one clear ValueError, never a 100-million-element list."""

from __future__ import annotations

import pytest

from mgbench.datasets.splits import MAX_SEEDS, parse_seeds


def test_seed_forms():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds(" 1, 5 ,7") == [1, 5, 7]
    assert parse_seeds(3) == [3]
    assert parse_seeds([0, 2]) == [0, 2]  # a YAML list
    assert parse_seeds(f"0-{MAX_SEEDS - 1}") == list(range(MAX_SEEDS))


@pytest.mark.parametrize("spec, message", [
    ("0-100000000", rf"100,000,001 seeds, more than the cap of {MAX_SEEDS:,}"),
    ("0-" + "9" * 5000, "too large"),
    ("4294967296", r"too large \(seeds are below 2\*\*32"),
    ("-1", "is not a seed or a range"),
    ("1e3", "is not a seed or a range"),
    ("0-x", "is not a seed or a range"),
    ("5-2", "the range '5-2' is empty"),
    ("", "no seeds"),
    (1.5, "expected a number, a range"),
    (None, "expected a number, a range"),
])
def test_bad_seeds_are_one_clear_error(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_seeds(spec)
