"""Group runs into tables and summarise them: mean, std and paired tests over seeds.

A *table* is one dataset x task x relation set x features recipe, like one
table of the MGTAB paper, under one set of the training settings that move
numbers (protocol, the ``training`` settings, neighbour sampling): runs under
other settings go to another table, whose heading says which. A *row* is one
run definition without its seed; its seeds are the repetitions (each seed is
also a different split, so two rows are compared seed by seed, on the seeds
both ran).

Rows without epoch training settings (feature models, runs trained outside
the runner) join every table of their dataset x task x relations x features
and protocol; a tuned row joins the tables whose settings match its own but
for the learning rate and weight decay, which its search chose. Either kind
makes a table of its own only when no table fits it.

Conventions, chosen once and shown on the board:

- std is the sample standard deviation (``ddof=1``); a single seed has none.
- The paired test is a two-sided paired t-test (``scipy.stats.ttest_rel``)
  on the seeds both rows ran; fewer than two such seeds gives no p-value.
  When every paired difference is the same (to 1e-12) the t statistic is
  undefined; we then take p = 0 if that difference is non-zero and p = 1 if
  it is zero (the rows are identical), rather than scipy's NaN.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from mgbench.schema import METRICS, canonical_json

from . import reference
from .records import Record, short_hash

#: The board's metric columns (:data:`mgbench.schema.METRICS`), in order.
COLUMNS = tuple(m.column for m in METRICS)
_METRIC_KEYS = {m.column: m.keys for m in METRICS}
#: One letter per model kind, as the Type column shows it.
KINDS = {"gnn": "G", "features": "F", "external": "E"}
#: Training settings a tuned run's search may choose; they do not separate it from the default's table.
TUNED_TRAINING_KEYS = ("lr", "weight_decay")
#: The order training settings are shown in; others follow alphabetically.
_SETTINGS_ORDER = ("epochs", "patience", "min_epochs", "lr", "weight_decay")
#: How a row's settings pin its table: all of them, all but the tuned ones, or the protocol only.
FULL, TUNED, PROTOCOL, PUBLISHED = "full", "tuned", "protocol", "published"
_AUX_KEYS = ("aux_loss", "aux_weight", "aux_settings")
#: Differences of metrics in [0, 1] closer than this are float noise, not a difference.
_TIE = 1e-12


@dataclass(frozen=True)
class Stat:
    """Mean and sample std (ddof=1; ``None`` for one value) of ``n`` values."""

    mean: float
    std: float | None
    n: int | None             # None: a published number whose source does not say over how many runs


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of two rows on the ``n`` seeds both ran.

    ``mean_diff`` is the mean of (first - second); ``p_value`` is ``None``
    when ``n < 2``.
    """

    n: int
    mean_diff: float | None
    p_value: float | None

    def significant(self, alpha: float) -> bool:
        return self.p_value is not None and self.p_value < alpha


@functools.lru_cache(maxsize=None)
def is_synthetic(dataset: str) -> bool:
    """Whether ``dataset`` is generated data, as its registration says. A record may come from
    elsewhere and name a dataset this install lacks: then "synthetic" in its name decides."""
    from mgbench.registry import registered_datasets

    spec = registered_datasets().get(dataset)
    return spec.synthetic if spec is not None else "synthetic" in dataset.lower()


def options_meant(dataset: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A record's dataset options with what an absent recorded default means (``twin`` 1 for an
    ``mgtab-synthetic`` record made before the option existed), so a table says which data it is."""
    from mgbench.registry import registered_datasets

    spec = registered_datasets().get(dataset)
    return spec.loading_options(options) if spec is not None else dict(options)


@dataclass(frozen=True)
class TableKey:
    """What makes runs comparable in one table."""

    dataset: str
    dataset_options: str          # canonical JSON, "{}" for none
    task: str
    relations: tuple[str, ...]    # sorted: a relation *set*
    features: str
    settings: str = '{"protocol":"standard"}'   # canonical JSON of the settings the rows share
    scope: str = PROTOCOL         # which settings pin the table (FULL, TUNED or PROTOCOL)

    @property
    def synthetic(self) -> bool:
        """Synthetic-data numbers must never be mistaken for real ones."""
        options = json.loads(self.dataset_options)
        return is_synthetic(self.dataset) or options.get("synthetic") is True

    @property
    def title(self) -> str:
        dataset = self.dataset
        if self.dataset_options != "{}":
            options = json.loads(self.dataset_options)
            dataset += " (" + ", ".join(f"{k}={canonical_json(options[k])}" for k in sorted(options)) + ")"
        return f"{dataset} · {self.task} · {'+'.join(self.relations)} · {self.features} features"

    @property
    def settings_title(self) -> str:
        """The training settings every row shares, as the table's heading shows them."""
        return describe_settings(json.loads(self.settings), self.scope)

    @property
    def heading(self) -> str:
        return f"{self.title} · {self.settings_title}"

    @property
    def slug(self) -> str:
        """A file-name-safe id of bounded length, unique per key (the hash settles look-alikes)."""
        readable = f"{self.dataset}_{self.task}_{'-'.join(self.relations)}_{self.features}"
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", readable)[:_SLUG_CHARS].strip("-.")
        return f"{readable}_{short_hash(self.as_tuple(), 8)}"

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.dataset, self.dataset_options, self.task, list(self.relations), self.features,
                self.settings, self.scope)


#: Readable characters of a figure's file name; the hash after them keeps names unique.
_SLUG_CHARS = 80


def _value(value: Any) -> str:
    return "none" if value is None else value if isinstance(value, str) else canonical_json(value)


def describe_settings(settings: Mapping[str, Any], scope: str) -> str:
    """``standard protocol, epochs=100, patience=20, lr=0.001, weight_decay=0.0005``, and sampling."""
    if scope == PUBLISHED:
        return "published numbers only"
    parts = [f"{settings['protocol']} protocol"]
    if scope == PROTOCOL:
        return parts[0] + ", no training settings (feature models and outside runs)"
    training = settings["training"]
    order = sorted(training, key=lambda k: (_SETTINGS_ORDER.index(k) if k in _SETTINGS_ORDER
                                            else len(_SETTINGS_ORDER), k))
    parts += [f"{k}={_value(training[k])}" for k in order]
    if scope == TUNED:
        parts.append(f"{' and '.join(TUNED_TRAINING_KEYS)} tuned per row")
    sampling = settings.get("sampling") or {}
    if sampling:
        parts.append("sampled (" + ", ".join(f"{k}={_value(sampling[k])}" for k in sorted(sampling)) + ")")
    return ", ".join(parts)


@dataclass(frozen=True)
class Row:
    """One line of a table: a run group (``source="run"``) or a published result."""

    source: str                       # "run" or "paper"
    model: str
    name: str                         # display name, unique within its table
    kind: str                         # "F" (feature model) or "G" (graph model)
    aux_loss: str | None
    aux_weight: float
    group_id: str                     # hash of the definition without seed; "" for paper rows
    stats: Mapping[str, Stat]         # column -> Stat; a missing metric has no entry
    f1_by_seed: Mapping[int, float]
    train_time_s: float | None        # mean over seeds
    model_memory_mb: float | None     # max over seeds: the memory one needs above the process
    num_parameters: int | None
    protocol: str = "standard"
    definition_json: str = ""         # canonical JSON of the definition without seed, for tooltips
    tuning: Mapping[str, Any] | None = None   # ``definition.tuning`` of a tuned row
    family: str = ""                  # hash of model and auxiliary loss: pairs a tuned row with its default
    is_best: bool = False
    vs_best: PairedTest | None = None

    @property
    def tuned(self) -> bool:
        return self.tuning is not None

    @property
    def aux_label(self) -> str | None:
        return None if self.aux_loss is None else f"{self.aux_loss} (λ={self.aux_weight:g})"

    @property
    def n_seeds(self) -> int | None:
        return next(iter(self.stats.values())).n


@dataclass(frozen=True)
class Table:
    key: TableKey
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class AuxEffect:
    """Macro-F1 change from adding an auxiliary loss to an otherwise identical CE run."""

    key: TableKey
    name: str                         # the aux row's display name
    kind: str
    aux_loss: str
    aux_label: str
    group_id: str
    baseline_group_id: str | None     # ``None``: no CE-only run with this definition
    f1_ce: float | None               # means over the seeds both ran
    f1_aux: float | None
    test: PairedTest                  # aux minus CE
    p_holm: float | None = None       # ``test.p_value`` Holm-adjusted over the table's aux comparisons

    def significant(self, alpha: float) -> bool:
        """Significant after the Holm adjustment: a table tests many losses at once."""
        return self.p_holm is not None and self.p_holm < alpha


@dataclass(frozen=True)
class TuningEffect:
    """Macro-F1 change of a tuned row against the default row of the same model in its table."""

    key: TableKey
    name: str                         # the tuned row's display name
    kind: str
    tuning: Mapping[str, Any]
    group_id: str
    default_name: str | None          # ``None``: no single default row to compare with
    default_group_id: str | None
    unpaired_reason: str | None       # why there is no default row
    f1_default: float | None          # means over the seeds both ran
    f1_tuned: float | None
    test: PairedTest                  # tuned minus default
    p_holm: float | None = None       # Holm-adjusted over the table's tuned rows

    def significant(self, alpha: float) -> bool:
        return self.p_holm is not None and self.p_holm < alpha


@dataclass(frozen=True)
class RelationComparison:
    """Macro F1 of the same row definitions on several relation sets of one dataset x task x features.

    ``series`` holds, per row label, one F1 :class:`Stat` (or ``None``) per entry of ``relation_sets``.
    """

    key: TableKey                     # ``relations`` is empty: it varies here
    relation_sets: tuple[str, ...]
    series: tuple[tuple[str, tuple[Stat | None, ...]], ...]

    @property
    def title(self) -> str:
        return (f"{self.key.dataset} · {self.key.task} · {self.key.features} features · "
                f"{self.key.settings_title}: by relation set")


@dataclass(frozen=True)
class TwinEntry:
    """One model of a twin comparison: our registered name, the paper's, both mean macro F1s."""

    model: str
    paper_name: str
    paper_f1: float                   # fraction, as published
    twin_f1: Stat                     # over the twin's seeds

    @property
    def gap(self) -> float:
        """Twin minus paper, in points."""
        return 100 * (self.twin_f1.mean - self.paper_f1)


@dataclass(frozen=True)
class TwinComparison:
    """A synthetic twin's default runs against the published numbers of the dataset it stands
    in for: does the twin rank models as the real data does? (``twin_of`` of its registration.)"""

    key: TableKey
    twin_of: str
    entries: tuple[TwinEntry, ...]    # by paper F1, best first
    tau: float | None                 # Kendall's tau between paper and twin F1 (None: all tied)

    @property
    def largest_gap(self) -> TwinEntry:
        return max(self.entries, key=lambda e: abs(e.gap))


@dataclass(frozen=True)
class Board:
    tables: tuple[Table, ...]
    aux_effects: tuple[AuxEffect, ...]
    tuning_effects: tuple[TuningEffect, ...]
    relation_comparisons: tuple[RelationComparison, ...]
    min_seeds: int
    alpha: float
    twin_comparisons: tuple[TwinComparison, ...]
    #: Published numbers no table of runs shows: tables of published rows alone (see _published_tables).
    published: tuple[Table, ...] = ()


def summarise(values: Sequence[float]) -> Stat | None:
    """Mean and sample std (ddof=1); ``None`` for no values."""
    if not values:
        return None
    array = np.asarray(values, dtype=float)
    std = float(array.std(ddof=1)) if array.size > 1 else None
    return Stat(float(array.mean()), std, int(array.size))


def paired_test(first: Mapping[int, float], second: Mapping[int, float]) -> PairedTest:
    """Paired two-sided t-test of ``first - second`` over the seeds both have."""
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return PairedTest(0, None, None)
    a = np.array([first[s] for s in seeds], dtype=float)
    b = np.array([second[s] for s in seeds], dtype=float)
    diff = a - b
    mean_diff = float(diff.mean())
    if len(seeds) < 2:
        return PairedTest(1, mean_diff, None)
    if np.ptp(diff) <= _TIE:
        return PairedTest(len(seeds), mean_diff, 0.0 if abs(mean_diff) > _TIE else 1.0)
    return PairedTest(len(seeds), mean_diff, float(stats.ttest_rel(a, b).pvalue))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input's order.

    Why: the losses suite tests ten losses on two encoders in one table; at
    ``alpha = 0.05`` one of twenty true nulls would be starred by chance. Holm
    controls the family-wise error rate without assuming independence, and is
    uniformly more powerful than plain Bonferroni. ``p_(k)`` (k-th smallest of
    ``m``) becomes ``max_{j <= k} min(1, (m - j + 1) p_(j))``.
    """
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _with_holm(effects: list[Any]) -> list[Any]:
    """Attach the Holm-adjusted p-value of each paired effect (:class:`AuxEffect` or
    :class:`TuningEffect`), the family being the given effects."""
    tested = [i for i, e in enumerate(effects) if e.test.p_value is not None]
    adjusted = holm([effects[i].test.p_value for i in tested])
    out = list(effects)
    for i, p in zip(tested, adjusted):
        out[i] = replace(effects[i], p_holm=p)
    return out


def metric(test: Mapping[str, float], column: str) -> float | None:
    """The value of a table column in a record's test metrics (see docs/RESULTS.md)."""
    for key in _METRIC_KEYS[column]:
        if key in test:
            return test[key]
    return None


def table_key(definition: Mapping[str, Any]) -> TableKey:
    """The dataset x task x relations x features part of a row's table; settings come later."""
    return TableKey(
        dataset=definition["dataset"],
        dataset_options=canonical_json(options_meant(definition["dataset"], definition["dataset_options"])),
        task=definition["task"],
        relations=tuple(sorted(definition["relations"])),
        features=definition["features"],
    )


def run_settings(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a run that move its numbers besides model and data."""
    return {"protocol": definition["protocol"], "training": dict(definition["training"]),
            "sampling": dict(definition.get("sampling") or {})}


def settings_scope(definition: Mapping[str, Any]) -> str:
    """Which settings pin a row's table: feature models and outside runs have no epoch training."""
    if definition["model_kind"] != "gnn":
        return PROTOCOL
    return TUNED if "tuning" in definition else FULL


def pinned(settings: Mapping[str, Any], scope: str) -> dict[str, Any]:
    """The part of ``settings`` that a row of ``scope`` shares with its table."""
    if scope == PROTOCOL:
        return {"protocol": settings["protocol"]}
    if scope == TUNED:
        training = {k: v for k, v in settings["training"].items() if k not in TUNED_TRAINING_KEYS}
        return {**settings, "training": training}
    return dict(settings)


def fits(row_settings: Mapping[str, Any], row_scope: str,
         table_settings: Mapping[str, Any], table_scope: str) -> bool:
    """Whether a row belongs in a table: equal on every setting both pin."""
    if row_scope == PROTOCOL:
        return row_settings["protocol"] == table_settings["protocol"]
    if table_scope == PROTOCOL:
        return False
    scope = TUNED if TUNED in (row_scope, table_scope) else FULL
    return pinned(row_settings, scope) == pinned(table_settings, scope)


def _without(definition: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    drop = set(keys)
    return {k: v for k, v in definition.items() if k not in drop}


def group_id(definition: Mapping[str, Any]) -> str:
    """Hash of the run definition without its seed: the identity of a row. For a model trained
    outside the runner, each seed's prediction file differs; the row is its name and what the
    files held (labels or scores)."""
    row = _without(definition, ["seed"])
    if isinstance(row.get("external"), dict):
        row["external"] = _without(row["external"], ["predictions"])
    return short_hash(row)


def family_id(definition: Mapping[str, Any]) -> str:
    """Hash of the model and its auxiliary loss: a tuned row and its default share it."""
    return short_hash([definition["model"], definition["model_kind"],
                       *(definition[key] for key in _AUX_KEYS)])


def baseline_id(definition: Mapping[str, Any]) -> str:
    """Hash of the definition without seed and auxiliary loss: pairs an aux run with its CE run."""
    return short_hash(_without(definition, ["seed", *_AUX_KEYS]))


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _max(values: Iterable[float | int | None]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _run_row(records: Sequence[Record]) -> Row:
    definition = records[0].definition
    column_stats = {}
    for column in COLUMNS:
        stat = summarise([v for r in records if (v := metric(r.test, column)) is not None])
        if stat is not None:
            column_stats[column] = stat
    name = definition["model"]
    if definition["protocol"] != "standard":
        name += f" ({definition['protocol']} protocol)"
    if "tuning" in definition:
        name += " (tuned)"
    if definition.get("origin"):
        name += f" ({definition['origin']})"
    return Row(
        source="run",
        model=definition["model"],
        name=name,
        kind=KINDS[definition["model_kind"]],
        aux_loss=definition["aux_loss"],
        aux_weight=float(definition["aux_weight"]),
        group_id=group_id(definition),
        stats=column_stats,
        f1_by_seed={r.seed: r.test["f1_macro"] for r in records},
        train_time_s=_mean(r.train_time_s for r in records),
        model_memory_mb=_max(r.model_memory_mb for r in records),
        num_parameters=_max(r.num_parameters for r in records),
        protocol=definition["protocol"],
        definition_json=canonical_json(_without(definition, ["seed"])),
        tuning=definition.get("tuning"),
        family=family_id(definition),
    )


def _published_tables(tables: Sequence[Table], min_seeds: int) -> list[Table]:
    """Tables of published rows alone, for the settings where no table of runs shows them.

    Why: the published numbers (the MGTAB paper's, the frontier detectors') place a new model
    on the real datasets; a board whose runs are all on twins, or on other relation sets, must
    still show them, marked and with their protocols, rather than drop them.
    """
    shown = {(t.key.dataset, t.key.task, r.name) for t in tables for r in t.rows if r.source == "paper"}
    out = []
    for dataset, task, relations in reference.published_settings():
        rows = [row for row in _published_rows(dataset, task, relations, "default")
                if (dataset, task, row.name) not in shown]
        if rows:
            key = TableKey(dataset, "{}", task, relations, "default", settings=canonical_json({"protocol": PUBLISHED}),
                           scope=PUBLISHED)
            out.append(Table(key, _rank(rows, min_seeds)))
    return out


def _published_rows(dataset: str, task: str, relations: Sequence[str], features: str) -> list[Row]:
    """The published rows of one setting: the MGTAB paper's, then the frontier detectors'."""
    return [_paper_row(p) for p in (*reference.published_results(dataset, task, relations, features),
                                    *reference.frontier_results(dataset, task, relations, features))]


def _paper_row(result: reference.PublishedResult) -> Row:
    return Row(
        source="paper",
        model=result.model,
        name=f"{result.model} ({result.label})",
        kind=result.kind,
        aux_loss=None,
        aux_weight=0.0,
        group_id="",
        stats={c: Stat(result.mean[c], result.std[c], result.n_seeds) for c in result.mean},
        f1_by_seed={},
        train_time_s=None,
        model_memory_mb=None,
        num_parameters=None,
    )


def _disambiguate(rows: list[Row]) -> list[Row]:
    """Give rows that would read the same (same model, protocol and aux loss) their config id."""
    seen: dict[tuple[str, str | None], int] = {}
    for row in rows:
        seen[(row.name, row.aux_label)] = seen.get((row.name, row.aux_label), 0) + 1
    return [replace(row, name=f"{row.name} #{row.group_id[:6]}")
            if seen[(row.name, row.aux_label)] > 1 else row for row in rows]


def _sort_key(row: Row) -> tuple[Any, ...]:
    f1 = row.stats.get("f1")  # a published row may report another F1 only (bot class): placed last
    return (-f1.mean if f1 is not None else math.inf, row.source != "run", row.name, row.aux_label or "", row.group_id)


def _rank(rows: list[Row], min_seeds: int) -> tuple[Row, ...]:
    """Sort by mean F1 and compare the best run row with every other run row.

    The best is chosen among rows with at least ``min_seeds`` seeds when any
    exist, so that one lucky seed cannot become the reference everything is
    tested against.
    """
    rows = sorted(rows, key=_sort_key)
    runs = [r for r in rows if r.source == "run"]
    candidates = [r for r in runs if r.n_seeds >= min_seeds] or runs
    best = candidates[0] if candidates else None  # a table of published rows alone has no best run
    ranked = []
    for row in rows:
        if row is best:
            row = replace(row, is_best=True)
        elif row.source == "run":
            row = replace(row, vs_best=paired_test(best.f1_by_seed, row.f1_by_seed))
        ranked.append(row)
    return tuple(ranked)


def _aux_effects(key: TableKey, groups: Mapping[str, Sequence[Record]],
                 rows: Mapping[str, Row]) -> list[AuxEffect]:
    ce_rows = {baseline_id(recs[0].definition): gid for gid, recs in sorted(groups.items())
               if recs[0].definition["aux_loss"] is None}
    effects = []
    for gid, recs in groups.items():
        row = rows[gid]
        if row.aux_loss is None:
            continue
        baseline = ce_rows.get(baseline_id(recs[0].definition))
        if baseline is None:
            effects.append(AuxEffect(key, row.name, row.kind, row.aux_loss, row.aux_label, gid,
                                     None, None, None, PairedTest(0, None, None)))
            continue
        ce = rows[baseline].f1_by_seed
        common = sorted(set(ce) & set(row.f1_by_seed))
        effects.append(AuxEffect(
            key, row.name, row.kind, row.aux_loss, row.aux_label, gid, baseline,
            f1_ce=_mean(ce[s] for s in common),
            f1_aux=_mean(row.f1_by_seed[s] for s in common),
            test=paired_test(row.f1_by_seed, ce),
        ))
    return _with_holm(sorted(effects, key=lambda e: (e.name, e.aux_label, e.group_id)))


def row_label(row: Row) -> str:
    """A row's name with its auxiliary loss: how figures tell rows apart."""
    return row.name if row.aux_label is None else f"{row.name} + {row.aux_label}"


def _relation_comparisons(tables: Sequence[Table]) -> tuple[RelationComparison, ...]:
    """Rows (by label) that ran on two or more relation sets of the same dataset x task x features."""
    families: dict[TableKey, list[Table]] = {}
    for table in tables:
        families.setdefault(replace(table.key, relations=()), []).append(table)
    comparisons = []
    for key, family in sorted(families.items(), key=lambda item: item[0].as_tuple()):
        per_set = {"+".join(t.key.relations): {row_label(r): r.stats["f1"]
                                               for r in t.rows if r.source == "run"}
                   for t in family}
        labels = sorted({label for stats_by_label in per_set.values() for label in stats_by_label})
        labels = [label for label in labels if sum(label in s for s in per_set.values()) >= 2]
        relation_sets = tuple(sorted(rs for rs, s in per_set.items() if any(label in s for label in labels)))
        if labels:
            series = tuple((label, tuple(per_set[rs].get(label) for rs in relation_sets)) for label in labels)
            comparisons.append(RelationComparison(key, relation_sets, series))
    return tuple(comparisons)


def _twin_comparison(table: Table) -> TwinComparison | None:
    """The table's default runs against the published rows of the dataset its dataset stands in
    for, when the table holds the twin at its default options (what a new run makes) and at least
    two models both report."""
    from mgbench.registry import registered_datasets

    key = table.key
    spec = registered_datasets().get(key.dataset)
    if spec is None or spec.twin_of is None:
        return None
    if json.loads(key.dataset_options) != options_meant(key.dataset, spec.record_options({})):
        return None
    runs = {r.model: r for r in table.rows
            if r.source == "run" and r.protocol == "standard" and not r.tuned and r.aux_loss is None}
    entries = []
    for published in reference.published_results(spec.twin_of, key.task, key.relations, key.features):
        ours = reference.registered_name(published.model)
        if ours in runs and "f1" in runs[ours].stats:
            entries.append(TwinEntry(ours, published.model, published.mean["f1"], runs[ours].stats["f1"]))
    if len(entries) < 2:
        return None
    entries.sort(key=lambda e: (-e.paper_f1, e.model))
    tau = stats.kendalltau([e.paper_f1 for e in entries], [e.twin_f1.mean for e in entries]).statistic
    return TwinComparison(key, spec.twin_of, tuple(entries), None if math.isnan(tau) else float(tau))


def _tuning_effects(key: TableKey, rows: Sequence[Row]) -> list[TuningEffect]:
    """Each tuned row against the one untuned row of the same model and loss in its table."""
    defaults: dict[str, list[Row]] = {}
    for row in rows:
        if row.source == "run" and not row.tuned:
            defaults.setdefault(row.family, []).append(row)
    effects = []
    for row in rows:
        if not row.tuned:
            continue
        candidates = defaults.get(row.family, [])
        if len(candidates) != 1:
            reason = ("no default run of this model in this table" if not candidates else
                      f"{len(candidates)} default rows of this model: none is the default")
            effects.append(TuningEffect(key, row.name, row.kind, row.tuning, row.group_id, None, None,
                                        reason, None, None, PairedTest(0, None, None)))
            continue
        default = candidates[0]
        common = sorted(set(default.f1_by_seed) & set(row.f1_by_seed))
        effects.append(TuningEffect(
            key, row.name, row.kind, row.tuning, row.group_id, default.name, default.group_id, None,
            f1_default=_mean(default.f1_by_seed[s] for s in common),
            f1_tuned=_mean(row.f1_by_seed[s] for s in common),
            test=paired_test(row.f1_by_seed, default.f1_by_seed),
        ))
    return _with_holm(sorted(effects, key=lambda e: (e.name, e.group_id)))


def _place(groups: Mapping[str, Sequence[Record]]) -> dict[tuple[str, str], list[str]]:
    """Tables of one dataset x task x relations x features: ``(settings JSON, scope) -> group ids``.

    Rows pinned by all their settings make the tables; tuned rows, then rows with
    no training settings, join every table they fit, or make one of their own.
    """
    tables: dict[tuple[str, str], list[str]] = {}
    for scope in (FULL, TUNED, PROTOCOL):
        for gid in sorted(groups):
            definition = groups[gid][0].definition
            if settings_scope(definition) != scope:
                continue
            settings = run_settings(definition)
            homes = [t for t in tables if fits(settings, scope, json.loads(t[0]), t[1])]
            if not homes:
                homes = [(canonical_json(pinned(settings, scope)), scope)]
                tables[homes[0]] = []
            for home in homes:
                tables[home].append(gid)
    return tables


def build_board(records: Sequence[Record], min_seeds: int = 5, alpha: float = 0.05) -> Board:
    """All tables, sorted by key, each with rows sorted by mean macro F1 (descending)."""
    if not math.isfinite(alpha) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    by_base: dict[TableKey, dict[str, list[Record]]] = {}
    for record in records:
        groups = by_base.setdefault(table_key(record.definition), {})
        groups.setdefault(group_id(record.definition), []).append(record)

    by_table: dict[TableKey, dict[str, list[Record]]] = {}
    for base, groups in by_base.items():
        for (settings, scope), gids in _place(groups).items():
            by_table[replace(base, settings=settings, scope=scope)] = {gid: groups[gid] for gid in gids}

    tables, effects, tuning = [], [], []
    for key in sorted(by_table, key=TableKey.as_tuple):
        groups = {gid: sorted(recs, key=lambda r: r.seed) for gid, recs in sorted(by_table[key].items())}
        run_rows = dict(zip(groups, _disambiguate([_run_row(recs) for recs in groups.values()])))
        paper_rows = _published_rows(key.dataset, key.task, key.relations, key.features)
        tables.append(Table(key, _rank(list(run_rows.values()) + paper_rows, min_seeds)))
        effects += _aux_effects(key, groups, run_rows)
        tuning += _tuning_effects(key, list(run_rows.values()))
    twins = tuple(c for c in map(_twin_comparison, tables) if c is not None)
    return Board(tuple(tables), tuple(effects), tuple(tuning), _relation_comparisons(tables),
                 min_seeds, alpha, twins, tuple(_published_tables(tables, min_seeds)))
