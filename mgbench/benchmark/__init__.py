"""The benchmark layer: registry, run spec, training loop, metrics, evaluator, runner, result store.

The names below are imported from their modules on first use, so that a command
which needs one light module (``mgbench models`` reads the registry and the
protocol) does not load PyG and scikit-learn through the runner.
"""

from __future__ import annotations

import importlib

#: Public name -> the module that defines it.
_EXPORTS = {
    "ModelSpec": "mgbench.registry", "register_model": "mgbench.registry", "registered_models": "mgbench.registry",
    "Evaluator": ".evaluate", "compute_metrics": ".metrics", "ModelError": ".models", "resolve_model": ".models",
    "PredictionError": ".predictions", "Predictions": ".predictions", "Protocol": ".protocol",
    "TrainSettings": ".protocol", "get_protocol": ".protocol", "RunSpec": ".runner", "prepare": ".runner",
    "sweep": ".runner", "ResultStore": ".store", "run_id": ".store", "load_suite": ".suite",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
