"""pruneaudit: audit what pruning did to a classifier, class by class."""

__version__ = "0.1.0"

__all__ = ["__version__"]
