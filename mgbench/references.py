"""Finding a user's code by reference, and naming it in a record: shared by models and datasets.

A reference is ``path/to/file.py:Name``, ``module:Name`` or the name of an
installed package's entry point. A leaf module (it imports nothing else of
mgbench), so that the data layer and the benchmark layer resolve their users'
code the same way.

Why a record names a user's object by its reference *without folders* plus a
hash of its source file (:func:`source_digest`): a run's identity must change
when the code does, and must not depend on where the file lies or how its
path was spelled.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any


def entry_points_of(group: str) -> dict[str, EntryPoint]:
    """The installed entry points of ``group``, by name."""
    return {ep.name: ep for ep in entry_points(group=group)}


def is_reference(ref: str) -> bool:
    """Whether ``ref`` names code as ``where:Name`` (not a registered name or an entry point)."""
    return ":" in ref


def import_file(path: Path, error: type[Exception]) -> ModuleType:
    """Import a Python file once per process, under a name unique to its resolved path."""
    path = path.resolve()
    module_name = f"mgbench_user_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise error(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def reference_name(where: str, attr: str, is_file: bool) -> str:
    """How a record names an unregistered object: ``file.py:Name`` (no folder) or ``module:Name``."""
    return f"{Path(where).name}:{attr}" if is_file else f"{where}:{attr}"


def load_reference(ref: str, error: type[Exception], what: str) -> tuple[Any, str]:
    """The object ``ref`` (``path/file.py:Name`` or ``module:Name``) names, and its record name.

    Every failure (no such file, an import that raises, no such attribute) is
    one ``error`` saying which, with ``what`` ("model", "dataset") in the message.
    """
    where, _, attr = ref.rpartition(":")
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    try:
        if is_file:
            path = Path(where).expanduser()
            if not path.is_file():
                raise error(f"{what} file {where} does not exist")
            module = import_file(path, error)
        else:
            module = importlib.import_module(where)
    except error:
        raise
    except Exception as err:  # noqa: BLE001 - any import failure is the user's to see
        raise error(f"could not import {where!r}: {type(err).__name__}: {err}") from None
    if not hasattr(module, attr):
        raise error(f"{where} has no attribute {attr!r}")
    return getattr(module, attr), reference_name(where, attr, is_file)


def source_digest(obj: Any) -> str | None:
    """SHA-256 (16 hex digits) of the file that defines ``obj``; ``None`` for mgbench's own code
    (named by its registered name and the package version) and for what has no source file."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "", None)
    if module is None or module.__name__.split(".")[0] == "mgbench":
        return None
    try:
        source = Path(inspect.getsourcefile(obj) or module.__file__ or "").read_bytes()
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source).hexdigest()[:16]
