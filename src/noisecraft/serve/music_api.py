"""POST /v1/music: the music tasks of `noisecraft generate` over HTTP, for models of music.

    {"model": NAME, "melody": base64 MIDI or MusicXML, "melody_format": "midi" | "musicxml", "num": 1, "seed": 0,
     "bars": 8, "temperature": 1.0, "passes": 1.0, "sampler": "flip" | "gibbs"}
    -> {"model", "seed", "task": "harmonize" | "compose", "midi": [base64], "musicxml": [base64], "png": [base64],
        "wav": [base64]}

With a melody the model harmonizes it (kept note for note as the soprano); without one it composes `bars`.
Runs in a worker thread, outside the image batcher (one request is many network calls), under the
server's time limit. A bad melody is a 422 naming the field.
"""

import asyncio
import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from noisecraft.errors import ConfigError, DataError
from noisecraft.serve.responses import ERROR_RESPONSES
from noisecraft.serve.service import MAX_SEED, GenerationTimeout, Service
from noisecraft.utils.cancel import Cancelled, run_within

MAX_MELODY_BYTES = 1 << 20


class MusicRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="a name from /v1/models (a model of music)")
    melody: str | None = Field(None, max_length=2 * MAX_MELODY_BYTES, description="base64 MIDI or MusicXML: harmonize it")
    melody_format: Literal["midi", "musicxml"] = "midi"
    num: int = Field(1, ge=1, le=8)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    bars: int = Field(8, ge=1, le=64, description="without a melody: bars to compose")
    temperature: float | None = Field(None, gt=0, le=10)
    passes: float | None = Field(None, gt=0, le=20)
    sampler: Literal["flip", "gibbs"] | None = None


class MusicResponse(BaseModel):
    model: str
    seed: int
    task: str
    midi: list[str]
    musicxml: list[str]
    png: list[str]
    wav: list[str]


def add_music_routes(app: FastAPI, service: Service) -> None:
    @app.post("/v1/music", response_model=MusicResponse, tags=["generate"], responses=ERROR_RESPONSES)
    async def music(body: MusicRequest) -> dict[str, Any]:
        work = asyncio.to_thread(run_within, service.timeout, make_music, service, body)  # stops at a sampler step
        try:
            return await asyncio.wait_for(work, service.timeout)
        except (asyncio.TimeoutError, Cancelled):
            raise GenerationTimeout(f"generation took longer than the server's limit of {service.timeout:g} s") from None


def make_music(service: Service, body: MusicRequest) -> dict[str, Any]:
    from noisecraft import compose
    from noisecraft.data.music_output import write_music_files
    from noisecraft.data.music_files import read_music

    model = service.models.get(body.model)
    if model is None:
        from noisecraft.serve.service import UnknownModel

        raise UnknownModel(f"model: unknown model {body.model!r} (served: {', '.join(service.models)})")
    model = model.model
    layout = compose.require_layout(model)
    options = {"temperature": body.temperature}
    if layout["kind"] == "music-roll":
        options.update(passes=body.passes, sampler=body.sampler)
    options = {k: v for k, v in options.items() if v is not None}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if body.melody is not None:
            try:
                data = base64.b64decode(body.melody, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError("melody: not base64") from None
            path = folder / ("melody.mid" if body.melody_format == "midi" else "melody.musicxml")
            path.write_bytes(data)
            try:
                melody = read_music(path)
            except DataError as e:
                raise ConfigError(f"melody: {str(e).replace(str(path) + ': ', '')}") from None
            pieces, task = compose.harmonize(model, melody, body.num, body.seed, **options), "harmonize"
        else:
            pieces, task = compose.compose(model, body.bars, body.num, body.seed, **options), "compose"
        out: dict[str, Any] = {"model": body.model, "seed": body.seed, "task": task,
                               "midi": [], "musicxml": [], "png": [], "wav": []}
        from noisecraft.models.provenance import image_claims

        claims = image_claims(model, {"family": model.family, "seed": body.seed, "num": body.num, "task": task,
                                      **options}, name=body.model)
        for i, piece in enumerate(pieces):
            for path in write_music_files(piece, folder / f"out-{i}", claims=claims):
                key = {"mid": "midi"}.get(path.suffix[1:], path.suffix[1:])
                out[key].append(base64.b64encode(path.read_bytes()).decode())
    return out
