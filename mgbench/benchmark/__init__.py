"""The benchmark layer: registry, run spec, training loop, metrics, evaluator, runner, result store."""

from mgbench.registry import ModelSpec, register_model, registered_models

from .evaluate import Evaluator
from .metrics import compute_metrics
from .models import ModelError, resolve_model
from .predictions import PredictionError, Predictions
from .runner import RunSpec, prepare, sweep
from .store import ResultStore, run_id
from .suite import load_suite
from .train import TrainSettings

__all__ = ["Evaluator", "ModelError", "ModelSpec", "PredictionError", "Predictions", "ResultStore", "RunSpec",
           "TrainSettings", "compute_metrics", "load_suite", "prepare", "register_model", "registered_models", "resolve_model", "run_id", "sweep"]
