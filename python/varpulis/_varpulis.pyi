# SPDX-License-Identifier: Apache-2.0
"""Type stubs of the native module (use the varpulis package instead)."""

__version__: str

def check(source: str) -> list[tuple[str, str, int, int, str, str]]: ...
def parse_json(source: str) -> str: ...
def format_diagnostic(
    source: str, severity: str, code: str, line: int, column: int, message: str, hint: str
) -> str: ...
