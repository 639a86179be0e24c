"""Errors that carry a message meant for the user: what was wrong and how to fix it."""


class BertlabError(Exception):
    """Base class: bad input or configuration. `train.py` prints it and exits non-zero."""


class DataError(BertlabError):
    """The corpus cannot be loaded, cleaned or split as configured."""


class ModelError(BertlabError):
    """The pretrained checkpoint cannot be found, verified or used as configured."""


class ConfigError(BertlabError):
    """A configuration value is inconsistent with the rest of the configuration."""


class DiskFullError(BertlabError):
    """A file could not be written because its device is full."""


class TrainingError(BertlabError):
    """Training itself went wrong (e.g. the loss became NaN): the numbers cannot be trusted."""


class RunDirError(ConfigError):
    """A run dir cannot be used as asked (already holds a run, or does not match a resume)."""
