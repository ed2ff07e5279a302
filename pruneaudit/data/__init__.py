"""Labelled data: arrays in, model-ready float32 batches out."""

from pruneaudit.data.dataset import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
