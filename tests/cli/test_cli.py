"""Every verb as a user types it: in-process through `run(argv)`, which is what the console script calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from noisecraft.cli.main import run
from noisecraft.data.mnist import FILES, PACKAGE_DIR
from noisecraft.errors import ConfigError

TINY = ["--set", "train.max_steps=4", "--set", "train.checkpoint_every=2", "--set", "train.sample_every=2"]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert run(["train", "mnist-vae-tiny", "--out", str(out), "--quiet", *TINY]) == 0
    return out


@pytest.mark.parametrize("verb", [[], ["train"], ["sample"], ["recipes"], ["recipes", "list"], ["recipes", "show"],
                                  ["datasets"], ["datasets", "list"], ["datasets", "show"], ["datasets", "download"]])
def test_every_verb_has_help(capsys, verb):
    code, out, _ = cli(capsys, *verb, "--help")
    assert code == 0 and "Usage: noisecraft" in out


def test_train_writes_a_run(trained: Path):
    assert (trained / "samples" / "step-000004.png").is_file()
    assert (trained / "model" / "model.safetensors").is_file()
    assert "max_steps: 4" in (trained / "config.yaml").read_text()


def test_train_max_steps_and_resume_continue_a_run(capsys, trained: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert cli(capsys, "train", "mnist-vae-tiny", "--out", str(out), "--quiet", *TINY)[0] == 0
    code, stdout, _ = cli(capsys, "train", "mnist-vae-tiny", "--out", str(out), "--quiet", *TINY, "--max-steps", "6", "--resume")
    assert code == 0 and "resuming" in stdout and "at step 4" in stdout
    assert (out / "samples" / "step-000006.png").is_file()


def test_sample_grid_and_folder(capsys, trained: Path, tmp_path: Path):
    grid = tmp_path / "grid.png"
    code, out, _ = cli(capsys, "sample", str(trained), "--num", "9", "--seed", "3", "--out", str(grid))
    assert code == 0 and "wrote 9 images" in out
    assert Image.open(grid).size == (3 * 30 + 2, 3 * 30 + 2)  # 3x3 tiles of 28 px, 2 px padding
    folder = tmp_path / "each"
    assert cli(capsys, "sample", str(trained / "model"), "--num", "5", "--out", str(folder))[0] == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"sample-{i:04d}.png" for i in range(5)]
    assert Image.open(folder / "sample-0000.png").size == (28, 28)


def test_the_same_seed_gives_the_same_pixels(capsys, trained: Path, tmp_path: Path):
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("1", "1", "2")):
        assert cli(capsys, "sample", str(trained), "--num", "4", "--seed", seed, "--out", str(path))[0] == 0
    pixels = lambda path: np.array(Image.open(path)).tobytes()  # noqa: E731  (signed credentials differ: random salts)
    assert pixels(paths[0]) == pixels(paths[1]) != pixels(paths[2])
    hot = tmp_path / "hot.png"
    assert cli(capsys, "sample", str(trained), "--num", "4", "--seed", "1", "--temperature", "2", "--out", str(hot))[0] == 0
    assert pixels(hot) != pixels(paths[0])


def test_reconstruct_shows_inputs_beside_outputs(capsys, trained: Path, tmp_path: Path):
    path = tmp_path / "recon.png"
    code, out, _ = cli(capsys, "sample", str(trained), "--reconstruct", "--num", "4", "--out", str(path))
    assert code == 0 and "wrote 8 images" in out
    assert Image.open(path).size == (8 * 30 + 2, 30 + 2)  # one row: input, output, input, output, ...


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "{run}", "--steps", "10"], "error: --steps: the vae family does not take it \\(it takes: temperature\\)"),
        (["sample", "{run}/model", "--reconstruct"], "error: --reconstruct: .* is not a run folder"),
        (["sample", "{run}", "--out", "{tmp}/x.jpg"], "error: --out .*x.jpg: give a .png file"),
        (["sample", "{tmp}/nothing"], "error: .*nothing: no such run or model folder"),
        (["train", "mnist-vae-tiny", "--set", "train.lr=-3"], "error: .*mnist-vae-tiny.yaml: train.lr: Input should be greater than 0 \\(got -3"),
        (["train", "mnist-vae-tiny", "--set", "model.latnet=3"], "error: .*: model.latnet: unknown key \\(allowed: family, latent_dim"),
        (["train", "{tmp}/missing.yaml"], "error: recipe file not found: .*missing.yaml"),
        (["train", "mnist-vae-tiny", "--out", "{run}"], "error: .* already holds a run: pass --resume"),
        (["train", "mnist-vae-tiny", "--out", "{tmp}/new", "--resume"], "error: --resume: .*new is not a run folder"),
        (["recipes", "show", "nope"], "error: unknown recipe 'nope'"),
        (["datasets", "show", "cifar"], "error: unknown data set 'cifar'"),
        (["datasets", "download", "digits"], "error: datasets download: only mnist and tinyshakespeare have a download"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(capsys, trained: Path, tmp_path: Path, argv, message):
    import re

    argv = [a.format(run=trained, tmp=tmp_path) for a in argv]
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err + out
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2_and_debug_shows_the_traceback(capsys, trained: Path):
    code, _, err = cli(capsys, "sample", str(trained), "--num", "0")
    assert code == 2 and "--num" in err
    with pytest.raises(ConfigError):
        run(["--debug", "train", "mnist-vae-tiny", "--set", "train.lr=-3"])


def test_recipes_list_and_show(capsys):
    code, out, _ = cli(capsys, "recipes", "list")
    assert code == 0 and "mnist-vae" in out and "mnist-vae-tiny" in out and "vae" in out
    code, out, _ = cli(capsys, "recipes", "show", "mnist-vae")
    assert code == 0 and "family: vae" in out and "mnist-vae.yaml" in out
    code, out, _ = cli(capsys, "recipes", "show", "mnist-vae", "--resolved")
    assert code == 0 and "grad_clip:" in out and "skip_bad_files: false" in out


def test_datasets_list_and_show(capsys):
    code, out, _ = cli(capsys, "datasets", "list")
    assert code == 0 and all(name in out for name in ("mnist", "digits", "image_folder"))
    assert "60000" in out and "10000" in out
    code, out, _ = cli(capsys, "datasets", "show", "mnist")
    assert code == 0 and str(PACKAGE_DIR) in out and "28x28" in out


def test_datasets_download_from_a_mirror(capsys, file_server, tmp_path: Path):
    for name in FILES:
        file_server.files[f"/mnist/{name}"] = (PACKAGE_DIR / name).read_bytes()
    code, out, err = cli(capsys, "datasets", "download", "mnist", "--cache-dir", str(tmp_path),
                         "--mirror", file_server.url("/mnist/"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(FILES)
    file_server.modes[f"/mnist/{next(iter(FILES))}"] = "corrupt"
    (tmp_path / "mnist" / next(iter(FILES))).unlink()
    code, _, err = cli(capsys, "datasets", "download", "mnist", "--cache-dir", str(tmp_path),
                       "--mirror", file_server.url("/mnist/"))
    assert code == 2 and "error:" in err and next(iter(FILES)) in err


def test_skipped_files_are_one_warning_line(capsys, tmp_path: Path):
    import numpy as np

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.full((12, 12), 40 * i, np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    argv = ["train", "mnist-vae-tiny", "--out", str(tmp_path / "run"), "--quiet", "--set", "data.dataset=image_folder",
            "--set", f"data.image_folder={folder}", "--set", "data.image_size=8", "--set", "data.channels=1",
            "--set", "data.limit=null", "--set", "train.batch_size=2", "--set", "train.max_steps=1"]
    code, _, err = cli(capsys, *argv, "--set", "data.skip_bad_files=true")
    assert code == 0 and "warning: skipped 1 unreadable image(s)" in err and "broken.png" in err
    assert "UserWarning" not in err
    code, _, err = cli(capsys, *[a.replace("run", "run2") for a in argv])
    assert code == 2 and "error:" in err and "broken.png" in err and "skip_bad_files" in err
