"""The distributed tier: a real CeleryExecutor cluster on loopback (scripts/distributed/celery_cluster.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "distributed"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the distributed test's timings even without ``-s`` (CI logs, README figures)."""
    report = getattr(config, "callscore_distributed_report", None)
    if not report:
        return
    import json

    terminalreporter.section("callscore distributed (CeleryExecutor) report")
    for name, entry in report.items():
        terminalreporter.write_line(f"{name}: {json.dumps(entry, default=str)}")
