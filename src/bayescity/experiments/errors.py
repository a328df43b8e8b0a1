"""The user errors of experiments: a config, grid, option or folder that cannot work (exit 2)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config file that cannot be read or does not validate."""


class GridError(ConfigError):
    """A grid that cannot be applied to the config (exit 2)."""
