"""No run is reachable twice under the log root: TensorBoard's own loader counts each trial once
(the latest-sweep pointer is a text file, not a link TensorBoard would follow)."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from test_study_identity import ok, toy

from bertlab.utils.latest import resolve_latest


def test_tensorboard_sees_each_trial_of_a_sweep_once(tmp_path):
    root = tmp_path / "train" / "sweeps"
    root.mkdir(parents=True)
    name, _ = ok(toy(root, "x=0.1,0.2,0.3", "tb_events=true", "epochs=1"))
    assert resolve_latest(root / "bertlab") == root / name
    assert resolve_latest(root / "bertlab" / "2") == root / name / "2"
    assert not (root / "bertlab").exists()  # a pointer file beside it, no link or dir

    runs = EventMultiplexer().AddRunsFromDirectory(str(tmp_path / "train")).Runs()
    assert sorted(runs) == [str(Path("sweeps") / name / str(i)) for i in range(3)]
