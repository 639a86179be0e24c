"""Errors of the sweep tools."""

from hydra.errors import CompactHydraException

from bertlab.errors import BertlabError


class SweepError(BertlabError):
    """A sweep cannot run (or go on) as configured: bad space, test objective, too many failures."""


class ReportedSweepError(SweepError, CompactHydraException):
    """A SweepError leaving the Hydra sweeper: Hydra prints its message alone and exits 1."""
