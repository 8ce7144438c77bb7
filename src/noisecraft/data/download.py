"""Resumable, verified downloads with the standard library only.

Bytes go to `DEST.part`; an interrupted or truncated transfer is resumed with an HTTP Range request,
and the file is renamed to DEST only after its checksum / verifier passed, so DEST is always complete.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from noisecraft.errors import DataError


class _Truncated(OSError):
    """The server sent fewer bytes than it announced; worth resuming."""


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    verify: Callable[[Path], None] | None = None,
    timeout: float = 30,
    retries: int = 3,
    chunk_size: int = 1 << 16,
) -> Path:
    """Download `url` to `dest`, resuming `dest.part` if present; return `dest`.

    `sha256` is checked on the downloaded bytes, then `verify(path)` (which raises DataError) may check
    the content. A file failing either is deleted, so the next attempt starts from scratch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    error: Exception | None = None
    for _ in range(retries + 1):
        try:
            _fetch(url, part, timeout, chunk_size)
            break
        except urllib.error.HTTPError as e:
            if e.code < 500 and e.code != 416:  # 404, 403...: retrying will not help
                raise DataError(f"{url}: HTTP {e.code} {e.reason}") from e
            error = e
        except ValueError as e:  # not a URL urllib can open
            raise DataError(f"{url}: {e}") from e
        except OSError as e:  # URLError, timeouts, connection resets, truncation: resume
            error = e
    else:
        raise DataError(f"{url}: download failed after {retries + 1} attempts ({error})")
    try:
        if sha256 is not None:
            actual = file_digest(part)
            if actual != sha256.lower():
                raise DataError(f"{url}: sha256 mismatch, expected {sha256.lower()}, got {actual}")
        if verify is not None:
            verify(part)
    except DataError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def download_first(urls: list[str], dest: Path, **kwargs) -> Path:
    """Try mirrors in order; `kwargs` go to `download`. Raises DataError listing every mirror's failure."""
    failures = []
    for url in urls:
        try:
            return download(url, dest, **kwargs)
        except DataError as e:
            failures.append(str(e))
    raise DataError(f"could not download {Path(dest).name} from any mirror:\n  " + "\n  ".join(failures))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def _fetch(url: str, part: Path, timeout: float, chunk_size: int) -> None:
    """One request: append to `part` from where it ends (or restart if the server ignores Range)."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416:  # offset at or past the end: complete if the server's total says so, else restart
            if e.headers.get("Content-Range", "") == f"bytes */{offset}":
                return
            part.unlink(missing_ok=True)
        raise
    with response:
        if response.status != 206:
            offset = 0  # 200: the server sent the whole file
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with open(part, "ab" if offset else "wb") as f, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=part.name[: -len(".part")],
            disable=not sys.stderr.isatty(), leave=False,
        ) as bar:
            while chunk := response.read(chunk_size):
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received < total:
        raise _Truncated(f"connection closed after {received} of {total} bytes")
