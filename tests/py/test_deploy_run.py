# SPDX-License-Identifier: Apache-2.0
"""deploy/ run as local processes: the compose services' and the rendered chart's command lines and
environment, ports remapped to free loopback ports and service names to 127.0.0.1, until the
cluster forms, answers its probes, deploys a group and routes events; the broker configs in a real
mosquitto; the metrics the alerts and the dashboard use, read from real processes."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess

import pytest
import yaml

from deploy_support import (
    DEPLOY,
    LocalDeployment,
    MOSQUITTO,
    OPERATIONS,
    Service,
    TUTORIAL_SETS,
    by_kind,
    compose,
    deploy_one_pipeline_per_worker,
    helm_pods,
    help_text,
    http_get,
    metric_names,
    metrics_in_expr,
    probe,
    rendered,
    run_healthcheck,
    service_env,
    varpulis_services,
)
from varpulis import ApiError, CoordinatorClient, WorkerClient

pytestmark = [pytest.mark.integration]


@pytest.mark.skipif(not os.access(MOSQUITTO, os.X_OK), reason="mosquitto is not installed")
def test_broker_configs_load_in_a_real_mosquitto(tmp_path, free_port, wait_until):
    """The compose broker's file and the chart's ConfigMap, with the listener moved to a free
    loopback port and the data directory to tmp_path."""
    chart_conf = by_kind(rendered({"mqtt.enabled": "true"}))[("ConfigMap", "my-cluster-mqtt")]["data"]["mosquitto.conf"]
    for name, text in (("compose", (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()), ("chart", chart_conf)):
        port = free_port()
        text, n = re.subn(r"^listener (\d+)$", f"listener {port} 127.0.0.1", text, flags=re.M)
        assert n == 1, name
        text = re.sub(r"^persistence_location .*$", f"persistence_location {tmp_path}/", text, flags=re.M)
        conf = tmp_path / f"{name}.conf"
        conf.write_text(text)
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            def accepts():
                assert proc.poll() is None, f"{name}: mosquitto exited: {proc.stderr.read()}"
                return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "t", "-m", "m"],
                                      capture_output=True, timeout=10, check=False).returncode == 0
            wait_until(accepts, what=f"mosquitto with the {name} configuration")
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


# ------------------------------------------------------------------------------------ the chart


def test_json_logs_and_levels_behave_as_documented(varpulis_bin, free_port, wait_until, tmp_path):
    if "--log-format" not in help_text(varpulis_bin, "coordinator"):
        pytest.fail("varpulis coordinator has no --log-format (rebuild the binary)")
    port = free_port()
    err = tmp_path / "coordinator.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VARPULIS_")}
    env.update(VARPULIS_LOG_FORMAT="json", VARPULIS_LOG_LEVEL="info")
    with open(err, "w") as e:
        proc = subprocess.Popen([varpulis_bin, "coordinator", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=e, start_new_session=True)
    try:
        # no --join-token: the coordinator warns at start-up
        wait_until(lambda: "join-token" in err.read_text(), what="the start-up warning")
    finally:
        proc.terminate()
        proc.wait(10)
    records = [json.loads(line) for line in err.read_text().splitlines() if line.strip()]
    assert records
    for r in records:
        assert {"ts", "level", "component", "msg"} <= set(r), r
    assert any(r["level"] == "warn" and "join-token" in r["msg"] for r in records)
    # --log-level error keeps the warning out
    with open(err, "w") as e:
        proc = subprocess.Popen([varpulis_bin, "coordinator", "--port", str(port), "--log-level", "error"], env=env,
                                stdout=subprocess.PIPE, stderr=e, text=True, start_new_session=True)
    try:
        assert "Coordinator" in proc.stdout.readline()  # banner: it is up
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/health")[0] == 200, what="the coordinator")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert "join-token" not in err.read_text()


# ---------------------------------------------------------------- the deployments, run locally

def test_compose_cluster_forms_from_its_own_command_lines(varpulis_bin, free_port, wait_until, tmp_path):
    doc = compose()
    services = varpulis_services(doc)
    variables: dict[str, str] = {}  # the defaults of the compose file
    with LocalDeployment(varpulis_bin, tmp_path, free_port) as local:
        for name, svc in services.items():
            local.add(Service(name, list(svc["command"]), service_env(svc, variables), [name]))
        coordinator_svc = local.start("coordinator")
        # depends_on: condition: service_healthy -- the coordinator's compose health check
        health = services["coordinator"]["healthcheck"]["test"]
        wait_until(lambda: run_healthcheck(health, coordinator_svc.pid).returncode == 0, what="coordinator healthy")
        workers = [n for n in services if n.startswith("worker-")]
        for name in workers:
            local.start(name)
        api_key = service_env(services["coordinator"], variables)["VARPULIS_API_KEY"]
        with CoordinatorClient(local.url("coordinator", 9100), api_key) as c:
            def ready():
                listed = c.workers()["workers"]
                return len(listed) == 4 and all(w["status"] == "ready" for w in listed) and listed
            listed = wait_until(ready, timeout=20, what="4 workers ready", explain=local.explain)
            listed.sort(key=lambda w: w["id"])  # listed in registration order
            assert [w["id"] for w in listed] == workers
            for w in listed:
                # the address the worker advertises (compose: http://worker-N:9000), as remapped here
                assert w["address"] == local.url(w["id"], 9000)
            # the workers' compose health check (/ready: registered) and the image's (/health) pass
            for name in workers:
                assert run_healthcheck(services[name]["healthcheck"]["test"], local.services[name].pid).returncode == 0
                assert run_healthcheck(["CMD", "varpulis-healthcheck"], local.services[name].pid).returncode == 0
            deploy_one_pipeline_per_worker(c, workers)
        # the keys: the coordinator's is not the workers' and the other way round
        with CoordinatorClient(local.url("coordinator", 9100), "test") as wrong, pytest.raises(ApiError) as e:
            wrong.workers()
        assert e.value.status == 401
        with WorkerClient(local.url("worker-0", 9000), service_env(services["worker-0"], variables)["VARPULIS_API_KEY"]) as w0:
            assert w0.pipelines()["total"] == 1
        # what Prometheus scrapes: the coordinator's port and each worker's --metrics listener
        status, text = http_get(local.url("coordinator", 9100) + "/metrics")
        assert status == 200 and 'varpulis_cluster_workers{status="ready"} 4' in text
        for name in workers:
            status, text = http_get(local.url(name, 9090) + "/metrics")
            assert status == 200 and f'varpulis_events_total{{pipeline="p-{name}"' in text


def test_helm_cluster_forms_from_its_rendered_pods_and_scales(varpulis_bin, free_port, wait_until, tmp_path):
    pods, objects = helm_pods("my-cluster", "default", {**TUTORIAL_SETS, "mqtt.enabled": "true"}, replicas=8)
    api_key = base64.b64decode(objects[("Secret", "my-cluster-secrets")]["data"]["coordinator-api-key"]).decode()
    with LocalDeployment(varpulis_bin, tmp_path, free_port) as local:
        for service, _, routes in pods:
            local.add(service, routes)
        coordinator, ccontainer, _ = pods[0]
        local.start("coordinator")
        wait_until(lambda: probe(local, "coordinator", ccontainer, "readinessProbe") == 200, what="coordinator ready")
        assert probe(local, "coordinator", ccontainer, "livenessProbe") == 200
        # the StatefulSet's 4 replicas
        for service, _, _ in pods[1:5]:
            local.start(service.name)
        with CoordinatorClient(local.url("coordinator", 9100), api_key) as c:
            def ready(n):
                listed = c.workers()["workers"]
                return len(listed) == n and all(w["status"] == "ready" for w in listed) and listed
            listed = wait_until(lambda: ready(4), timeout=20, what="4 workers ready", explain=local.explain)
            listed.sort(key=lambda w: w["id"])  # listed in registration order
            assert [w["id"] for w in listed] == [f"my-cluster-worker-{i}" for i in range(4)]
            for (service, container, _), w in zip(pods[1:5], listed):
                assert w["address"] == local.url(service.name, 9000)
                # readiness (/ready: registered) and liveness (/health) answer 200
                wait_until(lambda: probe(local, service.name, container, "readinessProbe") == 200, what="worker readiness")
                assert probe(local, service.name, container, "livenessProbe") == 200
            deploy_one_pipeline_per_worker(c, [w["id"] for w in listed])
            # kubectl scale statefulset my-cluster-worker --replicas=8: the new pods register by themselves
            for service, _, _ in pods[5:]:
                local.start(service.name)
            listed = wait_until(lambda: ready(8), timeout=20, what="8 workers ready", explain=local.explain)
            group = c.deploy_group("after-scale", [{"name": f"q{i}", "source": 'stream A = EventA .emit(x: 1)'} for i in range(8)])
            assert {p["worker_id"] for p in group["placements"]} == {f"my-cluster-worker-{i}" for i in range(8)}


def test_a_worker_that_cannot_register_is_live_but_not_ready(varpulis_bin, free_port, wait_until, tmp_path):
    """The readiness probe and the compose health check mean "registered": a wrong join token fails them."""
    pods, objects = helm_pods("my-cluster", "default", TUTORIAL_SETS, replicas=1)
    with LocalDeployment(varpulis_bin, tmp_path, free_port) as local:
        for service, _, routes in pods:
            local.add(service, routes)
        pods[1][0].env["VARPULIS_JOIN_TOKEN"] = "not-the-token"
        local.start("coordinator")
        wait_until(lambda: probe(local, "coordinator", pods[0][1], "readinessProbe") == 200, what="coordinator ready")
        worker = local.start("my-cluster-worker-0")
        container = pods[1][1]
        wait_until(lambda: probe(local, worker.name, container, "livenessProbe") == 200, what="worker live")
        wait_until(lambda: "join" in local.log(worker.name), what="the worker to log the refusal")
        assert probe(local, worker.name, container, "readinessProbe") == 503
        assert run_healthcheck(compose()["services"]["worker-0"]["healthcheck"]["test"], worker.pid).returncode == 1


# ------------------------------------------------------------------ metrics, alerts, dashboard

@pytest.fixture(scope="module")
def real_metrics(varpulis_bin, tmp_path_factory, free_port, wait_until) -> dict[str, str]:
    """/metrics of a coordinator and of a worker that runs a pipeline which has seen events."""
    local = LocalDeployment(varpulis_bin, tmp_path_factory.mktemp("metrics"), free_port)
    with local:
        local.add(Service("coordinator", ["coordinator", "--port", "9100"], {"VARPULIS_API_KEY": "admin"}, ["coordinator"]))
        local.add(Service("worker", ["server", "--port", "9000", "--metrics", "--coordinator", "http://coordinator:9100",
                                     "--worker-id", "w", "--advertise-address", "http://worker:9000"],
                          {"VARPULIS_API_KEY": "test"}, ["worker"]))
        local.start("coordinator")
        wait_until(lambda: http_get(local.url("coordinator", 9100) + "/health")[0] == 200, what="coordinator")
        local.start("worker")
        with CoordinatorClient(local.url("coordinator", 9100), "admin") as c:
            wait_until(lambda: c.workers()["total"] == 1, what="registration")
            deploy_one_pipeline_per_worker(c, ["w"])
        return {"coordinator": http_get(local.url("coordinator", 9100) + "/metrics")[1],
                "worker": http_get(local.url("worker", 9000) + "/metrics")[1]}


def test_alerts_and_dashboard_use_metrics_the_processes_export(real_metrics):
    exported = metric_names(real_metrics["coordinator"]) | metric_names(real_metrics["worker"])
    exprs = [r["expr"] for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "varpulis-cluster.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set().union(*(metrics_in_expr(e) for e in exprs))
    assert used and used <= exported, f"not exported: {sorted(used - exported)}"
    # label values the rules select on exist
    assert 'varpulis_cluster_workers{status="unhealthy"}' in real_metrics["coordinator"]
    assert re.search(r'varpulis_errors_total\{pipeline="[^"]+"', real_metrics["worker"])


def test_operations_doc_lists_exactly_the_exported_metrics(real_metrics):
    documented = {}
    for row in re.findall(r"^\| `(varpulis_\w+)(?:\{[^`]*\})?` \| (\w+) \| (\w+)", OPERATIONS.read_text(), re.M):
        documented.setdefault(row[0], set()).add(row[2])
    for process in ("coordinator", "worker"):
        names = {m.group(1) for m in re.finditer(r"^# TYPE (\w+) ", real_metrics[process], re.M)}
        listed = {n for n, where in documented.items() if process in where or "both" in where}
        assert names == listed, f"{process}: exported but not documented {sorted(names - listed)}, documented but not exported {sorted(listed - names)}"
