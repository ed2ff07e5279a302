"""Labelled data: arrays in, model-ready batches out, each read once for every model."""

from pruneaudit.data.batch import Batch
from pruneaudit.data.dataset import Dataset, Normalisation, load_dataset

__all__ = ["Batch", "Dataset", "Normalisation", "load_dataset"]
