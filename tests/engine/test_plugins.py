"""The plugin host: entry-point discovery, one-line errors naming the culprit, the contract."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from signify_graph import (
    ENTRY_POINT_GROUP,
    Kind,
    Params,
    PluginError,
    Port,
    Stage,
    StageRegistry,
    StageSession,
    build_graph,
    create_host,
    hookimpl,
    plan_pipeline,
)

from . import stages

BUILTINS = {
    "decode",
    "hands",
    "landmarks",
    "normalize",
    "classify",
    "average",
    "smooth",
    "spell",
    "emit",
}
COMMAND = str(Path(sys.executable).parent / "signify-graph")

PLUGIN_SOURCE = '''
from typing import ClassVar

from signify_graph import Kind, Port, Stage, hookimpl


class EchoStage(Stage):
    """Pass the features on."""

    name = "{stage}"
    inputs: ClassVar = {{"features": Port(Kind.FEATURES)}}
    output = Kind.FEATURES

    def process(self, frame, value):
        return value


@hookimpl
def signify_register_stages(registry):
    registry.add(EchoStage)
'''


def make_distribution(root: Path, dist: str, module: str, source: str, entry: str = "main"):
    """Write an installed-looking distribution into ``root``: a module and its dist-info."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry} = {module}\n")


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """``tmp_path`` on ``sys.path``, so importlib.metadata finds distributions written there."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("throwaway_")]:
        del sys.modules[name]


def run_cli(*args: str, pythonpath: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(pythonpath), **env}
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, env=environ)


# -- discovery ------------------------------------------------------------------------------


def test_builtin_stages_are_discovered_through_the_entry_point_group():
    registry = create_host(environ={}).registry
    own = {info.cls.name: info.provider for info in registry if info.cls.name in BUILTINS}
    assert set(own) == BUILTINS
    for name, provider in own.items():
        assert provider == f"signify-graph ({name})"
    declared = {
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name == "signify-graph"
    }
    assert declared == BUILTINS


def test_a_host_without_entry_points_has_only_the_plugins_it_was_given(host):
    assert set(host.registry.names()) == {stage.name for stage in stages.STAGES}
    assert {info.provider for info in host.registry} == {stages.__name__}


def test_a_third_party_distribution_adds_its_stage_with_its_name_as_provider(on_path):
    make_distribution(
        on_path, "throwaway-echo", "throwaway_echo", PLUGIN_SOURCE.format(stage="echo"), "echo"
    )
    info = create_host(environ={}).registry.get("echo")
    assert info is not None
    assert info.provider == "throwaway-echo (echo)"


# -- errors naming the culprit --------------------------------------------------------------


def test_a_distribution_reusing_a_builtin_name_is_blamed(on_path):
    make_distribution(
        on_path, "throwaway-dup", "throwaway_dup", PLUGIN_SOURCE.format(stage="smooth"), "dup"
    )
    with pytest.raises(PluginError) as caught:
        create_host(environ={})
    assert str(caught.value) == (
        "plugin 'throwaway-dup (dup)' registers stage 'smooth', "
        "already registered by 'signify-graph (smooth)'"
    )


def test_an_extra_plugin_reusing_a_builtin_name_is_blamed_not_the_builtin():
    class Again(stages.ScaleStage):
        """Another smooth."""

        name = "smooth"

    class Plugin:
        @hookimpl
        def signify_register_stages(self, registry: Any) -> None:
            registry.add(Again)

    with pytest.raises(PluginError, match=r"^plugin 'Plugin' registers stage 'smooth', already"):
        create_host(extra_plugins=[Plugin()], environ={})


def test_a_distribution_that_fails_to_import_is_one_line_naming_it(on_path):
    make_distribution(
        on_path, "throwaway-broken", "throwaway_broken", "import does_not_exist\n", "broken"
    )
    with pytest.raises(PluginError) as caught:
        create_host(environ={})
    assert str(caught.value) == (
        "plugin entry point 'broken = throwaway_broken' of distribution 'throwaway-broken' "
        "failed to import: ModuleNotFoundError: No module named 'does_not_exist'"
    )


def test_a_distribution_with_an_invalid_hook_is_one_line_naming_it(on_path):
    source = """
    from signify_graph import hookimpl

    @hookimpl
    def signify_register_stages(registry, colour):
        pass
    """
    make_distribution(on_path, "throwaway-hook", "throwaway_hook", source, "hook")
    with pytest.raises(PluginError) as caught:
        create_host(environ={})
    message = str(caught.value)
    assert message.startswith(
        "plugin entry point 'hook = throwaway_hook' of distribution 'throwaway-hook' is invalid:"
    )
    assert "colour" in message


def test_a_plugin_whose_registration_crashes_is_named(on_path):
    source = """
    from signify_graph import hookimpl

    @hookimpl
    def signify_register_stages(registry):
        raise KeyError("oops")
    """
    make_distribution(on_path, "throwaway-crash", "throwaway_crash", source, "crash")
    with pytest.raises(PluginError) as caught:
        create_host(environ={})
    assert str(caught.value) == (
        "plugin 'throwaway-crash (crash)' failed to register its stages: KeyError: 'oops'"
    )


@pytest.mark.slow
def test_the_command_prints_one_line_naming_a_plugin_that_fails_to_import(tmp_path):
    make_distribution(
        tmp_path, "throwaway-broken", "throwaway_broken", "raise RuntimeError('boom')\n", "bad"
    )
    result = run_cli("stages", pythonpath=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "signify-graph: error: plugin entry point 'bad = throwaway_broken' of distribution "
        "'throwaway-broken' failed to import: RuntimeError: boom"
    ]


@pytest.mark.parametrize("disabled", ["throwaway-broken", "bad", "other, throwaway-broken"])
def test_a_plugin_can_be_disabled_by_distribution_or_entry_point_name(on_path, disabled):
    make_distribution(
        on_path, "throwaway-broken", "throwaway_broken", "raise RuntimeError('boom')\n", "bad"
    )
    host = create_host(environ={"SIGNIFY_DISABLE_PLUGINS": disabled})
    assert set(host.registry.names()) >= BUILTINS


@pytest.mark.slow
def test_the_command_runs_when_the_broken_plugin_is_disabled(tmp_path):
    make_distribution(
        tmp_path, "throwaway-broken", "throwaway_broken", "raise RuntimeError('boom')\n", "bad"
    )
    result = run_cli("stages", pythonpath=tmp_path, SIGNIFY_DISABLE_PLUGINS="throwaway-broken")
    assert (result.returncode, result.stderr) == (0, "")
    assert "smooth  (signify-graph (smooth))" in result.stdout


# -- the stage contract ---------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    level: int = 1


def _stage(**attributes: Any) -> type[Stage]:
    namespace: dict[str, Any] = {
        "__doc__": "A stage.",
        "name": "contract",
        "inputs": {"features": Port(Kind.FEATURES)},
        "output": Kind.FEATURES,
    }
    namespace.update(attributes)
    return type("ContractStage", (Stage,), namespace)


@pytest.mark.parametrize(
    ("attributes", "complaint"),
    [
        ({"__doc__": None}, "it has no docstring"),
        ({"params_model": _Loose}, "'params_model' must forbid unknown keys"),
        ({"params_model": dict}, "'params_model' must be a pydantic model"),
        ({"inputs": {"features": Kind.FEATURES}}, "'inputs' must map port names to"),
        ({"inputs": ["features"]}, "'inputs' must map port names to"),
        ({"output": "features"}, "'output' must be a signify_graph.Kind"),
        ({"name": "not a name"}, "'name' must be an identifier string"),
    ],
)
def test_a_class_breaking_the_contract_is_refused(attributes, complaint):
    registry = StageRegistry()
    with pytest.raises(PluginError) as caught:
        registry.add(_stage(**attributes))
    assert "registers an invalid stage" in str(caught.value)
    assert complaint in str(caught.value)
    assert len(registry) == 0


def test_a_class_that_is_not_a_stage_is_refused():
    with pytest.raises(PluginError, match=r"not a subclass of signify_graph\.Stage"):
        StageRegistry().add(dict)  # type: ignore[arg-type]


def test_a_conforming_class_is_accepted():
    class Strict(Params):
        level: int = 1
        """A level."""

    registry = StageRegistry()
    registry.add(_stage(params_model=Strict))
    assert registry.names() == ["contract"]


def test_a_plugin_registering_a_broken_class_is_named():
    broken = _stage(__doc__=None)

    class Sloppy:
        @hookimpl
        def signify_register_stages(self, registry: Any) -> None:
            registry.add(broken)

    with pytest.raises(PluginError) as caught:
        create_host(extra_plugins=[Sloppy()], entry_points=False)
    assert str(caught.value).startswith("plugin 'Sloppy' registers an invalid stage")
    assert "it has no docstring" in str(caught.value)


def test_contract_violations_are_all_listed_at_once():
    bad = _stage(__doc__=None, output="x", inputs=None)
    with pytest.raises(PluginError) as caught:
        StageRegistry().add(bad)
    message = str(caught.value)
    for complaint in ("no docstring", "'inputs'", "'output'"):
        assert complaint in message


class _TwoPorts(Stage):
    """Two ports, but a process that takes one of them."""

    name = "two_ports"
    inputs: ClassVar = {"hand": Port(Kind.HAND), "reply": Port(Kind.REPLY)}
    output = Kind.REPLY

    def process(self, frame: Any, hand: Any) -> Any:
        return hand


def test_a_stage_whose_process_does_not_match_its_ports_is_refused_at_registration_in_one_line():
    with pytest.raises(PluginError) as caught:
        StageRegistry().for_plugin("my-dist").add(_TwoPorts)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("plugin 'my-dist' registers an invalid stage")
    assert (
        "process() takes 1 input argument(s) after the frame but the stage declares 2 port(s)"
        in message
    )
    assert "hand, reply" in message


def test_process_signatures_that_fit_the_ports_are_accepted():
    class Optional(_TwoPorts):
        """A default for the second port, and *inputs, both fit."""

        name = "fits"

        def process(self, frame: Any, hand: Any, reply: Any = None) -> Any:
            return reply

    class Star(_TwoPorts):
        """Any number of inputs."""

        name = "star"

        def process(self, frame: Any, *inputs: Any) -> Any:
            return inputs

    registry = StageRegistry()
    registry.add(Optional)
    registry.add(Star)
    assert registry.names() == ["fits", "star"]


class _BadSession(StageSession):
    def process(self, frame: Any) -> Any:
        return None


class _StatefulOnePort(Stage):
    """A stateful stage whose session's process takes no port at all."""

    name = "stateful_one_port"
    inputs: ClassVar = {"image": Port(Kind.ENCODED_IMAGE)}
    output = Kind.REPLY

    def open(self, session_id: str) -> StageSession:
        return _BadSession()


def test_a_stage_session_whose_process_does_not_match_is_refused_when_the_first_session_opens(
    tmp_path: Path,
):
    """A session's class is known only once one opens: the service's warm-up, before it
    listens, opens one, so the server still refuses to start, in one line."""

    class Plugin:
        @staticmethod
        @hookimpl
        def signify_register_stages(registry: StageRegistry) -> None:
            registry.add(_StatefulOnePort)

    host = create_host([Plugin], entry_points=False)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: p\nnodes:\n  - id: s\n    stage: stateful_one_port\n")
    graph = build_graph(plan_pipeline(pipeline, host.registry), host)
    with pytest.raises(PluginError) as caught:
        graph.open_session("first")
    assert str(caught.value) == (
        "stage 'stateful_one_port' (node 's'): session process() takes 0 input argument(s) "
        "after the frame but the stage declares 1 port(s): image"
    )
