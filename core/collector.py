"""Python's cyclic garbage collector in the processes that run syncs (Celery workers, and the bench that measures
a run as a worker runs it).

A run allocates millions of short-lived objects (parsed records, drafts, model instances, JSON answers) and
makes almost no reference cycles: they are freed by their reference counts. With Python's thresholds
(700, 10, 10) a first load of the bench dataset still ran the full collection about 30 times, each walking every
object of the process (Django, the QBO snapshot, the page in hand: ~70 ms), and all of them together found a few
hundred objects to free: 15% of the run's CPU, taken on whichever thread allocated, so the run's thread also
waited for the interpreter's lock while a helper thread collected. With (20000, 20, 20) the same load collects
young objects about 70 times, middle-aged ones 3 times, and never walks the whole process; its peak memory is the
same (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import gc

from django.conf import settings


def tune_for_runs() -> tuple[int, int, int]:
    """Set the collector's thresholds to `WORKER_GC_THRESHOLDS` (none set: Python's stay); returns those in force."""
    thresholds = settings.WORKER_GC_THRESHOLDS
    if thresholds:
        gc.set_threshold(*thresholds)
    return gc.get_threshold()
