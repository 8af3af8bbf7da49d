"""The plugin host: hook specifications, entry-point discovery and the stage registry.

Built like pluggy's ``eggsample``: a factory adds the specs, loads the entry-point group and
registers whatever the caller passes explicitly. Nothing happens at import time, so tests and
embedders can build as many hosts as they like, each with its own plugins.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from ._errors import PluginError
from ._kinds import Kind
from ._stage import Params, Port, Stage

if TYPE_CHECKING:
    from ._errors import StageError
    from ._graph import Graph

ENTRY_POINT_GROUP = "signify_graph"
#: Comma-separated entry-point or distribution names that the host must not load.
DISABLE_ENV = "SIGNIFY_DISABLE_PLUGINS"
_OWN_DIST = "signify-graph"


@dataclass(frozen=True, slots=True)
class StageInfo:
    """A registered stage type and the plugin distribution that provided it."""

    cls: type[Stage]
    provider: str


class StageRegistry:
    """Stage types by name. Plugins add to it through ``signify_register_stages``.

    Each plugin is handed its own view (:meth:`for_plugin`): what it adds is recorded, and
    its mistakes are reported, in its distribution's name."""

    def __init__(
        self, provider: str = "<unknown>", stages: dict[str, StageInfo] | None = None
    ) -> None:
        self._stages: dict[str, StageInfo] = {} if stages is None else stages
        self._provider = provider

    def for_plugin(self, provider: str) -> StageRegistry:
        """This registry, adding stages in ``provider``'s name."""
        return StageRegistry(provider, self._stages)

    def add(self, stage: type[Stage]) -> None:
        """Register a stage class; refuses duplicates and classes that break the contract."""
        problems = list(_contract_problems(stage))
        if problems:
            raise PluginError(
                f"plugin '{self._provider}' registers an invalid stage "
                f"{getattr(stage, '__qualname__', stage)!r}: {'; '.join(problems)}"
            )
        taken = self._stages.get(stage.name)
        if taken is not None:
            raise PluginError(
                f"plugin '{self._provider}' registers stage '{stage.name}', "
                f"already registered by '{taken.provider}'"
            )
        self._stages[stage.name] = StageInfo(stage, self._provider)

    def get(self, name: str) -> StageInfo | None:
        return self._stages.get(name)

    def names(self) -> list[str]:
        return sorted(self._stages)

    def __iter__(self) -> Iterator[StageInfo]:
        return iter(self._stages[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._stages)


def _contract_problems(stage: Any) -> Iterator[str]:
    if not (inspect.isclass(stage) and issubclass(stage, Stage)):
        yield "not a subclass of signify_graph.Stage"
        return
    name = getattr(stage, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        yield "'name' must be an identifier string"
    if not inspect.getdoc(stage) or stage.__doc__ is None:
        yield "it has no docstring"
    model = stage.params_model
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        yield "'params_model' must be a pydantic model"
    elif model is not Params and model.model_config.get("extra") != "forbid":
        yield "'params_model' must forbid unknown keys (subclass signify_graph.Params)"
    inputs = getattr(stage, "inputs", None)
    if not isinstance(inputs, Mapping) or not all(isinstance(p, Port) for p in inputs.values()):
        yield "'inputs' must map port names to signify_graph.Port"
    if not isinstance(getattr(stage, "output", None), Kind):
        yield "'output' must be a signify_graph.Kind"
    if isinstance(inputs, Mapping) and stage.process is not Stage.process:
        yield from signature_problems(stage.process, list(inputs), "process")


def signature_problems(process: Callable[..., Any], ports: list[str], where: str) -> Iterator[str]:
    """A ``process`` that cannot take the frame and one argument per declared port, in order.

    ``process`` is unbound (``self`` first) or bound; ``*inputs`` takes any number."""
    try:
        parameters = list(inspect.signature(process).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: nothing to read
        return
    if not inspect.ismethod(process) and parameters:
        parameters = parameters[1:]  # self
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return
    required = [p for p in positional if p.default is p.empty]
    wanted = 1 + len(ports)  # the frame, then the ports
    if not len(required) <= wanted <= len(positional):
        names = ", ".join(ports) or "none"
        got = len(positional) - 1 if positional else 0
        yield (
            f"{where}() takes {max(got, 0)} input argument(s) after the frame but the stage "
            f"declares {len(ports)} port(s): {names}"
        )


class Hooks:
    """The observing hooks of :mod:`.hookspecs`, typed: what the engine calls, by name and
    argument, so a misspelt call is a type error rather than a silently unheard hook."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self._relay = manager.hook

    def graph_built(self, graph: Graph) -> None:
        self._relay.signify_graph_built(graph=graph)

    def session_opened(self, graph: Graph, session_id: str) -> None:
        self._relay.signify_session_opened(graph=graph, session_id=session_id)

    def session_closed(self, graph: Graph, session_id: str, items: int) -> None:
        self._relay.signify_session_closed(graph=graph, session_id=session_id, items=items)

    def item_failed(self, graph: Graph, session_id: str, node_id: str, error: StageError) -> None:
        self._relay.signify_item_failed(
            graph=graph, session_id=session_id, node_id=node_id, error=error
        )


@dataclass
class PluginHost:
    """A plugin manager with its plugins loaded and their stages registered."""

    manager: pluggy.PluginManager
    registry: StageRegistry

    @property
    def hook(self) -> Hooks:
        """The observing hooks, typed (``manager.hook`` is pluggy's untyped relay)."""
        return Hooks(self.manager)


def _disabled_names(environ: Mapping[str, str]) -> set[str]:
    raw = environ.get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def create_host(
    extra_plugins: Iterable[object] = (),
    *,
    environ: Mapping[str, str] | None = None,
    entry_points: bool = True,
) -> PluginHost:
    """Build a plugin host: specs, then the entry-point group, then ``extra_plugins``.

    A plugin that fails to import or to register raises :class:`PluginError` with one line
    naming its distribution and entry point, instead of a traceback from deep inside pluggy.
    """
    env = os.environ if environ is None else environ
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    providers: dict[int, str] = {}
    if entry_points:
        disabled = _disabled_names(env)
        # Our own stages first, so a plugin reusing one of their names is the one blamed.
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(found, key=lambda ep: ep.dist is None or ep.dist.name != _OWN_DIST):
            dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
            if ep.name in disabled or dist in disabled:
                continue
            where = f"entry point '{ep.name} = {ep.value}' of distribution '{dist}'"
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {where} failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            if manager.is_registered(plugin):
                continue
            try:
                manager.register(plugin, name=f"{dist}:{ep.name}")
            except Exception as exc:
                raise PluginError(f"plugin {where} is invalid: {exc}") from exc
            providers[id(plugin)] = f"{dist} ({ep.name})"
    for plugin in extra_plugins:
        if not manager.is_registered(plugin):
            manager.register(plugin)
            providers[id(plugin)] = getattr(plugin, "__name__", type(plugin).__name__)
    registry = StageRegistry()
    for impl in manager.hook.signify_register_stages.get_hookimpls():  # registration order
        provider = providers.get(id(impl.plugin), impl.plugin_name)
        try:
            impl.function(registry=registry.for_plugin(provider))
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin '{provider}' failed to register its stages: {type(exc).__name__}: {exc}"
            ) from exc
    return PluginHost(manager, registry)
