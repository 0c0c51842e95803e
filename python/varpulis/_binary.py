# SPDX-License-Identifier: Apache-2.0
"""Locate the native ``varpulis`` executable that was installed with this package."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path


def find_binary() -> str:
    """Return the path of the ``varpulis`` executable.

    Looks at ``$VARPULIS_BINARY``, then the scripts directory of this Python installation (where
    ``pip install`` puts it), then ``PATH``. Raises FileNotFoundError with a fix when it is missing.
    """
    explicit = os.environ.get("VARPULIS_BINARY")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(f"VARPULIS_BINARY={explicit} is not an executable file")
        return explicit
    candidates = [Path(sysconfig.get_path("scripts")) / "varpulis", Path(sys.executable).parent / "varpulis"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("varpulis")
    if found:
        return found
    raise FileNotFoundError(
        "the varpulis executable was not found; install the package with `pip install .` "
        "or set VARPULIS_BINARY to its path"
    )
