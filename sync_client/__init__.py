"""fieldsync's sync client: store-and-forward sync for coordinators' laptops."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fieldsync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
