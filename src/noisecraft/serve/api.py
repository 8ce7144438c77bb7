"""The HTTP app: the REST API under /v1, /healthz, the OpenAPI schema, and the studio at / (one FastAPI app).

    GET  /v1/models    every served model: name, family, modality, what it takes and its limits
    POST /v1/generate  {"model": NAME, "num": N, "seed": S, ...options} -> {"seed": S, "images": [base64 PNG]}
                       (or "texts" for token models)
    POST /v1/music     models of music: {"model", "melody": base64 MIDI/MusicXML} -> MIDI, MusicXML, PNG, WAV
                       (serve/music_api.py)
    GET  /healthz      {"status": "ok", "queue": N, "uptime_s": S} (open without the token)

Errors are JSON `{"detail": ...}`: 400 for a body that is not UTF-8 JSON, 401 without the token, 404 for an
unknown model, 408 for a body that stalls, 413 for one over the size limit, 422 for anything else wrong with
a request (naming the field and value), 429 when the queue is full and 503 past the per-request time limit
(both with Retry-After).
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from noisecraft.errors import NoisecraftError
from noisecraft.models.options import OptionSpec
from noisecraft.serve.auth import TokenAuth, check_token
from noisecraft.serve.batcher import Job, QueueFull
from noisecraft.serve.limits import MAX_BODY, BodyLimit
from noisecraft.serve.outputs import OutputFolder
from noisecraft.serve.responses import ERROR_RESPONSES
from noisecraft.serve.service import MAX_PROMPT, MAX_SEED, Generation, GenerationTimeout, Service, UnknownModel
from noisecraft.utils.cancel import Cancelled

RETRY_AFTER = 5  # seconds, in the Retry-After of 429 and 503 answers
DISCONNECT_POLL = 0.25  # seconds between checks that a waiting client is still there


class ModelInfo(BaseModel):
    name: str
    family: str
    modality: str
    parameters: int
    shape: list[int] | None
    takes: dict[str, Any]
    options: dict[str, dict[str, Any]]
    limits: dict[str, int]


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class GenerateResponse(BaseModel):
    model: str
    seed: int
    settings: dict[str, Any] = Field(description="everything that made these samples, and the CLI line that remakes them")
    images: list[str] | None = Field(None, description="base64 PNGs (each carries its settings in an iTXt chunk)")
    texts: list[str] | None = Field(None, description="continuations of the prompt (without it)")


class Health(BaseModel):
    status: Literal["ok"]
    queue: int = Field(description="requests waiting for the sampling thread")
    uptime_s: float


def request_model(service: Service) -> type[BaseModel]:
    """The /v1/generate body, from the option table: one field per option any served model takes."""
    names = sorted({n for m in service.models.values() for n in m.model.sample_options})
    fields: dict[str, Any] = {
        "model": (str, Field(description="a name from /v1/models", examples=[next(iter(service.models))])),
        "num": (int, Field(1, ge=1, le=service.max_batch, description="how many samples")),
        "seed": (int | None, Field(None, ge=0, le=MAX_SEED, description="same seed, same samples (default: a random one, returned)")),
        "class_": (int | str | None, Field(None, alias="class", description="class index or name (class-conditional models)")),
        "prompt": (str | None, Field(None, max_length=MAX_PROMPT, description="text to continue (token models)")),
    }
    for name in names:
        specs = [m.model.option_spec(name) for m in service.models.values() if name in m.model.sample_options]
        fields[name] = (_annotation(specs[0]) | None, Field(None, **_constraints(specs)))
    return create_model("GenerateRequest", __config__=ConfigDict(extra="forbid"), **fields)


def _annotation(spec: OptionSpec) -> Any:
    return {"integer": int, "number": float, "string": str, "strings": list[str]}[spec.type]


def _constraints(specs: list[OptionSpec]) -> dict[str, Any]:
    spec = specs[0]
    out: dict[str, Any] = {"description": spec.description}
    if spec.minimum is not None:
        out["gt" if spec.exclusive_minimum else "ge"] = spec.minimum
    if spec.maximum is not None:
        out["le"] = spec.maximum
    if spec.max_length is not None:
        out["max_length"] = spec.max_length
    choices = sorted({c for s in specs for c in (s.choices or ())})
    if choices and all(s.choices for s in specs):
        out["json_schema_extra"] = {"enum": choices}
    return out


def create_app(service: Service, token: str | None = None, studio: bool = True, *, max_body: int = MAX_BODY,
               body_timeout: float = 10.0, studio_concurrency: int = 2) -> FastAPI:
    """The whole server: routes, error answers, the studio at /, then the guards around all of it (body
    limits outermost, then the token)."""
    from noisecraft import __version__

    check_token(token)
    closing: list[Callable[[], None]] = [service.close]  # at shutdown, in this order

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for close in closing:
            await asyncio.to_thread(close)

    app = FastAPI(title="noisecraft", version=__version__, summary="Generate with trained noisecraft models.", lifespan=lifespan)
    add_error_answers(app, service)
    add_routes(app, service)
    from noisecraft.serve.music_api import add_music_routes

    add_music_routes(app, service)  # POST /v1/music: harmonize a base64 melody, or compose
    if studio:
        from noisecraft.serve.studio import mount_studio

        app.state.studio_outputs = outputs = OutputFolder()
        closing.append(outputs.remove)
        app = mount_studio(app, service, outputs, concurrency=studio_concurrency)
    if token is not None:
        app.add_middleware(TokenAuth, token=token)
    app.add_middleware(BodyLimit, max_bytes=max_body, read_timeout=body_timeout)
    return app


def add_error_answers(app: FastAPI, service: Service) -> None:
    """Every error as JSON `{"detail": ...}` with its status; none echoes the input back."""

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, e: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 without echoing the input: an input of 1e999 (inf) cannot be written as JSON."""
        errors = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")} for err in e.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(UnknownModel)
    async def unknown_model(request: Request, e: UnknownModel) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=404)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, e: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=429, headers={"Retry-After": str(RETRY_AFTER)})

    @app.exception_handler(GenerationTimeout)
    async def timeout(request: Request, e: GenerationTimeout) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})

    @app.exception_handler(NoisecraftError)
    async def bad_request(request: Request, e: NoisecraftError) -> JSONResponse:
        return JSONResponse({"detail": str(e).removeprefix("--")}, status_code=422)


def add_routes(app: FastAPI, service: Service) -> None:
    body_model = request_model(service)
    started = time.monotonic()

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Open even with --token: liveness, queue depth and uptime, nothing about the models."""
        return {"status": "ok", "queue": service.queue_depth, "uptime_s": round(time.monotonic() - started, 3)}

    @app.get("/v1/models", response_model=ModelsResponse, tags=["generate"])
    async def models() -> dict[str, Any]:
        return {"models": service.describe()}

    @app.post("/v1/generate", response_model=GenerateResponse, response_model_exclude_none=True, tags=["generate"],
              responses=ERROR_RESPONSES)
    async def generate(body: body_model, request: Request) -> Any:  # type: ignore[valid-type]  (no "from __future__ import annotations" here: FastAPI reads this one)
        fields = body.model_dump(exclude={"model", "num", "seed", "class_", "prompt"})
        condition = service.condition(body.model, class_=body.class_, prompt=body.prompt)
        job = service.submit(body.model, body.num, body.seed, condition, **fields)
        generation = await wait_for_job(service, job, request)
        if generation is None:  # nobody to answer
            return JSONResponse({"detail": "client closed the request"}, status_code=499)
        return generation.to_json()


async def wait_for_job(service: Service, job: Job, request: Request) -> Generation | None:
    """Queue `job` and await it. Past the time limit, or when the client goes, the job is abandoned: dropped
    from the queue, or stopped at its sampler's next step. None: the client went away."""
    future = asyncio.wrap_future(service.batcher.submit(job))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + service.timeout
    try:
        while not future.done():
            await asyncio.wait({future}, timeout=min(DISCONNECT_POLL, max(0.0, deadline - loop.time())))
            if future.done():
                break
            if loop.time() >= deadline:
                raise service.timed_out()
            if await request.is_disconnected():
                return None
        result = future.result()
    except Cancelled:
        raise service.timed_out() from None
    finally:
        if not future.done():
            job.abandon()
            future.cancel()  # what the sampling thread still sets on it is dropped, not logged as never retrieved
    return await asyncio.to_thread(service.finish, job, result)
