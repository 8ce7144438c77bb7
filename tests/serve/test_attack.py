"""The server under attack, for real: `noisecraft serve` (studio included) on 127.0.0.1 with tiny models, hit
by schemathesis' generated requests (valid and not) and a hand-written abuse set: bodies over the limit (with
and without a length), huge and deeply nested JSON, wrong content types and encodings, bodies that never
finish, 100 concurrent clients, requests dropped mid-flight. Not one answer may be a 5xx, the server must
serve a real request afterwards, and its resident memory must grow less than 10%.

NOISECRAFT_FUZZ_REQUESTS sets how many requests (default 1,000 in the suite, a minute or two on two busy
cores; the issue's 10,000 were run as `NOISECRAFT_FUZZ_REQUESTS=10000 pytest tests/serve/test_attack.py`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

REQUESTS = int(os.environ.get("NOISECRAFT_FUZZ_REQUESTS", "1000"))
TOKEN = "attack-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dirs, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("attack") / "server.log"
    argv = [sys.executable, "-m", "noisecraft.cli.main", "serve", *(f"{k}={v}" for k, v in model_dirs.items()),
            "--port", str(port), "--max-batch", "2", "--max-queue", "32", "--timeout", "60", "--body-timeout", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NOISECRAFT_TOKEN": TOKEN}
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)
    yield url, process, log
    process.terminate()
    process.wait(30)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def raw(url: str, request: bytes, *, close_after: float | None = None, timeout: float = 30) -> int | None:
    """Send bytes on a socket of its own; the answer's status (None: we hung up first)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        if close_after is not None:
            time.sleep(close_after)
            return None
        first = s.recv(64).split(b"\r\n", 1)[0]
    return int(first.split()[1])


def post_bytes(body: bytes, content_type: str | None = "application/json", length: int | None = None) -> bytes:
    headers = [f"POST /v1/generate HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {TOKEN}", "Connection: close",
               f"Content-Length: {len(body) if length is None else length}"]
    if content_type:
        headers.append(f"Content-Type: {content_type}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def schema_fuzz(url: str, count: int) -> Counter:
    """schemathesis: `count` requests generated from the served OpenAPI schema, most of them invalid."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    plan = [(o, mode) for o in operations for mode in ("positive", "negative")
            if o.method.upper() == "POST" or mode == "positive"]  # GETs take nothing to get wrong
    statuses: Counter = Counter()
    for round_ in range(100):  # hypothesis stops an operation early when it runs out of new examples
        left = count - sum(statuses.values())
        if left <= 0:
            break
        posts = sum(o.method.upper() == "POST" for o in operations)
        for operation, mode in plan:
            share = (0.6 if mode == "negative" else 0.3) / posts if operation.method.upper() == "POST" else 0.05

            @seed(round_)
            @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
            @settings(max_examples=max(1, int(left * share)), deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def send(case) -> None:
                statuses[case.call(headers=AUTH, timeout=90).status_code] += 1

            send()
    return statuses


def abuse(url: str) -> Counter:
    """The hand-written set: each request's status, by kind of attack."""
    statuses: Counter = Counter()
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        big = json.dumps({"model": "vae", "prompt": "x" * (2 << 20)}).encode()
        statuses[c.post("/v1/generate", content=big, headers={"Content-Type": "application/json"}).status_code] += 1
        statuses[c.post("/v1/generate", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                        headers={"Content-Type": "application/json"}).status_code] += 1  # chunked: no length to trust
        hostile = [b"[" * 300_000, b'{"model": ' * 100_000, b'{"model": "vae", "stop": ' + b"[" * 100_000,
                   json.dumps({"model": "vae", "stop": ["x" * 100] * 5000}).encode(),
                   json.dumps({"model": "vae", "seed": 10**4000}).encode(), b'{"model": "vae", "temperature": NaN}',
                   b'{"model": "vae", "temperature": 1e999}', b'{"model": "vae", "num": -1}', b"\xff\xfe\x00garbage",
                   b'\xef\xbb\xbf{"model": "vae"}', b'{"model": "\\ud800"}', b"", b"null", b"[]", b'"vae"', b"{}",
                   b'{"model": "vae", "model": "diff"}', b'{"model": "text", "prompt": "\\u0000\\uffff"}',
                   b'{"model": "diff", "class": {"a": 1}}', b'{"model": "diff", "steps": 1.5}']
        for body in hostile:
            for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=x",
                                 "application/x-www-form-urlencoded", "application/json; charset=latin-1", None):
                headers = {"Content-Type": content_type} if content_type else {}
                statuses[c.post("/v1/generate", content=body, headers=headers).status_code] += 1
        for method, path in [("PUT", "/v1/generate"), ("DELETE", "/v1/models"), ("GET", "/v1/generate"),
                             ("GET", "/" + "a" * 8000), ("GET", "/v1/models?x=" + "%00" * 1000), ("OPTIONS", "/v1/models")]:
            statuses[c.request(method, path).status_code] += 1
    # a length that lies (shorter and longer than the body), and bodies that stall: 400/408, not a held socket
    statuses[raw(url, post_bytes(b'{"model": "vae"}', length=5))] += 1
    with ThreadPoolExecutor(8) as pool:
        stalled = [pool.submit(raw, url, post_bytes(b'{"model": "va', length=100)) for _ in range(8)]
        statuses.update(f.result() for f in stalled)
    return statuses


def crowd(url: str, clients: int, per_client: int) -> Counter:
    """`clients` at once, each with its own connection: cheap reads, bad bodies and real samples."""
    kinds = [("GET", "/healthz", None), ("GET", "/v1/models", None), ("POST", "/v1/generate", {"model": "nope"}),
             ("POST", "/v1/generate", {"model": "vae", "num": 99}), ("POST", "/v1/generate", {"model": "vae", "seed": 1}),
             ("POST", "/v1/generate", {"model": "diff", "steps": 2, "class": "b"})]

    def client(i: int) -> Counter:
        out: Counter = Counter()
        with httpx.Client(base_url=url, headers=AUTH, timeout=90) as c:
            for j in range(per_client):
                method, path, body = kinds[(i + j) % len(kinds)]
                out[c.request(method, path, json=body).status_code] += 1
        return out

    total: Counter = Counter()
    with ThreadPoolExecutor(clients) as pool:
        for result in pool.map(client, range(clients)):
            total.update(result)
    return total


def dropped(url: str, n: int) -> None:
    """Requests for long samples whose clients hang up mid-flight: the server must stop working for them."""
    body = json.dumps({"model": "diff", "num": 2, "steps": 1000, "sampler": "heun"}).encode()
    threads = [threading.Thread(target=raw, args=(url, post_bytes(body)), kwargs={"close_after": 0.05}) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def rss(process) -> int:
    return psutil.Process(process.pid).memory_info().rss


def test_hostile_requests_get_no_5xx_and_leave_the_server_alive_and_flat(server):
    url, process, log = server
    crowd(url, 10, 6)  # warm up: every route, every model, the lazy allocations behind them
    schema_fuzz(url, 60)
    before = rss(process)

    statuses = abuse(url)
    dropped(url, 10)
    statuses += crowd(url, 100, max(1, REQUESTS // 10 // 100))
    statuses += schema_fuzz(url, REQUESTS - sum(statuses.values()) - 10)
    # the dropped requests' work was abandoned: the queue drains and a real request is served at once
    deadline = time.monotonic() + 120
    while (health := httpx.get(f"{url}/healthz").json())["queue"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health["status"] == "ok" and health["queue"] == 0
    served = httpx.post(f"{url}/v1/generate", json={"model": "vae", "num": 2, "seed": 3}, headers=AUTH, timeout=60)
    assert served.status_code == 200 and len(served.json()["images"]) == 2
    after = rss(process)

    sent = sum(statuses.values()) + 10
    print(f"\n{sent} hostile requests: {dict(sorted(statuses.items(), key=str))}; RSS {before / 2**20:.0f} -> "
          f"{after / 2**20:.0f} MiB")
    assert sent >= REQUESTS * 0.9
    assert not [s for s in statuses if s is None or s >= 500], f"5xx answers: {statuses}\n{log.read_text()[-3000:]}"
    assert {413, 408, 422, 404, 400} <= set(statuses)  # each defence was reached
    assert after < 1.10 * before, f"RSS grew {after / before - 1:.0%}"
    assert process.poll() is None and "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert TOKEN not in log.read_text()  # never printed or logged
