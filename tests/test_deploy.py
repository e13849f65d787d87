"""deploy/: the systemd unit (``systemd-analyze verify`` when the machine has it, else parsed), the
compose file (``docker compose config`` when available, else parsed as YAML) and the Dockerfile
(built when ``docker info`` answers here; otherwise its instructions are checked and the build is
skipped with the reason)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "tastemaker.service"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
EXEC = "/opt/tastemaker/.venv/bin/tastemaker"


def unit_entries(text: str) -> dict[str, dict[str, list[str]]]:
    """Section → key → values (systemd keys may repeat, e.g. ``Environment=``)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            out.setdefault(section, {})
            continue
        assert section is not None, f"{line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        out[section].setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_is_hardened_and_restarts_on_failure() -> None:
    unit = unit_entries(UNIT.read_text(encoding="utf-8"))
    assert set(unit) == {"Unit", "Service", "Install"}
    service = {k: v[-1] for k, v in unit["Service"].items()}
    assert service["ExecStart"] == f"{EXEC} run"
    assert service["Restart"] == "on-failure"
    assert service["User"] == "tastemaker" or service.get("DynamicUser") == "yes"
    assert service["StateDirectory"] == "tastemaker"
    for key, value in {
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        "ProtectHome": "true",
        "PrivateTmp": "true",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    assert "MemoryDenyWriteExecute" not in service  # the JVM's JIT needs writable code pages
    env = dict(v.split("=", 1) for v in unit["Service"]["Environment"])
    assert env["TASTEMAKER_DATABASE_URL"] == "sqlite:////var/lib/tastemaker/tastemaker.db"
    assert env["TASTEMAKER_LOG_FILE"].startswith("/var/log/tastemaker/")
    assert env["TASTEMAKER_HEALTH_PORT"] == "9464" and "TASTEMAKER_HEALTH_HOST" not in env  # loopback
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit() -> None:
    r = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=120, check=False
    )
    complaints = [
        line
        for line in (r.stdout + r.stderr).splitlines()
        if line.strip() and f"Command {EXEC} is not executable" not in line  # not installed here
    ]
    assert complaints == [], r.stdout + r.stderr


def _compose_config(tmp_path: Path) -> dict[str, Any]:
    """The compose file as ``docker compose config`` resolves it (beside an ``.env`` made from
    deploy/example.env, with the database password it requires), else as YAML."""
    if shutil.which("docker") is not None:
        version = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
        if version.returncode == 0:
            folder = tmp_path / "deploy"
            folder.mkdir()
            shutil.copy(COMPOSE, folder / "compose.yaml")
            shutil.copy(DEPLOY / "example.env", folder / ".env")
            env = {"POSTGRES_PASSWORD": "secret", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            r = subprocess.run(
                ["docker", "compose", "-f", str(folder / "compose.yaml"), "--profile", "spark", "config"]
                + ["--format", "json"],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
                check=False,
            )
            assert r.returncode == 0, r.stderr
            return dict(json.loads(r.stdout))
    yaml = pytest.importorskip("yaml", reason="neither docker compose nor PyYAML is installed")
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def test_compose_runs_the_bot_with_postgres_and_spark_under_a_profile(tmp_path: Path) -> None:
    config = _compose_config(tmp_path)
    services = config["services"]
    assert set(services) == {"bot", "db", "spark-master", "spark-worker"}
    bot, db = services["bot"], services["db"]
    assert bot["build"]["dockerfile"].endswith("Dockerfile") and "profiles" not in bot
    assert "db" in bot["depends_on"] and "profiles" not in db
    assert str(bot["environment"]["TASTEMAKER_DATABASE_URL"]).startswith("postgresql+psycopg://tastemaker:")
    assert "@db:5432/tastemaker" in str(bot["environment"]["TASTEMAKER_DATABASE_URL"])
    assert db["image"].startswith("postgres:") and "healthcheck" in db
    for name in ("spark-master", "spark-worker"):
        assert services[name]["profiles"] == ["spark"]
        assert services[name]["command"][0] == "spark-class"
    assert services["spark-worker"]["command"][-1] == "spark://spark-master:7077"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_dockerfile_runs_as_a_user_with_java_fonts_and_a_healthcheck() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim-bookworm")
    installs = " ".join(args for word, args in steps if word == "RUN")
    for package in ("openjdk-17-jre-headless", "fonts-noto-core", "fonts-noto-cjk", "fonts-symbola"):
        assert package in installs, package
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    (check,) = [args for word, args in steps if word == "HEALTHCHECK"]
    assert "/healthz" in check and "9464" in check
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "TASTEMAKER_HEALTH_PORT=9464" in env and "TASTEMAKER_HEALTH_HOST=0.0.0.0" in env
    assert steps[-1] == ("CMD", '["tastemaker", "run"]')


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    r = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return f"docker info does not answer here: {why}"
    return None


def test_the_image_builds_and_has_tastemaker_java_and_fonts() -> None:
    why = _docker_unavailable()
    if why is not None:
        pytest.skip(why)
    tag = "tastemaker-test:deploy"
    build = subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    try:
        probe = subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                tag,
                "sh",
                "-c",
                "id -u && tastemaker --version && java -version 2>&1 | head -n1"
                " && ls /usr/share/fonts/opentype/noto/ | grep -c NotoSansCJK",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
        uid, version, java, cjk = probe.stdout.splitlines()[:4]
        assert uid != "0" and version.startswith("tastemaker ") and "17" in java and int(cjk) > 0
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=120, check=False)
