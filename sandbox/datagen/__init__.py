"""Deterministic test, demo and benchmark data for the JAGGAER and QBO sandboxes."""
import functools
from typing import Any

from .dataset import Dataset
from .generator import BASE_EPOCH, MALFORMED_CASES, SIZES, generate, malformed_ids

__all__ = ["BASE_EPOCH", "MALFORMED_CASES", "SIZES", "Dataset", "generate", "load_dataset", "malformed_ids"]


@functools.lru_cache(maxsize=4)
def load_dataset(dataset: str | None, seed: int = 42, scale: float = 1.0) -> Any:
    """A generated Dataset, memoised: loaders treat datasets as read-only, so one copy serves every reset."""
    if dataset in (None, "", "empty", "none"):
        return None
    return generate(dataset, seed=seed, scale=scale)
