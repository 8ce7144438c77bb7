"""POST /v1/music: a base64 melody in, the harmonization out as MIDI / MusicXML / PNG / WAV; bad input is a
422 naming the field."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from noisecraft.data.music_files import read_music, write_music


@pytest.fixture(scope="module")
def client(coconet_run):
    from noisecraft.serve.api import create_app
    from noisecraft.serve.service import Service, load_models

    service = Service(load_models([f"chorales={coconet_run}"]))
    with TestClient(create_app(service, studio=False)) as c:
        yield c
    service.close()


def test_harmonizes_a_base64_melody(client, chorale, tmp_path):
    melody = chorale.split_voices(("soprano",))
    write_music(melody, tmp_path / "m.musicxml")
    body = {"model": "chorales", "melody": base64.b64encode((tmp_path / "m.musicxml").read_bytes()).decode(),
            "melody_format": "musicxml", "passes": 0.2}
    r = client.post("/v1/music", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["task"] == "harmonize" and len(out["midi"]) == len(out["wav"]) == len(out["png"]) == 1
    (tmp_path / "h.mid").write_bytes(base64.b64decode(out["midi"][0]))
    back = read_music(tmp_path / "h.mid")
    assert (back.roll[0, : melody.steps] == melody.roll[0]).all()
    assert base64.b64decode(out["wav"][0])[:4] == b"RIFF" and base64.b64decode(out["png"][0])[:4] == b"\x89PNG"


@pytest.mark.parametrize("body,field", [
    ({"melody": "***"}, "melody"),
    ({"melody": base64.b64encode(b"MThd garbage").decode()}, "melody"),
    ({"bars": 0}, "bars"),
])
def test_bad_requests_name_the_field(client, body, field):
    r = client.post("/v1/music", json={"model": "chorales", **body})
    assert r.status_code == 422 and field in r.text


def test_unknown_model_is_404(client):
    assert client.post("/v1/music", json={"model": "nope"}).status_code == 404


def test_studio_music_panel_harmonizes_an_upload(coconet_run, chorale, tmp_path):
    from noisecraft.serve.music_studio import make_music_files, music_models
    from noisecraft.serve.service import Service, load_models
    from noisecraft.serve.studio import build_studio

    service = Service(load_models([f"chorales={coconet_run}"]))
    try:
        assert music_models(service) == ["chorales"]
        build_studio(service)  # the panel builds
        melody = chorale.split_voices(("soprano",))
        write_music(melody, tmp_path / "up.mid")
        paths = make_music_files(service, "chorales", str(tmp_path / "up.mid"), 2, 0, tmp_path)
        assert sorted(p.suffix for p in paths) == [".mid", ".musicxml", ".png", ".wav"]
        assert (read_music(paths[0]).roll[0, : melody.steps] == melody.roll[0]).all()
    finally:
        service.close()
