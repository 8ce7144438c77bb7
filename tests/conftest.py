"""Shared fixtures: tiny recipes that train in seconds on 2 CPU cores, and a loopback HTTP server that
serves given bytes and can misbehave on request (for download tests)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]


def tiny_overrides(**train) -> list[str]:
    """--set items for a few-step run of mnist-vae-tiny."""
    values = {"max_steps": 6, "checkpoint_every": 3, "sample_every": 3, "log_every": 2, **train}
    return [f"train.{k}={v}" for k, v in values.items()]


@pytest.fixture
def tiny():
    from noisecraft.models.registry import load_recipe

    def make(*extra: str, **train):
        return load_recipe("mnist-vae-tiny", [*tiny_overrides(**train), *extra])

    return make


@pytest.fixture(scope="module")
def one_thread():
    """Small models: one thread is as fast, and never waits on a busy second core (use per module)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fit():
    """Adam on one fixed batch for `steps` steps; the loss before each step (a family's "it can learn" check)."""

    def run(model, batch: dict, steps: int, lr: float) -> list[float]:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            loss = model(batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    return run


@dataclass
class FileServer:
    base: str
    files: dict[str, bytes] = field(default_factory=dict)
    # path -> "normal" | "truncate_once" | "truncate_always" | "corrupt" | "ignore_range"
    modes: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: the connection closes after each response
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            range_header = self.headers.get("Range")
            server.requests.append((self.path, range_header))
            data = server.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            mode = server.modes.get(self.path, "normal")
            if mode == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            if range_header and mode != "ignore_range":
                start = int(range_header.removeprefix("bytes=").rstrip("-"))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode.startswith("truncate"):  # announce the full length, send half, hang up
                body = body[: len(body) // 2]
                if mode == "truncate_once":
                    server.modes[self.path] = "normal"
            self.wfile.write(body)

    return Handler


@pytest.fixture
def file_server(monkeypatch):
    monkeypatch.setenv("no_proxy", "*")  # a proxy from the environment must not see 127.0.0.1 requests
    monkeypatch.setenv("NO_PROXY", "*")
    state = FileServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


# keys for content credentials are created on first use in the config folder: never the user's own in tests
os.environ["NOISECRAFT_CONFIG"] = tempfile.mkdtemp(prefix="noisecraft-config-")
atexit.register(shutil.rmtree, os.environ["NOISECRAFT_CONFIG"], ignore_errors=True)
for _name in ("NOISECRAFT_SIGNING_KEY", "NOISECRAFT_SIGNING_CERT"):
    os.environ.pop(_name, None)
