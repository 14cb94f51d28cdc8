"""Baseline models, one file a model; importing this package registers them all."""
from . import feature_models  # noqa: F401
from . import botrgcn, gcn, graphsage, rgcn  # noqa: F401
from . import gat, hgt, rgt, simple_hgn  # noqa: F401  (attention family)
