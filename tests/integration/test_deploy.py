"""deploy/: what a team runs must be real syncd — every service's command a syncd command,
the settings file they mount loadable with the environment they are given, and every metric
the Grafana dashboard queries one that /metrics exports.

deploy/compose.yaml and deploy/prometheus.yml are YAML in its JSON form (a `#` header, then
JSON), so they are read here without a YAML parser.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd.engine.metrics import render
from syncd.engine.runtime import Runtime
from syncd.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
IMAGE_FILE = "deploy/Containerfile"


def json_yaml(path: Path) -> Any:
    """A YAML file written as a comment header followed by JSON."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads("\n".join(line for line in lines if not line.startswith("#")))


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (what compose's env_file and systemd's EnvironmentFile read)."""
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def syncd_help(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    return subprocess.run([sys.executable, "-m", "syncd", *args, "--help"], capture_output=True,
                          text=True, env=env, timeout=60)


COMPOSE = json_yaml(DEPLOY / "compose.yaml")
SYNCD_SERVICES = {name: s for name, s in COMPOSE["services"].items()
                  if s.get("build", {}).get("dockerfile") == IMAGE_FILE}


def entrypoint() -> list[str]:
    """The Containerfile's ENTRYPOINT (exec form): `syncd` and its global options."""
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    found = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)
    assert found, "Containerfile has no exec-form ENTRYPOINT"
    command = json.loads(found.group(1))
    assert command[0] == "syncd"
    return command[1:]


def test_compose_runs_postgresql_a_migration_and_two_workers() -> None:
    assert COMPOSE["services"]["postgres"]["image"].rsplit("/", 1)[-1].startswith("postgres:")
    workers = [n for n, s in SYNCD_SERVICES.items() if s["command"] == ["run"]]
    assert len(workers) == 2, SYNCD_SERVICES
    assert SYNCD_SERVICES["migrate"]["command"] == ["db", "upgrade"]
    for name in workers:
        service = SYNCD_SERVICES[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["restart"] == "on-failure"
        assert service["stop_signal"] == "SIGTERM"  # the daemon's clean stop
    assert {"prometheus", "grafana"} <= set(COMPOSE["services"])


@pytest.mark.parametrize("service", sorted(SYNCD_SERVICES))
def test_each_compose_service_runs_a_real_syncd_command(service: str) -> None:
    options = entrypoint()
    options[options.index("--config") + 1] = str(DEPLOY / "settings.toml")
    done = syncd_help([*options, *SYNCD_SERVICES[service]["command"]])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Usage:" in done.stdout


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    """What the container's environment holds: env_file (the example stands in for the
    user's copy, `syncd.env`) and `environment`."""
    env: dict[str, str] = {}
    for name in service.get("env_file", []):
        assert name == "syncd.env"  # the copy of syncd.env.example the header tells to make
        env.update(env_file(DEPLOY / "syncd.env.example"))
    env.update(service.get("environment", {}))
    return env


@pytest.mark.parametrize("service", sorted(SYNCD_SERVICES))
def test_each_service_loads_the_settings_it_mounts(service: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SYNCD_SERVICES[service]
    config = entrypoint()[entrypoint().index("--config") + 1]
    mounts = {target: source for source, target, *_ in (v.split(":") for v in spec["volumes"])}
    local = DEPLOY / mounts[config]
    for key in [k for k in os.environ if k.startswith("SYNCD_")]:
        monkeypatch.delenv(key)
    env = compose_environment(spec)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loaded = load_settings(local)
    assert loaded.accounts
    url = loaded.database.url
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    assert env["POSTGRES_PASSWORD"] in url  # the password the postgres service is given
    assert "syncd.env" in COMPOSE["services"]["postgres"]["env_file"]
    if "healthcheck" in spec:  # the workers: /healthz where the settings make them listen
        port = loaded.webhooks.listen.rpartition(":")[2]
        assert f"127.0.0.1:{port}/healthz" in " ".join(spec["healthcheck"]["test"])


def test_prometheus_scrapes_both_workers_where_they_listen(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env_file(DEPLOY / "syncd.env.example").items():
        monkeypatch.setenv(key, value)
    port = load_settings(DEPLOY / "settings.toml").webhooks.listen.rpartition(":")[2]
    (job,) = json_yaml(DEPLOY / "prometheus.yml")["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = {t for c in job["static_configs"] for t in c["targets"]}
    workers = {n for n, s in SYNCD_SERVICES.items() if s["command"] == ["run"]}
    assert targets == {f"{n}:{port}" for n in workers}  # service names resolve in compose
    mounted = COMPOSE["services"]["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounted


def test_the_systemd_unit_restarts_on_failure_and_runs_real_commands() -> None:
    unit = (DEPLOY / "syncd.service").read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in unit.splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["Restart"] == "on-failure"
    assert settings["EnvironmentFile"].startswith("/etc/syncd/")
    for key in ("ExecStartPre", "ExecStart"):
        binary, *args = shlex.split(settings[key])
        assert binary.endswith("/syncd")
        args[args.index("--config") + 1] = str(DEPLOY / "settings.toml")
        done = syncd_help(args)
        assert done.returncode == 0, (key, done.stdout + done.stderr)


def dashboard_metrics() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "syncd.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    return {name for expr in exprs for name in re.findall(r"\b(syncd_[a-z_]+)\b", expr)}


def test_every_metric_the_dashboard_queries_is_exported(
    make_runtime: Callable[..., Runtime], sqlite_url: str,
) -> None:
    runtime = make_runtime(sqlite_url, [{"name": "sb", "vendor": "strawblond",
                                         "base_url": "http://127.0.0.1:9/api",
                                         "auth": {"api_key": "sb-key-1234"}}])
    page = render(runtime, ["sb"])
    exported = set(re.findall(r"^# TYPE (\S+) (?:counter|gauge)$", page, re.MULTILINE))
    queried = dashboard_metrics()
    assert queried, "the dashboard queries no syncd metric"
    assert queried <= exported, f"not exported: {sorted(queried - exported)}"
    # and the dashboard shows every metric syncd exports
    assert exported <= queried, f"not on the dashboard: {sorted(exported - queried)}"


def test_the_dashboard_reads_the_provisioned_prometheus() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "syncd.json").read_text())
    datasource = (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert "uid: prometheus" in datasource and "url: http://prometheus:9090" in datasource
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
