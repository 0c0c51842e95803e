# SPDX-License-Identifier: Apache-2.0
"""deploy/: the Dockerfile, the compose cluster, the Helm chart, Prometheus, Grafana and the
operations docs, checked as files without Docker or Kubernetes: every file parses, the chart
renders (and matches `helm template` where helm is installed), keys and addresses agree, and every
varpulis flag and variable they use is looked up in `varpulis <command> --help`. Running them as
local processes is test_deploy_run.py.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from deploy_support import (
    CHART,
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    HELM,
    OPERATIONS,
    ROOT,
    TUTORIAL_SETS,
    apt_packages,
    by_kind,
    compose,
    expand,
    flags_of,
    help_text,
    known_env,
    known_flags,
    pod_container,
    rendered,
    resolve_env,
    service_env,
    varpulis_command_lines,
    varpulis_services,
)
from helm_render import Chart, RequiredValueError, load_documents

pytestmark = [pytest.mark.integration]


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
    assert "max_queued_messages 200000\n" in conf, "a failover must not overflow the route sessions' queues"
    worker = with_mqtt[("StatefulSet", "my-cluster-worker")]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] == 30
    assert worker["containers"][0]["args"][worker["containers"][0]["args"].index("--drain-timeout") + 1] == "20"
    assert "listener 1883\n" in conf and with_mqtt[("Service", "my-cluster-mqtt")]["spec"]["ports"][0]["port"] == 1883
    notes = Chart(CHART).render(TUTORIAL_SETS, release="my-cluster", include_notes=True)["templates/NOTES.txt"]
    assert "kubectl -n default scale statefulset my-cluster-worker --replicas=8" in notes


def test_chart_requires_both_api_keys():
    for missing in ("coordinator.apiKey", "workers.apiKey"):
        sets = {k: v for k, v in TUTORIAL_SETS.items() if k != missing}
        with pytest.raises(RequiredValueError, match=missing):
            Chart(CHART).render(sets, release="my-cluster")


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
