"""Deprecated: the attention kernels moved to :mod:`mgbench.nn` (kernels, cache); kept for imports until the next release.

Import from :mod:`mgbench.nn.kernels` instead. The per-model ``GraphCache``
is gone: layers look their layout up in the one shared
:class:`mgbench.nn.GraphCache` (:func:`mgbench.nn.cache.cached_layout`).
"""

from mgbench.nn.kernels import UNSHIFTED_LOGIT_LIMIT  # noqa: F401
from mgbench.nn.kernels import GraphLayout  # noqa: F401
from mgbench.nn.kernels import SparsePattern  # noqa: F401
from mgbench.nn.kernels import additive_logits  # noqa: F401
from mgbench.nn.kernels import attend  # noqa: F401
from mgbench.nn.kernels import check_graph  # noqa: F401
from mgbench.nn.kernels import gather  # noqa: F401
from mgbench.nn.kernels import scatter_sum  # noqa: F401
from mgbench.nn.kernels import sddmm  # noqa: F401
from mgbench.nn.kernels import sddmm_raw  # noqa: F401
from mgbench.nn.kernels import segment_reduce  # noqa: F401
from mgbench.nn.kernels import segment_softmax  # noqa: F401
from mgbench.nn.kernels import spmm  # noqa: F401
from mgbench.nn.kernels import spmm_raw  # noqa: F401
from mgbench.nn.kernels import spmm_t_raw  # noqa: F401
from mgbench.baselines.init import kaiming_linear_init  # noqa: F401,E402
