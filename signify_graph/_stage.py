"""The stage contract: what a plugin implements to become a node of a graph.

A stage type has two halves with different lifetimes:

* the :class:`Stage` instance is built once per graph, from validated parameters. It loads
  what every session may share (a model file, an inference session) and must not change
  afterwards, because many sessions use it from several threads at once;
* a :class:`StageSession` is opened per client session and holds that session's mutable
  state (a tracker, a window, a throttle). Sessions never share one.

Stage code is plain synchronous code: no sockets, no asyncio, no sleeping. The runner owns
threads, the network and time, and hands each item a :class:`~signify_graph.FrameContext`
with an engine-assigned timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from ._builtin import model_path, shipped_models
from ._kinds import Control, FrameContext, Kind, TextEdit


class Params(BaseModel):
    """Base for a stage's parameters: unknown keys are errors, values are immutable.

    Document each field with a docstring right below it; ``signify-graph stages`` and the
    JSON Schema show it, and the stage test kit fails on a field without one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _model_location(value: Any, info: ValidationInfo) -> Any:
    """``builtin:NAME`` → the shipped file; a relative path → below the pipeline's folder."""
    if not isinstance(value, str | Path):
        return value  # pydantic's own Path validation words the error
    shipped = model_path(str(value))
    if shipped is not None:
        return shipped
    base = (info.context or {}).get("base_dir")
    path = Path(value)
    return (path if path.is_absolute() or base is None else Path(base) / path).resolve()


def _resolve_model_file(value: Any, info: ValidationInfo) -> Any:
    path = _model_location(value, info)
    if isinstance(path, Path) and not path.is_file():
        shipped = [m for m in shipped_models() if Path(m).suffix == path.suffix] or shipped_models()
        hint = f"; shipped: builtin:{', builtin:'.join(shipped)}"
        raise ValueError(f"model file '{value}' does not exist (looked for {path}){hint}")
    return path


def _resolve_model_dir(value: Any, info: ValidationInfo) -> Any:
    path = _model_location(value, info)
    if isinstance(path, Path) and not path.is_dir():
        raise ValueError(f"model folder '{value}' does not exist (looked for {path})")
    return path


#: A parameter naming a model file: ``builtin:NAME`` is a model shipped in the package
#: (``builtin:classifier.onnx``), a relative path is resolved against the pipeline file's
#: folder, and a file that does not exist is a validation error, not a first-frame crash.
ModelFile = Annotated[Path, BeforeValidator(_resolve_model_file)]

#: A parameter naming a folder of model files, resolved like :data:`ModelFile`; ``builtin:``
#: is the folder of the models shipped in the package.
ModelDir = Annotated[Path, BeforeValidator(_resolve_model_dir)]


@dataclass(frozen=True, slots=True)
class Port:
    """An input port: the kind it accepts and whether it may stay unconnected."""

    kind: Kind
    optional: bool = False


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What a stage may know while it loads: where it sits and where the pipeline lives."""

    node_id: str
    base_dir: Path


class StageSession:
    """Per-session state of one stage. Override what the stage needs.

    ``process`` receives the :class:`FrameContext` and the values of the stage's input ports,
    in the order the stage declares them, and returns the value of its output port.
    """

    def process(self, frame: FrameContext, *inputs: Any) -> Any:
        raise NotImplementedError

    def reset(self, control: Control) -> None:
        """Start over (a new target letter, a client's reset). Default: nothing to forget."""

    def edit(self, edit: TextEdit) -> str | None:
        """Apply a client's edit of the spelled text; return the text after it.

        Only a stage that keeps the session's text (``spell``) overrides this; the others
        return ``None``, so the service can tell a pipeline that spells from one that
        does not. Called between frames, never while one runs."""
        return None

    def close(self) -> None:
        """Release per-session resources (a tracker). Called once, when the session ends."""


class _StatelessSession(StageSession):
    """Session of a stage without per-session state: calls the stage's own ``process``."""

    def __init__(self, process: Callable[..., Any]) -> None:
        self.process = process  # type: ignore[method-assign]


class Stage:
    """Base class of every stage type.

    Subclasses set the class attributes below and a docstring (its first line is the
    summary ``signify-graph stages`` prints), and override :meth:`process` for a stateless
    stage or :meth:`open` for a stateful one.
    """

    #: Unique type name, used as ``stage:`` in pipeline files.
    name: ClassVar[str]
    #: The pydantic model of the parameters (subclass of :class:`Params`).
    params_model: ClassVar[type[Params]] = Params
    #: Input ports, in the order ``process`` receives them.
    inputs: ClassVar[Mapping[str, Port]]
    #: The kind of the single output port.
    output: ClassVar[Kind]
    #: True only for stages that always finish in well under a millisecond and never block
    #: (no I/O, no locks, no native inference that may stall), in :meth:`open` as in
    #: processing. When every stage of a graph is inline-safe the service opens sessions and
    #: runs frames on its event loop, saving the thread hand-off that would otherwise cost
    #: more than the work; a stage that hangs there would stall every session, so the default
    #: is False. Stages that are not inline-safe on branches of a
    #: graph that do not depend on each other run at the same time, on different threads.
    inline_safe: ClassVar[bool] = False

    def __init__(self, params: Any, context: LoadContext) -> None:
        """Load shared resources once per graph. Raise :class:`StageConfigError` to refuse."""
        self.params = params
        self.context = context

    @property
    def labels(self) -> tuple[str, ...] | None:
        """What this stage's probabilities name, in order; ``None`` unless it classifies.

        A classifier declares them (its model names them), and the service uses the first
        classifier's to refuse a reset target that is not one of them (``bad_target``)."""
        return None

    @property
    def contract(self) -> str | None:
        """The name of the normalisation this stage's features follow; ``None`` unless it
        produces features. A classifier compares it, in :meth:`check_sources`, with the one
        its model was trained on, so a mismatch fails when the graph is built."""
        return None

    def check_sources(self, sources: Mapping[str, Stage]) -> Iterable[str]:
        """Check the stages feeding each input port; yield a message per problem.

        Runs once while the graph is built, after every stage loaded: the place for
        contracts between stages (a classifier and the normalisation it was trained with).
        """
        return ()

    def identity(self) -> Mapping[str, Any]:
        """What identifies this stage's resources (a model's path and sha256…).

        ``/health`` reports it, so an operator can tell which model a replica serves.
        """
        return {}

    def open(self, session_id: str) -> StageSession:
        """Open per-session state. Default: a stateless session calling :meth:`process`."""
        return _StatelessSession(self.process)

    def process(self, frame: FrameContext, *inputs: Any) -> Any:
        """Process one item (for stateless stages)."""
        raise NotImplementedError(f"stage '{self.name}' implements neither process nor open")

    def close(self) -> None:
        """Release shared resources. Called once when the graph closes."""
