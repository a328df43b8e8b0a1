"""Experiments: YAML configs, the runner, and the store of fitted models and run folders."""

from .config import ConfigError, ExperimentConfig, load_config
from .runner import RunOutcome, run_experiment

__all__ = ["ConfigError", "ExperimentConfig", "RunOutcome", "load_config", "run_experiment"]
