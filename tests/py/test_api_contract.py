# SPDX-License-Identifier: Apache-2.0
"""The live servers against their REST contracts, api/worker.openapi.json and api/coordinator.openapi.json.

A real worker and a real coordinator (with a registered worker) answer every operation of both
specs: valid requests and the errors that are cheap to provoke. Each answer must have a status
the spec documents for the operation, a documented content type, the documented headers and a
body that validates against the schema of that status. At the end, every operation must have
been answered with a success at least once.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import jsonschema
import openapi_spec_validator
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKER_KEY, COORDINATOR_KEY, JOIN_TOKEN = "contract-worker-key", "contract-admin-key", "contract-join-token"
BANNER = re.compile(r"API:\s+http://127\.0\.0\.1:(\d+)/api/v1/")
AUTH_KINDS = {"none", "api_key", "join_token", "worker_token", "api_key_or_worker_token"}
# The security each x-varpulis-auth kind must declare (None: the document's default, the API key).
AUTH_SECURITY: dict[str, Optional[list]] = {"none": [], "join_token": [], "worker_token": [{"WorkerToken": []}], "api_key": None,
                                            "api_key_or_worker_token": [{"ApiKey": []}, {"WorkerToken": []}]}
# OpenAPI keywords that are not JSON Schema validation (dropped when converting).
NOT_VALIDATION = {"nullable", "example", "examples", "description", "discriminator", "readOnly", "writeOnly", "xml",
                  "externalDocs", "deprecated", "title"}
ALERTS = ('stream TempAlerts = TemperatureReading .where(temperature > 100) '
          '.emit(alert_type: "HIGH_TEMP", sensor_id: sensor_id, temperature: temperature)')
HOT = {"event_type": "TemperatureReading", "fields": {"sensor_id": "T1", "temperature": 105.5}}
PIPELINE_A = 'stream A = EventA .emit(result: "from-a")'
PIPELINE_B = 'stream B = EventB .emit(result: "from-b")'
BAD_VPL = "stream X = "
UNSET: Any = object()

# The path templates and methods of each API, as the C++ route tables spell them.
WORKER_OPERATIONS = {
    ("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/api/v1/usage"),
    ("GET", "/api/v1/pipelines"), ("POST", "/api/v1/pipelines"),
    ("GET", "/api/v1/pipelines/{id}"), ("DELETE", "/api/v1/pipelines/{id}"),
    ("POST", "/api/v1/pipelines/{id}/events"), ("POST", "/api/v1/pipelines/{id}/events-batch"),
    ("POST", "/api/v1/pipelines/{id}/events-each"), ("POST", "/api/v1/pipelines/{id}/reload"),
    ("POST", "/api/v1/pipelines/{id}/checkpoint"), ("POST", "/api/v1/pipelines/{id}/restore"),
    ("GET", "/api/v1/pipelines/{id}/metrics"), ("GET", "/api/v1/pipelines/{id}/logs"),
}
COORDINATOR_OPERATIONS = {
    ("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/api/v1/cluster/topology"),
    ("GET", "/api/v1/cluster/workers"), ("POST", "/api/v1/cluster/workers/register"),
    ("GET", "/api/v1/cluster/workers/{id}"), ("DELETE", "/api/v1/cluster/workers/{id}"),
    ("POST", "/api/v1/cluster/workers/{id}/heartbeat"), ("POST", "/api/v1/cluster/workers/{id}/drain"),
    ("GET", "/api/v1/cluster/pipeline-groups"), ("POST", "/api/v1/cluster/pipeline-groups"),
    ("GET", "/api/v1/cluster/pipeline-groups/{id}"), ("DELETE", "/api/v1/cluster/pipeline-groups/{id}"),
    ("POST", "/api/v1/cluster/pipeline-groups/{id}/inject"), ("POST", "/api/v1/cluster/pipeline-groups/{id}/inject-batch"),
}


# ---------------------------------------------------------------------------------------------
# The contract: a spec, its schemas as JSON Schema, and what the tests called.


class Contract:
    """One OpenAPI document, with the operations the tests called and those answered 2xx."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.spec: dict[str, Any] = json.loads(path.read_text())
        self.called: set[tuple[str, str]] = set()
        self.succeeded: set[tuple[str, str]] = set()

    def operations(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(method.upper(), template): op
                for template, item in self.spec["paths"].items()
                for method, op in item.items() if method != "parameters"}

    def methods(self, template: str) -> set[str]:
        return {method.upper() for method in self.spec["paths"][template] if method != "parameters"}

    def resolve(self, node: Any) -> Any:
        """Follow a local $ref ("#/components/...") to what it names."""
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def json_schema(self, schema: Any) -> Any:
        """An OpenAPI 3.0 schema as JSON Schema draft 4: $refs inlined, `nullable` as a null type."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in NOT_VALIDATION or key.startswith("x-"):
                continue
            if key == "properties":
                out[key] = {name: self.json_schema(s) for name, s in value.items()}
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [self.json_schema(s) for s in value]
            elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
                out[key] = self.json_schema(value)
            else:
                out[key] = value
        return {"anyOf": [out, {"type": "null"}]} if schema.get("nullable") else out

    def validate(self, instance: Any, schema: Any, what: str) -> None:
        validator = jsonschema.Draft4Validator(self.json_schema(schema), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{what}: {errors[0].message} at {list(errors[0].path)} in {json.dumps(instance)[:600]}"

    def response(self, method: str, template: str, status: int) -> Optional[dict[str, Any]]:
        documented = self.operations()[(method, template)]["responses"].get(str(status))
        return self.resolve(documented) if documented else None

    def unrouted(self, status: int) -> Optional[dict[str, Any]]:
        documented = self.spec["x-varpulis-unrouted"].get(str(status))
        return self.resolve(documented) if documented else None


WORKER = Contract(ROOT / "api" / "worker.openapi.json")
COORDINATOR = Contract(ROOT / "api" / "coordinator.openapi.json")
CONTRACTS = {"worker": WORKER, "coordinator": COORDINATOR}


# ---------------------------------------------------------------------------------------------
# HTTP, and the check of an answer against the contract.


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(port: int, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict[str, str]] = None,
         timeout: float = 10.0) -> Answer:
    """One request on a new loopback connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def media_type(contract: Contract, documented: dict[str, Any], content_type: str) -> tuple[str, dict[str, Any]]:
    """The documented media type an answer's Content-Type matches: same type, and every parameter
    the spec spells (Prometheus' `version=0.0.4`) present."""
    essence, *params = [p.strip() for p in content_type.split(";")]
    for key, media in documented.get("content", {}).items():
        key_essence, *key_params = [p.strip() for p in key.split(";")]
        if key_essence == essence and set(key_params) <= set(params):
            return essence, media
    raise AssertionError(f"{contract.path.name}: content type {content_type!r} is not one of {list(documented.get('content', {}))}")


PROMETHEUS_LINE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (\S+)")


def check_prometheus(text: str) -> None:
    for line in text.splitlines():
        if not line or line.startswith(("# HELP ", "# TYPE ")):
            continue
        match = PROMETHEUS_LINE.fullmatch(line)
        assert match, f"not a Prometheus sample: {line!r}"
        float(match.group(2))  # a number, +Inf or NaN


def check_body(contract: Contract, answer: Answer, essence: str, media: dict[str, Any], what: str) -> None:
    schema = media.get("schema", {})
    if essence == "application/json":
        contract.validate(answer.json(), schema, what)
    elif essence == "application/x-ndjson":
        lines = answer.body.decode().splitlines()
        assert lines, f"{what}: an empty JSON-lines answer"
        for n, line in enumerate(lines):
            contract.validate(json.loads(line), schema, f"{what}, line {n + 1}")
    elif essence == "text/plain":
        check_prometheus(answer.body.decode())
    else:
        raise AssertionError(f"{what}: no body check for {essence}")


def check_answer(contract: Contract, documented: Optional[dict[str, Any]], answer: Answer, what: str) -> None:
    """The answer's status is documented, and its headers, content type and body are as documented."""
    assert documented is not None, f"{what} answered {answer.status}, which {contract.path.name} does not document: {answer.body[:300]!r}"
    for name, header in documented.get("headers", {}).items():
        if contract.resolve(header).get("required"):
            assert answer.headers.get(name), f"{what}: no {name} header"
    if not documented.get("content"):
        assert not answer.body, f"{what}: a body where the spec documents none"
        return
    essence, media = media_type(contract, documented, answer.headers.get("Content-Type", ""))
    check_body(contract, answer, essence, media, what)


class Api:
    """Calls to one server, each checked against its contract and counted for the coverage check."""

    def __init__(self, contract: Contract, port: int, key: str) -> None:
        self.contract, self.port, self.key = contract, port, key

    def headers(self, key: Optional[str], content_type: Optional[str], extra: Optional[dict[str, str]]) -> dict[str, str]:
        out = {"x-api-key": key} if key else {}
        if content_type:
            out["Content-Type"] = content_type
        return out | (extra or {})

    def check_request(self, op: dict[str, Any], body: Any, raw: Optional[bytes], what: str) -> None:
        """A request the test means as valid must validate against the spec's request schema."""
        content = op.get("requestBody", {}).get("content", {})
        if body is not UNSET:
            self.contract.validate(body, content["application/json"]["schema"], f"{what} request")
        elif raw is not None and "application/x-ndjson" in content:
            for line in raw.decode().splitlines():
                self.contract.validate(json.loads(line), content["application/x-ndjson"]["schema"], f"{what} request line")

    def call(self, method: str, template: str, id: Optional[str] = None, *, body: Any = UNSET, raw: Optional[bytes] = None,
             query: str = "", key: Any = UNSET, headers: Optional[dict[str, str]] = None, expect: Optional[int] = None,
             valid: bool = True) -> Answer:
        """Call an operation of the spec (`template` with `{id}` filled in) and check the answer.
        `valid=False` marks a request meant to be refused (its body is not checked against the spec)."""
        op = self.contract.operations().get((method, template))
        assert op is not None, f"{method} {template} is not an operation of {self.contract.path.name}"
        path = template.replace("{id}", urllib.parse.quote(id or "", safe="")) + query
        what = f"{method} {path}"
        if valid:
            self.check_request(op, body, raw, what)
        data = json.dumps(body).encode() if body is not UNSET else raw
        content_type = "application/json" if body is not UNSET else ("application/x-ndjson" if raw is not None else None)
        answer = send(self.port, method, path, data, self.headers(self.key if key is UNSET else key, content_type, headers))
        self.contract.called.add((method, template))
        check_answer(self.contract, self.contract.response(method, template, answer.status), answer, what)
        if 200 <= answer.status < 300:
            self.contract.succeeded.add((method, template))
        if expect is not None:
            assert answer.status == expect, f"{what}: {answer.status} {answer.body[:500]!r}, expected {expect}"
        return answer

    def error(self, method: str, template: str, id: Optional[str], status: int, code: str, **kw: Any) -> dict[str, Any]:
        """Call and expect an error answer of this status and code."""
        answer = self.call(method, template, id, expect=status, **kw)
        error = answer.json()
        assert error["code"] == code, f"{method} {template}: code {error['code']}, expected {code}: {error}"
        return error

    def unrouted(self, method: str, path: str, expect: int, key: Any = UNSET) -> Answer:
        """A request no operation takes (unknown route, other method): checked against x-varpulis-unrouted."""
        answer = send(self.port, method, path, None, self.headers(self.key if key is UNSET else key, None, None))
        assert answer.status == expect, f"{method} {path}: {answer.status} {answer.body!r}, expected {expect}"
        check_answer(self.contract, self.contract.unrouted(answer.status), answer, f"{method} {path}")
        return answer


# ---------------------------------------------------------------------------------------------
# Processes.


class Process:
    """A `varpulis` child process on a free loopback port: its stdout and stderr go to files,
    read for the banner's port (a pipe nobody drains could block it)."""

    def __init__(self, binary: str, args: list[str], log: Path, wait_until: Callable[..., Any]) -> None:
        self.out, self.err = log.with_suffix(".out"), log.with_suffix(".err")
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([binary, *args], stdout=out, stderr=err)
        try:
            self.port: int = wait_until(self.banner_port, timeout=15, what=f"the banner of {args[0]}", explain=self.logs)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def banner_port(self) -> Optional[int]:
        assert self.proc.poll() is None, f"exited with {self.proc.returncode}: {self.logs()}"
        match = BANNER.search(self.out.read_text())
        return int(match.group(1)) if match else None

    def logs(self) -> str:
        return self.out.read_text()[-2000:] + self.err.read_text()[-2000:]

    def stop(self) -> None:
        """SIGTERM to this process (by its pid), SIGKILL if it has not exited after 10 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def processes() -> Iterator[list[Process]]:
    """Every process the module starts, stopped at its end (also when a test failed midway)."""
    started: list[Process] = []
    yield started
    for proc in reversed(started):
        proc.stop()


@pytest.fixture(scope="module")
def start(varpulis_bin: str, tmp_path_factory: pytest.TempPathFactory, wait_until: Callable[..., Any],
          processes: list[Process]) -> Callable[..., Process]:
    folder = tmp_path_factory.mktemp("contract")

    def start_process(name: str, *args: str) -> Process:
        proc = Process(varpulis_bin, list(args), folder / name, wait_until)
        processes.append(proc)
        return proc

    return start_process


@pytest.fixture(scope="module")
def worker(start: Callable[..., Process]) -> Api:
    proc = start("worker", "server", "--port", "0", "--api-key", WORKER_KEY)
    return Api(WORKER, proc.port, WORKER_KEY)


@dataclass
class Cluster:
    api: Api
    worker: Process  # the registered worker, "worker-0"


@pytest.fixture(scope="module")
def cluster(start: Callable[..., Process], wait_until: Callable[..., Any]) -> Cluster:
    # A short heartbeat interval: the worker is registered within a few hundred milliseconds.
    coordinator = start("coordinator", "coordinator", "--port", "0", "--api-key", COORDINATOR_KEY, "--join-token", JOIN_TOKEN,
                        "--heartbeat-interval", "0.2", "--heartbeat-timeout", "10")
    node = start("worker-0", "server", "--port", "0", "--api-key", WORKER_KEY, "--coordinator", coordinator.url,
                 "--worker-id", "worker-0", "--join-token", JOIN_TOKEN)

    def registered() -> bool:
        answer = send(coordinator.port, "GET", "/api/v1/cluster/workers/worker-0", headers={"x-api-key": COORDINATOR_KEY})
        return answer.status == 200 and answer.json()["status"] == "ready"

    wait_until(registered, timeout=15, what="worker-0 to register", explain=node.logs)
    return Cluster(Api(COORDINATOR, coordinator.port, COORDINATOR_KEY), node)


@pytest.fixture(scope="module")
def pipeline(worker: Api) -> str:
    """A pipeline deployed for the tests that need one."""
    return worker.call("POST", "/api/v1/pipelines", body={"name": "temp-alerts", "source": ALERTS}, expect=201).json()["id"]


# ---------------------------------------------------------------------------------------------
# The specs themselves.


@pytest.mark.parametrize("name", CONTRACTS)
def test_spec_is_valid_openapi_3_0(name: str) -> None:
    contract = CONTRACTS[name]
    assert contract.spec["openapi"] == "3.0.3"
    openapi_spec_validator.validate(contract.spec)


@pytest.mark.parametrize("name, expected", [("worker", WORKER_OPERATIONS), ("coordinator", COORDINATOR_OPERATIONS)])
def test_spec_paths_are_the_route_tables(name: str, expected: set[tuple[str, str]]) -> None:
    contract = CONTRACTS[name]
    assert set(contract.operations()) == expected
    for template in contract.spec["paths"]:
        assert re.findall(r"\{[^}]*\}", template) in ([], ["{id}"]), template


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_operation_says_how_it_authenticates(name: str) -> None:
    contract = CONTRACTS[name]
    assert contract.spec["security"] == [{"ApiKey": []}]
    for (method, template), op in contract.operations().items():
        auth = op.get("x-varpulis-auth")
        assert auth in AUTH_KINDS, f"{method} {template}: x-varpulis-auth {auth!r}"
        assert op.get("security") == AUTH_SECURITY[auth], f"{method} {template}: security does not match {auth}"
        assert ("401" in op["responses"]) == (auth != "none"), f"{method} {template}: 401 documented iff authenticated"


def error_based(contract: Contract, schema: Any) -> bool:
    """True when every alternative of `schema` is (or extends) components/schemas/Error."""
    if isinstance(schema, dict) and schema.get("$ref") == "#/components/schemas/Error":
        return True
    schema = contract.resolve(schema)
    if "allOf" in schema:
        return any(error_based(contract, s) for s in schema["allOf"])
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    return bool(alternatives) and all(error_based(contract, s) for s in alternatives)


@pytest.mark.parametrize("name", CONTRACTS)
def test_error_answers_are_the_error_body(name: str) -> None:
    contract = CONTRACTS[name]
    documented = [(f"{m} {t} {s}", r) for (m, t), op in contract.operations().items() for s, r in op["responses"].items()]
    documented += [(f"unrouted {s}", r) for s, r in contract.spec["x-varpulis-unrouted"].items()]
    for what, response in documented:
        status = int(what.rsplit(" ", 1)[1])
        if status < 400 or what == "GET /ready 503":  # /ready's 503 is a probe answer, not an error
            continue
        content = contract.resolve(response)["content"]
        assert list(content) == ["application/json"], what
        assert error_based(contract, content["application/json"]["schema"]), f"{what}: not an Error body"


def examples(contract: Contract) -> Iterator[tuple[str, Any, Any]]:
    """(where, example, schema) for every example in the document."""
    for name, schema in contract.spec["components"]["schemas"].items():
        if "example" in schema:
            yield f"schemas/{name}", schema["example"], schema
    responses = [r for op in contract.operations().values() for r in op["responses"].values()]
    responses += list(contract.spec["components"]["responses"].values()) + list(contract.spec["x-varpulis-unrouted"].values())
    for response in responses:
        for media in contract.resolve(response).get("content", {}).values():
            if "example" in media:
                yield "a response", media["example"], media["schema"]


@pytest.mark.parametrize("name", CONTRACTS)
def test_examples_validate_against_their_schemas(name: str) -> None:
    contract = CONTRACTS[name]
    found = list(examples(contract))
    assert found
    for where, example, schema in found:
        contract.validate(example, schema, f"{name} example {where}")


# ---------------------------------------------------------------------------------------------
# The worker.


def test_worker_probes(worker: Api) -> None:
    assert worker.call("GET", "/health", key=None, expect=200).json()["status"] == "healthy"
    assert worker.call("GET", "/ready", key=None, expect=200).json()["status"] == "ready"
    assert b"varpulis_uptime_seconds" in worker.call("GET", "/metrics", key=None, expect=200).body


def test_worker_not_ready_until_registered(start: Callable[..., Process], free_port: Callable[[], int]) -> None:
    # A coordinator address nobody listens on: registration fails, and /ready says so.
    proc = start("unregistered", "server", "--port", "0", "--api-key", WORKER_KEY, "--coordinator", f"http://127.0.0.1:{free_port()}")
    try:
        answer = Api(WORKER, proc.port, WORKER_KEY).call("GET", "/ready", key=None, expect=503)
        assert answer.json()["status"] == "not_ready"
    finally:
        proc.stop()


def test_worker_deploy_list_get_usage(worker: Api, pipeline: str) -> None:
    listed = worker.call("GET", "/api/v1/pipelines", query="?limit=10&offset=0", expect=200).json()
    assert pipeline in [p["id"] for p in listed["pipelines"]]
    assert worker.call("GET", "/api/v1/pipelines/{id}", pipeline, expect=200).json()["source"] == ALERTS
    worker.call("GET", "/api/v1/usage", expect=200)


def test_worker_injects(worker: Api, pipeline: str) -> None:
    out = worker.call("POST", "/api/v1/pipelines/{id}/events", pipeline, body=HOT, expect=200).json()
    assert out["output_events"][0]["alert_type"] == "HIGH_TEMP"
    capped = worker.call("POST", "/api/v1/pipelines/{id}/events", pipeline, body=HOT | {"max_output_events": 0}, expect=200).json()
    assert (capped["output_events"], capped["output_events_truncated"], capped["output_count"]) == ([], True, 1)
    batch = {"events": [HOT, {"event_type": "TemperatureReading", "fields": {"temperature": 3}, "timestamp": 1_000_000_000}]}
    assert worker.call("POST", "/api/v1/pipelines/{id}/events-batch", pipeline, body=batch, expect=200).json()["accepted"] == 2
    # A refused event is reported by index: the request as a whole is still valid JSON.
    refused = worker.call("POST", "/api/v1/pipelines/{id}/events-batch", pipeline, body={"events": [HOT, {"fields": {}}]},
                          valid=False, expect=200).json()
    assert [(e["index"], e["code"]) for e in refused["errors"]] == [(1, "invalid_event")]


def test_worker_events_each(worker: Api, pipeline: str) -> None:
    lines = (json.dumps(HOT) + "\n" + json.dumps({"event_type": "TemperatureReading", "fields": {"temperature": 1}}) + "\n").encode()
    answer = worker.call("POST", "/api/v1/pipelines/{id}/events-each", pipeline, raw=lines, expect=200)
    assert [json.loads(line)["status"] for line in answer.body.splitlines()] == [200, 200]
    # A bad line is answered on its own line, as POST .../events would have answered it.
    mixed = worker.call("POST", "/api/v1/pipelines/{id}/events-each", pipeline, raw=lines + b"{bad\n", valid=False, expect=200)
    last = json.loads(mixed.body.splitlines()[-1])
    assert (last["status"], last["response"]["code"]) == (400, "invalid_json")


def test_worker_metrics_checkpoint_restore(worker: Api, pipeline: str) -> None:
    metrics = worker.call("GET", "/api/v1/pipelines/{id}/metrics", pipeline, expect=200).json()
    assert metrics["pipeline_id"] == pipeline
    checkpoint = worker.call("POST", "/api/v1/pipelines/{id}/checkpoint", pipeline, expect=200).json()["checkpoint"]
    restored = worker.call("POST", "/api/v1/pipelines/{id}/restore", pipeline, body={"checkpoint": checkpoint}, expect=200)
    assert restored.json() == {"pipeline_id": pipeline, "restored": True}


def test_worker_reload_and_delete(worker: Api) -> None:
    pid = worker.call("POST", "/api/v1/pipelines", body={"name": "doomed", "source": PIPELINE_A}, expect=201).json()["id"]
    assert worker.call("POST", "/api/v1/pipelines/{id}/reload", pid, body={"source": PIPELINE_B}, expect=200).json()["id"] == pid
    assert worker.call("DELETE", "/api/v1/pipelines/{id}", pid, expect=200).json() == {"deleted": True}
    worker.error("GET", "/api/v1/pipelines/{id}", pid, 404, "pipeline_not_found")


def read_sse_data(response: http.client.HTTPResponse, deadline: float) -> str:
    """The first `data:` field of a Server-Sent Events stream (the socket timeout bounds each read)."""
    while time.monotonic() < deadline:
        line = response.readline()
        assert line, "the stream ended before any data"
        if line.startswith(b"data:"):
            return line[len(b"data:"):].strip().decode()
    raise AssertionError("no data: line before the deadline")


def test_worker_logs_stream(worker: Api, pipeline: str) -> None:
    template = "/api/v1/pipelines/{id}/logs"
    conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=5)
    try:
        conn.request("GET", template.replace("{id}", pipeline), headers={"x-api-key": WORKER_KEY})
        response = conn.getresponse()  # the headers are sent once the stream is subscribed
        WORKER.called.add(("GET", template))
        documented = WORKER.response("GET", template, response.status)
        assert documented is not None and response.status == 200, response.status
        _, media = media_type(WORKER, documented, response.headers.get("Content-Type", ""))
        worker.call("POST", "/api/v1/pipelines/{id}/events", pipeline, body=HOT, expect=200)
        event = json.loads(read_sse_data(response, time.monotonic() + 5))
        WORKER.validate(event, media["schema"], "logs data")
        assert (event["event_type"], event["data"]["sensor_id"]) == ("TempAlerts", "T1")
        WORKER.succeeded.add(("GET", template))
    finally:
        conn.close()


def test_worker_bad_requests(worker: Api, pipeline: str) -> None:
    deploy = ("POST", "/api/v1/pipelines", None)
    worker.error(*deploy, 400, "invalid_json", raw=b"{bad", valid=False)
    worker.error(*deploy, 400, "invalid_request", body={"name": "no-source"}, valid=False)
    error = worker.error(*deploy, 400, "parse_error", body={"name": "bad", "source": BAD_VPL})
    assert (error["line"], error["column"]) == (1, 12)
    worker.error("GET", "/api/v1/pipelines", None, 400, "invalid_query", query="?limit=x")
    worker.error("GET", "/api/v1/pipelines", None, 400, "invalid_limit", query="?limit=2000")
    events = ("POST", "/api/v1/pipelines/{id}/events", pipeline)
    worker.error(*events, 400, "invalid_json", raw=b'{"event_type": "A",', valid=False)
    worker.error(*events, 400, "invalid_event", body={"fields": {}}, valid=False)
    worker.error(*events, 400, "invalid_request", body=HOT | {"max_output_events": -1}, valid=False)
    worker.error("POST", "/api/v1/pipelines/{id}/events-batch", pipeline, 400, "invalid_request", body={"evts": []}, valid=False)
    worker.error("POST", "/api/v1/pipelines/{id}/events-batch", pipeline, 400, "invalid_json", raw=b"[", valid=False)
    worker.error("POST", "/api/v1/pipelines/{id}/events-each", pipeline, 400, "invalid_request", raw=b"", valid=False)
    reload = ("POST", "/api/v1/pipelines/{id}/reload", pipeline)
    worker.error(*reload, 400, "parse_error", body={"source": BAD_VPL})
    worker.error(*reload, 400, "invalid_request", body={}, valid=False)
    restore = ("POST", "/api/v1/pipelines/{id}/restore", pipeline)
    worker.error(*restore, 400, "invalid_request", body={}, valid=False)
    worker.error(*restore, 400, "invalid_checkpoint", body={"checkpoint": {"not": "a checkpoint"}})
    worker.error(*events, 413, "payload_too_large", raw=b'{"event_type": "A", "pad": "' + b"x" * (1 << 20) + b'"}', valid=False)


@pytest.mark.xfail(strict=True, reason="decisions.md §2: an invalid_json message says what and where; the batch parser "
                                        "(simdjson) says what only, where single injects, deploys and restores give line and column")
def test_worker_batch_invalid_json_says_where(worker: Api, pipeline: str) -> None:
    error = worker.error("POST", "/api/v1/pipelines/{id}/events-batch", pipeline, 400, "invalid_json", raw=b'{"events": [1,', valid=False)
    assert re.search(r"line \d+, column \d+", error["error"]), error["error"]


def valid_body(contract: Contract, method: str, template: str) -> dict[str, Any]:
    """A request body the operation accepts (for calls whose answer does not depend on it)."""
    bodies = {"/events": HOT, "/events-batch": {"events": [HOT]}, "/reload": {"source": ALERTS}, "/restore": {"checkpoint": {}},
              "/inject": HOT, "/inject-batch": {"events": [HOT]}, "/heartbeat": {"events_processed": 0},
              "/api/v1/pipelines": {"name": "p", "source": ALERTS}, "/pipeline-groups": group_spec("g")}
    if method != "POST" or "requestBody" not in contract.operations()[(method, template)]:
        return {}
    if template.endswith("/events-each"):
        return {"raw": (json.dumps(HOT) + "\n").encode()}
    return {"body": next(b for suffix, b in bodies.items() if template.endswith(suffix))}


def test_worker_unknown_pipeline_is_404_on_every_operation(worker: Api) -> None:
    for method, template in WORKER.operations():
        if "{id}" in template:
            worker.error(method, template, "no-such-pipeline", 404, "pipeline_not_found", **valid_body(WORKER, method, template))


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_worker_key_is_required(worker: Api, pipeline: str, key: Optional[str]) -> None:
    for (method, template), op in WORKER.operations().items():
        if op["x-varpulis-auth"] == "api_key":
            worker.error(method, template, pipeline, 401, "unauthorized", key=key, **valid_body(WORKER, method, template))


def test_worker_other_methods_are_405_with_allow(worker: Api, pipeline: str) -> None:
    for template in WORKER.spec["paths"]:
        answer = worker.unrouted("PUT", template.replace("{id}", pipeline), 405)
        assert set(answer.headers["Allow"].split(", ")) == WORKER.methods(template), template


def test_worker_unknown_routes_are_404(worker: Api, pipeline: str) -> None:
    worker.unrouted("GET", "/api/v1/nope", 404)
    worker.unrouted("GET", f"/api/v1/pipelines/{pipeline}/nope", 404)
    worker.unrouted("GET", "/nope", 404, key=None)
    # Under /api/v1/ the key comes first: without it even an unknown route is 401.
    assert send(worker.port, "GET", "/api/v1/nope").status == 401


# ---------------------------------------------------------------------------------------------
# The coordinator.


def group_spec(name: str, affinity: str = "worker-0") -> dict[str, Any]:
    """A two-pipeline group pinned to one worker (tests register other workers, which round-robin could pick)."""
    return {
        "name": name,
        "pipelines": [{"name": "pipeline-a", "source": PIPELINE_A, "worker_affinity": affinity},
                      {"name": "pipeline-b", "source": PIPELINE_B, "worker_affinity": affinity}],
        "routes": [{"from_pipeline": "_external", "to_pipeline": "pipeline-a", "event_types": ["EventA*"]},
                   {"from_pipeline": "_external", "to_pipeline": "pipeline-b", "event_types": ["EventB*"]}],
    }


def register(api: Api, worker_id: str, address: str, heartbeat_token: Optional[str] = None, **kw: Any) -> Answer:
    body = {"worker_id": worker_id, "address": address, "api_key": WORKER_KEY, "join_token": JOIN_TOKEN,
            "capacity": {"cpu_cores": 1, "pipelines_running": 0, "max_pipelines": 10}}
    if heartbeat_token:
        body["heartbeat_token"] = heartbeat_token
    # Registration takes no API key: the join token in the body is the credential.
    return api.call("POST", "/api/v1/cluster/workers/register", body=body, key=None, **kw)


@pytest.fixture(scope="module")
def group(cluster: Cluster) -> str:
    answer = cluster.api.call("POST", "/api/v1/cluster/pipeline-groups", body=group_spec("contract-group"), expect=201)
    return answer.json()["id"]


def test_coordinator_probes(cluster: Cluster) -> None:
    api = cluster.api
    assert api.call("GET", "/health", key=None, expect=200).json()["role"] == "coordinator"
    api.call("GET", "/ready", key=None, expect=200)
    assert b"varpulis_cluster_workers" in api.call("GET", "/metrics", key=None, expect=200).body


def test_coordinator_workers(cluster: Cluster) -> None:
    api = cluster.api
    assert "worker-0" in [w["id"] for w in api.call("GET", "/api/v1/cluster/workers", expect=200).json()["workers"]]
    assert api.call("GET", "/api/v1/cluster/workers/{id}", "worker-0", expect=200).json()["address"] == cluster.worker.url
    api.error("GET", "/api/v1/cluster/workers/{id}", "nope", 404, "worker_not_found")
    api.error("DELETE", "/api/v1/cluster/workers/{id}", "nope", 404, "worker_not_found")
    api.error("POST", "/api/v1/cluster/workers/{id}/drain", "nope", 404, "worker_not_found")


def test_coordinator_worker_life(cluster: Cluster) -> None:
    api, fake = cluster.api, "contract-fake"
    token = register(api, fake, cluster.worker.url, expect=200).json()["heartbeat_token"]
    heartbeat = ("POST", "/api/v1/cluster/workers/{id}/heartbeat", fake)
    beat = {"events_processed": 0, "pipelines_running": 0, "connectors": {"total": 0, "connected": 0}}
    api.call(*heartbeat, body=beat, key=None, headers={"x-worker-token": token}, expect=200)
    api.error(*heartbeat, 401, "invalid_worker_token", body=beat, key=None, headers={"x-worker-token": "forged"})
    api.error("POST", "/api/v1/cluster/workers/{id}/heartbeat", "nobody", 404, "worker_not_found", body=beat, key=None)
    assert api.call("POST", "/api/v1/cluster/workers/{id}/drain", fake, expect=200).json()["status"] == "draining"
    assert api.call("DELETE", "/api/v1/cluster/workers/{id}", fake, expect=200).json() == {"deleted": True}
    api.error(*heartbeat, 404, "worker_deregistered", body=beat, key=None, headers={"x-worker-token": token})


def test_coordinator_registration_errors(cluster: Cluster) -> None:
    api, path = cluster.api, "/api/v1/cluster/workers/register"
    forged = {"worker_id": "x", "address": "http://127.0.0.1:1", "join_token": "wrong"}
    api.error("POST", path, None, 401, "invalid_join_token", body=forged, key=None)
    api.error("POST", path, None, 400, "invalid_request", body={"worker_id": "x"}, key=None, valid=False)
    api.error("POST", path, None, 400, "invalid_json", raw=b"{bad", key=None, valid=False)


def test_coordinator_groups(cluster: Cluster, group: str) -> None:
    api = cluster.api
    assert group in [g["id"] for g in api.call("GET", "/api/v1/cluster/pipeline-groups", expect=200).json()["groups"]]
    assert api.call("GET", "/api/v1/cluster/pipeline-groups/{id}", group, expect=200).json()["status"] == "running"
    topology = api.call("GET", "/api/v1/cluster/topology", expect=200).json()
    assert group in [g["group_id"] for g in topology["groups"]]


def test_coordinator_injects(cluster: Cluster, group: str) -> None:
    api = cluster.api
    event = {"event_type": "EventB", "fields": {"y": 1}}
    routed = api.call("POST", "/api/v1/cluster/pipeline-groups/{id}/inject", group, body=event, expect=200).json()
    assert (routed["routed_to"], routed["worker_response"]["output_events"]) == ("pipeline-b", [{"event_type": "B", "result": "from-b"}])
    batch = {"events": [{"event_type": "EventA", "fields": {}}, {"event_type": "EventB", "fields": {}}]}
    out = api.call("POST", "/api/v1/cluster/pipeline-groups/{id}/inject-batch", group, body=batch, expect=200).json()
    assert (out["accepted"], out["unrouted"], len(out["results"])) == (2, 0, 2)
    unrouted = api.call("POST", "/api/v1/cluster/pipeline-groups/{id}/inject-batch", group, body={"events": [{"fields": {}}]},
                        valid=False, expect=200).json()
    assert (unrouted["accepted"], unrouted["unrouted"]) == (0, 1)


def test_coordinator_bad_requests(cluster: Cluster, group: str) -> None:
    api, groups = cluster.api, "/api/v1/cluster/pipeline-groups"
    api.error("POST", groups, None, 400, "invalid_json", raw=b"{bad", valid=False)
    api.error("POST", groups, None, 400, "invalid_request", body={"name": "empty", "pipelines": []}, valid=False)
    error = api.error("POST", groups, None, 400, "parse_error", body={"name": "bad", "pipelines": [{"name": "p", "source": BAD_VPL}]})
    assert (error["pipeline"], error["line"], error["column"]) == ("p", 1, 12)
    inject = ("POST", groups + "/{id}/inject", group)
    api.error(*inject, 400, "invalid_json", raw=b"{bad", valid=False)
    api.error(*inject, 400, "invalid_event", body={"fields": {}}, valid=False)
    api.error(*inject, 400, "invalid_request", body={"event_type": "EventA", "max_output_events": -1}, valid=False)  # the worker's
    api.error(*inject, 413, "payload_too_large", raw=b'{"event_type": "A", "pad": "' + b"x" * (1 << 20) + b'"}', valid=False)
    api.error("POST", groups + "/{id}/inject-batch", group, 400, "invalid_request", body={"x": 1}, valid=False)
    api.error("POST", groups + "/{id}/inject-batch", group, 400, "invalid_json", raw=b"[", valid=False)


def test_coordinator_unknown_group_is_404(cluster: Cluster) -> None:
    for method, template in COORDINATOR.operations():
        if template.startswith("/api/v1/cluster/pipeline-groups/{id}"):
            cluster.api.error(method, template, "nope", 404, "group_not_found", **valid_body(COORDINATOR, method, template))


def test_coordinator_teardown(cluster: Cluster) -> None:
    api = cluster.api
    gid = api.call("POST", "/api/v1/cluster/pipeline-groups", body=group_spec("short-lived"), expect=201).json()["id"]
    assert api.call("DELETE", "/api/v1/cluster/pipeline-groups/{id}", gid, expect=200).json() == {"torn_down": True}


def test_coordinator_deploy_to_a_dead_worker_is_502(cluster: Cluster, free_port: Callable[[], int]) -> None:
    api, dead = cluster.api, "contract-dead"
    register(api, dead, f"http://127.0.0.1:{free_port()}", expect=200)  # nothing listens there
    try:
        error = api.error("POST", "/api/v1/cluster/pipeline-groups", None, 502, "deploy_failed", body=group_spec("doomed", affinity=dead))
        assert {f["worker_id"] for f in error["failures"]} == {dead}
    finally:
        api.call("DELETE", "/api/v1/cluster/workers/{id}", dead, expect=200)


def test_coordinator_inject_to_an_unreachable_worker_fails_over_and_is_answered(cluster: Cluster, free_port: Callable[[], int]) -> None:
    # The reference answers 502 worker_unreachable. A refused connection now marks the worker gone
    # at once (its /health is refused too), its pipeline moves, and the held inject is answered
    # there (docs/cluster.md); the 502 comes only when the pipeline cannot move (test_cluster).
    api, moving = cluster.api, "contract-moving"
    token = register(api, moving, cluster.worker.url, expect=200).json()["heartbeat_token"]
    gid = api.call("POST", "/api/v1/cluster/pipeline-groups", body=group_spec("stranded", affinity=moving), expect=201).json()["id"]
    try:
        # A live worker's id: only its own token moves its address, and the id is still its own.
        register(api, moving, f"http://127.0.0.1:{free_port()}", expect=409)
        register(api, moving, f"http://127.0.0.1:{free_port()}", heartbeat_token=token, expect=200)
        answer = api.call("POST", "/api/v1/cluster/pipeline-groups/{id}/inject", gid, body=HOT, expect=200).json()
        assert answer["worker_id"] == "worker-0"
        assert api.call("GET", "/api/v1/cluster/workers/{id}", moving, expect=200).json()["status"] == "unhealthy"
    finally:
        api.call("DELETE", "/api/v1/cluster/pipeline-groups/{id}", gid, expect=200)
        api.call("DELETE", "/api/v1/cluster/workers/{id}", moving, expect=200)


def test_coordinator_without_workers_is_503(start: Callable[..., Process]) -> None:
    proc = start("lonely-coordinator", "coordinator", "--port", "0", "--api-key", COORDINATOR_KEY)
    try:
        Api(COORDINATOR, proc.port, COORDINATOR_KEY).error("POST", "/api/v1/cluster/pipeline-groups", None, 503, "no_workers_available",
                                                           body=group_spec("homeless"))
    finally:
        proc.stop()


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_coordinator_key_is_required(cluster: Cluster, group: str, key: Optional[str]) -> None:
    for (method, template), op in COORDINATOR.operations().items():
        if op["x-varpulis-auth"] in ("api_key", "api_key_or_worker_token"):
            target = group if "pipeline-groups/{id}" in template else "worker-0"
            cluster.api.error(method, template, target, 401, "unauthorized", key=key, **valid_body(COORDINATOR, method, template))


def test_coordinator_other_methods_are_405(cluster: Cluster, group: str) -> None:
    for template in COORDINATOR.spec["paths"]:
        target = group if "pipeline-groups/{id}" in template else "worker-0"
        cluster.api.unrouted("PUT", template.replace("{id}", target), 405)


def test_coordinator_unknown_routes_are_404(cluster: Cluster) -> None:
    cluster.api.unrouted("GET", "/api/v1/cluster/nope", 404)
    cluster.api.unrouted("GET", "/nope", 404, key=None)


# ---------------------------------------------------------------------------------------------
# Coverage: last in the module, so every test above has run.


def whole_module_selected(request: pytest.FixtureRequest) -> bool:
    module = sys.modules[__name__]
    selected = {item.originalname for item in request.session.items if getattr(item, "module", None) is module}
    return {name for name in vars(module) if name.startswith("test_")} <= selected


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_operation_was_answered_with_success(name: str, request: pytest.FixtureRequest) -> None:
    if not whole_module_selected(request):
        pytest.skip("only part of the module ran: coverage is checked on a whole run")
    contract = CONTRACTS[name]
    assert set(contract.operations()) - contract.called == set(), "operations never called"
    assert set(contract.operations()) - contract.succeeded == set(), "operations never answered 2xx"
