"""Documentation that is tested: hooks, built-in stages and the public API."""

from __future__ import annotations

import inspect
import re

import pytest

import signify_graph
from signify_graph import create_host, hookspecs
from signify_graph.testing import check_stage_contract

HOOKSPECS = [
    function
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("signify_")
]
BUILTINS = [
    info.cls
    for info in create_host(environ={}).registry
    if info.provider.startswith("signify-graph ")
]


def test_there_are_hookspecs_and_builtins_to_check():
    assert len(HOOKSPECS) >= 5
    assert len(BUILTINS) == 9


@pytest.mark.parametrize("hook", HOOKSPECS, ids=lambda hook: hook.__name__)
def test_every_hookspec_says_when_it_is_called(hook):
    doc = inspect.getdoc(hook) or ""
    assert "Called" in doc, f"{hook.__name__}: say when it fires ('Called …')"


@pytest.mark.parametrize("hook", HOOKSPECS, ids=lambda hook: hook.__name__)
def test_every_hookspec_documents_every_parameter(hook):
    doc = inspect.getdoc(hook) or ""
    documented = set(re.findall(r"^:param (\w+):", doc, flags=re.MULTILINE))
    parameters = set(inspect.signature(hook).parameters)
    assert documented == parameters, f"{hook.__name__}: document each parameter with :param:"


@pytest.mark.parametrize("hook", HOOKSPECS, ids=lambda hook: hook.__name__)
def test_every_hookspec_is_fully_typed(hook):
    annotations = inspect.get_annotations(hook)
    assert set(annotations) == {*inspect.signature(hook).parameters, "return"}


@pytest.mark.parametrize("stage", BUILTINS, ids=lambda stage: stage.name)
def test_every_builtin_stage_keeps_the_stage_contract(stage):
    check_stage_contract(stage)


@pytest.mark.parametrize("name", signify_graph.__all__)
def test_every_public_name_is_importable_and_documented(name):
    value = getattr(signify_graph, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert (inspect.getdoc(value) or "").strip(), f"signify_graph.{name} has no docstring"
        assert value.__doc__, f"signify_graph.{name} inherits its docstring"


def test_the_public_api_lists_no_private_names():
    assert not [name for name in signify_graph.__all__ if name.startswith("_")]
    assert len(set(signify_graph.__all__)) == len(signify_graph.__all__)
