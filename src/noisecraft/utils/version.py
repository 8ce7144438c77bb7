"""The installed noisecraft version, recorded in everything we write (model folders, run configs, metrics).
Here, at the bottom, so that no layer needs the package root for it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("noisecraft")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"
