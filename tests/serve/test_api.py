"""The REST API through FastAPI's test client: every endpoint, every validation error, auth on and off,
seeds that reproduce bytes, and images that carry the settings (and CLI line) that remake them."""

from __future__ import annotations

import base64
import io
import json
import shlex

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from noisecraft.cli.main import run
from noisecraft.serve.api import create_app
from noisecraft.serve.service import Service


@pytest.fixture(scope="module")
def client(served):
    with TestClient(create_app(Service(served, max_batch=6), studio=False)) as c:  # leaving it stops the service
        yield c


def post(client, **body):
    return client.post("/v1/generate", json=body)


def pngs(response) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in response.json()["images"]]


def test_healthz_tells_liveness_queue_and_uptime_only(client):
    health = client.get("/healthz").json()
    assert set(health) == {"status", "queue", "uptime_s"}
    assert health["status"] == "ok" and health["queue"] == 0 and health["uptime_s"] >= 0


def test_models_say_what_each_takes_and_its_limits(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert set(models) == {"vae", "diff", "text"}
    assert models["vae"]["takes"] == {"condition": None} and models["vae"]["modality"] == "image"
    assert models["vae"]["options"] == {"temperature": {"type": "number", "minimum": 0, "maximum": 10, "default": 1.0,
                                                         "description": models["vae"]["options"]["temperature"]["description"]}}
    diff = models["diff"]
    assert diff["family"] == "diffusion" and diff["takes"] == {"condition": "class", "classes": ["a", "b", "c"]}
    assert diff["options"]["sampler"]["enum"] == ["ddpm", "ddim", "heun", "dpmpp-2m"]
    assert diff["options"]["steps"] == {**diff["options"]["steps"], "minimum": 1, "maximum": 1000, "default": 3}
    assert models["text"]["modality"] == "tokens" and models["text"]["takes"]["condition"] == "prompt"
    assert models["text"]["takes"]["prompt_max_chars"] == 1000
    assert set(models["text"]["options"]) == {"max_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "stop"}
    assert all(m["limits"]["num"] == 6 for m in models.values())


def pixels(response) -> list[tuple[bytes, str]]:
    """What a seed reproduces: pixels and settings chunk (each signed manifest holds random salts, so files differ)."""
    return [(np.asarray(im).tobytes(), im.text["noisecraft"]) for im in pngs(response)]


def test_generate_images_reproduces_pixels_for_a_seed(client):
    first = post(client, model="diff", num=3, seed=5, steps=2, **{"class": "b"})
    assert first.status_code == 200
    body = first.json()
    assert body["seed"] == 5 and len(body["images"]) == 3 and "texts" not in body
    assert pixels(post(client, model="diff", num=3, seed=5, steps=2, **{"class": "b"})) == pixels(first)
    assert pixels(post(client, model="diff", num=3, seed=6, steps=2, **{"class": "b"})) != pixels(first)
    assert pixels(post(client, model="diff", num=3, seed=5, steps=2, **{"class": "a"})) != pixels(first)
    assert [im.size for im in pngs(first)] == [(8, 8)] * 3


def test_without_a_seed_one_is_chosen_and_returned(client):
    first = post(client, model="vae", num=2)
    again = post(client, model="vae", num=2, seed=first.json()["seed"])
    assert pixels(again) == pixels(first)


def test_each_png_carries_the_settings_and_the_cli_line_remakes_it(client, tmp_path, capsys):
    response = post(client, model="diff", num=2, seed=9, sampler="ddim", steps=2, eta=0.5, **{"class": "c"})
    images = pngs(response)
    meta = [json.loads(im.text["noisecraft"]) for im in images]
    assert [m["index"] for m in meta] == [0, 1]
    assert meta[0]["seed"] == 9 and meta[0]["class"] == "c" and meta[0]["sampler"] == "ddim" and meta[0]["eta"] == 0.5
    assert response.json()["settings"]["command"] == meta[0]["command"]
    argv = shlex.split(meta[0]["command"])
    assert argv[:2] == ["noisecraft", "sample"]
    assert run([*argv[1:], "--out", str(tmp_path / "cli")]) == 0
    for i, image in enumerate(images):
        cli_image = np.asarray(Image.open(tmp_path / "cli" / f"sample-{i:04d}.png"))
        assert np.abs(cli_image.astype(int) - np.asarray(image).astype(int)).max() <= 1  # 1/255: batch rounding at most


def test_generate_texts_are_the_generate_commands_texts(client, model_dirs, tmp_path):
    response = post(client, model="text", num=2, seed=3, prompt="he", max_tokens=6, stop=["zz"])
    body = response.json()
    assert response.status_code == 200 and "images" not in body and len(body["texts"]) == 2
    assert post(client, model="text", num=2, seed=3, prompt="he", max_tokens=6, stop=["zz"]).json()["texts"] == body["texts"]
    argv = shlex.split(body["settings"]["command"])
    assert argv[:2] == ["noisecraft", "generate"] and "he" in argv
    assert run([*argv[1:], "--out", str(tmp_path / "t.txt")]) == 0
    written = (tmp_path / "t.txt").read_text()
    assert all(f"he{t}" in written for t in body["texts"])


@pytest.mark.parametrize("body, status, message", [
    ({"model": "nope"}, 404, "'nope' is not served here (served: vae, diff, text)"),
    ({"model": "vae", "steps": 3}, 422, "steps: model 'vae' (vae) does not take it (it takes: temperature)"),
    ({"model": "diff", "sampler": "zz"}, 422, "sampler: choose from: ddpm, ddim, heun, dpmpp-2m (got 'zz')"),
    ({"model": "diff", "class": "z"}, 422, "class 'z': not a class (classes: a, b, c)"),
    ({"model": "diff", "class": 7}, 422, "class 7: out of range (0..2)"),
    ({"model": "vae", "class": 1}, 422, "model 'vae' is unconditional"),
    ({"model": "text", "prompt": "QQ"}, 422, "prompt: text has characters the model's vocabulary lacks: 'Q'"),
    ({"model": "text", "prompt": "he", "class": 1}, 422, "class and prompt: give one"),
    ({"model": "text", "class": 1}, 422, "class: model 'text' takes a text prompt, not a class"),
    ({"model": "diff", "prompt": "a"}, 422, "prompt: model 'diff' takes a class, not a prompt"),
    ({"model": "vae", "prompt": "a"}, 422, "model 'vae' is unconditional"),
    ({"model": "diff", "eta": 0.5, "sampler": "ddpm"}, 422, "eta"),
])
def test_bad_requests_name_the_problem(client, body, status, message):
    response = client.post("/v1/generate", json=body)
    assert response.status_code == status
    assert message in response.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"model": "vae", "num": 7}, "num"),  # over --max-batch (6 here)
    ({"model": "vae", "num": 0}, "num"),
    ({"model": "diff", "steps": 1001}, "steps"),
    ({"model": "diff", "steps": 0}, "steps"),
    ({"model": "text", "prompt": "h" * 1001}, "prompt"),
    ({"model": "vae", "seed": -1}, "seed"),
    ({"model": "vae", "bogus": 1}, "bogus"),
    ({"model": "vae", "class_": 1}, "class_"),
    ({"model": "vae", "temperature": "hot"}, "temperature"),
    ({"model": "text", "stop": ["a"] * 9}, "stop"),
    ({"num": 1}, "model"),
])
def test_out_of_range_and_unknown_fields_are_422_naming_the_field(client, body, field):
    response = client.post("/v1/generate", json=body)
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b"", b'{"model": "vae"', b"\xff\xfe", b" \xe9(\x7f\xff", b"null", b"1e999999"])
def test_malformed_bodies_are_4xx_never_5xx(client, content):
    response = client.post("/v1/generate", content=content, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422) and response.json()["detail"]


def test_openapi_schema_describes_the_body_and_answers(client):
    schema = client.get("/openapi.json").json()
    body = schema["components"]["schemas"]["GenerateRequest"]
    assert body["additionalProperties"] is False
    assert {"model", "num", "seed", "class", "prompt", "steps", "sampler", "max_tokens"} <= set(body["properties"])
    assert body["properties"]["num"]["maximum"] == 6
    responses = schema["paths"]["/v1/generate"]["post"]["responses"]
    assert {"200", "400", "401", "404", "413", "422", "429", "503"} <= set(responses)


def test_past_the_time_limit_is_503(served):
    with TestClient(create_app(Service(served, timeout=0.001), studio=False)) as slow:
        response = slow.post("/v1/generate", json={"model": "diff", "num": 16, "steps": 100})
    assert response.status_code == 503 and "limit of 0.001 s" in response.json()["detail"]


TOKEN = "s3cret-s3cret-s3cret"


@pytest.fixture
def locked(served):
    return create_app(Service(served), token=TOKEN, studio=True)


@pytest.mark.parametrize("method, path", [("get", "/v1/models"), ("post", "/v1/generate"),
                                          ("get", "/openapi.json"), ("get", "/"), ("get", "/config")])
def test_with_a_token_every_request_needs_it(locked, method, path):
    with TestClient(locked) as c:
        kwargs = {"json": {"model": "vae"}} if method == "post" else {}
        assert getattr(c, method)(path, **kwargs).status_code == 401
        wrong = getattr(c, method)(path, headers={"Authorization": "Bearer nope"}, **kwargs)
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert getattr(c, method)(path, headers={"Authorization": f"Basic {TOKEN}"}, **kwargs).status_code == 401
        assert getattr(c, method)(path, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs).status_code == 200
        assert getattr(c, method)(path, headers={"Cookie": f"noisecraft_session={TOKEN}"}, **kwargs).status_code == 401


def test_healthz_is_open_for_probes_even_with_a_token(locked):
    with TestClient(locked) as c:
        assert c.get("/healthz").status_code == 200


def test_a_browser_trades_the_token_for_a_session_cookie_once(locked):
    with TestClient(locked, follow_redirects=False) as c:
        assert c.get("/").status_code == 401
        opened = c.get(f"/?token={TOKEN}&x=1")
        assert opened.status_code == 303 and opened.headers["location"] == "/?x=1"  # the token leaves the URL
        cookie = opened.headers["set-cookie"]
        session = c.cookies["noisecraft_session"]
        assert TOKEN not in cookie and len(session) >= 32
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie and "Secure" not in cookie
        assert c.get("/").status_code == 200 and "<html" in c.get("/").text.lower()
        assert c.get("/v1/models").status_code == 200  # the cookie's session, not the token
        c.cookies.clear()
        assert c.get("/v1/models").status_code == 401
    with TestClient(locked, base_url="https://example.test", follow_redirects=False) as c:
        assert "Secure" in c.get(f"/?token={TOKEN}").headers["set-cookie"]  # over https only


def test_sessions_expire(served, monkeypatch):
    from noisecraft.serve import auth

    app = create_app(Service(served), token=TOKEN, studio=False)
    with TestClient(app, follow_redirects=False) as c:
        c.get(f"/v1/models?token={TOKEN}")
        assert c.get("/v1/models").status_code == 200
        now = auth.time.monotonic()
        monkeypatch.setattr(auth.time, "monotonic", lambda: now + 13 * 3600)
        assert c.get("/v1/models").status_code == 401


@pytest.mark.parametrize("token", ["", "short", "x" * 15])
def test_an_empty_or_short_token_is_refused_at_start(served, token):
    from noisecraft.errors import ConfigError

    with pytest.raises(ConfigError, match="--token: at least 16 characters"):
        create_app(Service(served), token=token, studio=False)


def test_without_a_token_the_studio_is_open(served):
    with TestClient(create_app(Service(served), studio=True)) as c:
        assert c.get("/").status_code == 200 and c.get("/healthz").status_code == 200


def test_an_unconditional_diffusion_model_offers_no_guidance(served):
    from noisecraft.data.base import DataSpec
    from noisecraft.models.diffusion.model import DiffusionConfig, DiffusionModel

    assert "guidance" in served["diff"].model.describe_options()
    plain = DiffusionModel(DiffusionConfig(channels=[8], attention=[]), DataSpec(shape=(1, 8, 8)))
    assert set(plain.describe_options()) == {"sampler", "steps", "eta"}
