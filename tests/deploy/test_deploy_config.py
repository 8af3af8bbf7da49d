"""The deployment files agree with the code: Dockerfile, railway.toml, .env.example.

These are static checks that run everywhere; ``scripts/container-smoke`` builds and runs the
image itself.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from signify_graph import create_host
from signify_graph._builtin import shipped_pipelines
from signify_graph._source import _PLACEHOLDER
from signify_graph.service.server import Service
from signify_graph.service.settings import ServiceSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
ENV_LINE = re.compile(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        instructions.append((word.upper(), rest.strip()))
        pending = ""
    return instructions


def instruction(name: str) -> list[str]:
    return [args for word, args in dockerfile() if word == name]


def railway() -> dict[str, Any]:
    with (ROOT / "railway.toml").open("rb") as file:
        return tomllib.load(file)


def env_example() -> dict[str, str]:
    """Variable → documented default, from ``# NAME=value`` lines."""
    found: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = ENV_LINE.match(line)
        if match:
            assert match["name"] not in found, f"{match['name']} is listed twice"
            found[match["name"]] = match["value"].strip()
    return found


def settings_aliases() -> dict[str, str]:
    """Environment variable → settings field, for every field of ServiceSettings."""
    aliases: dict[str, str] = {}
    for name, field in ServiceSettings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or [alias]
        for choice in choices:
            aliases[str(choice)] = name
    return aliases


def pipeline_placeholders() -> dict[str, dict[str, str | None]]:
    """Variable → {pipeline file name: its default} over pipelines/*.yaml."""
    found: dict[str, dict[str, str | None]] = {}
    for file in sorted((ROOT / "pipelines").glob("*.yaml")):
        for match in _PLACEHOLDER.finditer(file.read_text()):
            found.setdefault(match["name"], {})[file.name] = match["default"]
    return found


def other_variables() -> set[str]:
    """``SIGNIFY_*`` variables the code reads outside the settings model (e.g. plugin host)."""
    names: set[str] = set()
    for folder in ("signify_graph", "plugins"):
        for file in (ROOT / folder).rglob("*.py"):
            names.update(re.findall(r"[\"'](SIGNIFY_[A-Z0-9_]+)[\"']", file.read_text()))
    return names


# -- railway.toml ------------------------------------------------------------------------------
def test_railway_builds_the_dockerfile_and_restarts_on_failure_ten_times():
    config = railway()
    assert config["build"]["builder"] == "DOCKERFILE"
    assert (ROOT / config["build"]["dockerfilePath"]).is_file()
    deploy = config["deploy"]
    assert deploy["restartPolicyType"] == "ON_FAILURE"
    assert deploy["restartPolicyMaxRetries"] == 10
    assert isinstance(deploy["healthcheckTimeout"], int) and deploy["healthcheckTimeout"] >= 30


def test_railway_health_check_path_is_the_readiness_endpoint_the_service_serves():
    path = railway()["deploy"]["healthcheckPath"]
    assert path == "/ready"
    service = Service(load_settings({}, port=0, health_port=-1), create_host())
    try:
        # Not started: routed (503 not ready), not 404. /health answers 200 from the start.
        assert service.router.respond(path).status == 503
        assert service.router.respond("/health").status == 200
        assert service.router.respond("/no-such-page").status == 404
    finally:
        service.pool.shutdown()


def test_railway_start_command_is_the_image_command():
    command = railway()["deploy"].get("startCommand")
    cmd = json.loads(instruction("CMD")[-1])
    assert command is None or shlex.split(command) == cmd


# -- Dockerfile ----------------------------------------------------------------------------------
def test_dockerfile_base_is_an_argument_defaulting_to_python_slim():
    assert "BASE_IMAGE=python:3.11-slim" in instruction("ARG")
    froms = instruction("FROM")
    assert froms[0].startswith("${BASE_IMAGE}")
    assert len(froms) >= 3, "multi-stage: a build stage and a slim runtime stage"


def test_dockerfile_exposes_the_default_port_of_the_settings():
    default_port = ServiceSettings.model_fields["port"].default
    exposed = " ".join(instruction("EXPOSE")).split()
    assert str(default_port) in exposed


def test_dockerfile_runs_signify_graph_serve_in_exec_form_as_a_non_root_user():
    cmd = instruction("CMD")[-1]
    assert json.loads(cmd) == ["signify-graph", "serve"], "exec form, so SIGTERM reaches it"
    with (ROOT / "pyproject.toml").open("rb") as file:
        assert "signify-graph" in tomllib.load(file)["project"]["scripts"]
    users = instruction("USER")
    assert users and users[-1] not in ("root", "0")


def test_dockerfile_health_check_asks_health_on_the_port_from_the_environment():
    (check,) = instruction("HEALTHCHECK")
    assert "/health" in check and "PORT" in check
    assert "curl" not in check and "CMD [" in check


def test_dockerfile_builds_the_package_with_its_models_and_pipelines():
    """The package links to models/ and pipelines/: the build stage needs both to carry them,
    and the default pipeline is a shipped one, found wherever the image's WORKDIR is."""
    copies = [args.split() for args in instruction("COPY") if not args.startswith("--from")]
    sources = {source.rstrip("/") for args in copies for source in args[:-1]}
    assert {"models", "pipelines", "LICENSE", "signify_graph", "plugins"} <= sources
    default = ServiceSettings.model_fields["pipeline"].default
    assert default in shipped_pipelines()
    assert any(f"signify-graph validate {default}" in line for line in instruction("RUN"))
    allowed = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for source in sources:
        name = f"{source}/" if (ROOT / source).is_dir() else source
        assert f"!{name}" in allowed, f".dockerignore leaves {source} out of the build context"


def test_the_image_installs_mediapipe_without_gui_opencv_or_audio():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "runtime-requirements")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    names = {re.split(r"[<>=~!;\[ ]", line, maxsplit=1)[0].lower() for line in out}
    assert not names & {"opencv-contrib-python", "opencv-python", "sounddevice", "mediapipe"}
    assert {"opencv-python-headless", "onnxruntime", "websockets", "matplotlib"} <= names
    assert not names & {"torch", "pytest", "ruff", "mypy"}


def test_every_file_of_the_demo_page_is_package_data():
    """setuptools ships only the files its package-data patterns match: a new asset must match."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        setuptools = tomllib.load(file)["tool"]["setuptools"]
    assert "signify_graph.web" in setuptools["packages"]
    patterns = setuptools["package-data"]["signify_graph.web"]
    names = [path.name for path in (ROOT / "signify_graph" / "web").iterdir() if path.is_file()]
    assert "index.html" in names
    for name in names:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


# -- .env.example --------------------------------------------------------------------------------
def test_env_example_lists_every_variable_the_code_reads_and_no_other():
    documented = set(env_example())
    known = set(settings_aliases()) | set(pipeline_placeholders()) | other_variables()
    assert known - documented == set(), "read by the code but missing from .env.example"
    assert documented - known == set(), "in .env.example but read by nothing"


@pytest.mark.parametrize("variable", sorted(settings_aliases()))
def test_env_example_default_of_a_setting_is_the_code_default(variable: str):
    field = settings_aliases()[variable]
    default = ServiceSettings.model_fields[field].default
    documented = env_example()[variable]
    if default is None:
        assert documented, f"{variable}: show an example value (unset by default)"
        return
    documented_value = getattr(load_settings({variable: documented}), field)
    assert documented_value == default, f"{variable}={documented} but the code says {default!r}"


@pytest.mark.parametrize("variable", sorted(pipeline_placeholders()))
def test_env_example_default_of_a_pipeline_variable_is_the_pipeline_default(variable: str):
    defaults = pipeline_placeholders()[variable]
    expected = defaults.get("default.yaml", next(iter(defaults.values())))
    assert env_example()[variable] == expected


def test_constraints_pin_every_runtime_dependency_within_pyproject_ranges():
    """scripts/install and the Dockerfile install with constraints.txt: each dependency of the
    product is pinned there, inside pyproject's range (mediapipe stays below 0.10.34)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    with (ROOT / "pyproject.toml").open("rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = re.sub(r"[-_.]+", "-", dependency.name).lower()
        assert name in pins, f"constraints.txt does not pin {name}"
        assert dependency.specifier.contains(pins[name]), (name, pins[name])
    assert "-c constraints.txt" in (ROOT / "scripts" / "install").read_text()
    assert sum(line.count("-c constraints.txt") for line in instruction("RUN")) == 2
