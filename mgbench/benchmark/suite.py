"""Suite files: datasets x tasks x relation sets x features x models x losses x seeds.

A suite is YAML::

    name: quick
    seeds: 0-2
    datasets: [{name: mgtab-synthetic, options: {num_nodes: 2000}}]
    tasks: [stance, bot]
    relations: ["followers,friends"]
    models: [logistic-regression, {name: gcn, set: {hidden_channels: 128}}]
    training: {epochs: 100}
    aux_losses: [null, supcon]        # optional
    aux_weight: 0.1                   # optional
    features: [default]               # optional
    blocks:                           # optional: more cross products with their own keys
      - {models: [rgcn], relations: ["all"]}

Every top-level key is a default for the ``blocks``; with no ``blocks`` the
top level is the one block. Names of shipped suites (``quick``, ``mgtab``,
``frontier``, ``losses``) resolve to the files in ``mgbench/suites/``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from mgbench.datasets.graph import DEFAULT_RELATIONS
from mgbench.datasets.splits import DEFAULT_SEEDS, parse_seeds
from mgbench.suites import SUITES_DIR, shipped_suites

from .auxiliary import DEFAULT_AUX_WEIGHT
from .runner import RunSpec

_KEYS = {"name", "description", "seeds", "datasets", "tasks", "relations", "models", "training", "aux_losses",
         "aux_weight", "aux_settings", "features", "feature_options", "protocol", "sampling", "blocks"}


def suite_path(ref: str) -> Path:
    path = Path(ref)
    if path.is_file():
        return path
    if (SUITES_DIR / f"{ref}.yaml").is_file():
        return SUITES_DIR / f"{ref}.yaml"
    raise ValueError(f"no suite {ref!r}: not a file, and not a shipped suite ({', '.join(shipped_suites())})")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _named(item, key: str, options: str) -> tuple[str, dict]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        extra = {k: v for k, v in item.items() if k != "name"}
        if set(extra) - {options} or not isinstance(extra.get(options, {}), dict):
            raise ValueError(f"{key}: entry {item!r} may hold only name and {options} (a mapping)")
        return item["name"], extra
    raise ValueError(f"{key}: entry {item!r} must be a name or a mapping with a name")


#: What each suite key holds: scalar types allowed alone or in a list, or a mapping.
_TYPES = {"seeds": (str, int), "tasks": (str,), "relations": (str,), "features": (str,), "aux_losses": (str, type(None)),
          "aux_weight": (int, float), "protocol": (str,), "name": (str,), "description": (str,)}
_MAPPINGS = ("training", "aux_settings", "feature_options", "sampling")


def _check_types(path: Path, conf: dict) -> None:
    """Each key's value of the expected type, so a typo is one line naming it, not a traceback later."""
    for key, value in conf.items():
        if key in _MAPPINGS and not isinstance(value, dict):
            raise ValueError(f"{path}: {key} must be a mapping (key: value), got {value!r}")
        if key in _TYPES:
            allowed = _TYPES[key]
            items = value if isinstance(value, list) and key not in ("aux_weight", "protocol", "name",
                                                                     "description") else [value]
            bad = [v for v in items if not isinstance(v, allowed) or isinstance(v, bool)]
            if bad or (isinstance(value, list) and not value):
                kinds = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
                raise ValueError(f"{path}: {key} must hold {kinds} values, got {value!r}")


def load_suite(ref: str) -> list[RunSpec]:
    """Expand a suite into run specs, in a deterministic order."""
    path = suite_path(ref)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a suite is a mapping of keys ({', '.join(sorted(_KEYS))})")
    unknown = set(doc) - _KEYS
    if unknown:
        raise ValueError(f"{path}: unknown suite key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    _check_types(path, doc)
    top = {k: v for k, v in doc.items() if k not in ("blocks", "name", "description")}
    blocks = doc.get("blocks") or [{}]
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise ValueError(f"{path}: blocks must be a list of mappings")
    specs = []
    for block in blocks:
        _check_types(path, block)
        bad = set(block) - _KEYS
        if bad:
            raise ValueError(f"{path}: unknown key(s) {sorted(bad)} in a block")
        conf = {**top, **block}
        missing = [k for k in ("datasets", "tasks", "models") if k not in conf]
        if missing:
            raise ValueError(f"{path}: a block lacks {', '.join(missing)}")
        combos = itertools.product(
            [_named(d, "datasets", "options") for d in _as_list(conf["datasets"])], _as_list(conf["tasks"]),
            _as_list(conf.get("relations", ",".join(DEFAULT_RELATIONS))), _as_list(conf.get("features", "default")),
            [_named(m, "models", "set") for m in _as_list(conf["models"])], _as_list(conf.get("aux_losses", None)),
            parse_seeds(str(conf.get("seeds", DEFAULT_SEEDS)) if not isinstance(conf.get("seeds"), list)
                        else ",".join(map(str, conf["seeds"]))))
        for (dname, dopts), task, rel, feats, (mname, mopts), aux, seed in combos:
            specs.append(RunSpec(
                dataset=dname, task=task, model=mname, relations=rel, seed=seed,
                dataset_options=dict(dopts.get("options", {})), features=feats,
                feature_options=dict(conf.get("feature_options", {})) if feats != "default" else {},
                hyperparameters=dict(mopts.get("set", {})),
                training=dict(conf.get("training", {})),
                aux_loss=aux, aux_weight=float(conf.get("aux_weight", DEFAULT_AUX_WEIGHT)) if aux else 0.0,
                aux_settings=dict(conf.get("aux_settings", {})) if aux else {},
                protocol=conf.get("protocol", "standard"), sampling=dict(conf.get("sampling", {}))))
    return specs
