# SPDX-License-Identifier: Apache-2.0
"""The worker server, run in-process."""

from __future__ import annotations

from typing import Optional

from . import _varpulis
from .client import WorkerClient


class Server:
    """``varpulis server`` running inside this Python process (the same C++ server, on its own threads).

    Use as a context manager; ``port=0`` picks a free port (see ``.port`` and ``.url``). With
    ``coordinator`` (a URL), the server registers with that coordinator as ``worker_id`` (a random
    UUID by default) and heartbeats, like ``varpulis server --coordinator``. ``stop()`` drains as
    the executable does on SIGTERM: it stops sources, flushes open windows and sinks, and closes
    log streams. File connectors of deployed programs write inside ``file_root`` (default:
    ``state_dir/files``, or ``varpulis-files`` in the working directory).
    """

    def __init__(self, port: int = 0, api_key: Optional[str] = None, *, bind: str = "127.0.0.1",
                 state_dir: Optional[str] = None, threads: int = 0, coordinator: Optional[str] = None,
                 worker_id: Optional[str] = None, join_token: Optional[str] = None, file_root: Optional[str] = None):
        self.api_key = api_key or ""
        self._server = _varpulis.Server(port, self.api_key, bind, state_dir or "", threads, coordinator or "",
                                        worker_id or "", join_token or "", file_root or "")

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def worker_id(self) -> str:
        """The id registered with the coordinator ("" without one)."""
        return self._server.worker_id

    def client(self) -> WorkerClient:
        """A WorkerClient for this server, with its API key."""
        return WorkerClient(self.url, self.api_key)

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, flush windows and sinks, and stop (idempotent)."""
        self._server.stop()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
