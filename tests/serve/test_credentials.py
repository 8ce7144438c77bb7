"""The server's images carry content credentials: the API's and the studio's (both come from `Service`)."""

from __future__ import annotations

import base64
import json

from fastapi.testclient import TestClient

from noisecraft.models.provenance import weights_sha256
from noisecraft.serve.api import create_app
from noisecraft.utils.credentials import text_chunk, verify_png

from .conftest import make_service


def test_api_images_are_signed_with_model_and_settings(served):
    with TestClient(create_app(make_service(served), studio=False)) as client:
        body = client.post("/v1/generate", json={"model": "diff", "num": 2, "seed": 3, "steps": 2, "class": "b"}).json()
    for i, png in enumerate(base64.b64decode(b) for b in body["images"]):
        found = verify_png(png)
        assert found.status == "verified" and found.ai_generated, found.message
        assert found.model == {"family": "diffusion", "weights_sha256": weights_sha256(served["diff"].model),
                               "parameters": served["diff"].model.num_parameters(), "name": "diff"}
        assert found.settings["seed"] == 3 and found.settings["class"] == "b" and found.settings["index"] == i
        assert found.settings["command"] == body["settings"]["command"]
        assert json.loads(text_chunk(png))["seed"] == 3  # the settings chunk stays, covered by the signature


def test_studio_files_are_the_service_bytes_and_verify(served):
    result = make_service(served).run("vae", 2, 7)  # the studio writes exactly these bytes to its files
    assert [verify_png(png).status for png in result.images] == ["verified", "verified"]
