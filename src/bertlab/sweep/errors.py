"""Errors of the sweep tools."""

import os
import sys
from typing import NoReturn

from hydra.errors import CompactHydraException

from bertlab.errors import BertlabError


class SweepError(BertlabError):
    """A sweep cannot run (or go on) as configured: bad space, test objective, too many failures."""


class ReportedSweepError(SweepError, CompactHydraException):
    """A SweepError raised to Hydra under HYDRA_FULL_ERROR=1 (see `exit_with`): Hydra prints
    it with its traceback."""


def exit_with(err: SweepError) -> NoReturn:
    """Print `err`'s message alone and exit with code 2 (a user error), as train.py does;
    under ``HYDRA_FULL_ERROR=1`` raise it for Hydra to print with its traceback."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err if isinstance(err, ReportedSweepError) else ReportedSweepError(str(err)) from err
    print(str(err), file=sys.stderr)
    raise SystemExit(2) from err
