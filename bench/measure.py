"""Timing, peak memory and the machine's description, shared by `bench.run` and `bench.pages`.

A figure is always printed beside a baseline measured in the same process, as a ratio, with
the peak resident memory reached while it ran and the load average of the (shared) machine
at that moment, so a reader can tell a slow path from a busy neighbour.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def rss_mb(pid: int | str = "self") -> float:
    """Current resident memory of a process, in MB (from /proc)."""
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def load_average() -> float:
    return os.getloadavg()[0]


class PeakMemory:
    """The highest RSS of this process while the block runs, sampled every 5 ms.

    `ru_maxrss` only ever grows, so it cannot tell one figure's peak from an earlier one's;
    a sampler can. Allocations shorter than the interval may be missed (a lower bound).
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


@dataclass
class Timing:
    seconds: float  # the best of the runs
    result: Any  # the last run's result
    peak_mb: float  # the highest RSS over all runs


def timed(fn: Callable[[], Any], runs: int = 1, before: Callable[[], Any] | None = None) -> Timing:
    """Best wall time of `runs` calls of `fn` (`before` runs untimed ahead of each)."""
    best, result = float("inf"), None
    with PeakMemory() as memory:
        for _ in range(runs):
            if before is not None:
                before()
            started = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - started)
    return Timing(best, result, memory.peak)


@dataclass
class Figure:
    """One measured figure beside its baseline, with its target and whether it was met."""

    database: str
    tickets: int
    name: str
    seconds: float
    peak_mb: float
    baseline: str
    baseline_seconds: float
    target: str = ""
    met: bool | None = None  # None: no target for this figure
    note: str = ""
    load: float = field(default_factory=load_average)

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else float("inf")

    def line(self) -> str:
        verdict = "" if self.met is None else ("  ok" if self.met else "  MISSED")
        target = f"  target {self.target}{verdict}" if self.target else ""
        note = f"  ({self.note})" if self.note else ""
        return (
            f"  {self.name:<34} {show_time(self.seconds):>9}  | {self.baseline:<30} "
            f"{show_time(self.baseline_seconds):>9}  | ratio {show_ratio(self.ratio):>8}  "
            f"| peak {self.peak_mb:5.0f} MB | load {self.load:4.1f}{target}{note}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def show_time(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def show_ratio(ratio: float) -> str:
    if ratio >= 100:
        return f"{ratio:,.0f}×"
    if ratio >= 0.1:
        return f"{ratio:.2f}×"
    return f"{ratio:.4f}×"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{total_kb / 2**20:.1f} GB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": f"{cpu} × {os.cpu_count()} cores",
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def markdown(figures: list[Figure]) -> str:
    """One table per size, both databases side by side: time, its baseline's time, the ratio
    (✗ when the figure misses its target) and the peak RSS while measured."""
    out = []
    for tickets in sorted({f.tickets for f in figures}):
        rows: dict[str, dict[str, Figure]] = {}
        for f in figures:
            if f.tickets == tickets:
                rows.setdefault(f.name, {})[f.database] = f
        databases = [d for d in NAMES if any(d in r for r in rows.values())]
        loads = [f.load for f in figures if f.tickets == tickets]
        out.append(f"### {tickets:,} tickets\n")
        out.append(
            f"Load average of the machine while measured: {min(loads):.1f}–{max(loads):.1f}.\n"
        )
        columns = ["figure", "baseline"]
        for d in databases:
            columns += [NAMES[d], "baseline", "ratio", "peak MB"]
        out += ["| " + " | ".join(columns) + " | target |", "|" + " --- |" * (len(columns) + 1)]
        for name, by_db in rows.items():
            first = next(iter(by_db.values()))
            cells = [name, first.baseline]
            for d in databases:
                f = by_db.get(d)
                if f is None:
                    cells += ["–"] * 4
                    continue
                mark = " ✗" if f.met is False else ""
                cells += [show_time(f.seconds), show_time(f.baseline_seconds),
                          f"{show_ratio(f.ratio)}{mark}", f"{f.peak_mb:.0f}"]  # fmt: skip
            out.append("| " + " | ".join(cells) + f" | {first.target} |")
        out.append("")
    return "\n".join(out)
