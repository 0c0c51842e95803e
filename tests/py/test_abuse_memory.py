# SPDX-License-Identifier: Apache-2.0
"""Memory bombs against a real worker: a program that would expand to millions of streams, a
string doubled in a loop, sequences over unique keys. Each gets a clear 4xx (or is counted),
the worker's memory stays small, and it goes on serving."""

from __future__ import annotations

import json
import re
import time

import pytest

from server_support import ServerProcess
from varpulis import ApiError

pytestmark = pytest.mark.integration


@pytest.fixture()
def worker(varpulis_bin):
    server = ServerProcess(varpulis_bin)
    yield server
    server.stop()


@pytest.fixture()
def small_budget_worker(varpulis_bin):
    """A worker whose pipelines may hold 1 MB of window state (restore takes 16 MiB + 2 MB)."""
    server = ServerProcess(varpulis_bin, "--max-state-bytes", "1000000")
    yield server
    server.stop()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def deploy_error(client, source: str) -> ApiError:
    with pytest.raises(ApiError) as err:
        client.deploy("bomb", source)
    return err.value


def test_a_67_byte_loop_that_made_500000_streams_is_refused_at_once(worker):
    started = time.monotonic()
    error = deploy_error(worker.client(), "for a in 0..1000:\n    for b in 0..500:\n        stream S{a}x{b} = A\n")
    assert (error.status, error.code) == (400, "parse_error")
    assert error.message.startswith("2:5: error[E000] compile-time loops expand to more than 100000 lines"), error.message
    assert time.monotonic() - started < 5
    error = deploy_error(worker.client(), "for a in 0..101:\n    for b in 0..100:\n        stream S{a}x{b} = A\n")
    assert error.status == 400 and "more than 10000 streams" in error.message
    error = deploy_error(worker.client(), "for i in 0..65:\n    context c{i}\n    stream S{i} = A .context(c{i})\n")
    assert error.status == 400 and "65 contexts; the limit is 64" in error.message
    assert rss_mb(worker.proc.pid) < 300
    assert worker.client().health()["status"] == "healthy"


def test_a_string_doubled_in_a_loop_is_that_events_error_not_a_500(worker):
    client = worker.client()
    pid = client.deploy("doubler", "fn grow() -> int:\n    var s = \"ab\"\n    while true:\n        s := s + s\n    0\n"
                                   "stream S = A .emit(v: grow())\nstream T = B .emit(ok: 1)")["id"]
    with pytest.raises(ApiError) as err:
        client.request("POST", f"/api/v1/pipelines/{pid}/events", {"event_type": "A", "fields": {}})
    assert (err.value.status, err.value.code) == (422, "engine_error")
    assert "longer than the limit of 16 MiB" in err.value.message
    answer = client.request("POST", f"/api/v1/pipelines/{pid}/events", {"event_type": "B", "fields": {}})
    assert len(answer["output_events"]) == 1
    assert client.metrics(pid)["errors"] == 1
    assert rss_mb(worker.proc.pid) < 300


def test_sequences_over_unique_keys_stop_at_a_million_runs_and_count_the_rest(worker):
    client = worker.client()
    pid = client.deploy("unique", "stream S = A as a -> B as b .partition_by(k) .emit(k: a.k)")["id"]
    total, chunk = 1_100_000, 275_000
    for start in range(0, total, chunk):
        answer = client.inject_batch(pid, [{"event_type": "A", "fields": {"k": i}} for i in range(start, start + chunk)])
        assert answer["accepted"] == chunk
    metrics = client.metrics(pid)
    assert metrics["state_held"] == 1_000_000
    assert metrics["state_evicted"] == total - 1_000_000
    text = client.request("GET", "/metrics", raw=True)
    assert re.search(r'^varpulis_state_evicted_total\{[^}]*\} 100000$', text, re.M), "the evictions are not in /metrics"


def test_a_checkpoint_over_16_mib_restores_and_the_window_goes_on_the_same(worker):
    # Before, restore took 16 MiB, and a checkpoint of a large window could not come back.
    client = worker.client()
    program = "stream W = A .window(150000) .aggregate(n: count(), s: sum(i)) .emit(n: n, s: s)"
    pid = client.deploy("big", program)["id"]
    pad = "x" * 200
    for start in range(0, 120_000, 40_000):
        client.inject_batch(pid, [{"event_type": "A", "fields": {"i": i, "pad": pad}} for i in range(start, start + 40_000)])
    checkpoint = client.request("POST", f"/api/v1/pipelines/{pid}/checkpoint")["checkpoint"]
    assert len(json.dumps(checkpoint)) > 16 << 20
    assert client.metrics(pid)["state_evicted"] == 0
    copy = client.deploy("copy", program)["id"]
    assert client.request("POST", f"/api/v1/pipelines/{copy}/restore", {"checkpoint": checkpoint})["restored"]
    rest = [{"event_type": "A", "fields": {"i": i}} for i in range(120_000, 150_000)]
    outputs = [client.inject_batch(p, rest)["output_events"] for p in (pid, copy)]
    assert outputs[0] == outputs[1] == [{"event_type": "W", "n": 150_000, "s": sum(range(150_000))}]


def test_a_time_window_past_the_state_budget_evicts_its_oldest_and_counts_them(small_budget_worker):
    client = small_budget_worker.client()
    pid = client.deploy("hour", "stream W = A .window(1h) .aggregate(n: count()) .emit(n: n)")["id"]
    pad = "x" * 1000
    client.inject_batch(pid, [{"event_type": "A", "fields": {"pad": pad}, "timestamp": i} for i in range(5000)])
    metrics = client.metrics(pid)
    assert metrics["state_held"] + metrics["state_evicted"] == 5000
    assert 800 < metrics["state_held"] < 1000
    assert metrics["state_bytes"] <= 1_000_000
    text = client.request("GET", "/metrics", raw=True)
    assert re.search(r'^varpulis_state_bytes\{[^}]*\} \d+$', text, re.M), "the state held is not in /metrics"
    assert re.search(rf'^varpulis_state_evicted_total\{{[^}}]*\}} {metrics["state_evicted"]}$', text, re.M)


def test_a_checkpoint_restore_could_not_take_is_refused_not_handed_out(small_budget_worker):
    # Sequence runs are capped by count, not by the state budget: a million of them can be
    # written larger than restore takes, and that checkpoint is refused rather than handed out.
    client = small_budget_worker.client()
    pid = client.deploy("runs", "stream S = A as a -> B as b .partition_by(k) .emit(k: a.k)")["id"]
    pad = "x" * 200
    for start in range(0, 100_000, 50_000):
        client.inject_batch(pid, [{"event_type": "A", "fields": {"k": i, "pad": pad}} for i in range(start, start + 50_000)])
    with pytest.raises(ApiError) as err:
        client.request("POST", f"/api/v1/pipelines/{pid}/checkpoint")
    assert (err.value.status, err.value.code) == (422, "checkpoint_too_large")
    assert f"restore takes at most {(16 << 20) + 2_000_000}" in err.value.message


def test_events_with_ever_new_names_are_refused_past_a_million_names_not_an_abort(worker):
    # Names are interned for the process's life; at 16.7 million the process aborted.
    client = worker.client()
    pid = client.deploy("names", "stream S = A .where(v > 0) .emit(v: v)")["id"]
    per_event, events_per_batch = 1000, 500
    made = 0
    while made < 1_000_000:
        batch = [{"event_type": "B", "fields": {f"n{made + i * per_event + j}": 1 for j in range(per_event)}}
                 for i in range(events_per_batch)]
        answer = client.inject_batch(pid, batch)
        made += per_event * events_per_batch
    assert answer["rejected"] > 0, "a million and more names were all taken"
    refused = answer["errors"][0]
    assert refused["code"] == "limit_exceeded" and "must come from a bounded set" in refused["error"], refused
    # Known names still work, in every event door, and the worker is healthy.
    answer = client.inject_batch(pid, [{"event_type": "A", "fields": {"v": 3}}])
    assert answer["accepted"] == 1 and answer["output_events"] == [{"event_type": "S", "v": 3}]
    with pytest.raises(ApiError) as err:
        client.request("POST", f"/api/v1/pipelines/{pid}/events", {"event_type": "A", "fields": {"brand_new": 1}})
    assert err.value.status == 400 and "bounded set" in err.value.message
    assert client.health()["status"] == "healthy"
    assert rss_mb(worker.proc.pid) < 1500
