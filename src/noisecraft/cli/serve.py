"""`noisecraft serve RUN_OR_MODEL_DIR... [--host 127.0.0.1] [--port 7860] [--token T] [--max-batch 16]`:
the studio at / and the REST API under /v1, in one process. The token is never printed or logged."""

from __future__ import annotations

import ipaddress
import warnings
from typing import Optional

import typer


def serve(
    models: list[str] = typer.Argument(..., help="Run or model folders to serve, each PATH or NAME=PATH (name: the run's folder name)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; the default is reachable from this machine only."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port."),
    token: Optional[str] = typer.Option(None, "--token", envvar="NOISECRAFT_TOKEN", help="Require `Authorization: Bearer TOKEN` on every request (browsers: open /?token=TOKEN once); at least 16 characters."),
    max_batch: int = typer.Option(16, "--max-batch", min=1, max=1024, help="Most samples one request may ask for."),
    timeout: float = typer.Option(120.0, "--timeout", min=1.0, help="Per-request time limit in seconds (503 past it; sampling stops at its next step)."),
    max_queue: int = typer.Option(64, "--max-queue", min=1, help="Requests that may wait for the sampler (429 past it)."),
    max_body: int = typer.Option(1 << 20, "--max-body", min=1024, help="Largest request body in bytes (413 past it)."),
    body_timeout: float = typer.Option(10.0, "--body-timeout", min=0.1, help="Seconds a request body may take to arrive (408 past it)."),
    studio_concurrency: int = typer.Option(2, "--studio-concurrency", min=1, help="Studio generations at once (more wait in its queue)."),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="Serve requests for the same model and settings that arrive together in one sampling call."),
    studio: bool = typer.Option(True, "--studio/--no-studio", help="Serve the web studio at / (the API alone without it)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
) -> None:
    """Serve trained models: a web studio to play with and an HTTP API for programs."""
    import uvicorn

    from noisecraft.serve.api import create_app
    from noisecraft.serve.auth import check_token
    from noisecraft.serve.service import Service, load_models

    check_token(token)
    if not is_loopback(host) and not token:
        warnings.warn(f"--host {host}: reachable from other machines and no --token: anyone who can reach it can use it")
    service = Service(load_models(models, device=device), max_batch=max_batch, timeout=timeout, batching=batching,
                      max_queue=max_queue)
    app = create_app(service, token=token, studio=studio, max_body=max_body,
                     body_timeout=body_timeout, studio_concurrency=studio_concurrency)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"serving {', '.join(service.models)} at http://{shown}:{port}/" + ("?token=YOUR_TOKEN" if token else "")
               + "  (API: /v1/models, /v1/generate; schema: /openapi.json)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
