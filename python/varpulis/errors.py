# SPDX-License-Identifier: Apache-2.0
"""Exception classes. The native module raises these through one mapping (python/src/errors.cpp)."""

from __future__ import annotations


class VarpulisError(Exception):
    """Base class of every error raised by Varpulis."""

    def __init__(self, message: str = "", *, code: str = "", line: int = 0, column: int = 0, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        code = f"[{self.code}] " if self.code else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{code}{self.message}{hint}"


class VplError(VarpulisError):
    """A VPL program that parses but is not valid (validation error E0xx)."""


class VplSyntaxError(VarpulisError, SyntaxError):
    """A VPL program that does not parse. Carries ``line``, ``column`` (1-based) and ``message``."""

    def __init__(self, message: str = "", *, code: str = "E000", line: int = 0, column: int = 0, hint: str = ""):
        SyntaxError.__init__(self, message, ("<vpl>", line, column, None))
        VarpulisError.__init__(self, message, code=code, line=line, column=column, hint=hint)

    def __str__(self) -> str:
        return VarpulisError.__str__(self)


class EngineError(VarpulisError):
    """An error while executing a program."""


class NotFoundError(VarpulisError):
    """A file, pipeline or worker that does not exist."""


class VarpulisIOError(VarpulisError, OSError):
    """The operating system refused a read or a write."""


class LimitExceededError(VarpulisError):
    """A configured limit (size, depth, count) was exceeded."""


class ApiError(VarpulisError):
    """An HTTP API answered with an error: ``status`` (HTTP code), ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message, code=code)
        self.status = status

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.message}"


__all__ = [
    "ApiError",
    "EngineError",
    "LimitExceededError",
    "NotFoundError",
    "VarpulisError",
    "VarpulisIOError",
    "VplError",
    "VplSyntaxError",
]
