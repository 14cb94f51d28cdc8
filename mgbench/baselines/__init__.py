"""Baseline models, one file a model; importing this package registers them all."""
from . import feature_models  # noqa: F401
