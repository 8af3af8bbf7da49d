"""The committed JSON Schema of pipeline files: fresh, and agreeing with the validator."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
import yaml

from signify_graph import ENTRY_POINT_GROUP, create_host
from signify_graph import cli as cli_module
from signify_graph._schema import pipeline_schema

from . import stages
from .conftest import PIPELINES

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "pipelines" / "pipeline.schema.json"


def other_distributions() -> list[str]:
    """Installed plugin distributions other than ours (the example plugin, say): the committed
    schema describes signify-graph's own stages only. Asked at test time, not import time,
    because another test may install one meanwhile."""
    return sorted(
        {
            ep.dist.name
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
            if ep.dist is not None and ep.dist.name != "signify-graph"
        }
    )


jsonschema = pytest.importorskip("jsonschema")


def test_the_committed_schema_is_what_the_command_generates(tmp_path, monkeypatch):
    others = ",".join(other_distributions())
    command = "signify-graph schema -o pipelines/pipeline.schema.json"
    regenerate = f"SIGNIFY_DISABLE_PLUGINS={others} {command}" if others else command
    monkeypatch.setenv("SIGNIFY_DISABLE_PLUGINS", others)
    generated = tmp_path / "schema.json"
    assert cli_module.main(["schema", "-o", str(generated)]) == 0
    assert COMMITTED.exists(), f"no committed schema; generate it with: {regenerate}"
    assert generated.read_text() == COMMITTED.read_text(), (
        f"pipelines/pipeline.schema.json is stale; regenerate it with: {regenerate}"
    )


def test_the_committed_schema_is_a_valid_json_schema():
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    stages_enum = schema["properties"]["nodes"]["items"]["properties"]["stage"]["enum"]
    assert set(stages_enum) == {
        "average", "classify", "decode", "emit", "hands", "landmarks", "normalize", "smooth",
        "spell",
    }  # fmt: skip


def test_the_committed_schema_accepts_a_pipeline_of_builtin_stages():
    document = yaml.safe_load(
        """
        name: photos
        description: JPEG in, letter out
        nodes:
          - {id: image, stage: decode, params: {max_side: 640}}
          - {id: hand, stage: hands, params: {model: lite, pad: "${PAD:-0.25}"}}
          - {id: features, stage: normalize}
          - {id: letters, stage: classify}
          - {id: smoothed, stage: smooth, params: {window: 5, method: ema}}
          - {id: reply, stage: emit, inputs: {probabilities: smoothed, hand: hand}}
        """
    )
    jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text())).validate(document)


REPO_PIPELINES = sorted((REPO / "pipelines").glob("*.yaml"))


@pytest.mark.skipif(not REPO_PIPELINES, reason="no pipelines/*.yaml yet")
@pytest.mark.parametrize("path", REPO_PIPELINES, ids=lambda path: path.name)
def test_the_committed_schema_accepts_the_shipped_pipelines(path):
    document = yaml.safe_load(path.read_text())
    jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text())).validate(document)


@pytest.fixture
def validator():
    """A validator of the schema generated with the test stages installed too."""
    schema = pipeline_schema(create_host(extra_plugins=[stages], environ={}).registry)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((PIPELINES / "valid").glob("*.yaml")), ids=str)
def test_the_schema_accepts_every_valid_fixture(validator, path):
    validator.validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize(
    "name",
    [
        "not_mapping.yaml",
        "unknown_top_key.yaml",
        "missing_nodes.yaml",
        "unknown_stage.yaml",
        "unknown_node_key.yaml",
        "unknown_param.yaml",
        "wrong_type.yaml",
        "out_of_range.yaml",
        "nested_param.yaml",
        "nested_unknown_param.yaml",
        "missing_param.yaml",
    ],
)
def test_the_schema_rejects_what_the_validator_rejects_field_by_field(validator, name):
    document = yaml.safe_load((PIPELINES / "broken" / name).read_text())
    assert list(validator.iter_errors(document)), f"the schema accepts {name}"
