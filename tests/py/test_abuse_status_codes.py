# SPDX-License-Identifier: Apache-2.0
"""Every JSON body is read by shape: a field of the wrong type is a 400 that names it, never a 500
with the JSON library's text, on the worker and on the coordinator."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from server_support import ServerProcess, raw_request

pytestmark = pytest.mark.integration

PROGRAM = "stream S = Reading .emit(v: v)"


def post(url: str, body, key: str | None = None, method: str = "POST") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    if key:
        req.add_header("x-api-key", key)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def assert_names_field(status: int, answer: dict, field: str) -> None:
    assert status == 400, (status, answer)
    assert answer["code"] == "invalid_request", answer
    assert f'"{field}"' in answer["error"], answer
    assert "json.exception" not in answer["error"] and "type_error" not in answer["error"]


@pytest.fixture(scope="module")
def worker(varpulis_bin):
    s = ServerProcess(varpulis_bin)
    yield s
    s.stop()


@pytest.mark.parametrize("body, field", [
    ({"name": 5, "source": PROGRAM}, "name"),
    ({"name": "p", "source": ["x"]}, "source"),
    ({"name": "p"}, "source"),
    ({"source": PROGRAM}, "name"),
    ({"name": "p", "source": PROGRAM, "routes": [1]}, "routes"),
])
def test_worker_deploy_fields(worker, body, field):
    assert_names_field(*post(worker.url + "/api/v1/pipelines", body, worker.key), field)


def test_worker_reload_and_restore_fields(worker):
    pid = worker.client().deploy("p", PROGRAM)["id"]
    base = f"{worker.url}/api/v1/pipelines/{pid}"
    assert_names_field(*post(base + "/reload", {"source": 7}, worker.key), "source")
    assert_names_field(*post(base + "/restore", {"snapshot": {}}, worker.key), "checkpoint")
    status, answer = post(base + "/reload", [1, 2], worker.key)
    assert status == 400 and "must be a JSON object" in answer["error"]


@pytest.fixture(scope="module")
def coordinator(varpulis_bin, tmp_path_factory):
    run = tmp_path_factory.mktemp("coord")
    log = open(run / "coordinator.log", "w")
    proc = subprocess.Popen([varpulis_bin, "coordinator", "--port", "0", "--api-key", "admin", "--join-token", "secret"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    url = None
    for _ in range(50):
        line = proc.stdout.readline()
        if "/api" in line and "127.0.0.1:" in line:
            url = "http://" + line.split("http://")[1].split("/api")[0]
            break
    assert url, "the coordinator did not print its address"
    yield url
    proc.terminate()
    proc.communicate(timeout=10)  # also closes the pipe


@pytest.mark.parametrize("body, field", [
    ({"worker_id": "w", "address": "http://127.0.0.1:1", "join_token": 12345}, "join_token"),
    ({"worker_id": "w", "address": "http://127.0.0.1:1", "join_token": "secret", "api_key": {"k": 1}}, "api_key"),
    ({"worker_id": 1, "address": "http://127.0.0.1:1"}, "worker_id"),
    ({"worker_id": "w"}, "address"),
    ({"worker_id": "w", "address": "http://127.0.0.1:1", "join_token": "secret", "capacity": {"max_pipelines": "9"}},
     "capacity.max_pipelines"),
    ({"worker_id": "w", "address": "http://127.0.0.1:1", "join_token": "secret", "capacity": {"max_pipelines": -1}},
     "capacity.max_pipelines"),
])
def test_unauthenticated_register_fields(coordinator, body, field):
    assert_names_field(*post(coordinator + "/api/v1/cluster/workers/register", body), field)


@pytest.mark.parametrize("body, field", [
    ({"name": "g", "pipelines": [{"name": "p", "source": PROGRAM}], "routes": [["from", "to"]]}, "routes[0]"),
    ({"name": "g", "pipelines": [{"name": "p", "source": PROGRAM}], "routes": [{"event_types": "*"}]},
     "routes[0].event_types"),
    ({"name": "g", "pipelines": [{"name": "p", "source": PROGRAM}], "routes": [{"event_types": [1]}]},
     "routes[0].event_types"),
    ({"name": "g", "pipelines": [{"name": "p", "source": PROGRAM}], "routes": {"a": 1}}, "routes"),
    ({"name": "g", "pipelines": [{"name": "p", "source": 3}]}, "pipelines[0].source"),
    ({"name": "g", "pipelines": ["p"]}, "pipelines[0]"),
    ({"name": "g", "pipelines": [{"name": "p", "source": PROGRAM, "worker_affinity": 2}]}, "pipelines[0].worker_affinity"),
    ({"name": "g", "pipelines": [{"name": "p", "source": PROGRAM}], "placement": 1}, "placement"),
    ({"name": ["g"], "pipelines": []}, "name"),
    ({"name": "g", "pipelines": []}, "pipelines"),
])
def test_group_deploy_fields(coordinator, body, field):
    assert_names_field(*post(coordinator + "/api/v1/cluster/pipeline-groups", body, "admin"), field)


def test_no_body_shape_answers_500(worker, coordinator):
    # Every JSON type in every field of every body above: nothing may answer 5xx.
    values = [None, 0, -1, 1.5, "", "x", [], [[]], {}, {"a": {}}, True]
    targets = [(worker.url + "/api/v1/pipelines", ["name", "source", "routes"], worker.key),
               (coordinator + "/api/v1/cluster/workers/register", ["worker_id", "address", "api_key", "join_token", "capacity"], None),
               (coordinator + "/api/v1/cluster/pipeline-groups", ["name", "pipelines", "routes", "placement"], "admin")]
    for url, fields, key in targets:
        for field in fields:
            for v in values:
                status, answer = post(url, {field: v}, key)
                assert status < 500, (url, field, v, status, answer)


@pytest.mark.parametrize("path", ["/api/v1/pipelines", "/api/v1/pipelines/x/events-batch"])
def test_a_body_over_its_limit_is_answered_413_not_reset(worker, path):
    # The body is refused from its Content-Length, before it is read. Closing at once reset the
    # connection under the client still sending it: a broken pipe instead of the 413.
    body = b"x" * (20 << 20)
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nx-api-key: {worker.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    answer = raw_request(worker.port, head + body, timeout=10)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"payload_too_large"' in answer
