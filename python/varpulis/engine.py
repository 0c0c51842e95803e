# SPDX-License-Identifier: Apache-2.0
"""Run VPL programs in-process."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from . import _varpulis

Event = dict[str, Any]
EventTuple = Union[tuple[str, Mapping[str, Any]], tuple[str, Mapping[str, Any], Optional[int]]]


class Engine:
    """A compiled VPL program that takes events and returns what its streams emit.

    ``Engine(source)`` raises VplSyntaxError or VplError for a program that does not check.
    Every call runs the native engine with the GIL released. Outputs are dicts
    ``{"event_type": <stream name>, **fields}``; timestamps are integer nanoseconds since the
    Unix epoch (event time; windows and ``.within`` use it).
    """

    def __init__(self, source: str):
        self._engine = _varpulis.Engine(source)

    def process(self, event_type: str, fields: Optional[Mapping[str, Any]] = None,
                timestamp: Optional[int] = None) -> list[Event]:
        """Process one event to completion and return its outputs.

        Without ``timestamp`` the previous event's time is used (0 for the first event).
        """
        return self._engine.process(event_type, dict(fields or {}), timestamp)

    def process_many(self, events: Iterable[EventTuple]) -> list[Event]:
        """Process ``(event_type, fields)`` or ``(event_type, fields, timestamp)`` tuples in order."""
        return self._engine.process_many([tuple(e) for e in events])

    def flush(self) -> list[Event]:
        """End of input: close open time and session windows and return what they produce."""
        return self._engine.flush()

    def run_file(self, path: Union[str, os.PathLike[str]]) -> list[Event]:
        """Process every event of an ``.evt`` file, then flush; return all outputs."""
        return self._engine.run_file(os.fspath(path))

    def advance_time(self, now_ns: int) -> list[Event]:
        """Fire the ``timer(...)`` sources due up to ``now_ns`` (event time) and return the outputs.

        The first call sets the timers' origin; a timer fires first after its initial delay.
        """
        return self._engine.advance_time(now_ns)

    def stats(self) -> dict[str, int]:
        """Counters: events_in, outputs, errors, dropped_by_depth, held (buffered events and runs),
        evicted (dropped at a state limit) and state_bytes (what the state budget counts)."""
        return self._engine.stats()

    @property
    def streams(self) -> Sequence[str]:
        """The names of the program's streams, in declaration order."""
        return self._engine.streams()

    def variable(self, name: str) -> Any:
        """Return the value of a top-level ``let``/``var``/``const``."""
        return self._engine.variable(name)
