"""The example third-party plugin, installed for real (in a throwaway folder): discovered,
listed, validated, run."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signify_graph import PipelineInvalid, build_graph, create_host, plan_pipeline

from . import stages

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "signify-example-plugin"
COMMAND = str(Path(sys.executable).parent / "signify-graph")

GATED = """
name: gated
nodes:
  - {id: scaled, stage: scale}
  - {id: probs, stage: to_probs}
  - {id: sure, stage: confidence_gate, params: {threshold: 0.75}}
  - {id: out, stage: reply}
"""


@dataclass(frozen=True)
class Installed:
    """The plugin as pip installed it into a throwaway folder, and how to reach it."""

    source: Path  # a copy of the plugin's project (building writes next to the sources)
    site: Path  # the folder pip installed it into: its module and its .dist-info

    def env(self) -> dict[str, str]:
        """A child process's environment that sees the plugin's distribution."""
        path = os.pathsep.join(filter(None, [str(self.site), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": path}


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Install the example plugin for real (a wheel built by pip, entry points and all), but
    into a temporary folder put on ``sys.path``, never into the user's environment: a plugin
    left installed there shows in ``stages``, breaks every command for a user whose own plugin
    has the same stage name, and would be written into the committed schema."""
    work = tmp_path_factory.mktemp("example-plugin")
    source, site = work / "source", work / "site"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns(".*cache", "__pycache__"))
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*command, "--target", str(site), str(source)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield Installed(source, site)
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("signify_example_plugin", None)
        importlib.invalidate_caches()


def test_the_command_lists_the_plugin_stage_with_its_distribution(example_plugin):
    env = example_plugin.env()
    listed = subprocess.run([COMMAND, "stages", "--json"], capture_output=True, text=True, env=env)
    assert (listed.returncode, listed.stderr) == (0, "")
    records = {record["name"]: record for record in json.loads(listed.stdout)}
    gate = records["confidence_gate"]
    assert gate["provider"] == "signify-example-plugin (confidence_gate)"
    assert gate["inputs"] == {"probabilities": "probabilities"}
    assert gate["output"] == "probabilities"
    assert {p["name"]: p["description"] != "" for p in gate["params"]} == {
        "threshold": True,
        "hold": True,
    }
    text = subprocess.run([COMMAND, "stages"], capture_output=True, text=True, env=env).stdout
    assert "confidence_gate  (signify-example-plugin (confidence_gate))" in text


def test_a_pipeline_using_the_plugin_stage_validates_and_runs(example_plugin, tmp_path):
    path = tmp_path / "gated.yaml"
    path.write_text(GATED)
    host = create_host(extra_plugins=[stages], environ={})
    plan = plan_pipeline(path, host.registry, overrides=["sure.hold=1"], environ={})
    assert plan.nodes[2].provenance == {"threshold": "file", "hold": "--set"}
    with build_graph(plan, host).open_session("s") as session:
        outputs = [session.process(p).output for p in (0.5, 0.9, 0.6, 0.6, 0.1)]
    assert outputs == [
        None,  # top probability 0.5: unsure
        {"letter": "A", "p": 0.9},
        {"letter": "A", "p": 0.6},  # held for one frame after a sure one
        None,
        {"letter": "B", "p": 0.9},
    ]


def test_the_plugin_parameters_are_validated_like_any_other(example_plugin, tmp_path):
    path = tmp_path / "gated.yaml"
    path.write_text(GATED.replace("0.75", "7.5"))
    host = create_host(extra_plugins=[stages], environ={})
    with pytest.raises(PipelineInvalid) as caught:
        plan_pipeline(path, host.registry, environ={})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}:6:60: sure.threshold: Input should be less than or equal to 1 (got 7.5)"
    ]


def test_the_plugin_can_be_disabled(example_plugin):
    host = create_host(environ={"SIGNIFY_DISABLE_PLUGINS": "signify-example-plugin"})
    assert host.registry.get("confidence_gate") is None


def test_the_plugin_own_tests_pass_with_the_stage_harness_fixture(example_plugin):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=example_plugin.source,
        env=example_plugin.env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout


def test_the_user_environment_never_gets_the_plugin(example_plugin):
    """A fresh interpreter of the user's environment does not see our install (whether some
    other install of the plugin is there is not this test's business)."""
    code = (
        "import importlib.metadata as m\n"
        "try: print(m.distribution('signify-example-plugin').locate_file(''))\n"
        "except m.PackageNotFoundError: print('absent')"
    )
    seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert str(example_plugin.site) not in seen.stdout
    assert not (PLUGIN / "build").exists()  # nor files written next to the plugin's sources
