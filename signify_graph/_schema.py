"""JSON Schema of the pipeline format, including every installed stage's parameters.

Editors point at the committed ``pipelines/pipeline.schema.json`` (a modeline comment at the
top of each pipeline file) and complete and check parameters as you type. The schema is
generated from the same pydantic models that validate pipelines — the file's skeleton
(:mod:`._document`) and every stage's ``params_model`` — and a test fails when the committed
copy is stale.
"""

from __future__ import annotations

from typing import Any

from ._document import PipelineDocument
from ._host import StageRegistry

#: A ``${VAR}`` or ``${VAR:-default}`` placeholder is valid wherever a value is expected.
_PLACEHOLDER = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?-[^}]*)?\}"}


def _hoist(schema: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """Move a model schema's ``$defs`` into the shared ones, renaming references."""

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: (
                    f"#/$defs/{prefix}{value.rsplit('/', 1)[1]}" if key == "$ref" else rename(value)
                )
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rename(item) for item in node]
        return node

    for name, sub in schema.pop("$defs", {}).items():
        defs[prefix + name] = rename(sub)
    return dict(rename(schema))


def pipeline_schema(registry: StageRegistry) -> dict[str, Any]:
    defs: dict[str, Any] = {"placeholder": _PLACEHOLDER}
    branches = []
    for info in registry:
        stage = info.cls
        params = _hoist(stage.params_model.model_json_schema(), f"{stage.name}.", defs)
        for name, prop in params.get("properties", {}).items():
            params["properties"][name] = {"anyOf": [prop, {"$ref": "#/$defs/placeholder"}]}
        params.pop("title", None)
        params["additionalProperties"] = False
        branches.append(
            {
                "if": {"properties": {"stage": {"const": stage.name}}, "required": ["stage"]},
                "then": {"properties": {"params": params}},
            }
        )
    document = _untitled(PipelineDocument.model_json_schema())
    node = document.pop("$defs")["NodeDocument"]
    node["properties"]["stage"]["enum"] = registry.names()
    node["allOf"] = branches
    document["properties"]["nodes"]["items"] = node
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://signify-graph.dev/pipeline.schema.json",
        "title": "signify-graph pipeline",
        "description": "A graph of stages; see `signify-graph stages` for each stage's parameters.",
        **document,
        "$defs": defs,
    }


def _untitled(schema: Any) -> Any:
    """The skeleton's schema without pydantic's generated titles ("Id", "Stage"…)."""
    if isinstance(schema, dict):
        generated = ("title", "description")  # a string there is pydantic's, not a property
        return {
            k: _untitled(v)
            for k, v in schema.items()
            if not (k in generated and isinstance(v, str))
        }
    if isinstance(schema, list):
        return [_untitled(item) for item in schema]
    return schema
