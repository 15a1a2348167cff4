"""Deterministic test, demo and benchmark data for the JAGGAER and QBO sandboxes."""
from .dataset import Dataset
from .generator import BASE_EPOCH, SIZES, generate

__all__ = ["BASE_EPOCH", "SIZES", "Dataset", "generate"]
