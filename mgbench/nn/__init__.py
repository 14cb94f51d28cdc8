"""Fast graph layers with PyG-style constructors: the building blocks of mgbench's baselines, public.

Each layer computes the function of its stock PyG counterpart (or of the
MGTAB reference layer, for Simple-HGN and RGT) as a few dense matmuls over
nodes plus sparse kernels over a structure built on a graph's first forward
and cached (:mod:`mgbench.nn.cache`): no ``[E, channels]`` message tensor, no
Python loop over relations. Use them as PyG layers::

    from mgbench.nn import SAGEConv
    conv = SAGEConv(788, 128)
    h = conv(x, edge_index)

Homogeneous layers take ``forward(x, edge_index)``; relational ones
``forward(x, edge_index, edge_type)``. The kernels live in
:mod:`mgbench.nn.kernels`; ``docs/NN.md`` lists each layer's constructor,
what it caches and the threading policy. A model built from stock PyG layers
works in mgbench unchanged; these are only faster.
"""

from .cache import GraphCache, cache_info, clear_cache
from .gat_conv import GATConv
from .gcn_conv import GCNConv
from .hgt_conv import HGTConv
from .rgcn_conv import RGCNConv
from .rgt_conv import RGTConv
from .sage_conv import SAGEConv
from .simple_hgn_conv import SimpleHGNConv

__all__ = ["GCNConv", "SAGEConv", "GATConv", "RGCNConv", "HGTConv", "SimpleHGNConv", "RGTConv",
           "GraphCache", "cache_info", "clear_cache"]
