"""benchmarks/common.py `resumable` and `trainer_state`: a run a session ended before its first checkpoint
starts again, a checkpointed one resumes (also from a checkpoint swap a crash cut short), and neither stops
the script."""

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
    state.write_text('{"step": 7, "train_seconds": 12.5}')
    assert common.resumable(tmp_path / "run") is True and state.is_file()
    assert common.trainer_state(tmp_path / "run")["step"] == 7
    assert common.trainer_state(tmp_path / "run")["train_seconds"] == 12.5


def test_a_checkpoint_swap_cut_by_a_crash_is_completed_not_cleared(tmp_path):
    """A crash between replace_dir's two renames leaves only `last.old`: that is the run's checkpoint, so the
    run resumes from it instead of being cleared as one that never reached a checkpoint."""
    old = tmp_path / "run" / "checkpoints" / "last.old" / "trainer_state.json"
    old.parent.mkdir(parents=True)
    old.write_text('{"step": 400, "train_seconds": 1800.0}')
    assert common.resumable(tmp_path / "run") is True
    assert common.trainer_state(tmp_path / "run")["step"] == 400
    assert (tmp_path / "run" / "checkpoints" / "last" / "trainer_state.json").is_file()


def test_trained_for_needs_a_checkpoint_even_for_a_budget_of_zero(tmp_path):
    """--quick budgets are 0 seconds: a run with no checkpoint yet must still be trained."""
    assert common.trained_for(tmp_path / "never-started", 0.0) is False
    state = tmp_path / "run" / "checkpoints" / "last" / "trainer_state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"step": 7, "train_seconds": 12.5}')
    assert common.trained_for(tmp_path / "run", 12.0) is True and common.trained_for(tmp_path / "run", 13.0) is False
