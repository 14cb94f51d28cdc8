"""The benchmark layer: registry, run spec, training loop, metrics, runner, result store."""

from mgbench.registry import ModelSpec, register_model, registered_models

from .metrics import compute_metrics
from .models import ModelError, resolve_model
from .runner import RunSpec, prepare, sweep
from .store import ResultStore, run_id
from .suite import load_suite
from .train import TrainSettings

__all__ = ["ModelError", "ModelSpec", "ResultStore", "RunSpec", "TrainSettings", "compute_metrics", "load_suite",
           "prepare", "register_model", "registered_models", "resolve_model", "run_id", "sweep"]
