"""Deterministic test, demo and benchmark data for the JAGGAER and QBO sandboxes."""
from .dataset import Dataset
from .generator import BASE_EPOCH, MALFORMED_CASES, SIZES, generate, malformed_ids

__all__ = ["BASE_EPOCH", "MALFORMED_CASES", "SIZES", "Dataset", "generate", "malformed_ids"]
