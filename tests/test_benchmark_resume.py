"""benchmarks/common.py `resumable`: a run a session ended before its first checkpoint starts again, a
checkpointed one resumes, and neither stops the script."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("bench_common", Path(__file__).resolve().parents[1] / "benchmarks" / "common.py")
common = importlib.util.module_from_spec(spec)
spec.loader.exec_module(common)


def test_a_folder_without_a_checkpoint_is_cleared_and_started_again(tmp_path):
    run = tmp_path / "run"
    (run / "tensorboard").mkdir(parents=True)
    (run / "config.yaml").write_text("name: x\n")
    assert common.resumable(run) is False and not run.exists()
    assert common.resumable(tmp_path / "never-started") is False


def test_a_checkpointed_run_resumes_untouched(tmp_path):
    state = tmp_path / "run" / "checkpoints" / "last" / "trainer_state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    assert common.resumable(tmp_path / "run") is True and state.is_file()
