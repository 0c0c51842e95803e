# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the repository paths, the installed ``varpulis`` executable, free ports, polling."""

from __future__ import annotations

import socket
import subprocess
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(predicate, timeout: float = 10.0, what: str = "condition", interval: float = 0.05):
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def free_port():
    """A function that returns a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture(scope="session")
def wait_until():
    """``wait_until(predicate, timeout=10, what=...)``: poll with a deadline instead of sleeping."""
    return _wait_until
