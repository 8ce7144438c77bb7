"""Each server limit attacked on its own: bodies too large or too slow, a full queue, a request past its time
limit (sampling stops at the next step, in every family's sampler), a client that goes away, the studio's
download folder and concurrency, the token at start-up, and no connection out while starting and serving."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.sampling import generate_batch
from noisecraft.serve import batcher as batcher_module
from noisecraft.serve.api import create_app, wait_for_job
from noisecraft.serve.limits import BodyLimit
from noisecraft.serve.outputs import OutputFolder
from noisecraft.serve.service import Service
from noisecraft.utils.cancel import Cancelled

from .conftest import make_service


# --- bodies ---------------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413_naming_the_limit(served):
    with TestClient(create_app(make_service(served), studio=False, max_body=2000)) as c:
        response = c.post("/v1/generate", content=b'{"model": "vae", "prompt": "' + b"x" * 3000 + b'"}',
                          headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and "limit of 2,000 bytes" in response.json()["detail"]
        assert c.post("/v1/generate", json={"model": "vae"}).status_code == 200  # under it: served


async def call(app, headers: dict[str, str], pieces: list[bytes | None]) -> tuple[int, bytes]:
    """Drive an ASGI app with a body arriving in `pieces` (None: the client stalls)."""
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    queue = list(pieces)
    sent: list[dict] = []

    async def receive():
        if not queue:
            return {"type": "http.disconnect"}
        piece = queue.pop(0)
        if piece is None:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": piece, "more_body": bool(queue)}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def echo(scope, receive, send):
    """An app that reads the whole body, as a route does."""
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def test_a_chunked_body_is_counted_as_it_arrives_and_a_stalled_one_is_408():
    from starlette.middleware.exceptions import ExceptionMiddleware

    app = BodyLimit(ExceptionMiddleware(echo), max_bytes=1000, read_timeout=0.2)
    chunked = {"transfer-encoding": "chunked"}
    assert asyncio.run(call(app, chunked, [b"x" * 600, b"x" * 300])) == (200, b"900")
    status, body = asyncio.run(call(app, chunked, [b"x" * 600, b"x" * 600, b"never read"]))
    assert status == 413 and b"limit of 1,000 bytes" in body
    status, body = asyncio.run(call(app, {"content-length": "10"}, [b"12345", None]))
    assert status == 408 and b"not complete after 0.2 s" in body
    assert asyncio.run(call(app, {"content-length": "abc"}, [b""]))[0] == 400


# --- the queue and the time limit -----------------------------------------------------------------------
@pytest.fixture
def blocked(monkeypatch):
    """The sampling thread stuck in its call until the test lets it go."""
    release, entered = threading.Event(), threading.Event()

    def stuck(*args, **kwargs):
        entered.set()
        release.wait(60)
        raise RuntimeError("released")

    monkeypatch.setattr(batcher_module, "generate_batch", stuck)
    yield entered, release
    release.set()


def test_a_full_queue_is_429_with_retry_after(served, blocked):
    entered, release = blocked
    service = make_service(served, max_queue=1)
    with TestClient(create_app(service, studio=False)) as c:
        service.batcher.submit(service.submit("vae"))  # taken by the (stuck) sampling thread
        assert entered.wait(30)
        service.batcher.submit(service.submit("vae"))  # waits: the queue is full
        assert c.get("/healthz").json()["queue"] == 1
        response = c.post("/v1/generate", json={"model": "vae"})
        assert response.status_code == 429 and response.headers["retry-after"] == "5"
        assert "queue is full (1 requests waiting)" in response.json()["detail"]
        release.set()


def test_past_the_time_limit_sampling_stops_at_the_next_step(served, monkeypatch):
    from noisecraft.models.diffusion import samplers

    steps = []
    checkpoint = samplers.checkpoint
    monkeypatch.setattr(samplers, "checkpoint", lambda: (steps.append(1), checkpoint())[1])
    service = make_service(served, timeout=0.3)
    with TestClient(create_app(service, studio=False)) as c:
        response = c.post("/v1/generate", json={"model": "diff", "num": 2, "steps": 1000, "sampler": "heun"})
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "limit of 0.3 s" in response.json()["detail"]
        deadline = time.monotonic() + 60
        while service.batcher.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 0 < len(steps) < 1000  # it stopped: the thread is free for the next request
        assert service.run("vae", 1).images


def test_a_client_that_goes_away_abandons_its_job(served, blocked):
    class Gone:
        async def is_disconnected(self) -> bool:
            return True

    service = make_service(served)
    service.batcher.submit(service.submit("vae"))
    assert blocked[0].wait(30)
    job = service.submit("vae")
    assert asyncio.run(wait_for_job(service, job, Gone())) is None
    assert job.abandoned and not job.wanted and service.queue_depth == 0


# --- cancellation points in every sampler ----------------------------------------------------------------
def family(name: str):
    """A tiny model of the family `name`, and the options that pick its sampler."""
    from noisecraft.models.autoregressive import LSTM, LSTMConfig, Transformer, TransformerConfig
    from noisecraft.models.diffusion.model import DiffusionConfig, DiffusionModel
    from noisecraft.models.flow.model import FlowConfig, NormalizingFlow
    from noisecraft.models.gan.model import GAN, GANConfig
    from noisecraft.models.pixelcnn.model import PixelCNN, PixelCNNConfig
    from noisecraft.models.vae.model import VAE, VAEConfig
    from noisecraft.models.vqvae.model import VQVAE, VQVAEConfig
    from noisecraft.text.tokenizers import CharTokenizer

    image = DataSpec(shape=(1, 8, 8))
    if name.startswith("arcnn-"):
        from noisecraft.data.music import SATB
        from noisecraft.data.music_data import roll_layout
        from noisecraft.models.arcnn import ARCNN, ARCNNConfig

        spec = DataSpec(shape=(4, 8, 12), layout=roll_layout(tuple(SATB), 4, 36))
        objective = {"flip": "flip", "gibbs": "orderless"}[name[6:]]
        return ARCNN(ARCNNConfig(objective=objective, channels=4, depth=2), spec), {"sampler": name[6:]}
    if name.startswith("diffusion-"):
        return DiffusionModel(DiffusionConfig(channels=[8], attention=[], steps=6), image), {"sampler": name[10:]}
    if name in ("transformer", "lstm"):
        tokenizer = CharTokenizer.train(["abc"])
        tokens = DataSpec(modality="tokens", shape=(8,), vocab_size=tokenizer.vocab_size, tokenizer=tokenizer.to_dict(),
                          start_tokens=[0])
        if name == "lstm":
            return LSTM(LSTMConfig(layers=1, hidden=8, max_tokens=20), tokens), {}
        return Transformer(TransformerConfig(layers=1, heads=2, dim=16, max_tokens=20), tokens), {}
    return {
        "pixelcnn": lambda: PixelCNN(PixelCNNConfig(channels=8, layers=2, head=8), image),
        "flow": lambda: NormalizingFlow(FlowConfig(levels=2, steps_per_level=2, hidden=4), image),
        "vae": lambda: VAE(VAEConfig(latent_dim=2, channels=[4], hidden_dim=8), image),
        "gan": lambda: GAN(GANConfig(latent_dim=4, width=8), image),
        "vqvae": lambda: VQVAE(VQVAEConfig(), image),
    }[name](), {}


STEPPED = ["diffusion-ddpm", "diffusion-ddim", "diffusion-heun", "diffusion-dpmpp-2m", "transformer", "lstm", "pixelcnn", "flow",
           "arcnn-flip", "arcnn-gibbs"]
ONE_PASS = ["vae", "gan", "vqvae"]  # one network pass: the check before it is their cancellation point




@pytest.mark.parametrize("name", STEPPED + ONE_PASS)
def test_every_sampler_stops_at_its_next_step_once_cancelled(name, one_thread):
    model, options = family(name)
    model.eval()
    checks = []

    def cancel_after(k: int):
        def check():
            checks.append(1)
            return "gone" if len(checks) > k else None

        return check

    steps = 1 if name in ONE_PASS else 3
    with pytest.raises(Cancelled, match="gone"):
        generate_batch(model, [(2, 0, None)], cancel=cancel_after(steps - 1), **options)
    assert len(checks) == steps  # not one step more
    checks.clear()
    out = generate_batch(model, [(2, 0, None)], cancel=cancel_after(10**6), **options)  # never cancelled: whole
    assert len(out[0]) == 2 and len(checks) >= steps


# --- the studio -------------------------------------------------------------------------------------------
def test_studio_outputs_go_after_their_ttl_and_past_the_size_cap(tmp_path):
    folder = OutputFolder(ttl=60, max_bytes=2500)
    try:
        old = folder.write("old.png", b"x" * 100)
        os.utime(old, (time.time() - 120, time.time() - 120))
        first = folder.write("first.png", b"x" * 1000)
        assert not old.exists() and first.exists()  # past its TTL
        second = folder.write("second.png", b"x" * 1000)
        third = folder.write("third.png", b"x" * 1000)
        assert not first.exists() and second.exists() and third.exists()  # the oldest went to stay under 2,500
        assert sum(p.stat().st_size for p in folder.root.iterdir()) <= 2500
    finally:
        folder.remove()
    assert not folder.root.exists()


def test_the_studio_runs_a_bounded_number_of_generations_at_once_and_cleans_up(served):
    app = create_app(make_service(served), studio_concurrency=3)
    blocks = next(r.app.blocks for r in app.routes if hasattr(getattr(r, "app", None), "blocks"))
    generate = [fn for fn in blocks.fns.values() if fn.name == "run"]
    assert len(generate) == 1 and generate[0].concurrency_limit == 3
    assert blocks._queue.max_size == 4 * 3 + 8
    outputs = app.state.studio_outputs.root
    with TestClient(app):
        assert outputs.is_dir()
    assert not outputs.exists()  # removed at shutdown


# --- the token at start-up --------------------------------------------------------------------------------
@pytest.fixture
def started(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_the_token_is_never_printed_and_a_short_one_refused(started, model_dirs, capsys):
    token = "never-print-me-0123456789"
    assert run(["serve", str(model_dirs["vae"]), "--no-studio", "--host", "0.0.0.0", "--token", token]) == 0
    err = capsys.readouterr().err
    assert token not in err and "?token=YOUR_TOKEN" in err and started[0][1]["access_log"] is False
    for short in ("", "tiny"):
        assert run(["serve", str(model_dirs["vae"]), "--no-studio", "--token", short]) == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and "--token: at least 16 characters" in err
    assert len(started) == 1


# --- no connection out ----------------------------------------------------------------------------------
class SocketGuard:
    """Fails any connection (or name lookup) that is not loopback, and records it."""

    LOCAL = ("127.0.0.1", "::1", "localhost")

    def __init__(self, monkeypatch) -> None:
        self.attempts: list[str] = []
        connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

        def guarded(original):
            def call(sock, address, *args):
                host = address[0] if isinstance(address, tuple) else address
                if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in self.LOCAL:
                    self.attempts.append(str(address))
                    raise ConnectionRefusedError(f"socket guard: no connection out ({address})")
                return original(sock, address, *args)

            return call

        def lookup(host, *args, **kwargs):
            if host not in self.LOCAL and host is not None:
                self.attempts.append(f"lookup {host}")
                raise socket.gaierror(f"socket guard: no name lookups ({host})")
            return getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", guarded(connect))
        monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
        monkeypatch.setattr(socket, "getaddrinfo", lookup)


def test_the_guard_catches_gradios_version_check_when_analytics_are_on(monkeypatch):
    import gradio.analytics

    guard = SocketGuard(monkeypatch)
    gradio.analytics.version_check()  # swallows the error: only the guard sees it
    assert guard.attempts


def test_no_connection_out_while_starting_and_serving(served, monkeypatch):
    import httpx

    from .test_studio_browser import LoopbackServer

    guard = SocketGuard(monkeypatch)
    app = create_app(Service(served), token="guarded-token-0123456789", studio=True)
    with LoopbackServer(app) as url, httpx.Client(base_url=url, follow_redirects=True) as c:
        assert c.get("/?token=guarded-token-0123456789").status_code == 200
        assert c.get("/config").status_code == 200
        assert c.get("/healthz").json()["status"] == "ok"
        generated = c.post("/v1/generate", json={"model": "diff", "steps": 2, "class": "a"})
        assert generated.status_code == 200 and generated.json()["images"]
        time.sleep(0.5)  # any background thread (a version check) has had its chance
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert guard.attempts == []
