# SPDX-License-Identifier: Apache-2.0
"""The worker server, run in-process."""

from __future__ import annotations

from typing import Optional

from . import _varpulis
from .client import WorkerClient


class Server:
    """``varpulis server`` running inside this Python process (the same C++ server, on its own threads).

    Use as a context manager; ``port=0`` picks a free port (see ``.port`` and ``.url``).
    """

    def __init__(self, port: int = 0, api_key: Optional[str] = None, *, bind: str = "127.0.0.1",
                 state_dir: Optional[str] = None, threads: int = 0):
        self.api_key = api_key or ""
        self._server = _varpulis.Server(port, self.api_key, bind, state_dir or "", threads)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def client(self) -> WorkerClient:
        """A WorkerClient for this server, with its API key."""
        return WorkerClient(self.url, self.api_key)

    def stop(self) -> None:
        """Stop accepting, finish requests in flight and stop (idempotent)."""
        self._server.stop()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
