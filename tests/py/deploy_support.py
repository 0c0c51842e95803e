# SPDX-License-Identifier: Apache-2.0
"""What the deploy/ checks share: the files' paths, readers of the compose file, the chart and
`varpulis --help`, and LocalDeployment, which runs services' command lines as local processes."""

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

import yaml

from helm_render import Chart, load_documents
from varpulis import CoordinatorClient

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

    def explain(self) -> str:
        """Each started service's state and the end of its log, for a failed wait."""
        lines = []
        for name, s in self.services.items():
            if s.proc is None:
                continue
            code = s.proc.poll()
            lines.append(f"--- {name} ({'running' if code is None else f'exited {code}'}), ports {s.ports}:")
            lines += self.log(name).splitlines()[-8:]
        return "\n".join(lines)

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


MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # Debian installs it in sbin


def rendered(sets=None, **kw) -> list[dict]:
    return load_documents(Chart(CHART).render({**TUTORIAL_SETS, **(sets or {})}, release=kw.pop("release", "my-cluster"), **kw))


def by_kind(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


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


HELM = shutil.which("helm")


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
