"""The TensorBoard HParams entry of a run, written so the dashboard opens on what varies.

TensorBoard's HParams tab lists the experiment's hyperparameters with those marked `differs`
first (then by name) and ticks the first five. So the keys a run varies (a sweep trial's
searched keys; a single run's command-line overrides) and `Status` are marked `differs`, the
constant base keys are not: those start unticked. `Status` is capitalised so that it sorts
before every config key and is always ticked: a PRUNED or FAILED row shows as such. A key
that is None in a run is left out of that run (a blank cell), so a float key never turns into
a column of 17-digit strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lightning.pytorch.loggers import TensorBoardLogger

STATUSES = ("COMPLETE", "PRUNED", "FAILED")
STATUS = "Status"  # sorts first (uppercase): always among the five ticked


def hparam_infos(hparams: Mapping[str, object], varied: Iterable[str]) -> list:
    """`HParamInfo`s: `Status` and the varied keys first (marked `differs`), then the rest."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import api_pb2

    varied = set(varied) | {STATUS}
    order = sorted(hparams, key=lambda k: (k not in varied, k))
    infos = []
    for key in order:
        value = hparams[key]
        kind = (
            api_pb2.DATA_TYPE_BOOL
            if isinstance(value, bool)
            else api_pb2.DATA_TYPE_FLOAT64
            if isinstance(value, (int, float))
            else api_pb2.DATA_TYPE_STRING
        )
        info = api_pb2.HParamInfo(name=key, type=kind, differs=key in varied)
        if key == STATUS:
            info.domain_discrete.CopyFrom(
                struct_pb2.ListValue(values=[struct_pb2.Value(string_value=s) for s in STATUSES])
            )
        infos.append(info)
    return infos


def write_hparams(
    logger: TensorBoardLogger,
    hparams: Mapping[str, object],
    metrics: Mapping[str, float],
    varied: Iterable[str],
    status: str = "COMPLETE",
) -> None:
    """Write the experiment, session start (hparams and `Status`) and end, and the metrics."""
    import time

    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import plugin_data_pb2 as pd

    values = {k: v for k, v in hparams.items() if v is not None and v != "None"}
    values[STATUS] = status
    metric_infos = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in metrics]
    experiment = api_pb2.Experiment(
        hparam_infos=hparam_infos(values, varied), metric_infos=metric_infos
    )
    start = pd.SessionStartInfo(start_time_secs=time.time())
    for key, value in values.items():
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = value
        else:
            start.hparams[key].string_value = str(value)
    end = pd.SessionEndInfo(
        status=api_pb2.STATUS_FAILURE if status == "FAILED" else api_pb2.STATUS_SUCCESS,
        end_time_secs=time.time(),
    )
    writer = logger.experiment._get_file_writer()
    for tag, data in (
        ("experiment", pd.HParamsPluginData(experiment=experiment)),
        ("session_start_info", pd.HParamsPluginData(session_start_info=start)),
        ("session_end_info", pd.HParamsPluginData(session_end_info=end)),
    ):
        writer.add_summary(_summary(f"_hparams_/{tag}", data))
    own = {k: v for k, v in metrics.items() if k.startswith("hp/")}  # test/…: logged already
    if own:
        logger.log_metrics(own)


def _summary(tag: str, data: object) -> object:
    """A Summary proto holding HParams plugin data (TensorBoard's own summary module needs
    TensorFlow; this is the same message without it)."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    value = summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))
    return summary_pb2.Summary(value=[value])
