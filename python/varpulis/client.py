# SPDX-License-Identifier: Apache-2.0
"""HTTP clients for the worker (``varpulis server``) REST API."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from typing import Any, Iterator, Mapping, Optional, Sequence
from urllib.parse import urlencode, urlsplit

from .errors import ApiError


class _HttpClient:
    """JSON over HTTP/1.1 with one kept-alive connection per thread.

    Connections are kept by thread id, not in a thread-local, so that the connections of threads
    that have ended are closed explicitly (a thread-local would drop them unclosed).
    """

    def __init__(self, url: str, api_key: Optional[str] = None, timeout: float = 30.0, ca_file: Optional[str] = None):
        """``ca_file``: PEM certificates an https server's certificate must chain to (default: the system's)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s)://host:port URL, got {url!r}")
        self.url = url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._api_key = api_key
        self._timeout = timeout
        self._tls = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
        self._lock = threading.Lock()
        self._conns: dict[int, list] = {}  # thread id -> [connection, last use (monotonic)]

    # An idle connection is closed before the servers close theirs (after 60 s), so a request
    # rarely meets a connection the server has closed.
    _IDLE_LIMIT = 30.0

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it has carried a request before."""
        me = threading.get_ident()
        now = time.monotonic()
        with self._lock:
            entry = self._conns.get(me)
            if entry is not None and now - entry[1] > self._IDLE_LIMIT:
                entry[0].close()
                entry = None
            if entry is None:
                self._close_finished_threads()
                self._conns[me] = [self._connect(self._timeout), now]
                return self._conns[me][0], False
            entry[1] = now
            return entry[0], True

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._tls is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._tls)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _close_finished_threads(self) -> None:
        alive = {t.ident for t in threading.enumerate()}
        for ident in [i for i in self._conns if i not in alive]:
            self._conns.pop(ident)[0].close()

    def _drop_connection(self) -> None:
        with self._lock:
            entry = self._conns.pop(threading.get_ident(), None)
        if entry is not None:
            entry[0].close()

    def _headers(self, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, Any]] = None,
                raw: bool = False) -> Any:
        """Send a request; return the decoded JSON (or text with ``raw``); raise ApiError on 4xx/5xx."""
        if query:
            path += "?" + urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            conn, reused = self._connection()
            try:
                conn.request(method, path, body=data, headers=self._headers())
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had closed: send once more on a fresh one.
                # A fresh connection that fails is reported: the server may have taken the request.
                self._drop_connection()
                if attempt or not reused:
                    raise
            except BaseException:
                # Refused, timed out, interrupted: the connection is in an unknown state, so the
                # next request starts on a new one instead of failing with CannotSendRequest.
                self._drop_connection()
                raise
        if response.status >= 400:
            try:
                err = json.loads(payload)
                raise ApiError(response.status, err.get("code", ""), err.get("error", payload.decode(errors="replace")))
            except ValueError:
                raise ApiError(response.status, "", payload.decode(errors="replace")) from None
        if raw:
            return payload.decode()
        return json.loads(payload) if payload else None

    def close(self) -> None:
        """Close the connections of every thread."""
        with self._lock:
            entries, self._conns = list(self._conns.values()), {}
        for conn, _ in entries:
            conn.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WorkerClient(_HttpClient):
    """Every endpoint of a worker's REST API (``varpulis server``).

    Errors raise :class:`varpulis.ApiError` with the HTTP ``status``, the API's ``code`` and message.
    """

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health")

    def ready(self) -> dict[str, Any]:
        return self.request("GET", "/ready")

    def deploy(self, name: str, source: str, wait_ready: float = 10.0) -> dict[str, Any]:
        """Deploy a VPL program; returns ``{"id", "name", "status"}``.

        A program with broker sources answers ``connecting`` until the broker acknowledged its
        subscriptions; this waits (polling, up to ``wait_ready`` seconds) for ``running``, so that
        what is published after the call reaches it. The status returned says which came first.
        """
        deployed = self.request("POST", "/api/v1/pipelines", {"name": name, "source": source})
        deadline = time.monotonic() + wait_ready
        while deployed.get("status") == "connecting" and time.monotonic() < deadline:
            time.sleep(0.05)
            deployed["status"] = self.pipeline(deployed["id"])["status"]
        return deployed

    def pipelines(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self.request("GET", "/api/v1/pipelines", query={"limit": limit, "offset": offset})

    def pipeline(self, pipeline_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/pipelines/{pipeline_id}")

    def delete(self, pipeline_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/api/v1/pipelines/{pipeline_id}")

    def inject(self, pipeline_id: str, event_type: str, fields: Optional[Mapping[str, Any]] = None,
               timestamp: Optional[int] = None, max_output_events: Optional[int] = None) -> dict[str, Any]:
        """Inject one event; returns ``{"accepted": true, "output_events": [...]}`` after full processing.

        At most 10,000 outputs come back unless ``max_output_events`` raises the cap (up to 1,000,000).
        """
        body: dict[str, Any] = {"event_type": event_type, "fields": dict(fields or {})}
        if timestamp is not None:
            body["timestamp"] = timestamp
        if max_output_events is not None:
            body["max_output_events"] = max_output_events
        return self.request("POST", f"/api/v1/pipelines/{pipeline_id}/events", body)

    def inject_batch(self, pipeline_id: str, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Inject ``[{"event_type", "fields"}, ...]``; invalid events are reported by index in ``errors``."""
        return self.request("POST", f"/api/v1/pipelines/{pipeline_id}/events-batch", {"events": list(events)})

    def metrics(self, pipeline_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/pipelines/{pipeline_id}/metrics")

    def reload(self, pipeline_id: str, source: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/pipelines/{pipeline_id}/reload", {"source": source})

    def checkpoint(self, pipeline_id: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/pipelines/{pipeline_id}/checkpoint")

    def restore(self, pipeline_id: str, checkpoint: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/pipelines/{pipeline_id}/restore", {"checkpoint": checkpoint})

    def usage(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/usage")

    def prometheus(self) -> str:
        return self.request("GET", "/metrics", raw=True)

    def logs(self, pipeline_id: str, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
        """Follow a pipeline's outputs (Server-Sent Events) on a dedicated connection."""
        conn = self._connect(timeout)
        try:
            conn.request("GET", f"/api/v1/pipelines/{pipeline_id}/logs", headers=self._headers())
            response = conn.getresponse()
            if response.status >= 400:
                err = json.loads(response.read() or b"{}")
                raise ApiError(response.status, err.get("code", ""), err.get("error", ""))
            for line in response:
                if line.startswith(b"data: "):
                    yield json.loads(line[6:])
        finally:
            conn.close()
