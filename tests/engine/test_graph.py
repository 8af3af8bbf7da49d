"""Running graphs: per-session state, failures confined to one item, timing, hooks, wiring."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from signify_graph import (
    Control,
    Graph,
    InputError,
    StageError,
    build_graph,
    create_host,
    hookimpl,
    plan_pipeline,
)

from . import stages
from .conftest import PIPELINES


def make_graph(host: Any, tmp_path: Path, text: str, **options: Any) -> Graph:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return build_graph(plan_pipeline(path, host.registry, environ={}), host, **options)


COUNTING = """
name: counting
nodes:
  - {id: scaled, stage: scale}
  - {id: first, stage: count}
  - {id: second, stage: count, params: {start: 10}}
  - {id: third, stage: count, params: {start: 100}}
"""

CHECKED = """
name: checked
nodes:
  - {id: scaled, stage: scale}
  - {id: checked, stage: fail}
  - {id: counted, stage: count}
"""


class Recorder:
    """A plugin recording every observing hook, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @hookimpl
    def signify_graph_built(self, graph: Graph) -> None:
        self.calls.append(("built", graph.name))

    @hookimpl
    def signify_session_opened(self, graph: Graph, session_id: str) -> None:
        self.calls.append(("opened", graph.name, session_id))

    @hookimpl
    def signify_session_closed(self, graph: Graph, session_id: str, items: int) -> None:
        self.calls.append(("closed", graph.name, session_id, items))

    @hookimpl
    def signify_item_failed(
        self, graph: Graph, session_id: str, node_id: str, error: StageError
    ) -> None:
        self.calls.append(("failed", session_id, node_id, error.code))


def test_items_run_through_every_stage_in_order(host):
    plan = plan_pipeline(PIPELINES / "valid" / "chain.yaml", host.registry, environ={})
    graph = build_graph(plan, host)
    with graph.open_session("s1") as session:
        result = session.process(0.1)
    assert result.error is None
    assert graph.node_ids == ["scaled", "counted", "probs", "out"]
    assert result.values[:2] == [pytest.approx(0.25), 1]
    assert result.output == {"letter": "A", "p": 1.0}


def test_sessions_do_not_share_stage_state(host, tmp_path):
    graph = make_graph(host, tmp_path, COUNTING)
    one, two = graph.open_session("one"), graph.open_session("two")
    assert [one.process(0).output for _ in range(3)] == [101, 102, 103]
    assert [two.process(0).output for _ in range(2)] == [101, 102]
    assert one.process(0).values == [0, 4, 14, 104]
    one.close()
    two.close()


def test_reset_reaches_every_stage_of_that_session_only(host, tmp_path):
    graph = make_graph(host, tmp_path, COUNTING)
    one, two = graph.open_session("one"), graph.open_session("two")
    for _ in range(3):
        one.process(0)
        two.process(0)
    one.reset(Control(target="B"))
    assert one.process(0).values == [0, 1, 11, 101]
    assert two.process(0).values == [0, 4, 14, 104]
    for node_id in ("first", "second", "third"):
        assert graph.stages[node_id].events == [("reset", "one", "B")]  # type: ignore[attr-defined]


def test_closing_a_session_closes_every_stage_session_once(host, tmp_path):
    graph = make_graph(host, tmp_path, COUNTING)
    session = graph.open_session("one")
    session.close()
    session.close()
    for node_id in ("first", "second", "third"):
        assert graph.stages[node_id].events == [("close", "one", None)]  # type: ignore[attr-defined]


def test_an_input_error_fails_only_that_item_and_keeps_its_code(host, tmp_path):
    graph = make_graph(host, tmp_path, CHECKED)
    session = graph.open_session("s")
    assert session.process(1).output == 1
    failed = session.process(-1)
    assert isinstance(failed.error, InputError)
    assert failed.error.code == "negative_value"
    assert failed.error.message == "negative value -1.0"
    assert failed.failed_node == "checked"
    assert failed.output is None
    assert failed.values == [-1.0]
    assert session.process(2).output == 2  # the count went on: the failed item never reached it


def test_an_unexpected_exception_becomes_a_typed_stage_error(host, tmp_path, caplog):
    graph = make_graph(host, tmp_path, CHECKED)
    one, other = graph.open_session("one"), graph.open_session("other")
    with caplog.at_level(logging.ERROR, logger="signify_graph"):
        failed = one.process(13)
    assert type(failed.error) is StageError
    assert failed.error.code == "stage_failed"
    assert failed.error.message == "stage 'checked' failed: RuntimeError: unlucky number"
    assert isinstance(failed.error.__cause__, RuntimeError)
    assert failed.failed_node == "checked"
    assert "stage checked failed" in caplog.text
    assert one.process(1).error is None
    assert other.process(13).error is not None
    assert other.process(5).output == 1


def test_per_stage_timings_are_recorded_up_to_the_failing_stage(host, tmp_path):
    graph = make_graph(host, tmp_path, CHECKED)
    session = graph.open_session("s")
    ok = session.process(1)
    assert len(ok.timings_ns) == 3
    assert all(isinstance(t, int) and t >= 0 for t in ok.timings_ns)
    failed = session.process(-1)
    assert len(failed.timings_ns) == 2


def test_timestamps_strictly_increase_even_when_arrival_times_repeat(host, tmp_path):
    graph = make_graph(host, tmp_path, CHECKED)
    session = graph.open_session("s")
    stamps = [session.process(1, arrival_ms=ms).timestamp_ms for ms in (5, 5, 5, 100, 50, 101)]
    assert stamps == [5, 6, 7, 100, 101, 102]
    frames = graph.stages["counted"].frames  # type: ignore[attr-defined]
    assert [f.timestamp_ms for f in frames] == stamps
    assert [f.sequence for f in frames] == [1, 2, 3, 4, 5, 6]
    assert {f.session_id for f in frames} == {"s"}


def test_timestamps_default_to_the_session_clock(host, tmp_path):
    graph = make_graph(host, tmp_path, CHECKED)
    session = graph.open_session("s")
    stamps = [session.process(1).timestamp_ms for _ in range(5)]
    assert stamps == sorted(set(stamps))
    assert stamps[0] >= 0


def test_observing_hooks_fire_in_lifecycle_order(tmp_path):
    recorder = Recorder()
    host = create_host(extra_plugins=[stages, recorder], entry_points=False)
    graph = make_graph(host, tmp_path, CHECKED)
    with graph.open_session("s1") as session:
        session.process(1)
        session.process(-1)
        session.process(13)
    assert recorder.calls == [
        ("built", "checked"),
        ("opened", "checked", "s1"),
        ("failed", "s1", "checked", "negative_value"),
        ("failed", "s1", "checked", "stage_failed"),
        ("closed", "checked", "s1", 3),
    ]


def test_graph_built_is_not_announced_when_asked_not_to(tmp_path):
    recorder = Recorder()
    host = create_host(extra_plugins=[stages, recorder], entry_points=False)
    make_graph(host, tmp_path, CHECKED, announce=False)
    assert recorder.calls == []


def test_inputs_as_string_list_and_mapping_wire_the_named_ports(host):
    plan = plan_pipeline(PIPELINES / "valid" / "fan_in.yaml", host.registry)
    inputs = {node.id: node.inputs for node in plan.nodes}
    assert inputs == {
        "a": {"message": "input"},
        "b": {"message": "input"},
        "c": {"message": "input"},
        "summed": {"left": "a", "right": "b"},
        "biased": {"left": "summed", "right": "a", "bias": "c"},
        "passed": {"features": "biased"},
    }
    graph = build_graph(plan, host)
    result = graph.open_session("s").process(1)
    assert dict(zip(graph.node_ids, result.values, strict=True)) == {
        "a": 2,
        "b": 10,
        "c": 100,
        "summed": 12,
        "biased": 114,
        "passed": 114,
    }


def test_nodes_run_after_their_sources_whatever_the_file_order(host, tmp_path):
    graph = make_graph(
        host,
        tmp_path,
        """
name: reordered
nodes:
  - {id: a, stage: scale}
  - {id: total, stage: add, inputs: {left: a, right: b}}
  - {id: b, stage: scale, params: {factor: 3}, inputs: input}
  - {id: out, stage: count, inputs: total}
""",
    )
    assert graph.node_ids.index("b") < graph.node_ids.index("total")
    assert graph.plan.output == "out"
    result = graph.open_session("s").process(2)
    assert result.values[graph.node_ids.index("total")] == 8
    assert result.output == 1
