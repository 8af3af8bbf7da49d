"""Loading one stage, the way every caller does: the graph builder and the stage test kit.

:func:`validate_params` validates a node's raw parameters with the stage's model, in the
pipeline's folder (for :data:`~signify_graph.ModelFile` paths), and words every pydantic error
as users read it; :func:`load_stage` builds the stage and turns any failure into a
:class:`StageConfigError`. The caller says where (a YAML node, or a test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._document import did_you_mean
from ._errors import StageConfigError
from ._stage import LoadContext, Params, Stage


@dataclass(frozen=True, slots=True)
class ParamProblem:
    """One parameter that is wrong: its path below ``params``, and what to say."""

    loc: tuple[str, ...]
    message: str
    #: Blame the key (an unknown parameter) or, with an empty ``loc``, the params mapping.
    key: bool = False
    #: A value was refused (the caller may say where it came from: the environment…).
    value: bool = False


def validate_params(
    stage: type[Stage], raw: Mapping[str, Any], base_dir: Path, node_id: str
) -> Params | list[ParamProblem]:
    """The validated parameters, or every problem with them."""
    model = stage.params_model
    try:
        params: Params = model.model_validate(dict(raw), context={"base_dir": base_dir})
    except ValidationError as exc:
        return [_problem(stage, node_id, error) for error in exc.errors()]
    return params


def _problem(stage: type[Stage], node_id: str, error: Any) -> ParamProblem:
    loc = tuple(str(part) for part in error["loc"])
    dotted = ".".join((node_id, *loc))
    if error["type"] == "extra_forbidden":
        hint = did_you_mean(loc[-1], list(stage.params_model.model_fields))
        message = f"unknown parameter '{dotted}' for stage '{stage.name}'{hint}"
        return ParamProblem(loc, message, key=True)
    if error["type"] == "missing":
        return ParamProblem((), f"missing parameter '{dotted}' for stage '{stage.name}'", key=True)
    message = error["msg"].removeprefix("Value error, ")
    got = f" (got {error['input']!r})" if not isinstance(error["input"], dict) else ""
    return ParamProblem(loc, f"{dotted}: {message}{got}", value=True)


def load_stage(stage: type[Stage], params: Params, node_id: str, base_dir: Path) -> Stage:
    """Build the stage; a stage that refuses, or fails in any way, is a StageConfigError."""
    try:
        return stage(params, LoadContext(node_id, base_dir))
    except StageConfigError:
        raise
    except Exception as exc:
        message = f"stage '{stage.name}' failed to load: {type(exc).__name__}: {exc}"
        raise StageConfigError(message) from exc
