# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the repository paths, the installed ``varpulis`` executable, free ports, polling."""

from __future__ import annotations

import contextlib
import http.server
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from varpulis._binary import find_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def varpulis_bin() -> str:
    return find_binary()


@pytest.fixture
def run_cli(varpulis_bin):
    """Run ``varpulis ARGS...`` and return the completed process (never raises on exit codes)."""

    def run(*args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [varpulis_bin, *args], input=input, capture_output=True, text=True, timeout=timeout, check=False
        )

    return run


_handed_out: set[int] = set()


def _free_port() -> int:
    """A port free now, and never handed out before in this session: the kernel may offer a port
    it has just offered again, and two services of one test must not be given the same one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def _wait_until(predicate, timeout: float = 10.0, what: str = "condition", interval: float = 0.05, explain=None):
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` seconds pass;
    on a timeout the error carries ``explain()`` when given (e.g. the processes' logs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def free_port():
    """A function that returns a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture(scope="session")
def wait_until():
    """``wait_until(predicate, timeout=10, what=..., explain=None)``: poll with a deadline instead of sleeping."""
    return _wait_until


def make_tls_files(folder) -> dict[str, str]:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command line."""
    files = {name: str(folder / name) for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "san.ext")}
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=varpulis-test-ca",
            "-keyout", files["ca.key"], "-out", files["ca.crt"])
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", files["server.key"], "-out", files["server.csr"])
    openssl("x509", "-req", "-in", files["server.csr"], "-CA", files["ca.crt"], "-CAkey", files["ca.key"], "-CAcreateserial",
            "-days", "2", "-extfile", files["san.ext"], "-out", files["server.crt"])
    return files


class StandIn(http.server.BaseHTTPRequestHandler):
    """The handler of a stand-in HTTP/1.1 server (a worker or server that misbehaves on purpose):
    subclasses define do_POST / do_GET and answer with ``answer``."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[StandIn]):
    """Serve ``handler`` on a free loopback port for the ``with`` block; yields the server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
