# SPDX-License-Identifier: Apache-2.0
"""deploy/: the Dockerfile, the compose cluster, the Helm chart, Prometheus, Grafana and the
operations docs, checked without Docker or Kubernetes.

No engine runs here, so every file is parsed, every varpulis flag and variable it uses is looked
up in `varpulis <command> --help`, and the command lines and environment of the compose services
and of the rendered chart's pods are run as local processes (ports remapped to free loopback
ports, service names to 127.0.0.1) until the cluster forms, answers its probes, deploys a group
and routes events.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import pytest
import yaml

from helm_render import Chart, RequiredValueError, load_documents
from varpulis import ApiError, CoordinatorClient, WorkerClient

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker" / "docker-compose.cluster.yml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
HEALTHCHECK = DEPLOY / "docker" / "healthcheck.sh"
CHART = DEPLOY / "helm" / "varpulis-cluster"
OPERATIONS = ROOT / "docs" / "operations.md"
# The tutorial's install: helm install my-cluster deploy/helm/varpulis-cluster/ --set ...
TUTORIAL_SETS = {"coordinator.apiKey": "my-secret", "workers.replicas": "4", "workers.apiKey": "worker-secret"}
DEFAULT_PORTS = {"server": 9000, "coordinator": 9100}

PIPELINE = 'stream Out = Reading .where(value > 10) .emit(worker: "{name}", value: value)'


# ------------------------------------------------------------------------------------ helpers

def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $VAR and $$."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg") or ""
        val = variables.get(name)
        if op == ":-":
            return val if val else arg
        if op == "-":
            return val if val is not None else arg
        if op == ":?":
            if not val:
                raise AssertionError(f"compose requires {name}: {arg}")
            return val
        return val or ""

    return re.sub(r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?)(?P<arg>[^}]*))?\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)",
                  sub, value)


def varpulis_services(doc: dict) -> dict[str, dict]:
    return {name: svc for name, svc in doc["services"].items() if svc.get("build") or "varpulis" in str(svc.get("image", ""))}


def service_env(svc: dict, variables: dict[str, str]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v), variables) for k, v in env.items()}


@lru_cache(maxsize=None)
def help_text(binary: str, command: str) -> str:
    out = subprocess.run([binary, command, "--help"], capture_output=True, text=True, timeout=30, check=True)
    return out.stdout


def known_flags(binary: str, command: str) -> set[str]:
    text = help_text(binary, command)
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", text, re.M)) | {"--help", "-h", "-p"}


def known_env(binary: str, command: str) -> set[str]:
    return set(re.findall(r"\[env: ([A-Z0-9_]+)\]", help_text(binary, command)))


def flags_of(argv: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in argv if a.startswith("-")]


def http_get(url: str, timeout: float = 5.0, headers: Optional[dict] = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()
    except OSError:
        return 0, ""


def apt_packages(dockerfile_stage: str) -> set[str]:
    """The packages of a stage's `apt-get install ... \\` lines, up to the next `&&`."""
    block = re.search(r"apt-get install[^\n]*\\\n((?:(?!\s*&&).*\\\n)+)", dockerfile_stage).group(1)
    return set(block.replace("\\", " ").split())


def metric_names(exposition: str) -> set[str]:
    """Sample names of a Prometheus exposition, histograms' _bucket/_sum/_count included."""
    names: set[str] = set()
    for m in re.finditer(r"^# TYPE (\w+) (\w+)", exposition, re.M):
        names.add(m.group(1))
        if m.group(2) == "histogram":
            names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return names


def metrics_in_expr(expr: str) -> set[str]:
    return set(re.findall(r"\b(varpulis_\w+)", expr))


# ------------------------------------------------------------ local processes for deployed ones

@dataclass
class Service:
    """One process of a deployment: its varpulis argv (without the binary), environment, and the
    host names other processes use to reach it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    hostnames: list[str]
    ports: dict[int, int] = field(default_factory=dict)  # container port -> local port
    proc: Optional[subprocess.Popen] = None
    pid: int = 0


class LocalDeployment:
    """Runs deployed services as local processes: every port a service listens on becomes a free
    loopback port, every http://host:port naming a service's host becomes 127.0.0.1 and that
    port, --bind becomes 127.0.0.1 and paths under /app/ move under ``run_dir``. Nothing else of
    the command lines and environment changes."""

    def __init__(self, binary: str, run_dir: Path, free_port):
        self.binary, self.run_dir, self.free_port = binary, run_dir, free_port
        self.services: dict[str, Service] = {}
        self.addresses: dict[tuple[str, int], int] = {}  # (host, port) -> local port

    def add(self, service: Service, service_ports: Optional[dict[tuple[str, int], int]] = None) -> Service:
        """Plan a service; ``service_ports`` maps extra (host, port) pairs, such as a Kubernetes
        Service's port, to one of its container ports."""
        argv = service.argv
        command = argv[0]
        listen = [int(self._flag(argv, "--port", "-p") or DEFAULT_PORTS[command])]
        if "--metrics" in argv:
            listen.append(int(self._flag(argv, "--metrics-port") or 9090))
        for port in listen:
            service.ports[port] = self.free_port()
            for host in service.hostnames:
                self.addresses[(host, port)] = service.ports[port]
        for (host, port), container_port in (service_ports or {}).items():
            self.addresses[(host, port)] = service.ports[container_port]
        self.services[service.name] = service
        return service

    @staticmethod
    def _flag(argv: list[str], *names: str) -> Optional[str]:
        for i, a in enumerate(argv):
            if a in names and i + 1 < len(argv):
                return argv[i + 1]
            for n in names:
                if a.startswith(n + "="):
                    return a.split("=", 1)[1]
        return None

    def _rewrite(self, value: str, service: Service) -> str:
        def url(m: re.Match) -> str:
            key = (m.group(2), int(m.group(3)))
            assert key in self.addresses, f"{service.name} names {m.group(0)}, which no service of the deployment serves"
            return f"{m.group(1)}127.0.0.1:{self.addresses[key]}"

        value = re.sub(r"(https?://)([A-Za-z0-9.-]+):(\d+)", url, value)
        if value.startswith("/app/"):
            path = self.run_dir / service.name / value[len("/app/"):]
            path.mkdir(parents=True, exist_ok=True)
            value = str(path)
        return value

    def local_argv(self, service: Service) -> list[str]:
        out, argv, i = [], service.argv, 0
        while i < len(argv):
            a = argv[i]
            if a in ("--port", "-p", "--metrics-port"):
                out += [a, str(service.ports[int(argv[i + 1])])]
                i += 2
                continue
            if a == "--bind":
                out += [a, "127.0.0.1"]
                i += 2
                continue
            out.append(self._rewrite(a, service))
            i += 1
        return out

    def start(self, name: str) -> Service:
        service = self.services[name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VARPULIS_")}
        env.update({k: self._rewrite(v, service) for k, v in service.env.items()})
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / f"{name}.log", "w") as out, open(self.run_dir / f"{name}.err", "w") as err:
            service.proc = subprocess.Popen([self.binary, *self.local_argv(service)], env=env, stdout=out, stderr=err,
                                            start_new_session=True)
        service.pid = service.proc.pid
        return service

    def url(self, name: str, container_port: int) -> str:
        return f"http://127.0.0.1:{self.services[name].ports[container_port]}"

    def log(self, name: str) -> str:
        return (self.run_dir / f"{name}.err").read_text()

    def stop(self) -> None:
        running = [s.proc for s in self.services.values() if s.proc is not None]
        for proc in running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> "LocalDeployment":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_healthcheck(test: list[str], pid: int) -> subprocess.CompletedProcess:
    """Run a Docker health check command (["CMD", "varpulis-healthcheck", ...]) for process ``pid``."""
    assert test[0] == "CMD" and test[1] == "varpulis-healthcheck", test
    return subprocess.run([str(HEALTHCHECK), *test[2:]], env={**os.environ, "VARPULIS_HEALTHCHECK_PID": str(pid)},
                          capture_output=True, text=True, timeout=20, check=False)


def deploy_one_pipeline_per_worker(coordinator: CoordinatorClient, worker_ids: list[str]) -> None:
    """A group with a pipeline pinned on every worker; each routed event comes back from its worker."""
    pipelines = [{"name": f"p-{w}", "source": PIPELINE.format(name=w).replace("Reading", f"Reading{i}"),
                  "worker_affinity": w} for i, w in enumerate(worker_ids)]
    routes = [{"from_pipeline": "_external", "to_pipeline": f"p-{w}", "event_types": [f"Reading{i}*"]}
              for i, w in enumerate(worker_ids)]
    group = coordinator.deploy_group("deploy-check", pipelines, routes)
    assert [p["worker_id"] for p in group["placements"]] == worker_ids
    for i, w in enumerate(worker_ids):
        out = coordinator.inject(group["id"], f"Reading{i}", {"value": 42})
        assert out["worker_id"] == w
        assert out["worker_response"]["output_events"] == [{"event_type": "Out", "worker": w, "value": 42}]
    batch = coordinator.inject_batch(group["id"], [{"event_type": f"Reading{i}", "fields": {"value": 11}}
                                                   for i in range(len(worker_ids))])
    assert batch["accepted"] == len(worker_ids) and batch["unrouted"] == 0


# ------------------------------------------------------------------------------- static checks

def test_every_yaml_and_json_file_under_deploy_parses():
    templates = CHART / "templates"
    files = [p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml") and templates not in p.parents]
    assert len(files) >= 8
    for path in files:
        docs = list(yaml.safe_load_all(path.read_text()))
        assert docs and all(isinstance(d, dict) for d in docs), path
    dashboards = list(DEPLOY.rglob("*.json"))
    assert dashboards
    for path in dashboards:
        json.loads(path.read_text())


def test_compose_has_the_services_ports_and_variables_of_the_tutorial():
    doc = compose()
    services = doc["services"]
    assert {"coordinator", "worker-0", "worker-1", "worker-2", "worker-3", "mqtt", "prometheus", "grafana"} <= set(services)
    published = {name: [p.split(":") for p in svc.get("ports", [])] for name, svc in services.items()}
    assert published["coordinator"] == [["9100", "9100"]]
    assert [published[f"worker-{i}"] for i in range(4)] == [[[str(9000 + i), "9000"]] for i in range(4)]
    assert published["mqtt"] == [["1883", "1883"]]
    assert published["prometheus"] == [["9091", "9090"]]
    assert published["grafana"] == [["3000", "3000"]]
    text = COMPOSE_FILE.read_text()
    for variable, default in [("VARPULIS_API_KEY", "admin"), ("VARPULIS_WORKER_KEY", "test"), ("VARPULIS_LOG_LEVEL", "info"),
                              ("GRAFANA_USER", "admin"), ("GRAFANA_PASSWORD", "varpulis")]:
        assert "${%s:-%s}" % (variable, default) in text, variable
    assert not any("RUST_LOG" in (svc.get("environment") or {}) for svc in services.values())
    grafana = service_env(services["grafana"], {})
    assert (grafana["GF_SECURITY_ADMIN_USER"], grafana["GF_SECURITY_ADMIN_PASSWORD"]) == ("admin", "varpulis")


def test_compose_keys_join_token_and_addresses_are_consistent():
    doc = compose()
    services = varpulis_services(doc)
    for variables in ({}, {"VARPULIS_API_KEY": "a1", "VARPULIS_WORKER_KEY": "w1", "VARPULIS_JOIN_TOKEN": "j1"}):
        coordinator = service_env(services["coordinator"], variables)
        assert coordinator["VARPULIS_API_KEY"] == variables.get("VARPULIS_API_KEY", "admin")
        for i in range(4):
            svc = services[f"worker-{i}"]
            env = service_env(svc, variables)
            # the worker's own key; it hands it to the coordinator when it registers
            assert env["VARPULIS_API_KEY"] == variables.get("VARPULIS_WORKER_KEY", "test")
            assert env["VARPULIS_JOIN_TOKEN"] == coordinator["VARPULIS_JOIN_TOKEN"] != ""
            argv = svc["command"]
            flag = dict(zip(argv, argv[1:]))
            assert flag["--worker-id"] == f"worker-{i}"
            # reachable from the coordinator: the compose service name and the port it listens on
            assert flag["--advertise-address"] == f"http://worker-{i}:{flag['--port']}"
            assert flag["--coordinator"] == f"http://coordinator:{dict(zip(services['coordinator']['command'], services['coordinator']['command'][1:]))['--port']}"
            assert flag["--bind"] == "0.0.0.0"
            assert svc["depends_on"]["coordinator"]["condition"] == "service_healthy"


def test_prometheus_grafana_and_broker_configs_point_at_the_compose_services():
    doc = compose()
    services = doc["services"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounts = {v.split(":")[1]: (COMPOSE_FILE.parent / v.split(":")[0]).resolve() for v in services["prometheus"]["volumes"]
              if v.startswith(".")}
    assert mounts["/etc/prometheus/prometheus.yml"] == (DEPLOY / "prometheus" / "prometheus.yml").resolve()
    for rule_file in prometheus["rule_files"]:
        assert mounts[rule_file] == (DEPLOY / "prometheus" / "alerts.yml").resolve()
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    listening: dict[str, set[int]] = {}
    for name, svc in varpulis_services(doc).items():
        flag = dict(zip(svc["command"], svc["command"][1:]))
        listening[name] = {int(flag["--port"])} | ({int(flag["--metrics-port"])} if "--metrics" in svc["command"] else set())
    for job in ("varpulis-coordinator", "varpulis-workers"):
        for target in jobs[job]["static_configs"][0]["targets"]:
            host, port = target.split(":")
            assert int(port) in listening[host], target
    assert {t.split(":")[0] for t in jobs["varpulis-workers"]["static_configs"][0]["targets"]} == {f"worker-{i}" for i in range(4)}
    # the broker probe: blackbox module, exporter address, mosquitto's listener
    mqtt_job = jobs["mqtt-broker"]
    blackbox = yaml.safe_load((DEPLOY / "prometheus" / "blackbox.yml").read_text())
    assert mqtt_job["params"]["module"][0] in blackbox["modules"]
    assert mqtt_job["relabel_configs"][-1]["replacement"].split(":")[0] == "blackbox"
    listener = re.search(r"^listener (\d+)", (DEPLOY / "mosquitto" / "mosquitto.conf").read_text(), re.M).group(1)
    assert mqtt_job["static_configs"][0]["targets"] == [f"mqtt:{listener}"]
    assert any(v.startswith("../mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf") for v in services["mqtt"]["volumes"])
    # Grafana: the datasource is the Prometheus service, the dashboard's datasource is that one
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:" + services["prometheus"]["ports"][0].split(":")[1]
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "varpulis.yml").read_text())["providers"][0]
    grafana_mounts = {v.split(":")[1]: (COMPOSE_FILE.parent / v.split(":")[0]).resolve() for v in services["grafana"]["volumes"]
                      if v.startswith(".")}
    assert grafana_mounts[provider["options"]["path"]] == (DEPLOY / "grafana" / "dashboards").resolve()
    assert grafana_mounts["/etc/grafana/provisioning"] == (DEPLOY / "grafana" / "provisioning").resolve()
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "varpulis-cluster.json").read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {datasource["uid"]}
    # every job an alert or a panel names is scraped
    exprs = [r["expr"] for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for expr in exprs:
        for job in re.findall(r'job="([^"]+)"', expr):
            assert job in jobs, expr


def test_alert_rules_are_complete_and_point_at_runbooks():
    rules = [r for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    assert len(rules) >= 8
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), re.M)}
    names = set()
    for rule in rules:
        assert rule["alert"].startswith("Varpulis") and rule["alert"] not in names
        names.add(rule["alert"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["expr"]
        doc, anchor = rule["annotations"]["runbook"].split("#")
        assert doc == "docs/operations.md" and anchor in anchors, rule["annotations"]["runbook"]
        assert rule["alert"] in OPERATIONS.read_text(), f"{rule['alert']} is not in docs/operations.md"
    assert {"VarpulisWorkerUnhealthy", "VarpulisCoordinatorDown", "VarpulisMqttBrokerDown"} <= names


def test_dockerfile_builds_from_the_project_deps_and_runs_unprivileged():
    text = DOCKERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2
    build, runtime = stages
    assert build.startswith("debian:${DEBIAN_RELEASE} AS build") and runtime.startswith("debian:${DEBIAN_RELEASE}-slim AS runtime")
    assert re.search(r"^ARG DEBIAN_RELEASE=bookworm$", text, re.M)  # Debian 12

    deps = re.search(r"APT_PACKAGES=\((.*?)\)", (ROOT / "scripts" / "install-deps.sh").read_text(), re.S).group(1).split()
    assert apt_packages(build) <= set(deps)
    assert {"cmake", "ninja-build", "antlr4", "libboost1.81-dev", "libsimdjson-dev", "libmosquitto-dev"} <= apt_packages(build)
    # the copied sources exist and the build context does not leave them out
    ignored = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in src.split():
            assert (ROOT / path).exists(), path
            assert path.split("/")[0].rstrip("/") not in ignored, path
    assert "COPY deploy/docker/healthcheck.sh /usr/local/bin/varpulis-healthcheck" in text
    assert re.search(r'^HEALTHCHECK .*CMD \["varpulis-healthcheck"\]$', text, re.M)
    user = re.search(r"^USER (\d+):(\d+)$", runtime, re.M)
    assert user and int(user.group(1)) != 0
    assert re.search(r'^ENTRYPOINT \["varpulis"\]$', runtime, re.M)
    # the compose file builds this Dockerfile from the repository root
    build_cfg = compose()["x-varpulis"]["build"]
    assert (COMPOSE_FILE.parent / build_cfg["context"]).resolve() == ROOT
    assert (ROOT / build_cfg["dockerfile"]).resolve() == DOCKERFILE


@pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("ninja"), reason="needs cmake and ninja")
def test_dockerfile_build_stage_configures_from_what_it_copies(tmp_path):
    """The build stage's COPY lines bring everything its cmake step and its target need: configure,
    then a ninja dry run of the target (nothing is compiled here)."""
    build_stage = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1]
    context = tmp_path / "src"
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", build_stage, re.M):
        for path in src.split():
            source = ROOT / path
            if source.is_dir():
                shutil.copytree(source, context / path, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (context / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, context / path)
    run = re.search(r"^RUN (cmake -S (?:.*\\\n)*.*)$", build_stage, re.M).group(1)
    steps = [shlex.split(step.replace("\\\n", " ")) for step in run.split("&&")]
    configure, build = steps[0], steps[1]
    assert configure[:5] == ["cmake", "-S", ".", "-B", "build"]
    out = subprocess.run(configure, cwd=context, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # a dry run: every input of the target exists or has a rule (the grammar, every source file)
    target = build[build.index("--target") + 1]
    dry = subprocess.run(["ninja", "-C", "build", "-n", target], cwd=context, capture_output=True, text=True, timeout=120,
                         check=False)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]


@pytest.mark.skipif(not shutil.which("ldd") or not shutil.which("dpkg"), reason="needs ldd and dpkg (Debian)")
def test_runtime_image_installs_every_shared_library_the_binary_links(varpulis_bin):
    runtime = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[2]
    packages = apt_packages(runtime)
    # in debian:bookworm-slim already
    base = {"libc6", "libgcc-s1", "libstdc++6"}
    ldd = subprocess.run(["ldd", varpulis_bin], capture_output=True, text=True, check=True).stdout
    libs = re.findall(r"=> (/\S+)", ldd)
    assert libs
    for lib in libs:
        owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True, check=False)
        if owner.returncode != 0:  # /lib and /usr/lib are one directory (merged /usr)
            alt = lib.replace("/usr/lib/", "/lib/") if lib.startswith("/usr/lib/") else lib.replace("/lib/", "/usr/lib/", 1)
            owner = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True, check=True)
        package = owner.stdout.split(":")[0]
        assert package in packages | base, f"{lib} comes from {package}, which the runtime stage does not install"


MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # Debian installs it in sbin


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

def rendered(sets=None, **kw) -> list[dict]:
    return load_documents(Chart(CHART).render({**TUTORIAL_SETS, **(sets or {})}, release=kw.pop("release", "my-cluster"), **kw))


def by_kind(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_chart_renders_the_tutorial_install():
    objects = by_kind(rendered())
    assert set(objects) == {("Secret", "my-cluster-secrets"), ("Deployment", "my-cluster-coordinator"),
                            ("Service", "my-cluster-coordinator"), ("StatefulSet", "my-cluster-worker"),
                            ("Service", "my-cluster-worker-headless")}
    # `kubectl scale statefulset my-cluster-worker --replicas=8` names this object
    assert objects[("StatefulSet", "my-cluster-worker")]["spec"]["replicas"] == 4
    for (_, name), doc in objects.items():
        assert len(name) <= 63 and doc["apiVersion"] and doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "my-cluster"
    with_mqtt = by_kind(rendered({"mqtt.enabled": "true", "workers.replicas": "8", "coordinator.persistence.enabled": "true",
                                  "workers.persistence.enabled": "true"}))
    assert {("ConfigMap", "my-cluster-mqtt"), ("Deployment", "my-cluster-mqtt"), ("Service", "my-cluster-mqtt"),
            ("PersistentVolumeClaim", "my-cluster-coordinator-state")} <= set(with_mqtt)
    assert with_mqtt[("StatefulSet", "my-cluster-worker")]["spec"]["replicas"] == 8
    assert with_mqtt[("StatefulSet", "my-cluster-worker")]["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    conf = with_mqtt[("ConfigMap", "my-cluster-mqtt")]["data"]["mosquitto.conf"]
    assert "listener 1883\n" in conf and with_mqtt[("Service", "my-cluster-mqtt")]["spec"]["ports"][0]["port"] == 1883
    notes = Chart(CHART).render(TUTORIAL_SETS, release="my-cluster", include_notes=True)["templates/NOTES.txt"]
    assert "kubectl -n default scale statefulset my-cluster-worker --replicas=8" in notes


def test_chart_requires_both_api_keys():
    for missing in ("coordinator.apiKey", "workers.apiKey"):
        sets = {k: v for k, v in TUTORIAL_SETS.items() if k != missing}
        with pytest.raises(RequiredValueError, match=missing):
            Chart(CHART).render(sets, release="my-cluster")


def pod_container(doc: dict) -> dict:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def resolve_env(container: dict, secrets: dict[str, dict], pod_name: str, namespace: str) -> dict[str, str]:
    """A container's environment as Kubernetes gives it: values, Secret keys, downward API fields."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            secret = secrets[ref["secretKeyRef"]["name"]]
            env[item["name"]] = base64.b64decode(secret["data"][ref["secretKeyRef"]["key"]]).decode()
        else:
            env[item["name"]] = {"metadata.name": pod_name, "metadata.namespace": namespace}[ref["fieldRef"]["fieldPath"]]
    return env


def expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in args (only variables of the container's environment)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)


def test_chart_keys_join_token_and_addresses_are_consistent():
    for namespace in ("default", "streaming"):
        objects = by_kind(rendered(namespace=namespace))
        secret = objects[("Secret", "my-cluster-secrets")]
        secrets = {"my-cluster-secrets": secret}
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert decoded["coordinator-api-key"] == "my-secret" and decoded["worker-api-key"] == "worker-secret"
        assert len(decoded["join-token"]) == 64
        coordinator = pod_container(objects[("Deployment", "my-cluster-coordinator")])
        sts = objects[("StatefulSet", "my-cluster-worker")]
        worker = pod_container(sts)
        cenv = resolve_env(coordinator, secrets, "my-cluster-coordinator-abc", namespace)
        wenv = resolve_env(worker, secrets, "my-cluster-worker-2", namespace)
        assert cenv["VARPULIS_API_KEY"] == "my-secret" and wenv["VARPULIS_API_KEY"] == "worker-secret"
        assert cenv["VARPULIS_JOIN_TOKEN"] == wenv["VARPULIS_JOIN_TOKEN"] == decoded["join-token"]
        args = [expand(a, wenv) for a in worker["args"]]
        flag = dict(zip(args, args[1:]))
        assert flag["--worker-id"] == "my-cluster-worker-2"
        # the coordinator URL is the coordinator Service, whose port leads to the container's port
        svc = objects[("Service", "my-cluster-coordinator")]
        svc_port = svc["spec"]["ports"][0]
        cports = {p["name"]: p["containerPort"] for p in coordinator["ports"]}
        assert flag["--coordinator"] == f"http://my-cluster-coordinator:{svc_port['port']}"
        assert cports[svc_port["targetPort"]] == int(dict(zip(coordinator["args"], coordinator["args"][1:]))["--port"])
        assert svc["spec"]["selector"].items() <= objects[("Deployment", "my-cluster-coordinator")]["spec"]["template"]["metadata"]["labels"].items()
        # the advertised address is the pod's DNS name under the headless Service
        headless = objects[("Service", "my-cluster-worker-headless")]
        assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
        assert sts["spec"]["serviceName"] == "my-cluster-worker-headless"
        assert headless["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
        assert sts["spec"]["selector"]["matchLabels"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
        assert flag["--advertise-address"] == \
            f"http://my-cluster-worker-2.my-cluster-worker-headless.{namespace}.svc.cluster.local:{flag['--port']}"
        wports = {p["name"]: p["containerPort"] for p in worker["ports"]}
        assert wports["http"] == int(flag["--port"]) and wports["metrics"] == int(flag["--metrics-port"])
        annotations = sts["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == flag["--metrics-port"]
        # the coordinator and the workers never run as root
        for doc in (objects[("Deployment", "my-cluster-coordinator")], sts):
            assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # without metrics: no listener flag, port or annotation
    sts = by_kind(rendered({"metrics.enabled": "false"}))[("StatefulSet", "my-cluster-worker")]
    assert "--metrics" not in pod_container(sts)["args"] and "annotations" not in sts["spec"]["template"]["metadata"]
    # an explicit join token wins over the derived one
    secret = by_kind(rendered({"joinToken": "tok"}))[("Secret", "my-cluster-secrets")]
    assert base64.b64decode(secret["data"]["join-token"]) == b"tok"


HELM = shutil.which("helm")


@pytest.mark.skipif(HELM is None, reason="helm is not installed (CI has none): the renderer alone is checked")
def test_renderer_matches_helm_template(tmp_path):
    lint = subprocess.run([HELM, "lint", str(CHART), *sum((["--set", f"{k}={v}"] for k, v in TUTORIAL_SETS.items()), [])],
                          capture_output=True, text=True, timeout=120, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for extra in ({}, {"mqtt.enabled": "true", "metrics.enabled": "false", "workers.persistence.enabled": "true",
                       "coordinator.persistence.enabled": "true", "joinToken": "t"}):
        sets = {**TUTORIAL_SETS, **extra}
        argv = [HELM, "template", "my-cluster", str(CHART), "--namespace", "ns1"]
        for k, v in sets.items():
            argv += ["--set", f"{k}={v}"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
        helm_docs = [d for d in yaml.safe_load_all(out) if d]
        ours = load_documents(Chart(CHART).render(sets, release="my-cluster", namespace="ns1"))
        key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
        assert sorted(helm_docs, key=key) == sorted(ours, key=key)


# ----------------------------------------------------------------- flags exist, probes answer

def varpulis_command_lines(varpulis_bin: str) -> list[tuple[str, list[str], set[str]]]:
    """(where, argv after `varpulis`, VARPULIS_* variables set) for every varpulis command line
    of the compose file, the rendered chart, the Dockerfile and docs/operations.md."""
    found = []
    for name, svc in varpulis_services(compose()).items():
        found.append((f"compose {name}", svc["command"], {k for k in svc.get("environment", {}) if k.startswith("VARPULIS_")}))
    docs = rendered({"mqtt.enabled": "true"})
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            c = pod_container(doc)
            if c["image"].startswith('varpulis'):
                found.append((f"chart {doc['metadata']['name']}", c["args"], {e["name"] for e in c["env"] if e["name"].startswith("VARPULIS_")}))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.M).group(1))
    found.append(("Dockerfile CMD", cmd, set()))
    text = OPERATIONS.read_text().replace("\\\n", " ")
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            try:
                words = shlex.split(line.split(" #")[0].strip().removeprefix("$ "))
            except ValueError:  # not a shell line
                assert "varpulis " not in line, line
                continue
            env = set()
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                env.add(words.pop(0).split("=", 1)[0])
            if words and words[0] == "varpulis" and len(words) > 1 and not words[1].startswith("-"):
                found.append((f"docs: {line.strip()[:60]}", words[1:], {v for v in env if v.startswith("VARPULIS_")}))
    assert len(found) >= 10
    return found


def test_every_flag_and_variable_used_exists_in_varpulis_help(varpulis_bin):
    problems = []
    for where, argv, env in varpulis_command_lines(varpulis_bin):
        command = argv[0]
        assert command in ("server", "coordinator", "run"), f"{where}: varpulis {command}?"
        for flag in flags_of(argv[1:]):
            if flag not in known_flags(varpulis_bin, command):
                problems.append(f"{where}: varpulis {command} has no {flag}")
        for var in env:
            if var not in known_env(varpulis_bin, command):
                problems.append(f"{where}: varpulis {command} reads no {var}")
    assert not problems, "\n".join(problems)


def test_log_flags_and_variables_are_documented_and_exist(varpulis_bin):
    text = OPERATIONS.read_text()
    for command in ("server", "coordinator"):
        help_ = help_text(varpulis_bin, command)
        for flag, var in (("--log-level", "VARPULIS_LOG_LEVEL"), ("--log-format", "VARPULIS_LOG_FORMAT")):
            assert flag in help_ and f"[env: {var}]" in help_, f"varpulis {command} --help lacks {flag} / {var}"
            assert flag in text and var in text
    for level in ("error", "warn", "info", "debug", "trace"):
        assert f"`{level}`" in text


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
            listed = wait_until(ready, timeout=20, what="4 workers ready")
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


def helm_pods(release: str, namespace: str, sets: dict, replicas: int) -> tuple[list[tuple[Service, dict, dict]], dict]:
    """(service, container, {(host, service port): container port}) for the coordinator pod and
    ``replicas`` worker pods of the rendered chart, and the rendered objects."""
    objects = by_kind(rendered(sets, release=release, namespace=namespace))
    secrets = {name: doc for (kind, name), doc in objects.items() if kind == "Secret"}
    domain = "cluster.local"
    pods = []
    deployment = objects[("Deployment", f"{release}-coordinator")]
    container = pod_container(deployment)
    env = resolve_env(container, secrets, f"{release}-coordinator-0", namespace)
    names = []
    routes = {}
    for (kind, name), svc in objects.items():
        if kind == "Service" and svc["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items():
            names += [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.{domain}"]
            cports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for p in svc["spec"]["ports"]:
                for n in names:
                    routes[(n, p["port"])] = cports[p["targetPort"]]
    pods.append((Service("coordinator", [expand(a, env) for a in container["args"]], env, names), container, routes))
    sts = objects[("StatefulSet", f"{release}-worker")]
    container = pod_container(sts)
    for i in range(replicas):
        pod = f"{release}-worker-{i}"
        env = resolve_env(container, secrets, pod, namespace)
        host = f"{pod}.{sts['spec']['serviceName']}.{namespace}.svc.{domain}"
        pods.append((Service(pod, [expand(a, env) for a in container["args"]], env, [host]), container, {}))
    return pods, objects


def probe(local: LocalDeployment, name: str, container: dict, kind: str) -> int:
    get = container[kind]["httpGet"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}.get(get["port"], get["port"])
    return http_get(local.url(name, int(port)) + get["path"])[0]


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
            listed = wait_until(lambda: ready(4), timeout=20, what="4 workers ready")
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
            listed = wait_until(lambda: ready(8), timeout=20, what="8 workers ready")
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
