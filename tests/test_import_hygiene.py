"""Each package, imported alone in a fresh interpreter, loads nothing above its floor.

The import-linter contracts in pyproject.toml check the imports written down; this checks what
really loads (a lazy import that became eager, a dependency that pulls in Textual or torch).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

ABOVE_LOGS = ["trafficwatch.counting", "trafficwatch.fleet", "trafficwatch.engine", "trafficwatch.model",
              "trafficwatch.app", "trafficwatch.cli"]
UI = ["textual", "rich", "textual_plotext", "plotext"]

CASES = {
    # package: modules that must not be loaded after importing all of its modules
    "trafficwatch.logs": [*ABOVE_LOGS, *UI, "torch", "pandas", "argparse"],
    "trafficwatch.counting": ["trafficwatch.engine", "trafficwatch.app", "trafficwatch.cli",
                              "trafficwatch.model", *UI, "torch", "argparse"],
    "trafficwatch.fleet": ["trafficwatch.engine", "trafficwatch.app", "trafficwatch.cli",
                           "trafficwatch.model", *UI, "torch", "pandas", "argparse"],
    "trafficwatch.model": ["trafficwatch.logs", "trafficwatch.counting", "trafficwatch.engine",
                           "trafficwatch.app", "trafficwatch.cli", *UI, "argparse"],
    "trafficwatch.engine": ["trafficwatch.app", "trafficwatch.cli", *UI, "torch", "argparse"],
    "trafficwatch.app": ["trafficwatch.cli", "torch", "argparse"],
    "trafficwatch.cli": [*UI, "trafficwatch.app", "torch"],  # headless commands stay headless
}
SKIP = {"trafficwatch.model": {"trafficwatch.model.train", "trafficwatch.model.lstm",
                               "trafficwatch.model.corpus", "trafficwatch.model.export"}}
# ^ the modules that are torch (lstm, train, and what imports them) may load torch, nothing else


def loaded_after_import(package: str, skip: set[str]) -> list[str]:
    code = f"""
import importlib, json, pkgutil, sys
pkg = importlib.import_module({package!r})
for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    if m.name not in {sorted(skip)!r} and not m.name.endswith("__main__"):
        importlib.import_module(m.name)
print(json.dumps(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("package", sorted(CASES))
def test_a_package_loads_nothing_above_it(package):
    loaded = loaded_after_import(package, SKIP.get(package, set()))
    bad = sorted({f for f in CASES[package]
                  for m in loaded if m == f or m.startswith(f + ".")})
    assert not bad, f"importing {package} loaded {bad}"


def test_the_model_without_its_trainer_never_imports_torch():
    """Forecasting reads numpy weights: torch is for training (and .pt files) only."""
    loaded = loaded_after_import("trafficwatch.model", SKIP["trafficwatch.model"])
    assert "torch" not in loaded


AGENT_RUN = """
import json, sys, tempfile, pathlib, urllib.request
from trafficwatch.cli.main import build_parser
from trafficwatch.cli.agent import run_agent
from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.engine.agent import Agent
build_parser().parse_args(["agent", "x", "--metrics-addr", "127.0.0.1:0"])
d = pathlib.Path(tempfile.mkdtemp())
(d / "access.log").write_text('1.2.3.4 - - [20/Nov/2026:10:01:00 +0000] '
                              '"GET / HTTP/1.1" 200 1 "-" "ua"\\n')
a = Agent([str(d)], IngestOptions(), "127.0.0.1:0", None)
a.start(); a.step(0.1)
host, port = a.address
body = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
a.close()
assert 'status="2xx"} 1.0' in body, body  # the line was counted and served
print(json.dumps(sorted(sys.modules)))
"""


def test_the_agent_loads_no_ui_torch_or_pandas():
    """`trafficwatch agent` runs on every web server: its command, following and serving load
    neither the UI, nor torch, nor pandas."""
    out = subprocess.run([sys.executable, "-c", AGENT_RUN], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    bad = sorted({f for f in [*UI, "torch", "pandas", "trafficwatch.app"]
                  for m in loaded if m == f or m.startswith(f + ".")})
    assert not bad, f"running the agent loaded {bad}"
