"""Baseline models, one file a model; importing this package registers them all."""
from . import feature_models  # noqa: F401
from . import botrgcn, gcn, graphsage, rgcn  # noqa: F401
from . import gat, hgt, rgt, simple_hgn  # noqa: F401  (attention family)
from . import rf_gnn  # noqa: F401  (frontier detectors)
from . import os_gnn  # noqa: F401
from . import botmoe  # noqa: F401
from . import sebot  # noqa: F401
