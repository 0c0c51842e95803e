# SPDX-License-Identifier: Apache-2.0
"""The mqtt connector against a real mosquitto broker started for each test."""

from __future__ import annotations

import getpass
import json
import signal
import shutil
import socket
import subprocess
import threading
import time

import pytest

import varpulis
from conftest import _free_port as free_port
from conftest import _wait_until
from conftest import make_tls_files
from varpulis import VplError

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # Debian installs it in sbin


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


# --- sources, routes, broker failures ------------------------------------------------------------

def publish_lines(port: int, topic: str, lines: list[str], qos: int = 1) -> None:
    """Publish one message per line with mosquitto_pub (one connection for all of them)."""
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos), "-l"],
                   input="\n".join(lines) + "\n", text=True, check=True, timeout=30)


class WorkerProcess:
    """A real `varpulis server --port 0` process."""

    def __init__(self, binary: str, *args: str):
        self.proc = subprocess.Popen([binary, "server", "--port", "0", "--api-key", "k", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            if line.startswith("API:"):
                self.url = line.split()[1].rsplit("/api/", 1)[0]
            if line.startswith("Pipelines:"):
                break
        self.client = varpulis.WorkerClient(self.url, "k")

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=15)
        self.proc.stdout.close()
        return err

    def connectors(self, pipeline_id: str) -> dict[str, dict]:
        return {(c["name"], c["role"]): c for c in self.client.metrics(pipeline_id)["connectors"]}


SOURCE_PROGRAM = '''
connector Broker = mqtt(host: "127.0.0.1", port: {port}, client_id: "vp-src-{tag}", qos: 1)
stream Hot = TemperatureReading.from(Broker, topic: "sensors/#")
    .where(temperature > 100)
    .emit(sensor_id: sensor_id, temperature: temperature)
    .to(Broker, topic: "alerts/{tag}")
'''


def deploy_source_pipeline(worker: WorkerProcess, port: int, tag: str) -> str:
    pid = worker.client.deploy("hot", SOURCE_PROGRAM.format(port=port, tag=tag))["id"]
    _wait_until(lambda: worker.connectors(pid)[("Broker", "source")]["connected"], what="the source to connect")
    return pid


def test_a_pipeline_reads_a_topic_filters_and_publishes(broker, varpulis_bin):
    worker = WorkerProcess(varpulis_bin)
    try:
        pid = deploy_source_pipeline(worker, broker, "a")
        sub = Subscriber(broker, "alerts/a", 99, 1)
        # Typed by the declaration when the payload has no event_type; by event_type when it has one.
        lines = [json.dumps({"sensor_id": f"s{t % 3}", "temperature": t}) for t in range(150)]
        lines += [json.dumps({"event_type": "TemperatureReading", "sensor_id": "x", "temperature": t}) for t in range(150, 200)]
        # The subscription may still be on its way to the broker: publish a probe until it arrives.
        _wait_until(lambda: publish_lines(broker, "sensors/probe", ['{"temperature": 0}']) or
                 worker.client.metrics(pid)["events_processed"] > 0, what="the subscription")
        before = worker.client.metrics(pid)["events_processed"]
        publish_lines(broker, "sensors/room1", lines)
        alerts = sub.payloads()
        assert [a["temperature"] for a in alerts] == list(range(101, 200))
        assert alerts[0]["event_type"] == "Hot" and alerts[0]["sensor_id"] == "s2"
        _wait_until(lambda: worker.client.metrics(pid)["events_processed"] == before + 200, what="all events processed")
        health = worker.connectors(pid)
        assert health[("Broker", "source")]["messages"] == before + 200
        assert health[("Broker", "source")]["failures"] == 0
        assert health[("Broker", "sink")]["messages"] == 99 and health[("Broker", "sink")]["connected"]
        prometheus = urlopen_text(worker.url + "/metrics")
        assert 'varpulis_connector_connected{pipeline="hot",id="' + pid + '",connector="Broker",role="source"} 1' in prometheus
    finally:
        worker.stop()


def urlopen_text(url: str) -> str:
    from urllib.request import urlopen
    with urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_malformed_payloads_are_counted_and_logged_and_the_pipeline_goes_on(broker, varpulis_bin):
    worker = WorkerProcess(varpulis_bin)
    try:
        pid = deploy_source_pipeline(worker, broker, "m")
        _wait_until(lambda: publish_lines(broker, "sensors/probe", ['{"temperature": 0}']) or
                 worker.client.metrics(pid)["events_processed"] > 0, what="the subscription")
        sub = Subscriber(broker, "alerts/m", 1, 1)
        publish_lines(broker, "sensors/bad", ["not json", "[1, 2]", '{"event_type": 5}', '{"timestamp": "yesterday"}',
                                              '{"sensor_id": "ok", "temperature": 120}'])
        assert [a["sensor_id"] for a in sub.payloads()] == ["ok"]
        _wait_until(lambda: worker.connectors(pid)[("Broker", "source")]["failures"] == 4, what="4 malformed payloads")
        assert worker.client.health()["status"] == "healthy"
    finally:
        err = worker.stop()
    assert "malformed payload on topic 'sensors/bad': not JSON" in err
    assert "\"event_type\" must be a non-empty string" in err


@pytest.mark.parametrize("topic, message", [
    ("a/#/b", "'a/#/b' is not a valid topic filter"),
    ("$share/g/a", "shared subscriptions"),  # a shared subscription would silently take messages away
])
def test_a_bad_source_topic_is_a_clear_deploy_error(broker, varpulis_bin, topic, message):
    worker = WorkerProcess(varpulis_bin)
    try:
        with pytest.raises(varpulis.ApiError) as bad:
            worker.client.deploy("bad", f'connector B = mqtt(host: "127.0.0.1", port: {broker})\n'
                                        f'stream S = A.from(B, topic: "{topic}") .emit(v: 1)')
        assert bad.value.status == 400 and bad.value.code == "connector_error"
        assert message in str(bad.value)
        assert worker.client.pipelines()["total"] == 0
    finally:
        worker.stop()


def test_varpulis_run_prints_what_its_source_receives(broker, varpulis_bin, tmp_path):
    program = SOURCE_PROGRAM.format(port=broker, tag="run")
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen([varpulis_bin, "run", "-c", program, "--duration", "20"], stdout=subprocess.PIPE,
                                stderr=err, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # the only reader of stdout
    reader.start()
    try:
        _wait_until(lambda: publish_lines(broker, "sensors/r", ['{"sensor_id": "r", "temperature": 150}']) or
                 any(line.startswith("{") for line in lines), what="an output line")
    finally:
        proc.terminate()
        proc.wait(15)
        reader.join(5)
        proc.stdout.close()
    first = json.loads(next(line for line in lines if line.startswith("{")))
    assert first["event_type"] == "Hot" and first["temperature"] == 150
    assert "Final Statistics" in "".join(lines), (tmp_path / "stderr").read_text()


def test_nothing_is_lost_at_qos_1_when_the_broker_restarts(tmp_path):
    port = free_port()
    conf = tmp_path / "persistent.conf"
    # `user`: mosquitto started as root would otherwise drop to the user "mosquitto", which cannot
    # write its database into our temporary directory (and then forgets every queue on restart).
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {tmp_path}/\nmax_queued_messages 0\nuser {getpass.getuser()}\n")

    def start_broker():
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port)
        return proc

    def subscriber(*args: str) -> list[str]:
        # A persistent session (-c with an id): the broker queues for it while it is away and
        # keeps that queue across its own restart.
        out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "vp/restart", "-q", "1", "-c",
                              "-i", "vp-restart-sub", *args], capture_output=True, text=True, timeout=60)
        return out.stdout.splitlines()

    broker_proc = start_broker()
    total = 3000
    try:
        # The subscriber's session is created first and read at the end, so every message has to
        # survive in the publisher or the broker's saved queue.
        subscriber("-E")  # create the session, exit once subscribed
        engine = varpulis.Engine(f'''
connector Out = mqtt(host: "127.0.0.1", port: {port}, client_id: "vp-restart-pub", qos: 1, block_timeout_ms: 20000)
stream S = Reading .emit(i: i) .to(Out, topic: "vp/restart")
''')
        for i in range(total):
            if i == total // 3:
                broker_proc.terminate()
                broker_proc.wait(10)
                broker_proc = start_broker()
            engine.process("Reading", {"i": i})
        del engine  # flush: waits until the broker acknowledged everything
        received = subscriber("-C", str(total), "-W", "30")
    finally:
        broker_proc.terminate()
        broker_proc.wait(10)
    got = sorted({json.loads(line)["i"] for line in received})
    missing = sorted(set(range(total)) - set(got))
    assert not missing, f"{len(missing)} missing: {missing[:10]}...{missing[-10:]} of {len(received)} received"


def test_a_route_carries_one_pipelines_alerts_to_another_worker(broker):
    group = {
        "name": "routed",
        "pipelines": [
            {"name": "detect", "source": "stream AlertHigh = Reading .where(v > 10) .emit(v: v)\n"
                                        "stream Other = Reading .emit(v: v)"},
            {"name": "count", "source": "stream Seen = AlertHigh .emit(v: v)"},
        ],
        "routes": [
            {"from_pipeline": "_external", "to_pipeline": "detect", "event_types": ["Reading"]},
            {"from_pipeline": "detect", "to_pipeline": "count", "event_types": ["Alert*"]},
        ],
    }
    with varpulis.LocalCluster(workers=2, mqtt_broker=f"127.0.0.1:{broker}") as cluster:
        deployed = cluster.coordinator.deploy_group(group["name"], group["pipelines"], group["routes"])
        placed = {p["pipeline_name"]: p for p in deployed["placements"]}
        assert placed["detect"]["worker_id"] != placed["count"]["worker_id"]
        count_worker = cluster.workers[placed["count"]["worker_id"]]
        count_id = placed["count"]["pipeline_id"]
        gid = deployed["id"]
        _wait_until(lambda: all(c["connected"] for c in count_worker.metrics(count_id)["connectors"]), what="route connected")

        def seen() -> int:
            return count_worker.metrics(count_id)["events_processed"]

        _wait_until(lambda: cluster.coordinator.inject(gid, "Reading", {"v": 100}) and seen() > 0, what="the route")
        before = seen()
        for v in range(20):
            cluster.coordinator.inject(gid, "Reading", {"v": v})
        _wait_until(lambda: seen() == before + 9, what="9 alerts (v 11..19) on the other worker")
        topology = cluster.coordinator.topology()
        route = next(r for g in topology["groups"] for r in g["routes"] if r["from_pipeline"] == "detect")
        assert route["mqtt_topic"] == f"varpulis/cluster/{gid}/detect/count"
        assert route["transport"] == f"mqtt://127.0.0.1:{broker}"
        # The coordinator's view of the publishing worker, from its heartbeats: nothing spooled or lost.
        view = _wait_until(lambda: cluster.coordinator.worker(placed["detect"]["worker_id"]).get("connectors"), what="heartbeat")
        assert (view["total"] >= 1, view["spooled"], view["dropped"], view["redelivered"]) == (True, 0, 0, 0), view
        cluster.coordinator.teardown(gid)
        assert count_worker.pipelines()["total"] == 0


def test_alerts_published_while_the_receiving_pipeline_fails_over_are_not_lost(broker):
    group = [{"name": "detect", "source": "stream AlertHigh = Reading .where(v > 10) .emit(v: v)", "worker_affinity": "worker-0"},
             {"name": "count", "source": "stream Seen = AlertHigh .emit(v: v)", "worker_affinity": "worker-1"}]
    routes = [{"from_pipeline": "_external", "to_pipeline": "detect", "event_types": ["Reading"]},
              {"from_pipeline": "detect", "to_pipeline": "count", "event_types": ["Alert*"]}]
    with varpulis.LocalCluster(workers=2, mqtt_broker=f"127.0.0.1:{broker}") as cluster:
        c = cluster.coordinator
        gid = c.deploy_group("failover", group, routes)["id"]

        def count_placement() -> dict:
            return next(p for p in c.group(gid)["placements"] if p["pipeline_name"] == "count")

        def seen(placement: dict) -> int:
            return cluster.workers[placement["worker_id"]].metrics(placement["pipeline_id"])["events_processed"]

        first = count_placement()
        _wait_until(lambda: c.inject(gid, "Reading", {"v": 100}) and seen(first) > 0, what="the route")
        cluster.kill_worker("worker-1")
        # Published while "count" has no process: the broker queues them in its session.
        for v in range(11, 21):
            c.inject(gid, "Reading", {"v": v})
        moved = _wait_until(lambda: (p := count_placement())["worker_id"] == "worker-0" and p["status"] == "running" and p,
                            timeout=20, what="failover of count")
        _wait_until(lambda: seen(moved) == 10, timeout=15, what="the 10 queued alerts at the new copy")


def test_two_routes_between_the_same_pipelines_deliver_each_event_once(broker):
    pipelines = [{"name": "detect", "source": "stream AlertHigh = Reading .where(v > 10) .emit(v: v)\n"
                                               "stream AlertLow = Reading .where(v < 0) .emit(v: v)"},
                 {"name": "count", "source": "stream High = AlertHigh .emit(v: v)\nstream Low = AlertLow .emit(v: v)"}]
    routes = [{"from_pipeline": "_external", "to_pipeline": "detect", "event_types": ["Reading"]},
              {"from_pipeline": "detect", "to_pipeline": "count", "event_types": ["AlertHigh"]},
              {"from_pipeline": "detect", "to_pipeline": "count", "event_types": ["AlertLow"]}]
    with varpulis.LocalCluster(workers=2, mqtt_broker=f"127.0.0.1:{broker}") as cluster:
        c = cluster.coordinator
        deployed = c.deploy_group("split", pipelines, routes)
        count = next(p for p in deployed["placements"] if p["pipeline_name"] == "count")
        worker = cluster.workers[count["worker_id"]]

        def seen() -> int:
            return worker.metrics(count["pipeline_id"])["events_processed"]

        _wait_until(lambda: c.inject(deployed["id"], "Reading", {"v": 100}) and seen() > 0, what="the route")
        before = seen()
        for v in (20, -5, 3, 30, -7, 50):
            c.inject(deployed["id"], "Reading", {"v": v})
        # Messages on one topic arrive in order and a duplicate would be delivered with its
        # original, so once the last alert (50) is in, every duplicate would be too.
        _wait_until(lambda: seen() >= before + 5, what="5 alerts")
        assert seen() == before + 5
        assert len(worker.metrics(count["pipeline_id"])["connectors"]) == 1  # one subscription


@pytest.mark.parametrize("names, route, message", [
    (["a"], {"from_pipeline": "a", "to_pipeline": "nope"}, "not in the group"),
    (["a"], {"from_pipeline": "a", "to_pipeline": "a"}, "to itself would loop forever"),
    (["a/b", "c"], {"from_pipeline": "a/b", "to_pipeline": "c"}, "names without '/', '+' or '#'"),
    (["a", "c"], {"from_pipeline": "a", "to_pipeline": "c", "mqtt_topic": "x/#"}, "must not contain '+' or '#'"),
    (["a", "b", "c"], [{"from_pipeline": "a", "to_pipeline": "b"}, {"from_pipeline": "b", "to_pipeline": "c"},
                       {"from_pipeline": "c", "to_pipeline": "b"}], "routes b -> c -> b form a cycle"),
    # c publishes on the topic b subscribes to: c -> b without a route that says so
    (["a", "b", "c", "d"], [{"from_pipeline": "a", "to_pipeline": "b", "mqtt_topic": "t"}, {"from_pipeline": "b", "to_pipeline": "c"},
                            {"from_pipeline": "c", "to_pipeline": "d", "mqtt_topic": "t"}], "routes b -> c -> b form a cycle"),
    (["a", "b", "c"], [{"from_pipeline": "a", "to_pipeline": "b", "mqtt_topic": "t"},
                       {"from_pipeline": "b", "to_pipeline": "c", "mqtt_topic": "t"}], "routes b -> b form a cycle"),
])
def test_bad_routes_between_pipelines_are_refused(broker, names, route, message):
    with varpulis.LocalCluster(workers=1, mqtt_broker=f"127.0.0.1:{broker}") as cluster:
        with pytest.raises(varpulis.ApiError) as bad:
            cluster.coordinator.deploy_group("g", [{"name": n, "source": "stream S = A .emit(v: 1)"} for n in names],
                                             [{**r, "event_types": ["*"]} for r in (route if isinstance(route, list) else [route])])
        assert bad.value.status == 400 and message in str(bad.value)
        assert cluster.coordinator.groups()["total"] == 0


def test_a_broker_that_does_not_resolve_yet_is_retried_and_deleting_does_not_wait(varpulis_bin):
    worker = WorkerProcess(varpulis_bin)
    try:
        pid = worker.client.deploy("later", 'connector B = mqtt(host: "broker.invalid", port: 1883)\n'
                                            'stream S = A.from(B, topic: "t") .emit(v: 1) .to(B, topic: "out")')["id"]
        source = _wait_until(lambda: worker.connectors(pid)[("B", "source")]["last_error"] and worker.connectors(pid)[("B", "source")],
                             what="a connection error")
        assert not source["connected"] and "cannot reach the broker at broker.invalid:1883" in source["last_error"]
        start = time.monotonic()
        worker.client.delete(pid)
        assert time.monotonic() - start < 2
    finally:
        err = worker.stop()
    assert "cannot reach the broker at broker.invalid:1883" in err


def test_events_reach_a_subscriber_over_tls(tmp_path):
    files = make_tls_files(tmp_path)
    port = free_port()
    conf = tmp_path / "tls.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser {getpass.getuser()}\n"
                    f"cafile {files['ca.crt']}\ncertfile {files['server.crt']}\nkeyfile {files['server.key']}\n")
    broker_proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "--cafile", files["ca.crt"], "-t", "vp/tls",
                                "-q", "1", "-C", "1", "-W", "20"], stdout=subprocess.PIPE, text=True)
        engine = varpulis.Engine(f'''
connector Out = mqtt(host: "127.0.0.1", port: {port}, client_id: "vp-tls", qos: 1, ca_file: "{files['ca.crt']}")
stream S = Reading .emit(v: v) .to(Out, topic: "vp/tls")
''')
        try:
            # mosquitto_sub may not have subscribed yet: publish until it has its message.
            _wait_until(lambda: engine.process("Reading", {"v": 7}) and sub.poll() is not None, timeout=20,
                        what="a message over TLS")
        finally:
            if sub.poll() is None:
                sub.kill()
            out, _ = sub.communicate(timeout=10)
        del engine
    finally:
        broker_proc.terminate()
        broker_proc.wait(10)
    assert json.loads(out.splitlines()[0])["v"] == 7


def test_tls_parameters_are_checked_at_deploy(tmp_path):
    with pytest.raises(VplError, match="cert_file and key_file go together"):
        varpulis.Engine(f'connector O = mqtt(cert_file: "{tmp_path}/c.crt")\nstream S = A .emit(v: 1) .to(O, topic: "t")')
    with pytest.raises(VplError, match=r"cannot read its TLS files \(ca_file, cert_file, key_file\)"):
        varpulis.Engine(f'connector O = mqtt(ca_file: "{tmp_path}/missing.crt")\nstream S = A .emit(v: 1) .to(O, topic: "t")')


class PersistentBroker:
    """A mosquitto that saves its queues on a graceful stop, restartable on the same port."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.conf = tmp_path / "persistent.conf"
        # `user`: mosquitto started as root would otherwise drop to the user "mosquitto", which
        # cannot write its database into our temporary directory.
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {tmp_path}/\nmax_queued_messages 0\nuser {getpass.getuser()}\n")
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def session(self, client_id: str, topic: str, *args: str) -> list[str]:
        """mosquitto_sub on a persistent session: -E creates it, -C N -W S reads what it queued."""
        out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-q", "1", "-c",
                              "-i", client_id, *args], capture_output=True, text=True, timeout=60)
        return out.stdout.splitlines()


def post_event(url: str, pipeline_id: str, i: int) -> tuple[int, dict, dict]:
    """One inject straight over HTTP: status, body and headers, whatever the status."""
    import urllib.error
    import urllib.request
    request = urllib.request.Request(f"{url}/api/v1/pipelines/{pipeline_id}/events", method="POST",
                                     data=json.dumps({"event_type": "Reading", "fields": {"i": i}}).encode(),
                                     headers={"x-api-key": "k", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


OUTAGE_PROGRAM = '''
connector Out = mqtt(host: "127.0.0.1", port: {port}, client_id: "vp-outage-pub", qos: 1)
stream S = Reading .emit(i: i) .to(Out, topic: "vp/outage")
'''


def inject_until_acknowledged(worker: WorkerProcess, pid: str, i: int, answers: list) -> None:
    """Send event i until it answers 200, keeping every answer; bounded by a deadline."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body, headers = post_event(worker.url, pid, i)
        answers.append((i, status, body.get("code"), headers.get("Retry-After")))
        if status == 200:
            return
        time.sleep(0.02)  # the test's own pace; a client would wait Retry-After (1 s)
    raise AssertionError(f"event {i} was never acknowledged: {answers[-1]}")


def test_a_broker_outage_refuses_injects_and_loses_nothing_acknowledged(tmp_path, varpulis_bin):
    broker = PersistentBroker(tmp_path)
    worker = WorkerProcess(varpulis_bin)
    answers: list = []
    total = 600
    try:
        broker.session("vp-outage-sub", "vp/outage", "-E")
        pid = worker.client.deploy("outage", OUTAGE_PROGRAM.format(port=broker.port))["id"]
        _wait_until(lambda: worker.connectors(pid)[("Out", "sink")]["connected"], what="the sink to connect")
        restart = threading.Timer(1.5, broker.start)  # an outage of 1.5 s, injected into all along
        for i in range(total):
            if i == total // 3:
                broker.stop()
                restart.start()
            inject_until_acknowledged(worker, pid, i, answers)
        restart.join()
        _wait_until(lambda: worker.connectors(pid)[("Out", "sink")]["spooled"] == 0, what="the spool to empty")
        sink = worker.connectors(pid)[("Out", "sink")]
        metrics = urlopen_text(worker.url + "/metrics")
        received = broker.session("vp-outage-sub", "vp/outage", "-C", str(total), "-W", "30")
    finally:
        worker.stop()
        broker.stop()
    got = [json.loads(line)["i"] for line in received]
    missing = sorted(set(range(total)) - set(got))
    assert not missing, f"{len(missing)} acknowledged events never reached the subscriber: {missing[:10]}"
    refused = [a for a in answers if a[1] == 503]
    assert refused, "the outage never showed"
    assert {a[2] for a in refused} <= {"sink_unavailable", "not_acknowledged"}
    assert all(a[3] == "1" for a in refused), "every 503 says when to retry"
    assert sink["failures"] == 0, "nothing dropped"
    assert sink["messages"] >= total
    refused_metric = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                         if line.startswith("varpulis_inject_refused_total{") and pid in line)
    assert refused_metric == len(refused)


def test_a_stalled_broker_answers_not_acknowledged_then_delivers(tmp_path, varpulis_bin):
    broker = PersistentBroker(tmp_path)
    worker = WorkerProcess(varpulis_bin, "--delivery-timeout", "0.3")
    try:
        broker.session("vp-outage-sub", "vp/outage", "-E")
        pid = worker.client.deploy("stall", OUTAGE_PROGRAM.format(port=broker.port))["id"]
        _wait_until(lambda: worker.connectors(pid)[("Out", "sink")]["connected"], what="the sink to connect")
        assert post_event(worker.url, pid, 0)[0] == 200
        broker.proc.send_signal(signal.SIGSTOP)  # the connection stays up; nothing is acknowledged
        try:
            status, body, headers = post_event(worker.url, pid, 1)
            assert (status, body["code"], headers.get("Retry-After")) == (503, "not_acknowledged", "1"), body
            assert "sending the events again may deliver them twice" in body["error"]
            assert worker.connectors(pid)[("Out", "sink")]["spooled"] >= 1
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        _wait_until(lambda: worker.connectors(pid)[("Out", "sink")]["spooled"] == 0, what="the spool to empty")
        assert post_event(worker.url, pid, 2)[0] == 200
        received = broker.session("vp-outage-sub", "vp/outage", "-C", "3", "-W", "20")
        assert worker.client.metrics(pid)["not_acknowledged"] == 1
    finally:
        worker.stop()
        broker.stop()
    assert sorted(json.loads(line)["i"] for line in received) == [0, 1, 2]


def test_what_a_lost_broker_never_acknowledged_is_sent_again_to_the_next(tmp_path, varpulis_bin):
    broker = PersistentBroker(tmp_path)
    worker = WorkerProcess(varpulis_bin, "--delivery-timeout", "0.3")
    try:
        pid = worker.client.deploy("redeliver", OUTAGE_PROGRAM.format(port=broker.port))["id"]
        _wait_until(lambda: worker.connectors(pid)[("Out", "sink")]["connected"], what="the sink to connect")
        broker.proc.send_signal(signal.SIGSTOP)
        assert post_event(worker.url, pid, 7)[1]["code"] == "not_acknowledged"
        broker.proc.kill()  # the message dies unacknowledged with this broker
        broker.proc.wait(10)
        broker.start()
        # Subscribed before the sink's reconnect (1 s of backoff) sends its spool again.
        sub = Subscriber(broker.port, "vp/outage", 1, 1)
        got = sub.payloads()
        _wait_until(lambda: worker.connectors(pid)[("Out", "sink")]["spooled"] == 0, what="the spool to empty")
        sink = worker.connectors(pid)[("Out", "sink")]
        metrics = urlopen_text(worker.url + "/metrics")
    finally:
        worker.stop()
        broker.stop()
    assert [p["i"] for p in got] == [7]
    assert (sink["redelivered"], sink["messages"], sink["failures"]) == (1, 1, 0)
    redelivered = [line for line in metrics.splitlines() if line.startswith("varpulis_connector_redelivered_total{") and pid in line]
    assert [line.rsplit(" ", 1)[1] for line in redelivered] == ["1"], redelivered


def test_a_deploy_answers_running_once_its_subscription_is_acknowledged(tmp_path, varpulis_bin):
    port = free_port()
    worker = WorkerProcess(varpulis_bin)
    broker = None
    try:
        # No broker yet: the deploy waits (2 s), then says "connecting", and so does the pipeline.
        start = time.monotonic()
        deployed = worker.client.deploy("early", SOURCE_PROGRAM.format(port=port, tag="r"), wait_ready=0)
        assert deployed["status"] == "connecting" and time.monotonic() - start >= 1.9
        assert worker.client.pipeline(deployed["id"])["status"] == "connecting"
        broker = PersistentBroker.__new__(PersistentBroker)
        broker.port, broker.conf = port, tmp_path / "b.conf"
        broker.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        broker.start()
        _wait_until(lambda: worker.client.pipeline(deployed["id"])["status"] == "running", what="the subscription")
        # With the broker up, the answer itself is "running", and the first message after it arrives.
        second = worker.client.deploy("second", SOURCE_PROGRAM.format(port=port, tag="s"), wait_ready=0)
        assert second["status"] == "running"
        sub = Subscriber(port, "alerts/s", 1, 1)
        publish_lines(port, "sensors/x", [json.dumps({"sensor_id": "x", "temperature": 150})])
        assert [p["temperature"] for p in sub.payloads()] == [150]
    finally:
        worker.stop()
        if broker:
            broker.stop()
