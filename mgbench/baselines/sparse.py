"""Deprecated: the CSR kernels moved to :mod:`mgbench.nn` (kernels, cache); kept for imports until the next release.

Import from :mod:`mgbench.nn.kernels` and :mod:`mgbench.nn.cache` instead.
``OperatorCache`` is now the one :class:`mgbench.nn.GraphCache`.
"""

from mgbench.nn.cache import CacheInfo  # noqa: F401
from mgbench.nn.cache import GraphCache as OperatorCache  # noqa: F401
from mgbench.nn.cache import cache_info as operator_cache_info  # noqa: F401
from mgbench.nn.cache import clear_cache as clear_operator_cache  # noqa: F401
from mgbench.nn.cache import gcn_operator  # noqa: F401
from mgbench.nn.cache import mean_operator  # noqa: F401
from mgbench.nn.kernels import SparseOperator  # noqa: F401
from mgbench.nn.kernels import build_gcn_operator  # noqa: F401
from mgbench.nn.kernels import build_mean_operator  # noqa: F401
from mgbench.nn.kernels import operator_spmm as spmm  # noqa: F401
from mgbench.nn.kernels import transform_aggregate  # noqa: F401
