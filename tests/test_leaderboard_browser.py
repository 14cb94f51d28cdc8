"""The built index.html in real headless Chromium: rows render, headers sort, filters hide, it draws.

Chromium is driven over the Chrome DevTools Protocol (``--remote-debugging-port``)
with the small ``websocket-client`` package: ``Runtime.evaluate`` clicks and
reads the DOM, ``Page.captureScreenshot`` takes the picture. Skips when
Chromium or websocket-client is missing.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mgbench.leaderboard import build_leaderboard

from test_leaderboard import write_record
from test_leaderboard_kinds import EXTERNAL, TUNING

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _find_chromium() -> str | None:
    explicit = os.environ.get("MGBENCH_CHROMIUM")
    if explicit:
        return explicit
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, connection: Any) -> None:
        self._ws = connection
        self._ids = itertools.count(1)
        self._events: list[str] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            if "method" in message:
                self._events.append(message["method"])

    def wait_for_event(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while method not in self._events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            message = json.loads(self._ws.recv())
            if "method" in message:
                self._events.append(message["method"])
        self._events.remove(method)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired")


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    for seed in range(5):
        for model, kind, f1 in [("rgt", "gnn", 0.86), ("gcn", "gnn", 0.80), ("svm", "features", 0.79)]:
            write_record(results, dataset="mgtab", task="stance", model=model, model_kind=kind,
                         seed=seed, f1=f1 + 0.002 * seed)
        for model, f1 in [("rgcn", 0.75), ("gat", 0.72)]:
            write_record(results, task="bot", model=model, seed=seed, f1=f1 + 0.003 * seed,
                         metrics={"f1_bot": f1 - 0.1})
        write_record(results, task="bot", model="gat", seed=seed, f1=0.76 + 0.004 * seed,
                     metrics={"f1_bot": 0.7}, extra={"tuning": TUNING})
        write_record(results, task="bot", model="my-llm-pipeline", model_kind="external", training={},
                     seed=seed, f1=0.7, train_time_s=None, extra={"external": EXTERNAL})
    out = tmp_path_factory.mktemp("board")
    build_leaderboard(results, out)
    return out / "index.html"


@pytest.fixture(scope="module")
def page(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    chromium = _find_chromium()
    if chromium is None:
        pytest.skip("Chromium not found: install Debian's `chromium` (or set MGBENCH_CHROMIUM)")
    websocket = pytest.importorskip("websocket", reason="the websocket-client package is not installed")
    board: Path = request.getfixturevalue("board")    # built only when a browser is there to open it
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,1600",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    connection = None
    try:
        port_file = profile / "DevToolsActivePort"   # Chromium writes its chosen port here
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            targets = json.load(response)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        connection = websocket.create_connection(url, timeout=60, suppress_origin=True)
        tools = DevTools(connection)
        tools.open(board.resolve().as_uri())
        yield tools
    finally:
        if connection is not None:
            connection.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


STANCE = 'section.board[data-task="stance"]'


def _column(page: DevTools, section: str, header: str) -> list[str]:
    """Texts of one column, in row order, for the visible rows of a table."""
    return page.evaluate(f"""(() => {{
        const table = document.querySelector('{section} table');
        const index = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent === '{header}');
        return Array.from(table.tBodies[0].rows).filter(tr => !tr.hidden)
            .map(tr => tr.cells[index].textContent);
    }})()""")


def _click_header(page: DevTools, section: str, header: str) -> None:
    page.evaluate(f"""Array.from(document.querySelectorAll('{section} th'))
        .find(th => th.textContent === '{header}').click()""")


def _set_filter(page: DevTools, name: str, value: str) -> None:
    page.evaluate(f"""(() => {{ const s = document.getElementById('filter-{name}');
        s.value = '{value}'; s.dispatchEvent(new Event('change')); }})()""")


def test_tables_render_with_their_rows(page: DevTools) -> None:
    assert page.evaluate("document.querySelectorAll('section.board:not(.published)').length") == 2
    # published numbers of the settings no table above shows (MGTAB stance has its table here)
    assert page.evaluate("document.querySelectorAll('section.board.published').length") == 4
    models = _column(page, STANCE, "Model")
    assert len(models) == 3 + 13                      # three runs, thirteen published rows
    assert models[:2] == ["RGT (paper)", "rgt"]       # sorted by mean F1, descending
    assert "svm" in models
    assert "synthetic-data numbers" in page.evaluate(
        "document.querySelector('section.board[data-task=\"bot\"] .warning').textContent")


def test_clicking_a_header_reorders_rows(page: DevTools) -> None:
    before = _column(page, STANCE, "Model")
    _click_header(page, STANCE, "Model")
    after = _column(page, STANCE, "Model")
    assert after != before
    assert sorted(after) == sorted(before)
    assert after == sorted(before, key=lambda name: name.lower())   # localeCompare, ascending

    def f1() -> list[float]:
        return [float(text.split(" ")[0]) for text in _column(page, STANCE, "F1 (macro)")]
    _click_header(page, STANCE, "F1 (macro)")          # a number column sorts descending first
    assert f1() == sorted(f1(), reverse=True)
    _click_header(page, STANCE, "F1 (macro)")          # and a second click reverses it
    assert f1() == sorted(f1())


def test_a_filter_hides_rows(page: DevTools) -> None:
    _set_filter(page, "type", "F")
    kinds = _column(page, STANCE, "Type")
    assert kinds and set(kinds) == {"F"}
    assert len(kinds) == 1 + 6                        # svm and the paper's six feature models
    assert page.evaluate("document.querySelector('section.board[data-task=\"bot\"]').hidden")
    _set_filter(page, "type", "")
    assert len(_column(page, STANCE, "Type")) == 16


def test_the_page_explains_types_tuning_and_settings(page: DevTools) -> None:
    legend = page.evaluate("document.querySelector('p.legend').textContent")
    assert "G graph model" in legend and "F feature model" in legend and "E trained outside" in legend
    bot = 'section.board[data-task="bot"]'
    assert "epochs=10, lr=0.01" in page.evaluate(f"document.querySelector('{bot} h2 .settings').textContent")
    models = _column(page, bot, "Model")
    assert "gat (tuned)" in models and "my-llm-pipeline" in models
    assert _column(page, bot, "Type")[models.index("my-llm-pipeline")] == "E"
    assert len(_column(page, bot, "ROC-AUC")) == 4 and len(_column(page, bot, "F1 (bot class)")) == 4
    assert "budget 20 trials" in page.evaluate(f"document.querySelector('{bot} ul.notes').textContent")
    assert page.evaluate("document.getElementById('tuning').textContent").count("gat (tuned)") == 1


@pytest.mark.parametrize("width", [1280, 420])
def test_screenshot(page: DevTools, width: int, tmp_path: Path) -> None:
    """The page at a desktop and a phone width: nothing but a table's own scroller is wider than the screen.

    Set MGBENCH_SCREENSHOTS to a folder to keep the pictures and look at them.
    """
    page.call("Emulation.setDeviceMetricsOverride", width=width, height=1800, deviceScaleFactor=1,
              mobile=width < 600)
    page.open(page.evaluate("location.href"))          # as first opened: unsorted, unfiltered
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page is {overflow} px wide at {width} px"
    assert page.evaluate("""Array.from(document.querySelectorAll('figure img'))
        .every(img => img.getBoundingClientRect().right <= window.innerWidth + 1)""")
    data = base64.b64decode(page.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"])
    keep = os.environ.get("MGBENCH_SCREENSHOTS")
    shot = (Path(keep) if keep else tmp_path) / f"leaderboard-{width}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(data)
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (width, 1800)
