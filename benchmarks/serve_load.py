"""Load test of `noisecraft serve` on loopback: N concurrent clients POST /v1/generate for M seconds, then stop.

    python benchmarks/serve_load.py                      # the grid below, one result file per cell (resumable)
    python benchmarks/serve_load.py --seconds 20 --clients 1 4   # a smaller grid
    python benchmarks/serve_load.py --quick      # smoke run: 1 and 2 clients, 3 s a cell, 2 sampling steps; no record

Each cell starts its own server (`noisecraft serve`, a subprocess bound to 127.0.0.1, --no-studio) so that
batching on and off are measured the same way in the same run, one after another. The served model is the
`mnist-diffusion` recipe's network with seeded, untrained weights: serving costs the same as for a trained
one, and the benchmark needs no training run. Each request asks for one image (`num: 1`, a fresh seed).

Reports requests/s, images/s, p50/p95/p99 latency, errors and 5xx per cell; results/serve_load.json holds
the ratios: images/s at 16 clients over 1 client (target >= 3, batching on) and batching on over off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (environment at start)

OUT = common.RESULTS / "serve_load"
WORK = common.HERE / "_work" / "serve_load"


def make_model(recipe: str) -> Path:
    """The recipe's network with weights from torch.manual_seed(0), as a model folder."""
    import torch

    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset
    from noisecraft.models.registry import get_family

    folder = WORK / recipe
    if (folder / "model.safetensors").exists():
        return folder
    resolved = load_recipe(recipe)
    spec = build_dataset(resolved.recipe.data, "test").spec
    torch.manual_seed(0)
    model = get_family(resolved.model.family)(resolved.model, spec)
    model.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`noisecraft serve` in a subprocess on loopback; waits for /healthz, stops on exit."""

    def __init__(self, model: Path, batching: bool, threads: int) -> None:
        self.port = free_port()
        self.argv = [sys.executable, "-m", "noisecraft.cli.main", "serve", f"m={model}", "--port", str(self.port),
                     "--no-studio", "--max-batch", "16", "--timeout", "600", "--batching" if batching else "--no-batching"]
        self.env = {**os.environ, "OMP_NUM_THREADS": str(threads)}

    def __enter__(self) -> str:
        import httpx

        self.proc = subprocess.Popen(self.argv, env=self.env, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"server did not start: {' '.join(self.argv)}")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def load(url: str, clients: int, seconds: float, body: dict) -> dict:
    """`clients` loops of POST /v1/generate until `seconds` have passed (requests in flight then finish)."""
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    images = 0
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        nonlocal images
        seed = index * 1_000_000
        async with httpx.AsyncClient(base_url=url, timeout=600) as http:
            while time.monotonic() < deadline:
                seed += 1
                t = time.perf_counter()
                try:
                    r = await http.post("/v1/generate", json={**body, "seed": seed})
                except httpx.HTTPError as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                latencies.append(time.perf_counter() - t)
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                if r.status_code == 200:
                    images += len(r.json()["images"])
                else:
                    errors.append(f"{r.status_code}: {r.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else None

    return {"clients": clients, "seconds_asked": seconds, "wall_s": wall, "requests": len(latencies),
            "requests_per_s": len(latencies) / wall, "images": images, "images_per_s": images / wall,
            "latency_s": {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": latencies[-1] if latencies else None},
            "statuses": statuses, "errors": len(errors), "server_errors_5xx": sum(v for k, v in statuses.items() if k.startswith("5")),
            "first_errors": errors[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="mnist-diffusion")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=2, help="the server's torch threads")
    parser.add_argument("--body", default="{}", help="extra JSON fields for each request, e.g. '{\"steps\": 10}'")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 and 2 clients, 3 s a cell, no record")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds, args.body = [1, 2], 3, '{"steps": 2}'
    model = make_model(args.recipe)
    body = {"model": "m", "num": 1, **json.loads(args.body)}
    tag = "-".join(f"{k}{v}" for k, v in sorted(json.loads(args.body).items()))
    cells = [(c, b) for c in args.clients for b in ((True, False) if c > 1 else (True,))]
    for clients, batching in cells:
        path = OUT / f"{args.recipe}{'-' + tag if tag else ''}-c{clients}-{'batching' if batching else 'no-batching'}-{args.seconds:g}s.json"
        if path.exists():
            print(f"have {path.name}")
            continue
        with Server(model, batching, args.threads) as url:
            asyncio.run(load(url, 1, 3, body))  # warm-up: first calls allocate
            result = asyncio.run(load(url, clients, args.seconds, body))
        common.write_record(path, {"recipe": args.recipe, "body": body, "batching": batching,
                                   "server_threads": args.threads, **result})
        print(f"{clients:3d} clients, batching {'on ' if batching else 'off'}: {result['images_per_s']:.2f} images/s, "
              f"p50 {result['latency_s']['p50']:.2f} s, p99 {result['latency_s']['p99']:.2f} s, "
              f"{result['errors']} errors, {result['server_errors_5xx']} 5xx", flush=True)
    report(args, tag)


def report(args, tag: str) -> None:
    prefix = f"{args.recipe}{'-' + tag if tag else ''}"
    cells = {p.stem.removeprefix(prefix + "-"): json.loads(p.read_text()) for p in OUT.glob(f"{prefix}-c*-{args.seconds:g}s.json")}
    get = lambda c, b: cells.get(f"c{c}-{'batching' if b else 'no-batching'}-{args.seconds:g}s")  # noqa: E731
    one, many, many_off = get(1, True), get(max(args.clients), True), get(max(args.clients), False)
    if not (one and many and many_off):
        return
    n = max(args.clients)
    ratios = {f"images_per_s_{n}_clients_over_1 (target >= 3)": many["images_per_s"] / one["images_per_s"],
              f"batching_gain_at_{n}_clients (on / off)": many["images_per_s"] / many_off["images_per_s"]}
    errors = sum(c["errors"] for c in (one, many, many_off))
    fives = sum(c["server_errors_5xx"] for c in (one, many, many_off))
    summary = (f"{args.recipe} (num 1 per request, {args.seconds:g} s per cell): {one['images_per_s']:.2f} images/s with 1 client, "
               f"{many['images_per_s']:.2f} with {n} (batching; {many_off['images_per_s']:.2f} without): "
               f"{list(ratios.values())[0]:.2f}x, batching gain {list(ratios.values())[1]:.2f}x; "
               f"p99 {many['latency_s']['p99']:.2f} s at {n} clients; {errors} errors, {fives} 5xx")
    common.write_result("serve_load", {"cells": cells, "ratios": ratios}, summary)


if __name__ == "__main__":
    main()
