# SPDX-License-Identifier: Apache-2.0
"""`varpulis server` as a real process: every endpoint, error paths, persistence, concurrency, abuse."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import StandIn, serving
from server_support import ServerProcess, raw_request
from varpulis import ApiError, WorkerClient

pytestmark = pytest.mark.integration

TEMP = ('stream TempAlerts = TemperatureReading .where(temperature > 100) '
        '.emit(alert_type: "HIGH_TEMP", sensor_id: sensor_id, temperature: temperature)')


@pytest.fixture
def server(varpulis_bin):
    s = ServerProcess(varpulis_bin)
    yield s
    s.stop()


def test_banner_health_and_ready(server):
    assert any("Auth:      enabled" in line for line in server.banner)
    c = server.client()
    health = c.health()
    assert health["status"] == "healthy" and "version" in health
    assert c.ready() == {"status": "ready", "pipelines": 0}


def test_tutorial_part_one_round_trip(server):
    c = server.client()
    deployed = c.deploy("temp-alerts", TEMP)
    assert deployed["name"] == "temp-alerts" and deployed["status"] == "running"
    out = c.inject(deployed["id"], "TemperatureReading", {"sensor_id": "T1", "temperature": 105.5})
    assert out == {"accepted": True, "output_events": [
        {"event_type": "TempAlerts", "alert_type": "HIGH_TEMP", "sensor_id": "T1", "temperature": 105.5}]}
    assert c.inject(deployed["id"], "TemperatureReading", {"sensor_id": "T2", "temperature": 20}) == {
        "accepted": True, "output_events": []}


def test_authentication(server):
    for key in (None, "wrong"):
        with pytest.raises(ApiError) as err:
            server.client(key).pipelines()
        assert (err.value.status, err.value.code) == (401, "unauthorized")
    with pytest.raises(ApiError) as err:
        server.client(None).request("POST", "/api/v1/pipelines/x/events", {"event_type": "A"})
    assert err.value.status == 401
    assert server.client(None).health()["status"] == "healthy"  # health needs no key


def test_pipeline_lifecycle_and_pagination(server):
    c = server.client()
    ids = [c.deploy(f"p{i}", "stream S = A .emit(v: v)")["id"] for i in range(5)]
    page = c.pipelines(limit=2, offset=1)
    assert [p["id"] for p in page["pipelines"]] == ids[1:3]
    assert page["pagination"] == {"total": 5, "limit": 2, "offset": 1, "has_more": True}
    assert c.pipeline(ids[0])["streams"] == ["S"]
    assert c.delete(ids[0]) == {"deleted": True}
    with pytest.raises(ApiError) as err:
        c.pipeline(ids[0])
    assert (err.value.status, err.value.code) == (404, "pipeline_not_found")
    with pytest.raises(ApiError) as err:
        c.pipelines(limit=5000)
    assert err.value.code == "invalid_limit"
    assert c.usage()["active_pipelines"] == 4


def test_error_bodies(server):
    c = server.client()
    with pytest.raises(ApiError) as err:
        c.deploy("bad", "stream S = A\n  .where(x > )")
    assert (err.value.status, err.value.code) == (400, "parse_error")
    body = c.request  # the raw body carries line and column
    conn_err = None
    try:
        c.request("POST", "/api/v1/pipelines", {"name": "bad", "source": "stream S = A\n  .where(x > )"})
    except ApiError as e:
        conn_err = e
    assert "2:14" in conn_err.message
    for method, path, status, code in [
        ("GET", "/nope", 404, "not_found"),
        ("PUT", "/api/v1/pipelines", 405, "method_not_allowed"),
        ("GET", "/api/v1/pipelines/none/events", 404, "pipeline_not_found"),
    ]:
        with pytest.raises(ApiError) as err:
            c.request(method, path)
        assert (err.value.status, err.value.code) == (status, code), path
    with pytest.raises(ApiError) as err:
        c.request("POST", "/api/v1/pipelines", {"source": "stream S = A"})
    assert err.value.code == "invalid_request"


def test_malformed_json_and_bad_events(server):
    c = server.client()
    pid = c.deploy("p", "stream S = A .emit(v: v)")["id"]
    response = raw_request(server.port, (
        f"POST /api/v1/pipelines/{pid}/events HTTP/1.1\r\nHost: x\r\nx-api-key: test\r\n"
        "Content-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"event_type\": ").encode())
    assert response.startswith(b"HTTP/1.1 400")
    assert b'"code":"invalid_json"' in response and b"line 1, column 16" in response
    cases = [
        ({"fields": {}}, "invalid_event"),
        ({"event_type": "A", "fields": [1]}, "invalid_event"),
        ({"event_type": "A", "fields": {f"f{i}": i for i in range(1025)}}, "limit_exceeded"),
        ({"event_type": "A", "fields": {"s": "x" * (256 * 1024 + 1)}}, "limit_exceeded"),
    ]
    deep = {}
    node = deep
    for _ in range(40):
        node["d"] = {}
        node = node["d"]
    cases.append(({"event_type": "A", "fields": {"deep": deep}}, "limit_exceeded"))
    for body, code in cases:
        with pytest.raises(ApiError) as err:
            c.request("POST", f"/api/v1/pipelines/{pid}/events", body)
        assert (err.value.status, err.value.code) == (400, code)


def test_body_limits(server):
    c = server.client()
    pid = c.deploy("p", "stream S = A .emit(v: v)")["id"]
    with pytest.raises(ApiError) as err:
        c.request("POST", f"/api/v1/pipelines/{pid}/events", {"event_type": "A", "fields": {"v": "x" * (1 << 20)}})
    assert (err.value.status, err.value.code) == (413, "payload_too_large")
    c.close()
    # a 2 MiB batch is within the 16 MiB batch limit
    events = [{"event_type": "A", "fields": {"v": i, "pad": "x" * 200}} for i in range(9000)]
    out = c.inject_batch(pid, events)
    assert out["accepted"] == 9000 and len(out["output_events"]) == 9000


def test_batch_reports_invalid_events_by_index(server):
    c = server.client()
    pid = c.deploy("p", "stream S = A .where(v > 1) .emit(v: v)")["id"]
    out = c.inject_batch(pid, [{"event_type": "A", "fields": {"v": 2}}, {"fields": {}}, {"event_type": "A", "fields": {"v": 3}}, 5])
    assert out["accepted"] == 2 and out["rejected"] == 2
    assert [e["index"] for e in out["errors"]] == [1, 3]
    assert out["output_events"] == [{"event_type": "S", "v": 2}, {"event_type": "S", "v": 3}]


def test_output_truncation_over_ten_thousand(server):
    c = server.client()
    pid = c.deploy("p", "fn burst(n: int):\n    for i in 0..n:\n        emit P(i: i)\nstream S = A .process(burst(n))")["id"]
    out = c.inject(pid, "A", {"n": 12000})
    assert len(out["output_events"]) == 10000
    assert out["output_events_truncated"] is True and out["output_count"] == 12000


def test_output_cap_can_be_raised_per_request(server):
    c = server.client()
    pid = c.deploy("p", "fn burst(n: int):\n    for i in 0..n:\n        emit P(i: i)\nstream S = A .process(burst(n))")["id"]
    out = c.inject(pid, "A", {"n": 12000}, max_output_events=20000)
    assert len(out["output_events"]) == 12000 and "output_events_truncated" not in out
    with pytest.raises(ApiError) as err:
        c.inject(pid, "A", {"n": 1}, max_output_events=-1)
    assert err.value.code == "invalid_request"


def test_timers_fire_in_the_server(server):
    c = server.client()
    pid = c.deploy("beat", "stream Beat = timer(50ms) .emit(n: 1)")["id"]
    deadline = time.monotonic() + 10
    while c.metrics(pid)["output_events_emitted"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.metrics(pid)["output_events_emitted"] >= 3


def test_metrics_reload_checkpoint_restore(server):
    c = server.client()
    pid = c.deploy("w", "stream W = A .window(3) .aggregate(n: count(), s: sum(v)) .emit(n: n, s: s)")["id"]
    c.inject(pid, "A", {"v": 1})
    c.inject(pid, "A", {"v": 2})
    snapshot = c.checkpoint(pid)["checkpoint"]
    assert c.inject(pid, "A", {"v": 3})["output_events"] == [{"event_type": "W", "n": 3, "s": 6.0}]
    assert c.inject(pid, "A", {"v": 10})["output_events"] == []
    assert c.restore(pid, snapshot) == {"pipeline_id": pid, "restored": True}
    # the window holds 1 and 2 again
    assert c.inject(pid, "A", {"v": 4})["output_events"] == [{"event_type": "W", "n": 3, "s": 7.0}]
    m = c.metrics(pid)
    assert m["events_processed"] == 5 and m["output_events_emitted"] == 2 and m["errors"] == 0
    with pytest.raises(ApiError) as err:
        c.restore(pid, {"engine": {"version": 7}})
    assert err.value.code == "invalid_checkpoint"
    assert c.reload(pid, "stream W = A .emit(doubled: v * 2)") == {"reloaded": True, "id": pid}
    assert c.inject(pid, "A", {"v": 4})["output_events"] == [{"event_type": "W", "doubled": 8}]
    with pytest.raises(ApiError) as err:
        c.reload(pid, "stream = ")
    assert err.value.code == "parse_error"


def test_sequence_state_survives_restore(server):
    c = server.client()
    pid = c.deploy("s", "let bonus = 1\nstream P = A as a -> B as b .emit(a: a.id, b: b.id, bonus: bonus)")["id"]
    c.inject(pid, "A", {"id": 1})
    snapshot = c.checkpoint(pid)["checkpoint"]
    c.inject(pid, "B", {"id": 2})
    assert c.inject(pid, "B", {"id": 3})["output_events"] == []  # the run completed
    c.restore(pid, snapshot)
    assert c.inject(pid, "B", {"id": 4})["output_events"] == [{"event_type": "P", "a": 1, "b": 4, "bonus": 1}]


def test_logs_stream_outputs(server):
    c = server.client()
    pid = c.deploy("p", "stream S = A .emit(v: v)")["id"]
    received = []
    ready = threading.Event()

    def follow():
        stream = c.logs(pid, timeout=10)
        ready.set()
        for item in stream:
            received.append(item)
            if len(received) == 2:
                return

    t = threading.Thread(target=follow)
    t.start()
    ready.wait(5)
    deadline = time.monotonic() + 10
    while len(received) < 2 and time.monotonic() < deadline:
        c.inject(pid, "A", {"v": len(received)})
        time.sleep(0.05)
    t.join(10)
    assert received[0]["event_type"] == "S" and "timestamp" in received[0] and "v" in received[0]["data"]


def test_prometheus_metrics(server):
    c = server.client()
    pid = c.deploy("temp", TEMP)["id"]
    c.inject(pid, "TemperatureReading", {"sensor_id": "T1", "temperature": 101})
    text = c.prometheus()
    assert f'varpulis_events_total{{pipeline="temp",id="{pid}"}} 1' in text
    assert 'varpulis_processing_latency_seconds_bucket{' in text
    assert re.search(r'varpulis_http_requests_total\{status="201"\} 1', text)


def test_concurrent_injects_lose_nothing(server):
    c = server.client()
    pids = [c.deploy(f"p{i}", "stream S = A .emit(v: v)")["id"] for i in range(3)]
    per_thread = 200

    def work(t):
        client = server.client()
        got = 0
        for i in range(per_thread):
            got += len(client.inject(pids[t % 3], "A", {"v": i})["output_events"])
        client.close()
        return got

    with ThreadPoolExecutor(max_workers=12) as pool:
        outputs = sum(pool.map(work, range(12)))
    assert outputs == 12 * per_thread
    counts = [c.metrics(p)["events_processed"] for p in pids]
    assert sum(counts) == 12 * per_thread and all(n == 4 * per_thread for n in counts)


def test_garbage_requests_get_4xx_and_the_server_survives(server):
    rng = random.Random(1234)
    statuses = []
    for i in range(200):
        kind = i % 4
        if kind == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        elif kind == 1:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            data = (b"POST /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nx-api-key: test\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body
        elif kind == 2:
            data = b"GET /" + bytes(rng.choice(b"abc/%?&=") for _ in range(rng.randint(0, 50))) + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        else:
            data = b"BREW /coffee HTTP/1.1\r\nContent-Length: -5\r\n\r\n"
        response = raw_request(server.port, data, timeout=5)
        if response:
            status = int(response.split(b" ")[1])
            statuses.append(status)
            assert 400 <= status < 500, (data[:80], response[:200])
    assert len(statuses) > 100
    assert server.client().health()["status"] == "healthy"


def test_slow_clients_time_out_without_blocking_others(varpulis_bin):
    s = ServerProcess(varpulis_bin, "--request-timeout", "2")
    try:
        slow = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
        for sock in slow:
            sock.sendall(b"POST /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        start = time.monotonic()
        assert s.client().health()["status"] == "healthy"
        assert time.monotonic() - start < 1.0
        sock = slow[0]
        sock.settimeout(10)
        assert sock.recv(100) == b""  # closed by the server after the request timeout
        for sock in slow:
            sock.close()
    finally:
        s.stop()


def test_an_event_stream_whose_client_stops_reading_is_closed_after_the_request_timeout(varpulis_bin):
    s = ServerProcess(varpulis_bin, "--request-timeout", "2")
    try:
        c = s.client()
        pid = c.deploy("p", "stream S = A .emit(v: v, pad: pad)")["id"]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # little room: the server's writes block soon
        sock.connect(("127.0.0.1", s.port))
        sock.sendall(f"GET /api/v1/pipelines/{pid}/logs HTTP/1.1\r\nHost: x\r\nx-api-key: test\r\n\r\n".encode())
        sock.settimeout(5)
        assert b"text/event-stream" in sock.recv(4096)
        pad = "x" * 1000
        for _ in range(10):  # ~10 MB of lines, far more than both socket buffers hold
            c.inject_batch(pid, [{"event_type": "A", "fields": {"v": i, "pad": pad}} for i in range(1000)])
        time.sleep(3.5)  # the client reads nothing for longer than the request timeout
        received, closed = 0, False
        try:
            while not closed:
                chunk = sock.recv(65536)
                closed = not chunk  # closed by the server
                received += len(chunk)
        except TimeoutError:
            pytest.fail(f"the stream was still open, silent for 5 s, after {received} bytes")
        sock.close()
        assert c.health()["status"] == "healthy"
    finally:
        s.stop()


def test_state_dir_survives_restart_and_corruption(varpulis_bin, tmp_path):
    state = tmp_path / "state"
    s = ServerProcess(varpulis_bin, "--state-dir", str(state))
    pid = s.client().deploy("keep", TEMP)["id"]
    assert s.stop() == 0
    s2 = ServerProcess(varpulis_bin, "--state-dir", str(state))
    try:
        assert [p["id"] for p in s2.client().pipelines()["pipelines"]] == [pid]
        out = s2.client().inject(pid, "TemperatureReading", {"sensor_id": "x", "temperature": 200})
        assert len(out["output_events"]) == 1
    finally:
        s2.stop()
    (state / "pipelines.json").write_text('{"version": 1, "pipelines": [ {"id": ')  # torn write
    s3 = ServerProcess(varpulis_bin, "--state-dir", str(state))
    try:
        assert s3.client().pipelines()["total"] == 0
        assert any(name.startswith("pipelines.json.corrupt-") for name in os.listdir(state))
    finally:
        s3.stop()
    assert "corrupt" in s3.stderr


def test_sigterm_and_sigint_exit_cleanly(varpulis_bin):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = ServerProcess(varpulis_bin)
        s.client().deploy("p", "stream S = A .emit(v: 1)")
        assert s.stop(sig) == 0
        assert "stopped" in s.stderr


def test_json_logs_are_one_object_per_line(varpulis_bin):
    s = ServerProcess(varpulis_bin, "--log-format", "json", key=None)
    assert s.stop() == 0
    records = [json.loads(line) for line in s.stderr.splitlines()]
    assert [(r["level"], r["component"]) for r in records] == [("warn", "server"), ("info", "server"), ("info", "server")]
    assert records[0]["msg"] == "no --api-key: the API accepts every request"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]) for r in records)


def test_log_level_filters_and_comes_from_the_environment(varpulis_bin):
    env = {**os.environ, "VARPULIS_LOG_LEVEL": "error"}
    proc = subprocess.Popen([varpulis_bin, "server", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().startswith("Varpulis Server")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and err == ""
    bad = subprocess.run([varpulis_bin, "coordinator", "--log-level", "verbose"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2
    assert bad.stderr == "error: unknown log level 'verbose' (expected error, warn, info, debug or trace)\n"


def test_port_in_use_and_bad_bind_are_clear_errors(varpulis_bin, server):
    taken = subprocess.run([varpulis_bin, "server", "--port", str(server.port)], capture_output=True, text=True, timeout=10)
    assert taken.returncode == 2 and "Address already in use" in taken.stderr
    bad = subprocess.run([varpulis_bin, "server", "--bind", "localhost"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "invalid bind address" in bad.stderr


def test_rate_limit(varpulis_bin):
    s = ServerProcess(varpulis_bin, "--rate-limit", "5")
    try:
        c = s.client()
        codes = []
        for _ in range(20):
            try:
                c.usage()
                codes.append(200)
            except ApiError as e:
                codes.append(e.status)
        assert 429 in codes and codes[0] == 200
    finally:
        s.stop()


def test_https(varpulis_bin, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    s = ServerProcess(varpulis_bin, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert s.scheme == "https"
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=context, timeout=10)
        conn.request("GET", "/health")
        assert json.loads(conn.getresponse().read())["status"] == "healthy"
        conn.close()
    finally:
        s.stop()


def test_in_process_server(tmp_path):
    import varpulis
    with varpulis.Server(api_key="k", state_dir=str(tmp_path)) as s:
        c = s.client()
        pid = c.deploy("t", TEMP)["id"]
        assert c.inject(pid, "TemperatureReading", {"sensor_id": "a", "temperature": 101})["output_events"][0]["sensor_id"] == "a"
    with varpulis.Server(api_key="k", state_dir=str(tmp_path)) as s:
        assert s.client().pipeline(pid)["name"] == "t"


def test_in_process_server_stop_flushes_open_windows_into_sinks(tmp_path):
    # The in-process server and the executable share one assembly: stop() drains like SIGTERM.
    # Before, the Python server's stop() left the open window and the file sink unflushed.
    import varpulis
    out = tmp_path / "out.jsonl"
    program = (f'connector Out = file(path: "{out}")\n'
               "stream W = Reading .window(1h) .aggregate(n: count(), s: sum(v)) .emit(n: n, s: s) .to(Out)")
    with varpulis.Server(api_key="k", file_root=str(tmp_path)) as s:
        c = s.client()
        pid = c.deploy("w", program)["id"]
        for v in (1, 2, 3):
            assert c.inject(pid, "Reading", {"v": v})["output_events"] == []  # the hour is still open
    [line] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (line["event_type"], line["n"], line["s"]) == ("W", 3, 6)


def test_sigterm_flushes_open_windows_into_sinks(varpulis_bin, tmp_path):
    out = tmp_path / "out.jsonl"
    program = (f'connector Out = file(path: "{out}")\n'
               "stream W = Reading .window(1h) .aggregate(n: count()) .emit(n: n) .to(Out)")
    s = ServerProcess(varpulis_bin, "--file-root", str(tmp_path))
    c = s.client()
    pid = c.deploy("w", program)["id"]
    c.inject(pid, "Reading", {"v": 1})
    assert s.stop(signal.SIGTERM) == 0
    [line] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (line["event_type"], line["n"]) == ("W", 1)


def test_in_process_server_registers_with_a_coordinator(wait_until):
    import varpulis
    with varpulis.Coordinator(api_key="admin") as coordinator, \
            varpulis.Server(api_key="k", coordinator=coordinator.url, worker_id="py-worker") as worker:
        assert worker.worker_id == "py-worker"
        cluster = varpulis.CoordinatorClient(coordinator.url, "admin")
        wait_until(lambda: cluster.workers()["workers"], what="the in-process worker to register")
        [registered] = cluster.workers()["workers"]
        assert registered["id"] == "py-worker" and registered["address"] == worker.url


def test_the_client_resends_only_over_a_kept_alive_connection_the_server_closed():
    # A stand-in server: the requests whose number is in `drop` are read, then the connection is
    # closed without an answer.
    import http.client
    seen: list[str] = []
    drop = {1, 2, 3}

    class Server(StandIn):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            seen.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if len(seen) - 1 in drop:
                self.close_connection = True
                return
            self.answer(200, b'{"ok": true}')

    with serving(Server) as server:
        client = WorkerClient(f"http://127.0.0.1:{server.server_port}", "k")
        assert client.request("POST", "/x", {"n": 0}) == {"ok": True}
        # request 1 goes over the kept-alive connection, which the server closes: sent again (as request 2,
        # which is dropped too, on a fresh connection: reported, not sent a third time)
        with pytest.raises(http.client.RemoteDisconnected):
            client.request("POST", "/x", {"n": 1})
        assert seen == ['{"n": 0}', '{"n": 1}', '{"n": 1}']
        # a fresh connection that fails is not resent either
        with pytest.raises(http.client.RemoteDisconnected):
            WorkerClient(f"http://127.0.0.1:{server.server_port}", "k").request("POST", "/x", {"n": 3})
        assert seen[3:] == ['{"n": 3}']
