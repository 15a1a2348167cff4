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


def machine_stolen() -> float:
    """CPU seconds since boot the hypervisor gave this machine's cores to another guest (/proc/stat's steal). The
    kernel leaves them out of every thread's time on a core (paravirtual steal accounting): a thread whose core
    is stolen while it runs shows neither on a core nor waiting for one."""
    return int(Path("/proc/stat").read_text().splitlines()[0].split()[8]) / TICKS


def _task_ids(pid: int) -> list[int]:
    """The live threads of a process (none if it has ended)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def threads_sched(pid: int) -> dict[int, tuple[float, float]]:
    """Each live thread of the process: (seconds on a core, seconds waiting in a run queue for one), from the
    kernel's schedstat (a thread that has ended is no longer there)."""
    out: dict[int, tuple[float, float]] = {}
    for tid in _task_ids(pid):
        try:
            run_ns, wait_ns, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        out[tid] = (int(run_ns) / 1e9, int(wait_ns) / 1e9)
    return out


def _thread_states(pid: int) -> list[tuple[int, str]]:
    states = []
    for tid in _task_ids(pid):
        try:
            states.append((tid, Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[0]))
        except (OSError, IndexError, ValueError):
            continue
    return states


class StateSampler:
    """Looks at the threads of a process every `interval` seconds from a process of its own (the looking takes
    none of the watched process's time, a little of the machine's) and counts how often none of them was running
    or waiting for a core (all waiting on the network or a lock: time no work of the process overlapped) and how
    often its main thread was. `stop()` returns {"samples", "none_runnable", "main_runnable"}."""

    def __init__(self, pid: int, interval: float = 0.005):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._stop = ctx.Event()
        self._queue = ctx.SimpleQueue()
        self._process = ctx.Process(target=_sample, args=(pid, interval, self._stop, self._queue), daemon=True)
        self._process.start()

    def stop(self) -> dict[str, int]:
        self._stop.set()
        counts = self._queue.get()
        self._process.join()
        return counts


def _sample(pid: int, interval: float, stop, queue) -> None:
    import time

    counts = {"samples": 0, "none_runnable": 0, "main_runnable": 0}
    while not stop.is_set():
        states = _thread_states(pid)
        if states:
            counts["samples"] += 1
            runnable = [tid for tid, state in states if state == "R"]
            counts["none_runnable"] += not runnable
            counts["main_runnable"] += pid in runnable
        time.sleep(interval)
    queue.put(counts)
