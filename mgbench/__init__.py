"""mgbench: a graph-learning benchmark suite for social-bot and stance detection.

The parts, lowest first (a lower part never imports a higher one):
``datasets`` -> ``features`` -> ``baselines`` + ``losses`` -> ``benchmark`` -> ``leaderboard``.
"""

__version__ = "0.1.0"


#: Names served from the benchmark layer on first use, so that ``import mgbench`` stays light.
_LAZY = {"Evaluator": "mgbench.benchmark.evaluate", "evaluate": "mgbench.benchmark.evaluate"}


def __getattr__(name: str):
    """``mgbench.Evaluator`` and ``mgbench.evaluate`` (see :mod:`mgbench.benchmark.evaluate`), imported lazily."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mgbench' has no attribute {name!r}")
