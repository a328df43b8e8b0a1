"""Experiments: YAML configs, the runner, calibrations, and the store of fitted models and run
folders."""

from .calibrate import CalibrationOutcome, run_calibration
from .config import ConfigError, ExperimentConfig, load_config
from .runner import RunOutcome, run_experiment

__all__ = ["CalibrationOutcome", "ConfigError", "ExperimentConfig", "RunOutcome", "load_config",
           "run_calibration", "run_experiment"]
