"""Errors of the sweep tools."""

from bertlab.errors import BertlabError


class SweepError(BertlabError):
    """A sweep cannot run (or go on) as configured: bad space, test objective, too many failures."""
