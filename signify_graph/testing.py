"""Helpers for stage authors: run a stage through its real lifecycle in a test.

The pytest plugin (installed with signify-graph, entry point ``pytest11``) exposes them as
fixtures; they work without pytest too::

    from signify_graph.testing import StageHarness, check_stage_contract

    def test_my_stage_doubles():
        check_stage_contract(MyStage)
        with StageHarness(MyStage, {"factor": 2}) as harness, harness.session() as session:
            assert session.process(21) == 42

The harness validates parameters and loads the stage through the engine's own path (so bad
parameters give the messages a pipeline gives, as a :class:`StageConfigError`), loads it
once, runs ``check_sources`` against the stages you pass, and feeds items
with engine-like frame contexts (strictly increasing sequence and timestamps).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from ._errors import PluginError, StageConfigError
from ._host import StageRegistry
from ._kinds import Control, FrameContext
from ._load import load_stage, validate_params
from ._stage import Stage, StageSession

__all__ = ["HarnessSession", "StageHarness", "check_stage_contract"]


def check_stage_contract(stage: type[Stage]) -> None:
    """Fail (AssertionError) unless ``stage`` would be accepted by the registry and is
    documented: a class docstring and a docstring for every parameter."""
    try:
        StageRegistry().add(stage)
    except PluginError as exc:
        raise AssertionError(str(exc)) from exc
    missing = [
        name for name, field in stage.params_model.model_fields.items() if not field.description
    ]
    assert not missing, f"stage '{stage.name}' has undocumented parameters: {', '.join(missing)}"
    assert (inspect.getdoc(stage) or "").strip(), f"stage '{stage.name}' has no docstring"


class HarnessSession:
    """One session of a stage under test."""

    def __init__(self, session: StageSession, session_id: str) -> None:
        self._session = session
        self._session_id = session_id
        self._sequence = 0
        self._timestamp = -1

    def process(self, *inputs: Any, timestamp_ms: int | None = None) -> Any:
        """Process one item; timestamps default to 1 ms apart, as if frames came at once."""
        self._sequence += 1
        stamp = self._timestamp + 1 if timestamp_ms is None else timestamp_ms
        if stamp <= self._timestamp:
            raise ValueError("timestamps must strictly increase within a session")
        self._timestamp = stamp
        frame = FrameContext(self._session_id, self._sequence, stamp)
        return self._session.process(frame, *inputs)

    def reset(self, target: str | None = None) -> None:
        self._session.reset(Control(target))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HarnessSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StageHarness:
    """A stage loaded from parameters exactly as a graph would load it."""

    def __init__(
        self,
        stage: type[Stage],
        params: Mapping[str, Any] | None = None,
        *,
        base_dir: str | Path = ".",
        sources: Mapping[str, Stage] | None = None,
    ) -> None:
        base, node_id = Path(base_dir), f"test_{stage.name}"
        validated = validate_params(stage, params or {}, base, node_id)
        if isinstance(validated, list):
            raise StageConfigError("; ".join(problem.message for problem in validated))
        self.stage = load_stage(stage, validated, node_id, base)
        problems = list(self.stage.check_sources(dict(sources or {})))
        if problems:
            self.stage.close()
            raise StageConfigError("; ".join(problems))
        self._sessions: list[HarnessSession] = []

    def session(self, session_id: str | None = None) -> HarnessSession:
        name = session_id or f"test-{len(self._sessions) + 1}"
        session = HarnessSession(self.stage.open(name), name)
        self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self.stage.close()

    def __enter__(self) -> StageHarness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
