"""Baseline models, one file a model; importing this package registers them all."""
