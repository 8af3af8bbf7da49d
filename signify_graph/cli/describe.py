"""Human-readable descriptions of stages and resolved graphs (``stages`` and ``graph``)."""

from __future__ import annotations

import inspect
import textwrap
import types
import typing
from typing import Any

from pydantic.fields import FieldInfo

from .._host import StageInfo, StageRegistry
from .._pipeline import PipelinePlan


def _constraints(field: FieldInfo) -> str:
    bounds = []
    for item in field.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    return ", ".join(bounds)


def _type_name(annotation: Any) -> str:
    """``Literal['a', 'b']`` → ``a | b``; ``Optional[Path]`` → ``Path | None``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(arg) for arg in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", None) or repr(annotation)


def stage_record(info: StageInfo) -> dict[str, Any]:
    """Everything a user needs to write a node of this stage, as plain data."""
    stage = info.cls
    doc = inspect.getdoc(stage) or ""
    params = []
    for name, field in stage.params_model.model_fields.items():
        default = field.default if not field.is_required() else None
        params.append(
            {
                "name": name,
                "type": _type_name(field.annotation),
                "default": default
                if isinstance(default, int | float | str | bool | None)
                else str(default),
                "required": field.is_required(),
                "range": _constraints(field),
                "description": field.description or "",
            }
        )
    return {
        "name": stage.name,
        "provider": info.provider,
        "summary": doc.splitlines()[0] if doc else "",
        "doc": doc,
        "params": params,
        "inputs": {
            name: port.kind.value + (" (optional)" if port.optional else "")
            for name, port in stage.inputs.items()
        },
        "output": stage.output.value,
    }


def _wrapped(description: str) -> list[str]:
    """A parameter's description under it: its first paragraph (``--json`` has all of it)."""
    first = description.split("\n\n")[0]
    return textwrap.wrap(
        " ".join(first.split()), 100, initial_indent=" " * 8, subsequent_indent=" " * 8
    )


def describe_stages(registry: StageRegistry) -> str:
    lines = []
    for info in registry:
        record = stage_record(info)
        lines.append(f"{record['name']}  ({record['provider']})")
        lines.append(f"    {record['summary']}")
        inputs = ", ".join(f"{k}: {v}" for k, v in record["inputs"].items()) or "none"
        lines.append(f"    inputs: {inputs}  →  output: {record['output']}")
        for param in record["params"]:
            extra = f"  [{param['range']}]" if param["range"] else ""
            default = "required" if param["required"] else f"default {param['default']!r}"
            lines.append(f"    - {param['name']}: {param['type']}, {default}{extra}")
            lines += _wrapped(param["description"])
        lines.append("")
    return "\n".join(lines)


def describe_plan(plan: PipelinePlan) -> str:
    lines = [
        f"pipeline '{plan.name}' ({plan.file})",
        f"  {plan.description}".rstrip(),
        f"  input: {plan.input_kind.value}   output: node '{plan.output}'",
        "",
    ]
    for node in plan.nodes:
        sources = ", ".join(f"{port} ← {src}" for port, src in node.inputs.items())
        lines.append(f"{node.id}: {node.stage.name}   ({sources}) → {node.stage.output.value}")
        values = node.params.model_dump(mode="json")
        for name, value in values.items():
            lines.append(f"    {name} = {value!r}   [{node.provenance.get(name, 'default')}]")
    return "\n".join(lines)
