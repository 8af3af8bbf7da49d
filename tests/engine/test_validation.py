"""Pipeline validation: every problem is reported at once, as ``FILE:LINE:COL: message``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from signify_graph import PipelineInvalid, PluginHost, create_host, plan_pipeline
from signify_graph import cli as cli_module

from . import stages
from .conftest import PIPELINES

BROKEN = PIPELINES / "broken"
VALID = PIPELINES / "valid"


def problems(
    host: PluginHost,
    name: str,
    *,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str, int, int, str]]:
    """Validate a fixture that must fail; return its problems as (file, line, column, message),
    with the fixture's path shortened to its name."""
    path = BROKEN / name if (BROKEN / name).exists() else VALID / name
    with pytest.raises(PipelineInvalid) as caught:
        plan_pipeline(path, host.registry, overrides=overrides, environ=environ or {})
    found = caught.value.problems
    assert found, "PipelineInvalid without problems"
    assert str(caught.value) == "\n".join(str(p) for p in found)
    for problem in found:
        assert problem.file in (str(path), "--set"), problem
    return [(name if p.file == str(path) else p.file, p.line, p.column, p.message) for p in found]


def test_broken_fixtures_are_plentiful():
    assert len(list(BROKEN.glob("*.yaml"))) >= 18


def test_invalid_yaml_syntax_is_reported_where_the_parser_stopped(host):
    [(_, line, col, message)] = problems(host, "invalid_yaml.yaml")
    assert (line, col) == (5, 12)
    assert message.startswith("invalid YAML:")
    assert "mapping values are not allowed" in message


def test_an_empty_file_says_what_a_pipeline_needs(host):
    assert problems(host, "empty.yaml") == [
        ("empty.yaml", 1, 1, "the file is empty; a pipeline needs 'name' and 'nodes'")
    ]


def test_a_document_that_is_not_a_mapping_is_refused(host):
    [(_, line, col, message)] = problems(host, "not_mapping.yaml")
    assert (line, col) == (1, 1)
    assert message.startswith("a pipeline must be a mapping")


def test_an_unknown_top_level_key_suggests_the_right_one(host):
    assert problems(host, "unknown_top_key.yaml") == [
        ("unknown_top_key.yaml", 1, 1, "'nodes' must be a non-empty list"),
        ("unknown_top_key.yaml", 2, 1, "unknown key 'nodez' — did you mean 'nodes'?"),
    ]


def test_a_pipeline_without_nodes_is_refused(host):
    assert problems(host, "missing_nodes.yaml") == [
        ("missing_nodes.yaml", 1, 1, "'nodes' must be a non-empty list")
    ]


def test_an_unknown_stage_suggests_a_registered_one(host):
    assert problems(host, "unknown_stage.yaml") == [
        ("unknown_stage.yaml", 4, 12, "unknown stage 'scael' — did you mean 'scale'?")
    ]


def test_an_unknown_node_key_suggests_the_right_one(host):
    assert problems(host, "unknown_node_key.yaml") == [
        ("unknown_node_key.yaml", 5, 5, "unknown node key 'param' — did you mean 'params'?")
    ]


def test_an_unknown_parameter_is_reported_at_its_key_with_a_suggestion(host):
    assert problems(host, "unknown_param.yaml") == [
        (
            "unknown_param.yaml",
            6,
            7,
            "unknown parameter 'scaled.factr' for stage 'scale' — did you mean 'factor'?",
        )
    ]


def test_a_missing_required_parameter_names_node_and_parameter(host):
    assert problems(host, "missing_param.yaml") == [
        ("missing_param.yaml", 7, 5, "missing parameter 'gate.threshold' for stage 'threshold'")
    ]


def test_a_value_of_the_wrong_type_is_reported_at_the_value(host):
    [(_, line, col, message)] = problems(host, "wrong_type.yaml")
    assert (line, col) == (6, 15)
    assert message.startswith("scaled.factor: Input should be a valid number")
    assert message.endswith("(got 'lots')")


def test_a_value_out_of_range_names_the_parameter_path_and_the_bound(host):
    assert problems(host, "out_of_range.yaml") == [
        (
            "out_of_range.yaml",
            7,
            15,
            "scaled.factor: Input should be less than or equal to 100 (got 500)",
        )
    ]


def test_a_nested_parameter_is_reported_with_its_full_path(host):
    assert problems(host, "nested_param.yaml") == [
        (
            "nested_param.yaml",
            10,
            15,
            "win.window.size: Input should be less than or equal to 10 (got 50)",
        )
    ]


def test_an_unknown_nested_parameter_is_reported_at_its_key(host):
    assert problems(host, "nested_unknown_param.yaml") == [
        (
            "nested_unknown_param.yaml",
            9,
            9,
            "unknown parameter 'win.window.sise' for stage 'windowed'",
        )
    ]


def test_a_duplicate_yaml_key_is_reported_at_the_second_key(host):
    assert problems(host, "duplicate_key.yaml") == [
        ("duplicate_key.yaml", 7, 7, "duplicate key 'factor'")
    ]


def test_a_bad_value_merged_from_an_anchor_is_reported_at_the_anchor_for_each_node(host):
    message = "{}.factor: Input should be less than or equal to 100 (got 500)"
    assert problems(host, "merge_out_of_range.yaml") == [
        ("merge_out_of_range.yaml", 6, 15, message.format("first")),
        ("merge_out_of_range.yaml", 6, 15, message.format("second")),
    ]


def test_a_merge_key_that_is_not_a_mapping_is_reported_at_the_value(host):
    assert problems(host, "merge_not_mapping.yaml") == [
        ("merge_not_mapping.yaml", 6, 12, "'<<' merges mappings only")
    ]


def test_a_duplicate_node_id_points_at_the_second_and_names_the_first(host):
    assert problems(host, "duplicate_ids.yaml") == [
        ("duplicate_ids.yaml", 5, 9, "duplicate node id 'scaled' (first used by node 1)")
    ]


def test_an_input_naming_an_unknown_node_suggests_a_known_one(host):
    assert problems(host, "unknown_input.yaml") == [
        (
            "unknown_input.yaml",
            3,
            9,
            "the output of node 'scaled' is not connected "
            "(only the last node may be the graph's output)",
        ),
        (
            "unknown_input.yaml",
            7,
            13,
            "node 'counted' input 'features' names unknown node 'scaeld' — did you mean 'scaled'?",
        ),
    ]


def test_an_unknown_input_port_lists_the_ports(host):
    found = problems(host, "unknown_port.yaml")
    assert ("unknown_port.yaml", 11, 7, "input port 'right' (features) is not connected") in found
    assert (
        "unknown_port.yaml",
        12,
        7,
        "unknown input port 'rigth' — did you mean 'right'?; ports: left, right, bias",
    ) in found


def test_mismatched_port_kinds_are_reported_at_the_stage_when_wired_implicitly(host):
    assert problems(host, "kind_mismatch.yaml") == [
        (
            "kind_mismatch.yaml",
            6,
            12,
            "node 'out' input 'probabilities' expects probabilities but 'scaled' produces features",
        )
    ]


def test_mismatched_port_kinds_are_reported_at_the_port_of_an_inputs_mapping(host):
    assert problems(host, "kind_mismatch_declared.yaml") == [
        (
            "kind_mismatch_declared.yaml",
            11,
            14,
            "node 'summed' input 'right' expects features but 'probs' produces probabilities",
        )
    ]


def test_a_node_whose_output_goes_nowhere_is_reported(host):
    assert problems(host, "unconnected_output.yaml") == [
        (
            "unconnected_output.yaml",
            5,
            9,
            "the output of node 'side' is not connected "
            "(only the last node may be the graph's output)",
        )
    ]


def test_a_cycle_is_reported_with_its_path(host):
    assert problems(host, "cycle.yaml") == [("cycle.yaml", 7, 13, "cycle: first → second → first")]


def test_a_model_file_that_does_not_exist_fails_validation_not_the_first_frame(host):
    [(_, line, col, message)] = problems(host, "missing_model.yaml")
    assert (line, col) == (8, 14)
    assert message.startswith("reader.model: model file 'models/missing.onnx' does not exist")
    assert str(BROKEN / "models" / "missing.onnx") in message


def test_an_unset_variable_without_default_is_one_problem_at_the_placeholder(host):
    assert problems(host, "env_unset.yaml") == [
        (
            "env_unset.yaml",
            6,
            15,
            "environment variable SIGNIFY_TEST_UNSET is not set and has no default",
        )
    ]


def test_a_variable_default_is_substituted_and_typed(host):
    plan = plan_pipeline(BROKEN / "env_out_of_range.yaml", host.registry, environ={})
    (scaled,) = plan.nodes
    assert scaled.params.factor == 2.0
    assert scaled.provenance["factor"] == "file"


def test_an_environment_value_is_validated_and_reported_at_the_yaml_node(host):
    found = problems(host, "env_out_of_range.yaml", environ={"SIGNIFY_TEST_FACTOR": "1000"})
    assert found == [
        (
            "env_out_of_range.yaml",
            6,
            15,
            "scaled.factor: Input should be less than or equal to 100 (got 1000) "
            "from environment SIGNIFY_TEST_FACTOR",
        )
    ]


def test_an_environment_value_in_range_is_used_and_its_origin_kept(host):
    plan = plan_pipeline(
        BROKEN / "env_out_of_range.yaml", host.registry, environ={"SIGNIFY_TEST_FACTOR": "7.5"}
    )
    (scaled,) = plan.nodes
    assert scaled.params.factor == 7.5
    assert scaled.provenance["factor"] == "environment SIGNIFY_TEST_FACTOR"


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(host):
    found = problems(host, "multiple.yaml")
    assert [(line, col) for _, line, col, _ in found] == [
        (2, 1),
        (7, 15),
        (8, 7),
        (10, 12),
        (14, 18),
        (15, 9),
        (17, 13),
    ]
    messages = [message for *_, message in found]
    assert messages[0] == "unknown key 'colour'"
    assert messages[1].startswith("scaled.factor: Input should be greater than 0")
    assert messages[2].startswith("unknown parameter 'scaled.labl'")
    assert "did you mean 'label'" in messages[2]
    assert messages[3] == "unknown stage 'smoth'"
    assert messages[4].startswith("gate.threshold: Input should be less than or equal to 1")
    assert messages[5] == "duplicate node id 'gate' (first used by node 3)"
    assert messages[6] == "node 'gate' input 'features' names unknown node 'nowhere'"


def test_an_invalid_first_node_does_not_also_report_that_nothing_reads_the_input(host):
    found = problems(host, "multiple.yaml")
    assert not any("graph input" in message for *_, message in found)


# -- --set overrides ------------------------------------------------------------------------


def test_a_valid_override_replaces_the_file_value_and_is_marked_as_such(host):
    plan = plan_pipeline(
        VALID / "chain.yaml", host.registry, overrides=["counted.start=3"], environ={}
    )
    counted = next(n for n in plan.nodes if n.id == "counted")
    assert counted.params.start == 3
    assert counted.provenance["start"] == "--set"


def test_an_override_of_a_nested_parameter_is_validated_and_marked(host):
    plan = plan_pipeline(
        VALID / "model.yaml", host.registry, overrides=["win.window.size=7"], environ={}
    )
    win = next(n for n in plan.nodes if n.id == "win")
    assert win.params.window.size == 7
    assert win.params.window.method == "max"
    assert win.provenance["window"] == "--set"


def test_an_override_naming_an_unknown_node_suggests_a_known_one(host):
    assert problems(host, "chain.yaml", overrides=["countd.start=3"]) == [
        ("--set", 1, 1, "--set names unknown node 'countd' — did you mean 'counted'?")
    ]


def test_an_override_out_of_range_is_reported_at_its_position_on_the_command_line(host):
    found = problems(host, "chain.yaml", overrides=["scaled.label=ok", "counted.start=5000"])
    # "counted.start=" is 14 characters: the value starts in column 15 of the 2nd --set.
    assert found == [
        ("--set", 2, 15, "counted.start: Input should be less than or equal to 1000 (got 5000)")
    ]


def test_an_override_of_an_unknown_parameter_suggests_the_right_one(host):
    [(file, line, _, message)] = problems(host, "chain.yaml", overrides=["counted.strat=1"])
    assert (file, line) == ("--set", 1)
    assert message == "unknown parameter 'counted.strat' for stage 'count' — did you mean 'start'?"


def test_an_override_below_a_plain_parameter_is_refused_not_ignored(host):
    assert problems(host, "chain.yaml", overrides=["scaled.factor.x=1"]) == [
        ("--set", 1, 17, "'scaled.factor' is not a group of parameters")
    ]


def test_a_malformed_override_is_reported(host):
    assert problems(host, "chain.yaml", overrides=["scaled.factor"]) == [
        ("--set", 1, 1, "--set expects NODE.PARAM=VALUE, got 'scaled.factor'")
    ]


def test_an_override_reaches_a_node_whose_params_are_empty(host, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nnodes:\n  - id: scaled\n    stage: scale\n    params:\n")
    plan = plan_pipeline(path, host.registry, overrides=["scaled.factor=3"], environ={})
    assert plan.nodes[0].params.factor == 3.0


# -- valid files and provenance -------------------------------------------------------------


@pytest.mark.parametrize("name", ["chain.yaml", "fan_in.yaml", "model.yaml", "merge_keys.yaml"])
def test_valid_fixtures_validate(host, name):
    plan = plan_pipeline(VALID / name, host.registry, environ={})
    assert plan.nodes
    assert plan.input_kind.value == "landmark_message"


def test_merge_keys_share_parameters_and_keys_written_in_the_node_win(host):
    plan = plan_pipeline(VALID / "merge_keys.yaml", host.registry, environ={})
    scaled = [node for node in plan.nodes if node.id != "summed"]
    params = {node.id: (node.params.factor, node.params.label) for node in scaled}
    assert params == {
        "first": (2.0, "shared"),
        "second": (3.0, "shared"),
        "third": (2.0, "listed"),  # of several merged mappings, the first wins
    }
    origin = plan.nodes[1].param_origins["factor"]
    assert (origin.line, origin.column) == (14, 15)


def test_provenance_tells_default_file_environment_and_set_apart(host):
    plan = plan_pipeline(
        VALID / "chain.yaml",
        host.registry,
        overrides=["counted.start=3"],
        environ={"SIGNIFY_TEST_FACTOR": "4"},
    )
    provenance = {node.id: node.provenance for node in plan.nodes}
    assert provenance["scaled"] == {"factor": "environment SIGNIFY_TEST_FACTOR", "label": "file"}
    assert provenance["counted"] == {"start": "--set"}
    origin = plan.nodes[1].param_origins["start"]
    assert (origin.file, origin.line, origin.column) == ("--set", 1, 15)


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    """``signify-graph`` in-process, with the test stages added to the installed ones."""
    monkeypatch.setattr(cli_module, "create_host", lambda: create_host(extra_plugins=[stages]))
    monkeypatch.delenv("SIGNIFY_TEST_FACTOR", raising=False)
    return cli_module.main


def test_cli_validate_exits_0_for_a_valid_file(cli, capsys):
    assert cli(["validate", str(VALID / "chain.yaml"), str(VALID / "fan_in.yaml")]) == 0
    out, err = capsys.readouterr()
    assert f"{VALID / 'chain.yaml'}: ok (4 nodes, input landmark_message)" in out
    assert f"{VALID / 'fan_in.yaml'}: ok (6 nodes, input landmark_message)" in out
    assert err == ""


def test_cli_validate_exits_1_with_one_line_per_problem(cli, capsys):
    broken = BROKEN / "multiple.yaml"
    assert cli(["validate", str(VALID / "chain.yaml"), str(broken)]) == 1
    out, err = capsys.readouterr()
    assert "chain.yaml: ok" in out
    lines = err.splitlines()
    assert len(lines) == 7
    assert lines[0] == f"{broken}:2:1: unknown key 'colour'"
    assert lines[-1] == f"{broken}:17:13: node 'gate' input 'features' names unknown node 'nowhere'"


def test_cli_validate_reports_set_problems(cli, capsys):
    assert cli(["validate", str(VALID / "chain.yaml"), "--set", "counted.start=-1"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("--set:1:15: counted.start: Input should be greater than or equal to 0")


def test_cli_graph_shows_where_every_value_came_from(cli, capsys, monkeypatch):
    monkeypatch.setenv("SIGNIFY_TEST_FACTOR", "4")
    assert cli(["graph", str(VALID / "chain.yaml"), "--set", "counted.start=3"]) == 0
    out, _ = capsys.readouterr()
    assert "factor = 4.0   [environment SIGNIFY_TEST_FACTOR]" in out
    assert "label = 'demo'   [file]" in out
    assert "start = 3   [--set]" in out
    assert "counted: count   (features ← scaled) → features" in out


def test_cli_graph_shows_defaults(cli, capsys):
    assert cli(["graph", str(VALID / "model.yaml")]) == 0
    out, _ = capsys.readouterr()
    assert "factor = 1.0   [default]" in out
    assert "threshold = 0.5   [file]" in out


@pytest.mark.slow
def test_the_installed_command_validates_a_pipeline_of_builtin_stages(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        "name: landmarks-only\n"
        "nodes:\n"
        "  - {id: hand, stage: landmarks}\n"
        "  - {id: features, stage: normalize}\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: typo\nnodes:\n  - {id: hand, stage: landmarks}\n  - {id: s, stage: smoth}\n"
    )
    command = [str(Path(sys.executable).parent / "signify-graph"), "validate"]
    env = {**os.environ, "SIGNIFY_DISABLE_PLUGINS": "signify-example-plugin"}
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, env=env)
    assert (ok.returncode, ok.stderr) == (0, "")
    assert "good.yaml: ok (2 nodes, input landmark_message)" in ok.stdout
    failed = subprocess.run([*command, str(bad)], capture_output=True, text=True, env=env)
    assert failed.returncode == 1
    assert failed.stderr == f"{bad}:4:20: unknown stage 'smoth' — did you mean 'smooth'?\n"
