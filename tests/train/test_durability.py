"""Checkpoints under a bad day: the writer killed at every file boundary, with a power loss on top (every
byte not fsynced lost), and `--resume` still finds a complete `last/` (or the previous one) and ends with
the weights of the run that was never interrupted. Every file resume reads loads without unpickling code."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import accelerate.checkpointing
import pytest
import torch
from accelerate.utils import load as accelerate_load
from safetensors.torch import load_file

import noisecraft.models.base
from noisecraft.train import checkpoint as checkpoint_module
from noisecraft.train import loop as loop_module
from noisecraft.train.loop import train

QUICK = {"sample_every": 1000, "log_every": 1000}  # only checkpoints: the part under test


class Killed(BaseException):
    """The process dies here: nothing after it runs (not an Exception: no handler may catch it)."""


class Writer:
    """Wraps every call that creates, renames or removes a checkpoint file. Boundary k is before the k-th
    such call; `kill_at` kills the writer there. It also tracks which files' bytes were fsynced, so that a
    power loss can be simulated: every file written since without an fsync comes back empty."""

    def __init__(self, monkeypatch, kill_at: int | None = None) -> None:
        self.kill_at, self.boundaries, self.unsynced = kill_at, 0, set()
        for owner, name in [(accelerate.checkpointing, "save"), (torch, "save"), (checkpoint_module, "save_weights"),
                            (Path, "write_text"), (os, "replace"), (shutil, "rmtree")]:
            monkeypatch.setattr(owner, name, self.wrap(getattr(owner, name)))
        fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (self.unsynced.discard(os.fstat(fd).st_ino), fsync(fd))[1])

    def wrap(self, call):
        def wrapped(*args, **kwargs):
            self.boundaries += 1
            if self.boundaries == self.kill_at:
                raise Killed(f"killed before {call.__name__}{args[1:2]}")
            result = call(*args, **kwargs)
            path = args[1] if call.__name__ in ("save", "save_weights") else args[0]
            if call.__name__ != "rmtree" and not isinstance(path, (bytes, int)) and os.path.isfile(path):
                self.unsynced.add(os.stat(path).st_ino)  # written (or renamed): on disk only once fsynced
            return result

        return wrapped

    def power_loss(self, root: Path) -> list[Path]:
        lost = [p for p in root.rglob("*") if p.is_file() and p.stat().st_ino in self.unsynced]
        for path in lost:
            path.write_bytes(b"")
        return lost


@pytest.fixture(autouse=True)
def one_thread():
    """A tiny model: one torch thread is fastest, and on a busy machine far faster than two spinning."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def contents(last: Path) -> dict[str, object]:
    """Everything a checkpoint holds, loaded as resume loads it (safetensors, weights_only pickles, JSON)."""
    out: dict[str, object] = {}
    for path in sorted(last.iterdir()):
        if path.suffix == ".safetensors":
            out.update({f"{path.name}:{k}": v for k, v in load_file(str(path)).items()})
        elif path.suffix == ".json":
            out[path.name] = path.read_text()
        else:
            out[path.name] = repr(accelerate_load(path, map_location="cpu"))  # weights_only=True, numpy allow-listed
    return out


def same(a: dict[str, object], b: dict[str, object]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(v, b[k]) if isinstance(v, torch.Tensor) else v == b[k] for k, v in a.items())


def test_a_writer_killed_at_any_file_boundary_leaves_a_checkpoint_resume_can_use_weights_only(tiny, tmp_path, monkeypatch):
    """The step-6 checkpoint of a resumed run is written once whole, then again from the step-3 state with the
    writer killed before each of its file operations in turn (and the power lost): every time, what --resume
    would read is the whole step-3 checkpoint or the whole step-6 one. Then the run resumes from it, loading
    every pickled file with weights_only=True."""
    first = train(tiny(max_steps=3, **QUICK), tmp_path / "first", progress=False).root
    run = shutil.copytree(first, tmp_path / "run")
    checkpoints = run / "checkpoints"
    save = checkpoint_module.save_checkpoint
    outcomes = []

    def attacked(accelerator, folder, state, ema):
        save(accelerator, folder, state, ema)
        expected = [contents(first / "checkpoints" / "last"), contents(folder)]
        assert not same(*expected)
        with monkeypatch.context() as m:
            writer = Writer(m)
            save(accelerator, folder, state, ema)
        for kill_at in range(1, writer.boundaries + 1):
            shutil.rmtree(checkpoints)
            shutil.copytree(first / "checkpoints", checkpoints)
            with monkeypatch.context() as m:
                writer = Writer(m, kill_at=kill_at)
                with pytest.raises(Killed):
                    save(accelerator, folder, state, ema)
                writer.power_loss(checkpoints)
            checkpoint_module.read_loop_state(folder)  # what --resume does first: undo a half-done swap
            found = contents(folder)
            assert same(found, expected[0]) or same(found, expected[1]), f"killed at boundary {kill_at}: a broken last/"
            outcomes.append(same(found, expected[1]))

    monkeypatch.setattr(loop_module, "save_checkpoint", attacked)
    train(tiny(**QUICK), run, resume=True, progress=False)
    # model, optimizer, scheduler, sampler, RNG, EMA, state; rmtrees and 2 renames: the last kill is after the
    # second rename (the new checkpoint is in place), the first ones leave the previous one
    assert len(outcomes) >= 10 and outcomes[0] is False and outcomes[-1] is True, outcomes
    monkeypatch.undo()

    loads = {}  # the run goes on from it, reading every pickled file weights-only
    load = torch.load

    def recording(f, *args, **kwargs):
        loads[Path(f).name] = kwargs.get("weights_only")
        return load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", recording)
    pickled = {p.name for p in (checkpoints / "last").iterdir() if p.suffix in (".bin", ".pkl", ".pt", ".pth")}
    resumed = train(tiny(max_steps=9, **QUICK), run, resume=True, progress=False).root
    assert json.loads((resumed / "checkpoints" / "last" / "trainer_state.json").read_text())["step"] == 9
    assert pickled and set(loads) == pickled  # the rest are safetensors and JSON
    assert all(loads.values()), f"loaded without weights_only=True: {[k for k, v in loads.items() if not v]}"


def test_without_fsync_a_power_loss_would_leave_empty_files(tmp_path, monkeypatch):
    """The power-loss model above can fail: with fsync off, a folder swapped in by replace_dir loses its bytes."""
    for fsync in (True, False):
        new, dst = tmp_path / f"new-{fsync}", tmp_path / f"dst-{fsync}"
        with monkeypatch.context() as m:
            if not fsync:
                m.setattr(noisecraft.models.base, "fsync_tree", lambda root: None)
            writer = Writer(m)
            new.mkdir()
            (new / "weights.safetensors").write_text("x" * 100)
            noisecraft.models.base.replace_dir(new, dst)
            lost = writer.power_loss(tmp_path)
        assert [p.name for p in lost] == ([] if fsync else ["weights.safetensors"])
