"""Bytes on disk before names point at them: fsync for files and folders around atomic renames.

A rename is atomic, but without fsync a power loss can leave the new name pointing at files whose data
never reached the disk (empty or zero-filled). So: fsync every file of a folder, then the folder, before it
is renamed into place; fsync the parent after the rename, so the new name itself survives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """The folder's entries (names, renames) on disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders; their renames are synchronous
        pass
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Every file under `root`, then every folder from the deepest up."""
    folders = []
    for folder, _, files in os.walk(root):
        folders.append(Path(folder))
        for name in files:
            fsync_file(Path(folder) / name)
    for folder in reversed(folders):
        fsync_dir(folder)


@contextmanager
def building_cache_dir(folder: Path) -> Iterator[Path]:
    """A temporary sibling of `folder` to fill; renamed to `folder` when the block ends without error, so a
    reader never sees half a cache. Where another process published the same cache first, its (identical)
    copy is kept and ours dropped."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield tmp
        try:
            os.replace(tmp, folder)
        except OSError:  # another process cached the same data first: theirs is identical
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
