"""A study's name and identity: which search space it was made for, and where its trials run.

A study records its search space (canonical data and fingerprint) and sweep dir as user
attributes; a command that names the study, or hashes its name from the space, must match.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from bertlab.sweep.errors import SweepError
from bertlab.sweep.space import differences, fingerprint
from bertlab.utils.latest import point_latest

log = logging.getLogger(__name__)

# A study name is a directory name under the sweep root (hydra.sweep.dir ends in it).
_STUDY_NAME = re.compile(r"[\w.-]+")
NAME_KEY = "hydra.sweeper.study_name"
# Study user attributes: the search space (canonical data), its fingerprint and sweep dir.
SPACE_ATTR, FINGERPRINT_ATTR, DIR_ATTR = "search_space", "space_fingerprint", "sweep_dir"


def check_study_name(name: Any) -> str:
    """Return ``name`` if it is safe as one directory name under the sweep root.

    Raises:
        SweepError: When it is empty, starts with ``.``, holds ``..`` or a character other
            than letters, digits, ``_``, ``-`` and ``.`` (so no path separator).
    """
    text = "" if name is None else str(name)
    if _STUDY_NAME.fullmatch(text) and not text.startswith(".") and ".." not in text:
        return text
    raise SweepError(
        f"hydra.sweeper.study_name={name!r} cannot name a study: it is a directory name under "
        "the sweep root. Use letters, digits, '_', '-' and '.' (not first, and no '..')."
    )


def name_given(config: DictConfig) -> bool:
    """Whether ``hydra.sweeper.study_name`` was set on the command line (an exact name)."""
    overrides = OmegaConf.select(config, "hydra.overrides.hydra", default=None) or []
    return any(str(o).split("=", 1)[0].lstrip("+~") == NAME_KEY for o in overrides)


def adopt_name(config: DictConfig, name: str) -> None:
    """Set the study name in ``config`` and in its Hydra overrides, which every job recomposes.

    So ``hydra.sweep.dir`` (``.../sweeps/${hydra.sweeper.study_name}``) resolves to the
    hashed name in the sweeper, the launcher and each trial's config alike.
    """
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweeper.study_name = name
        config.hydra.overrides.hydra.append(f"{NAME_KEY}={name}")


def check_dir_is_free(
    storage: optuna.storages.BaseStorage, name: str, sweep_dir: Path, identity: dict[str, Any]
) -> None:
    """Refuse to run when another study of ``storage`` already keeps its trials in ``sweep_dir``.

    Raises:
        SweepError: Naming that study and how its search space differs from this one.
    """
    here = str(sweep_dir.resolve())
    for other in storage.get_all_studies():
        if other.study_name != name and other.user_attrs.get(DIR_ATTR) == here:
            diff = differences(other.user_attrs.get(SPACE_ATTR) or {}, identity)
            raise SweepError(
                f"{sweep_dir} already holds study {other.study_name!r}, made for another "
                f"search space ({'; '.join(diff) or 'another name'}); this study's trial dirs "
                "would overwrite its own. Set another hydra.sweep.dir, or rerun its command."
            )


def claim_identity(
    study: optuna.Study, identity: dict[str, Any], sweep_dir: Path, *, strict: bool
) -> bool:
    """Record the study's search space, or check it against the recorded one.

    Args:
        study: The loaded (or just created) study.
        identity: :func:`~bertlab.sweep.space.canonical` data of this command's space.
        sweep_dir: Where the trials run.
        strict: Refuse a different recorded space (named or hashed studies); otherwise warn.

    Returns:
        True when the study is new (no space recorded and no trials yet).

    Raises:
        SweepError: When ``strict`` and the study was made for another space, naming the
            parameters and fixed overrides that differ.
    """
    stored = study.user_attrs.get(SPACE_ATTR)
    if stored is None:
        has_trials = bool(study.get_trials(deepcopy=False))
        if has_trials:
            log.warning(
                "Study %r has no recorded search space: recording this one.", study.study_name
            )
        study.set_user_attr(SPACE_ATTR, identity)
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint(identity))
        study.set_user_attr(DIR_ATTR, str(sweep_dir.resolve()))
        return not has_trials
    if fingerprint(stored) == fingerprint(identity):
        return False
    diff = "; ".join(differences(stored, identity))
    if strict:
        raise SweepError(
            f"Study {study.study_name!r} was made for another search space: {diff}. "
            "Rerun the command that made it to resume it, or start a new study with another "
            "hydra.sweeper.study_name (without one, hparams_search names it from the space)."
        )
    log.warning(
        "Study %r was made for another search space (%s): resuming it.", study.study_name, diff
    )
    return False


def link_latest(sweep_dir: Path, base: str) -> None:
    """Record ``sweep_dir`` as the latest ``base`` sweep in ``<sweep root>/<base>.latest`` (a
    text pointer, not a link: TensorBoard on the log root must see each run once); commands
    naming ``<sweep root>/<base>`` read it (``bertlab.utils.latest.resolve_latest``).

    A real directory of that name (a study named so explicitly) is left alone.
    """
    if (sweep_dir.parent / base).is_dir() and not (sweep_dir.parent / base).is_symlink():
        log.info("%s is a study's own directory: no %s.latest pointer.", base, base)
        return
    point_latest(sweep_dir, base)
