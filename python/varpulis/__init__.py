# SPDX-License-Identifier: Apache-2.0
"""Varpulis: complex event processing with VPL, from Python.

The native core (the same C++ library as the ``varpulis`` command) does the work; this package
re-exports it with Python names and types.
"""

from __future__ import annotations

from . import _varpulis
from .errors import (
    ApiError,
    EngineError,
    LimitExceededError,
    NotFoundError,
    VarpulisError,
    VarpulisIOError,
    VplError,
    VplSyntaxError,
)
from .client import WorkerClient
from .cluster import Coordinator, CoordinatorClient, LocalCluster
from .engine import Engine
from .server import Server
from .vpl import Diagnostic, check, parse

__version__: str = _varpulis.__version__

__all__ = [
    "ApiError",
    "Coordinator",
    "CoordinatorClient",
    "Diagnostic",
    "Engine",
    "EngineError",
    "LimitExceededError",
    "LocalCluster",
    "NotFoundError",
    "Server",
    "VarpulisError",
    "VarpulisIOError",
    "VplError",
    "VplSyntaxError",
    "WorkerClient",
    "__version__",
    "check",
    "parse",
]
