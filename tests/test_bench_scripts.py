"""The speed scripts in benchmarks/ run: a smoke test of each one's quick mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, tmp_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MGBENCH_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_bench_gnn_epoch_quick_prints_its_table(tmp_path):
    """Models from the registry, built as the runner builds them, timed against their stock-PyG
    builds, with a floor from the traced epoch: every cell of the two rows is a number."""
    lines = _run("benchmarks/bench_gnn_epoch.py", "--quick", tmp_path=tmp_path).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert "ours/floor" in lines[header] and "ref kept/floor" in lines[header]
    rows = {line.split()[0]: line.split() for line in lines[header + 1:]}
    assert set(rows) == {"gcn", "gat"}
    for cells in rows.values():
        assert "n/a" not in cells and len(cells) == 15
        ours, floor = float(cells[2]), float(cells[9])
        # both are timings: their order is the script's finding, not the test's (a busy machine can
        # measure its peak low while the epoch ran quiet), so the test only asks that both exist
        assert ours > 0 and floor > 0


def test_bench_startup_quick_prints_its_table(tmp_path):
    out = _run("benchmarks/bench_startup.py", "--runs", "1", tmp_path=tmp_path)
    for command in ("--version", "--help", "models", "models gcn", "import torch"):
        assert any(line.startswith(command + " ") for line in out.splitlines()), out
