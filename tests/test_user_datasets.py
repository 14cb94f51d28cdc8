"""Datasets register like models: one registry whose facts the runner, CLI and leaderboard read;
a user's dataset by file, module or entry point, checked like ours; recorded defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mgbench import datasets as ds
from mgbench import registry
from mgbench.benchmark.runner import DataCache, RunSpec, prepare
from mgbench.benchmark.store import run_id
from mgbench.cli import main
from mgbench.leaderboard.aggregate import is_synthetic

DATASET = '''
import torch
from torch_geometric.data import Data


def load_my_graph(num_nodes=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (num_nodes,), generator=g)
    x = torch.randn(num_nodes, 6, generator=g) + y[:, None]
    edge_index = torch.randint(0, num_nodes, (2, 4 * num_nodes), generator=g)
    edge_type = torch.randint(0, 2, (4 * num_nodes,), generator=g)
    return Data(x=x, edge_index=edge_index, edge_type=edge_type, relation_names=["follows", "retweets"],
                y_bot=y){EXTRA}
'''


def write_dataset(folder: Path, extra: str = "", name: str = "my_data.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(DATASET.replace("{EXTRA}", extra))
    return path


def run(dataset: str, tmp_path: Path, *extra: str) -> tuple[int, list[dict]]:
    results = tmp_path / "results"
    code = main(["run", "--dataset", dataset, "--task", "bot", "--model", "gcn", "--relations", "all",
                 "--set", "epochs=2", "--seeds", "0", "--quiet", "--root", str(tmp_path / "data"),
                 "--results", str(results), *extra])
    return code, [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]


def tiny_graph(num_nodes: int = 40, relations=("follows", "retweets")):
    y = torch.arange(num_nodes) % 2
    return ds.build_graph(x=torch.randn(num_nodes, 4) + y[:, None], edge_index=torch.randint(0, num_nodes, (2, 120)),
                          edge_type=torch.randint(0, len(relations), (120,)), relation_names=relations,
                          labels={"y_bot": y}, feature_blocks={"profile": (0, 4)})


@pytest.fixture
def registered():
    """Registers throwaway datasets for one test and removes them after it."""
    names = []

    def register(name, loader, **facts):
        names.append(name)
        registry.register_dataset(name, **facts)(loader)
        return loader

    yield register
    for name in names:
        registry._DATASETS.pop(name, None)
    is_synthetic.cache_clear()


# -- the registry ---------------------------------------------------------------------------------------------------

def test_a_dataset_registered_in_a_test_runs_with_no_other_edit(registered, tmp_path, capsys):
    calls = []

    def load_throwaway(num_nodes: int = 40):
        calls.append(num_nodes)
        return tiny_graph(num_nodes)

    registered("throwaway-graph", load_throwaway, relations=("follows", "retweets"), tasks=("bot",), synthetic=True)
    prepared = prepare(RunSpec(dataset="throwaway-graph", task="bot", model="gcn", relations="retweets"),
                       DataCache(tmp_path))
    assert prepared.definition["relations"] == ["retweets"]
    assert calls == [], "relation names come from the registration: nothing is loaded to prepare a run"
    with pytest.raises(ValueError, match="dataset 'throwaway-graph' has no task 'stance'; its tasks: bot"):
        prepare(RunSpec(dataset="throwaway-graph", task="stance", model="gcn"), DataCache(tmp_path))

    code, [record] = run("throwaway-graph", tmp_path, "--dataset-option", "num_nodes=50")
    assert code == 0 and calls == [50]
    assert record["definition"]["dataset"] == "throwaway-graph"
    assert record["definition"]["dataset_options"] == {"num_nodes": 50}
    assert is_synthetic("throwaway-graph"), "the leaderboard reads 'synthetic' from the registration"
    assert main(["datasets"]) == 0 and "throwaway-graph" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "throwaway-graph" in capsys.readouterr().out.replace("\n", "").replace(" ", "")


def test_the_leaderboard_asks_the_registry_and_falls_back_to_the_name():
    assert is_synthetic("mgtab-synthetic") and not is_synthetic("mgtab") and not is_synthetic("twibot20")
    assert is_synthetic("someone-elses-synthetic-set") and not is_synthetic("someone-elses-set")


def test_our_datasets_state_their_facts_once():
    specs = ds.registered_datasets()
    assert specs["mgtab"].relations == ds.MGTAB_RELATIONS and specs["mgtab"].source.marker == "features.pt"
    downloadable = {n for n, s in specs.items() if s.source is not None and s.source.url}
    assert downloadable == {"mgtab", "mgtab-large", "cresci-15"}
    assert {n for n, s in specs.items() if s.synthetic} == {"mgtab-synthetic", "twibot22-synthetic"}
    assert all(s.source.license and s.source.citation for s in specs.values() if s.source is not None)


# -- a user's dataset -----------------------------------------------------------------------------------------------

def test_a_user_dataset_file_runs_and_its_edits_make_a_new_run(tmp_path, monkeypatch):
    path = write_dataset(tmp_path / "user")
    code, [record] = run(f"{path}:load_my_graph", tmp_path, "--dataset-option", "num_nodes=90")
    assert code == 0
    d = record["definition"]
    assert d["dataset"] == "my_data.py:load_my_graph" and d["dataset_options"] == {"num_nodes": 90}
    assert d["relations"] == ["follows", "retweets"] and len(d["dataset_source"]) == 16
    monkeypatch.chdir(tmp_path / "user")  # same code from another spelling of its path: the same run
    code, again = run("my_data.py:load_my_graph", tmp_path, "--dataset-option", "num_nodes=90")
    assert code == 0 and len(again) == 1
    write_dataset(tmp_path / "user", extra="  # edited")
    code, records = run(f"{path}:load_my_graph", tmp_path, "--dataset-option", "num_nodes=90")
    assert code == 0 and len(records) == 2
    assert len({r["run_id"] for r in records}) == 2 and len({r["definition"]["dataset_source"] for r in records}) == 2


def test_info_reads_a_user_dataset(tmp_path, capsys):
    path = write_dataset(tmp_path / "user")
    assert main(["info", f"{path}:load_my_graph", "--dataset-option", "num_nodes=30"]) == 0
    out = capsys.readouterr().out
    assert "nodes        30" in out and "follows" in out and "sha256" in out


@pytest.fixture
def installed_dataset(throwaway_package):
    """A throwaway installed package offering a dataset under the ``mgbench.datasets`` group."""
    throwaway_package("throwaway_data", DATASET.replace("{EXTRA}", ""), "mgbench.datasets",
                      "throwaway-data = throwaway_data:load_my_graph")
    return "throwaway-data"


def test_an_entry_point_dataset_is_listed_and_runs(installed_dataset, tmp_path, capsys):
    assert main(["datasets"]) == 0
    assert "throwaway-data" in capsys.readouterr().out
    code, [record] = run(installed_dataset, tmp_path)
    assert code == 0 and record["definition"]["dataset"] == "throwaway-data"


@pytest.mark.parametrize("extra,expected", [
    ("\n\ndef broken(): return Data(x=torch.zeros(4, 2), edge_index=torch.zeros(3, 5, dtype=torch.long), "
     "edge_type=torch.zeros(5, dtype=torch.long), relation_names=['a'], y_bot=torch.zeros(4))",
     "edge_index must have shape [2, E], got (3, 5)"),
    ("\n\ndef broken():\n    d = load_my_graph()\n    d.y_bot[0] = 5\n    return d",
     "y_bot holds values outside [-1, 1] (min 0, max 5)"),
    ("\n\ndef broken(): raise RuntimeError('the archive is not there')",
     "dataset 'my_data.py:broken' failed to load: RuntimeError: the archive is not there"),
    ("\n\ndef broken(): return {'x': torch.zeros(3, 2)}", "returned a dict, not a torch_geometric.data.Data"),
    ("\n\ndef broken():\n    d = load_my_graph()\n    del d.relation_names\n    return d", "the Data has no relation_names"),
    ("\n\ndef broken():\n    d = load_my_graph()\n    d.y_bot = d.y_bot[:-1]\n    return d", "y_bot has 79 labels for 80 nodes"),
    ("\n\ndef broken(seed=0): return load_my_graph(nodes=3)", "TypeError"),
])
def test_a_broken_user_dataset_is_one_clear_line_before_training(extra, expected, tmp_path, capsys):
    path = write_dataset(tmp_path / "user", extra=extra)
    code, records = run(f"{path}:broken", tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and records == []
    assert err.startswith("mgbench: error: ") and err.count("\n") == 1 and expected in err


def test_an_unknown_option_or_missing_function_is_named(tmp_path, capsys):
    path = write_dataset(tmp_path / "user")
    assert run(f"{path}:load_my_graph", tmp_path, "--dataset-option", "nodes=3")[0] == 2
    assert "dataset 'my_data.py:load_my_graph' takes no option nodes; it takes: num_nodes, seed" in capsys.readouterr().err
    assert run(f"{path}:nothing_here", tmp_path)[0] == 2
    assert "has no attribute 'nothing_here'" in capsys.readouterr().err
    assert run("no-such-dataset", tmp_path)[0] == 2
    assert "unknown dataset 'no-such-dataset'; available: cresci-15, mgtab" in capsys.readouterr().err


# -- TwiBot-20 as the official sample ships it ----------------------------------------------------------------------

def test_info_twibot20_reads_a_sample_shaped_folder(tmp_path, capsys):
    """The sample is one JSON list, not train/dev/test.json: `info` must find it where `load` does."""
    users = [{"ID": str(i), "profile": {"screen_name": f"u{i} "}, "tweet": ["hi"], "neighbor": None,
              "domain": ["Politics"]} for i in range(3)]
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "TwiBot-20_sample.json").write_text(json.dumps(users))
    assert main(["info", "twibot20", "--root", str(tmp_path / "sample")]) == 0
    out = capsys.readouterr().out
    assert "present      yes" in out and "nodes        3" in out
    assert main(["info", "twibot20", "--root", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "twibot20 is not under" in err and "github.com/BunsenFeng/TwiBot-20" in err
    assert "mgbench download" not in err, "TwiBot-20 has no download source"


# -- recorded defaults ----------------------------------------------------------------------------------------------

def test_recorded_defaults_are_written_in_and_keep_old_ids(registered, tmp_path):
    seen = []

    def load_versioned(generator: int = 2, num_nodes: int = 40):
        seen.append(generator)
        return tiny_graph(num_nodes)

    registered("versioned-graph", load_versioned, relations=("follows", "retweets"), tasks=("bot",),
               recorded_defaults={"generator": (2, 1)})
    cache = DataCache(tmp_path, progress=False)
    base = dict(dataset="versioned-graph", task="bot", model="gcn", relations="all")
    new = prepare(RunSpec(**base), cache).definition
    assert new["dataset_options"] == {"generator": 2}, "a new run records the default it ran with"
    old = {**new, "dataset_options": {}}  # a record made before the option existed: it means generator 1
    pinned = prepare(RunSpec(**base, dataset_options={"generator": 1}), cache).definition
    assert run_id(pinned) == run_id(old) != run_id(new), "asking for the old meaning finds the old record"
    cache.graph("versioned-graph", old["dataset_options"])
    cache.graph("versioned-graph", new["dataset_options"])
    assert seen == [1, 2], "a stored record without the key is rebuilt with its absent meaning, not today's default"


def test_a_dataset_without_recorded_defaults_adds_nothing(tmp_path):
    definition = prepare(RunSpec(dataset="cresci-15", task="bot", model="gcn"), DataCache(tmp_path)).definition
    assert definition["dataset_options"] == {} and "dataset_source" not in definition
    definition = prepare(RunSpec(dataset="mgtab-synthetic", task="bot", model="gcn",
                                 dataset_options={"num_nodes": 300}), DataCache(tmp_path)).definition
    assert definition["dataset_options"] == {"num_nodes": 300, "twin": 3}  # its one recorded default
    with pytest.raises(ValueError, match="default for new runs, meaning when absent"):
        registry.register_dataset("bad-defaults", recorded_defaults={"twin": 2})
