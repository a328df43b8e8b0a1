"""Bayesian estimators (registered on import): the hierarchical DID."""

from .hierarchical import HierarchicalDID

__all__ = ["HierarchicalDID"]
