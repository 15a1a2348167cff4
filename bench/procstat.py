"""CPU and memory of processes and of the whole machine, read from /proc (Linux), for the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[float, float]:
    """(CPU seconds of the process and its waited-for children, RSS MB)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = sum(int(x) for x in fields[11:15]) / TICKS
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        return cpu, rss
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def proc_children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, total CPU seconds) since boot."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS
