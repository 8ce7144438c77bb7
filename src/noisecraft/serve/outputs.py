"""The studio's download folder: files the browser fetches after a generation, kept for a while, not forever.

Before each write, files older than `ttl` seconds go, then the oldest until the folder is under `max_bytes`:
a long-running server neither fills its disk nor serves a file for ever. The folder goes at shutdown.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path


class OutputFolder:
    def __init__(self, ttl: float = 3600.0, max_bytes: int = 256 << 20) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="noisecraft-studio-"))
        self.ttl, self.max_bytes = ttl, max_bytes

    def write(self, name: str, data: bytes) -> Path:
        """Write one file (after making room for it); names come from the server, never from a request."""
        self.prune(incoming=len(data))
        path = self.root / name
        path.write_bytes(data)
        return path

    def prune(self, incoming: int = 0) -> None:
        files = []
        for path in self.root.iterdir():
            try:
                stat = path.stat()
            except FileNotFoundError:  # pruned by a concurrent generation
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        files.sort()
        total = sum(size for _, size, _ in files) + incoming
        now = time.time()
        for mtime, size, path in files:
            if now - mtime <= self.ttl and total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
