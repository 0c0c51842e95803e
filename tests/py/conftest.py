# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the repository paths and the installed ``varpulis`` executable."""

from __future__ import annotations

import subprocess
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
