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
``losses``) resolve to the files in ``mgbench/suites/``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from mgbench.datasets.splits import parse_seeds

from .runner import RunSpec

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
_KEYS = {"name", "description", "seeds", "datasets", "tasks", "relations", "models", "training", "aux_losses",
         "aux_weight", "aux_settings", "features", "feature_options", "protocol", "sampling", "blocks"}


def shipped_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(ref: str) -> Path:
    path = Path(ref)
    if path.is_file():
        return path
    if (SUITES_DIR / f"{ref}.yaml").is_file():
        return SUITES_DIR / f"{ref}.yaml"
    raise ValueError(f"no suite {ref!r}: not a file, and not a shipped suite ({', '.join(shipped_suites())})")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _named(item) -> tuple[str, dict]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and "name" in item:
        return item["name"], {k: v for k, v in item.items() if k != "name"}
    raise ValueError(f"suite entry {item!r} must be a name or a mapping with 'name'")


def load_suite(ref: str) -> list[RunSpec]:
    """Expand a suite into run specs, in a deterministic order."""
    path = suite_path(ref)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    unknown = set(doc) - _KEYS
    if unknown:
        raise ValueError(f"{path}: unknown suite key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    top = {k: v for k, v in doc.items() if k not in ("blocks", "name", "description")}
    specs = []
    for block in doc.get("blocks") or [{}]:
        bad = set(block) - _KEYS
        if bad:
            raise ValueError(f"{path}: unknown key(s) {sorted(bad)} in a block")
        conf = {**top, **block}
        missing = [k for k in ("datasets", "tasks", "models") if k not in conf]
        if missing:
            raise ValueError(f"{path}: a block lacks {', '.join(missing)}")
        combos = itertools.product(
            [_named(d) for d in _as_list(conf["datasets"])], _as_list(conf["tasks"]),
            _as_list(conf.get("relations", "followers,friends")), _as_list(conf.get("features", "default")),
            [_named(m) for m in _as_list(conf["models"])], _as_list(conf.get("aux_losses", None)),
            parse_seeds(conf.get("seeds", "0-4")))
        for (dname, dopts), task, rel, feats, (mname, mopts), aux, seed in combos:
            specs.append(RunSpec(
                dataset=dname, task=task, model=mname, relations=rel, seed=seed,
                dataset_options=dict(dopts.get("options", {})), features=feats,
                feature_options=dict(conf.get("feature_options", {})) if feats != "default" else {},
                hyperparameters=dict(mopts.get("set", {})),
                training=dict(conf.get("training", {})),
                aux_loss=aux, aux_weight=float(conf.get("aux_weight", 0.1)) if aux else 0.0,
                aux_settings=dict(conf.get("aux_settings", {})) if aux else {},
                protocol=conf.get("protocol", "standard"), sampling=dict(conf.get("sampling", {}))))
    return specs
