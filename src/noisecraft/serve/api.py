"""The HTTP app: the REST API under /v1, /healthz, the OpenAPI schema, and the studio at / (one FastAPI app).

    GET  /v1/models    every served model: name, family, modality, what it takes and its limits
    POST /v1/generate  {"model": NAME, "num": N, "seed": S, ...options} -> {"seed": S, "images": [base64 PNG]}
                       (or "texts" for token models)
    POST /v1/music     models of music: {"model", "melody": base64 MIDI/MusicXML} -> MIDI, MusicXML, PNG, WAV
                       (serve/music_api.py)
    GET  /healthz      {"status": "ok"}

Errors are JSON `{"detail": ...}`: 400 for a body that is not UTF-8 JSON, 401 without the token, 404 for an
unknown model, 422 for anything else wrong with a request (naming the field and value), 503 past the
per-request time limit.
"""

import asyncio
import contextlib
import secrets
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from noisecraft.errors import NoisecraftError
from noisecraft.models.options import OptionSpec
from noisecraft.serve.service import MAX_PROMPT, MAX_SEED, GenerationTimeout, Service, UnknownModel

TOKEN_COOKIE = "noisecraft_token"


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


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: str | list[FieldError] = Field(description="what is wrong, naming the field and value; a list for "
                                                       "errors of the body's shape or types")


class Health(BaseModel):
    status: Literal["ok"]
    models: int


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


def create_app(service: Service, token: str | None = None, studio: bool = True) -> FastAPI:
    from noisecraft import __version__

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(service.close)

    app = FastAPI(title="noisecraft", version=__version__, summary="Generate with trained noisecraft models.", lifespan=lifespan)
    body_model = request_model(service)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        """With --token every request needs `Authorization: Bearer TOKEN`. A browser opens /?token=TOKEN
        once; the answer sets a cookie holding it, which the studio's own requests then carry."""
        if token is None:
            return await call_next(request)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.encode(), token.encode()):
            return await call_next(request)
        if secrets.compare_digest(request.cookies.get(TOKEN_COOKIE, "").encode(), token.encode()):
            return await call_next(request)
        if secrets.compare_digest(request.query_params.get("token", "").encode(), token.encode()):
            response = await call_next(request)
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response
        return JSONResponse({"detail": "missing or wrong token: send Authorization: Bearer TOKEN"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, e: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 without echoing the input: an input of 1e999 (inf) cannot be written as JSON."""
        errors = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")} for err in e.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(UnknownModel)
    async def unknown_model(request: Request, e: UnknownModel) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=404)

    @app.exception_handler(GenerationTimeout)
    async def timeout(request: Request, e: GenerationTimeout) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(NoisecraftError)
    async def bad_request(request: Request, e: NoisecraftError) -> JSONResponse:
        return JSONResponse({"detail": str(e).removeprefix("--")}, status_code=422)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": len(service.models)}

    @app.get("/v1/models", response_model=ModelsResponse, tags=["generate"])
    async def models() -> dict[str, Any]:
        return {"models": service.describe()}

    @app.post("/v1/generate", response_model=GenerateResponse, response_model_exclude_none=True, tags=["generate"],
              responses={400: {"model": ErrorResponse, "description": "a body that cannot be read (not UTF-8 JSON)"},
                         401: {"model": ErrorResponse, "description": "missing or wrong token"},
                         404: {"model": ErrorResponse, "description": "unknown model"},
                         422: {"model": ErrorResponse, "description": "a field or value the model does not take"},
                         503: {"model": ErrorResponse, "description": "past the per-request time limit"}})
    async def generate(body: body_model) -> dict[str, Any]:  # type: ignore[valid-type]  (no "from __future__ import annotations" here: FastAPI reads this one)
        fields = body.model_dump(exclude={"model", "num", "seed", "class_", "prompt"})
        condition = service.condition(body.model, class_=body.class_, prompt=body.prompt)
        job = service.submit(body.model, body.num, body.seed, condition, **fields)
        future = asyncio.wrap_future(service.batcher.submit(job))
        try:
            result = await asyncio.wait_for(future, service.timeout)  # cancels a job still queued
        except asyncio.TimeoutError:
            raise GenerationTimeout(f"generation took longer than the server's limit of {service.timeout:g} s") from None
        return (await asyncio.to_thread(service.finish, job, result)).to_json()

    from noisecraft.serve.music_api import add_music_routes

    add_music_routes(app, service)  # POST /v1/music: harmonize a base64 melody, or compose

    if studio:
        import gradio as gr

        from noisecraft.serve.studio import build_studio

        blocks = build_studio(service)
        app = gr.mount_gradio_app(app, blocks, path="", ssr_mode=False, footer_links=["api"],
                                  allowed_paths=[str(blocks.noisecraft_outputs)])
    return app
