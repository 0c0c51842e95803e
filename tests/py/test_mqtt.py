# SPDX-License-Identifier: Apache-2.0
"""The mqtt connector against a real mosquitto broker started for each test."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

import varpulis
from varpulis import VplError

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # Debian installs it in sbin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # No per-client queue limit: mosquitto's default (1000) drops messages to a subscriber that
    # falls behind, which would hide what these tests check.
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


class Subscriber:
    """mosquitto_sub for `count` messages, its output read by a thread (a select() on a buffered
    pipe can miss lines that are already in Python's buffer)."""

    def __init__(self, port: int, topic: str, count: int, qos: int):
        # stdbuf: mosquitto_sub's debug lines would otherwise sit in a pipe buffer.
        self.proc = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                                      "-q", str(qos), "-C", str(count), "-d"], stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.subscribed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.subscribed.wait(10):
            self.stop()
            raise TimeoutError("mosquitto_sub did not subscribe")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if "SUBACK" in line:
                self.subscribed.set()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()

    def payloads(self) -> list[dict]:
        """Wait for every message (the process exits after `count`) and decode them."""
        try:
            self.proc.wait(20)
        finally:
            self.stop()
        return [json.loads(line) for line in self.lines if line.startswith("{")]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_events_reach_a_subscriber_in_order_at_each_qos(broker, qos):
    sub = Subscriber(broker, "vp/out", 200, qos)
    engine = varpulis.Engine(f'''
connector Out = mqtt(host: "127.0.0.1", port: {broker}, client_id: "vp-test-{qos}", qos: {qos})
stream S = Reading .where(v >= 0) .emit(v: v, tag: "x") .to(Out, topic: "vp/out")
''')
    for v in range(200):
        assert engine.process("Reading", {"v": v}, timestamp=1_700_000_000_000_000_000) == [{"event_type": "S", "v": v, "tag": "x"}]
    del engine  # flushes and disconnects
    got = sub.payloads()
    assert [p["v"] for p in got] == list(range(200))
    assert got[0] == {"event_type": "S", "timestamp": "2023-11-14T22:13:20.000Z", "v": 0, "tag": "x"}


def test_an_unreachable_broker_drops_after_the_block_timeout_instead_of_hanging():
    engine = varpulis.Engine(f'''
connector Out = mqtt(host: "127.0.0.1", port: {free_port()}, block_timeout_ms: 300)
stream S = Reading .emit(v: v) .to(Out, topic: "t")
''')
    start = time.monotonic()
    for v in range(50):
        assert engine.process("Reading", {"v": v}) == [{"event_type": "S", "v": v}]
    assert time.monotonic() - start < 5  # one 300 ms wait for the outage, then immediate drops


@pytest.mark.parametrize("params, message", [
    ('qos: 3', "qos must be 0, 1 or 2"),
    ('port: "x"', "port must be an integer"),
    ('hots: "a"', "unknown parameter 'hots'"),
])
def test_bad_connector_parameters_are_clear_errors(params, message):
    with pytest.raises(VplError, match=message):
        varpulis.Engine(f'connector Out = mqtt({params})\nstream S = A .emit(v: 1) .to(Out, topic: "t")')


def test_contexts_share_one_client_per_client_id(broker):
    # One client per context with the same client_id would make the broker kick them in turn.
    sub = Subscriber(broker, "vp/ctx", 2000, 1)
    engine = varpulis.Engine(f'''
connector Out = mqtt(host: "127.0.0.1", port: {broker}, client_id: "vp-shared", qos: 1, block_timeout_ms: 5000)
fn burst(tag: str, n: int):
    for i in 0..n:
        emit Item(tag: tag, i: i)
context a
context b
stream A = Go .context(a) .process(burst("a", n)) .to(Out, topic: "vp/ctx")
stream B = Go .context(b) .process(burst("b", n)) .to(Out, topic: "vp/ctx")
''')
    assert len(engine.process("Go", {"n": 1000})) == 2000
    del engine
    got = sub.payloads()
    for tag in "ab":
        assert [p["i"] for p in got if p["tag"] == tag] == list(range(1000))
