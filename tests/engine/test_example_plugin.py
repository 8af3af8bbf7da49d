"""The example third-party plugin, installed for real: discovered, listed, validated, run."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from signify_graph import PipelineInvalid, build_graph, create_host, plan_pipeline

from . import stages

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


def installed_from_here() -> bool:
    """Whether ``signify-example-plugin`` is installed, editable, from this checkout."""
    try:
        dist = importlib.metadata.distribution("signify-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        return False
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    return direct.get("url") == PLUGIN.as_uri() and direct.get("dir_info", {}).get("editable")


@pytest.fixture(scope="session")
def example_plugin() -> Iterator[Path]:
    """Install the example plugin (editable) unless it already is, and make it importable here.

    The install outlives the test session on purpose: it is what a plugin author does.
    """
    if not installed_from_here():
        command = [sys.executable, "-m", "pip", "install", "--no-deps"]
        done = subprocess.run([*command, "-e", str(PLUGIN)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        importlib.invalidate_caches()
        assert installed_from_here()
    # A running interpreter does not re-read .pth files: put the source on sys.path ourselves.
    source = str(PLUGIN / "src")
    added = source not in sys.path
    if added:
        sys.path.insert(0, source)
        importlib.invalidate_caches()
    yield PLUGIN
    if added:
        sys.path.remove(source)


def test_the_command_lists_the_plugin_stage_with_its_distribution(example_plugin):
    listed = subprocess.run([COMMAND, "stages", "--json"], capture_output=True, text=True)
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
    text = subprocess.run([COMMAND, "stages"], capture_output=True, text=True).stdout
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
        cwd=example_plugin,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout
