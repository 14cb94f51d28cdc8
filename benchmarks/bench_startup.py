"""How long the ``mgbench`` command takes to answer, against a bare ``import torch``.

Each command runs as its own subprocess (a fresh interpreter, as a user types
it), ``--runs`` times; the table gives the median wall time and the median CPU
time (user + system, from ``resource.getrusage`` of the child), which stays
meaningful on a busy machine where wall time does not.

    python benchmarks/bench_startup.py            # 5 runs each
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "--version": [sys.executable, "-m", "mgbench", "--version"],
    "--help": [sys.executable, "-m", "mgbench", "--help"],
    "models": [sys.executable, "-m", "mgbench", "models"],
    "models gcn": [sys.executable, "-m", "mgbench", "models", "gcn"],
    "import torch": [sys.executable, "-c", "import torch"],
}


def time_command(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"median of {args.runs} runs")
    print(f"{'command':<14} {'wall s':>7} {'cpu s':>7}")
    for name, command in COMMANDS.items():
        runs = [time_command(command) for _ in range(args.runs)]
        wall, cpu = (statistics.median(r[i] for r in runs) for i in range(2))
        print(f"{name:<14} {wall:>7.2f} {cpu:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
