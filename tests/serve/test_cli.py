"""`noisecraft serve`: what it loads and names, where it binds, and its warning when it is open to others."""

from __future__ import annotations

import pytest

from noisecraft.cli.main import run
from noisecraft.cli.serve import is_loopback


@pytest.fixture
def started(monkeypatch):
    """Stands in for uvicorn.run: records what `serve` would start."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_serve_binds_loopback_by_default_and_names_models_by_folder(started, model_dirs, capsys):
    assert run(["serve", str(model_dirs["vae"]), f"pictures={model_dirs['diff']}", "--no-studio"]) == 0
    app, options = started[0]
    assert options["host"] == "127.0.0.1" and options["port"] == 7860
    err = capsys.readouterr().err
    assert "serving vae, pictures at http://127.0.0.1:7860/" in err and "warning" not in err
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["vae", "pictures"]


def test_a_run_folder_is_named_after_the_run(started, model_dirs, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "my-run"
    shutil.copytree(model_dirs["vae"], run_dir / "model")
    (run_dir / "config.yaml").write_text("name: my-run\n")
    assert run(["serve", str(run_dir), str(run_dir / "model"), "--no-studio"]) == 2
    assert "two models named 'my-run'" in capsys.readouterr().err
    assert run(["serve", str(run_dir), "--no-studio", "--port", "9000", "--max-batch", "4"]) == 0
    assert started[-1][1]["port"] == 9000
    assert "serving my-run at" in capsys.readouterr().err


@pytest.mark.parametrize("argv, warned", [(["--host", "0.0.0.0"], True), (["--host", "0.0.0.0", "--token", "t" * 16], False),
                                          (["--host", "localhost"], False), (["--host", "::1"], False)])
def test_binding_beyond_loopback_without_a_token_warns(started, model_dirs, capsys, argv, warned):
    assert run(["serve", str(model_dirs["vae"]), "--no-studio", *argv]) == 0
    err = capsys.readouterr().err
    assert ("warning: --host 0.0.0.0: reachable from other machines and no --token" in err) == warned
    assert started[-1][1]["host"] == argv[1]


def test_bad_model_folders_are_one_line_errors(started, tmp_path, capsys):
    assert run(["serve", str(tmp_path / "missing")]) == 2
    assert f"error: {tmp_path / 'missing'}: no such run or model folder" in capsys.readouterr().err
    assert run(["serve", str(tmp_path)]) == 2
    assert "nor a model folder (no config.json)" in capsys.readouterr().err
    assert not started


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("127.3.2.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.com")
