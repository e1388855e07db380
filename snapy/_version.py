"""The installed snapy version, written into every stored file's metadata."""

from __future__ import annotations

__version__ = "0.1.0"
