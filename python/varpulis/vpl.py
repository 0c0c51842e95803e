# SPDX-License-Identifier: Apache-2.0
"""The VPL front end: check programs and look at their syntax trees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _varpulis


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a program: ``severity`` is "error" or "warning", ``code`` "E0xx"/"W0xx"."""

    severity: str
    code: str
    line: int
    column: int
    message: str
    hint: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self, source: str) -> str:
        """Return the diagnostic as ``varpulis check`` prints it, with the source line and a caret."""
        return _varpulis.format_diagnostic(
            source, self.severity, self.code, self.line, self.column, self.message, self.hint
        )

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity}[{self.code}] {self.message}"


def check(source: str) -> list[Diagnostic]:
    """Return the diagnostics of a VPL program: empty when it is valid. Never raises for bad VPL."""
    return [Diagnostic(*d) for d in _varpulis.check(source)]


def parse(source: str) -> dict[str, Any]:
    """Return the syntax tree of a valid program as a dict.

    Raises VplSyntaxError for a syntax error and VplError for other errors.
    """
    return _varpulis.parse_tree(source)
