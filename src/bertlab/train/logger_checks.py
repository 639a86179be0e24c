"""Check an MLflow logger's tracking URI before any data work: a malformed, `file://`,
read-only or unreachable store fails in seconds with one message naming the key, not after
tokenizing and training (nor after minutes of HTTP retries)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from omegaconf import DictConfig

from bertlab.errors import ConfigError

# While checking: no retries, a short connect/read timeout (MLflow's defaults retry for minutes).
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"  # MLflow's own opt-out
CHECK_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def check_loggers(cfg: DictConfig) -> None:
    """Check each MLflow logger of `cfg.logger` can reach and write its tracking store.

    Raises:
        ConfigError: naming `logger.<name>.tracking_uri`, what is wrong and what to use.
    """
    for name, node in (cfg.get("logger") or {}).items():
        if node is not None and str(node.get("_target_", "")).endswith("MLFlowLogger"):
            # as MLFlowLogger resolves a missing URI: MLFLOW_TRACKING_URI, else ./mlruns
            default = os.environ.get("MLFLOW_TRACKING_URI") or "file:" + node.get(
                "save_dir", "./mlruns"
            )
            check_tracking_uri(node.get("tracking_uri") or default, f"logger.{name}.tracking_uri")


def check_tracking_uri(uri: str, key: str) -> None:
    """Refuse a tracking URI MLflow cannot use for writing; see `check_loggers`."""
    scheme = urlparse(uri).scheme
    hint = f"Use e.g. {key}=sqlite:///<dir>/mlflow.db (a local file) or http://<host>:5000."
    if scheme in ("", "file") and os.environ.get(ALLOW_FILE_STORE, "").lower() != "true":
        raise ConfigError(
            f"{key}={uri}: this MLflow refuses its file store (maintenance mode; it asks to "
            f"migrate to a database). {hint} (Or set {ALLOW_FILE_STORE}=true to keep it.)"
        )
    if scheme == "sqlite":
        _check_sqlite_path(uri, key, hint)
    try:
        with _env(CHECK_ENV):
            from mlflow.tracking import MlflowClient

            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as err:  # unknown scheme, refused connection, timeout, bad database
        reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
        raise ConfigError(
            f"{key}={uri}: MLflow cannot use this tracking store ({type(err).__name__}: "
            f"{reason}). {hint} Or drop the logger: logger=tensorboard."
        ) from None


def _check_sqlite_path(uri: str, key: str, hint: str) -> None:
    """The database file (or, before it exists, its directory) must be writable."""
    if not uri.startswith("sqlite:///") or uri == "sqlite:///:memory:":
        return  # another form: MLflow's own check decides
    path = Path(uri.removeprefix("sqlite:///"))  # sqlite:////abs/x.db -> /abs/x.db
    target = path if path.exists() else path.parent
    if target == path.parent and target.exists() and not target.is_dir():
        raise ConfigError(f"{key}={uri}: {target} is a file, not a directory. {hint}")
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(
            f"{key}={uri}: {target} is read-only, so MLflow cannot record the run. {hint}"
        )


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
