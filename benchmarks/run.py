"""Run the benchmarks and print one markdown table.

    python benchmarks/run.py            # every section
    python benchmarks/run.py core agent # some sections

Sections: core (tool latencies, observation sizes, memory), cache (page cache),
agent (planner harness), store (throughput with and without awaiting the commit), models (what a
backend's first use costs other clients), egress (what the egress proxy costs). Each is a module ``benchmarks/bench_<name>.py`` with
``async def run(site) -> list[Row]``. Numbers are measured on this machine, on
the fixture site of the tests (and the Python docs when python3-doc is installed).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Row, serve_site

SECTIONS = ("core", "cache", "agent", "store", "models", "egress")


def table(rows: list[Row]) -> str:
    head = ["section", "metric", "measured", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


async def run_sections(names: list[str]) -> list[Row]:
    rows: list[Row] = []
    with serve_site() as site:
        for name in names:
            try:
                module = importlib.import_module(f"benchmarks.bench_{name}")
            except ModuleNotFoundError as exc:
                rows.append(Row(name, "section", f"not available: {exc.name}"))
                continue
            t0 = time.perf_counter()
            rows += await module.run(site)
            print(f"[{name}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> None:
    names = list(argv if argv is not None else sys.argv[1:]) or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    logging.basicConfig(level=logging.ERROR)
    rows = asyncio.run(run_sections(names))
    import os

    print(f"thinkrun-mcp benchmarks — {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}\n")
    print(table(rows))
    if any(r.ok is False for r in rows):
        print("\nSome targets were not met.", file=sys.stderr)


if __name__ == "__main__":
    main()
