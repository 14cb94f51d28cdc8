"""How a baseline's weights start: as the MGTAB authors' ``MGTAB-GNN.py`` does, or PyTorch's defaults.

``MGTAB-GNN.py`` (function ``init_weights``, applied with ``model.apply`` right
after the model is built) re-initialises the weight of every module whose type
is exactly ``torch.nn.Linear`` with ``kaiming_uniform_`` at its defaults
(``a=0``, fan in, gain sqrt(2): bound ``sqrt(6 / fan_in)``) and leaves biases
and every other module (PyG's own ``Linear`` inside ``GCNConv``, ``SAGEConv``,
``GATConv``; ``RGCNConv``'s weights) as built. Against PyTorch's default
(``a = sqrt(5)``: bound ``1 / sqrt(fan_in)``) that is a weight scale sqrt(6)
times larger. The HGT, Simple-HGN and RGT scripts use a different rule (biases
zeroed too): :func:`kaiming_linear_init`.
"""

from __future__ import annotations

from torch import nn

#: ``"authors"``: ``MGTAB-GNN.py``'s ``init_weights``; ``"torch"``: PyTorch's and PyG's defaults.
INITS = ("authors", "torch")


def check_init(init: str) -> str:
    """``init`` if it names a known scheme, else one clear ``ValueError``."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    return init


def initialise(model: nn.Module, init: str) -> None:
    """Apply ``init`` to a freshly built ``model`` (``"torch"`` leaves it as built).

    Modules are visited in ``model.modules()`` order, the order in which their
    construction drew from the random number generator.
    """
    if check_init(init) == "authors":
        for module in model.modules():
            if type(module) is nn.Linear:  # noqa: E721 - exactly as the script: subclasses are not re-initialised
                nn.init.kaiming_uniform_(module.weight)


def kaiming_linear_init(module: nn.Module) -> None:
    """Re-initialise every ``nn.Linear`` as the MGTAB HGT/RGT/SHGN scripts do.

    ``kaiming_uniform_`` weights (gain sqrt(2), fan in) and zero biases, in place
    of PyTorch's default; PyG layers (``torch_geometric.nn.Linear``) keep theirs.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
