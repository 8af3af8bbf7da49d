"""What the package ships: its pipelines and models, found by name wherever it is installed.

The files live in the repository's ``models/`` and ``pipelines/``. ``signify_graph/data/``
holds two symlinks to those folders; setuptools follows them when it builds a wheel (they are
package data), so a wheel, an editable install and a plain source checkout all reach the same
files through :func:`importlib.resources.files`, and nobody has to run from the repository.

Two spellings reach them:

* a pipeline argument that is not an existing file but a shipped pipeline's name
  (``signify-graph serve default``, ``validate fast``), or ``builtin:NAME`` for either;
* in a pipeline's parameters, ``builtin:classifier.onnx`` (a :data:`~signify_graph.ModelFile`)
  and ``builtin:`` (a :data:`~signify_graph.ModelDir`, the folder of shipped models), so a
  shipped pipeline copied anywhere keeps working.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

#: The prefix naming a file shipped in the package.
PREFIX = "builtin:"


def _data(folder: str) -> Path:
    # The package is installed as plain files (never zipped), so the resource is a real path,
    # which MediaPipe and onnxruntime need.
    return Path(str(files("signify_graph") / "data" / folder))


def shipped_pipelines() -> dict[str, Path]:
    """The shipped pipelines by name (``default``, ``fast`` …), sorted."""
    return {path.stem: path for path in sorted(_data("pipelines").glob("*.yaml"))}


def shipped_models() -> list[str]:
    """The names of the shipped model files (what ``builtin:NAME`` accepts)."""
    folder = _data("models")
    return sorted(p.name for p in folder.iterdir() if p.suffix in {".onnx", ".task"})


def pipeline_path(spec: str | os.PathLike[str]) -> Path:
    """The file a pipeline argument means: a path that exists, else a shipped pipeline's name.

    ``builtin:NAME`` always means the shipped one; an unknown name is returned as a path, so
    the caller reports it as a file it cannot read (see :func:`pipeline_hint`).
    """
    text = os.fspath(spec)
    name = text.removeprefix(PREFIX)
    shipped = shipped_pipelines()
    if text.startswith(PREFIX) or (not Path(text).exists() and name in shipped):
        return shipped.get(name, _data("pipelines") / f"{name}.yaml")
    return Path(text)


def pipeline_hint() -> str:
    """What to say after 'cannot read pipeline': the names that would have worked."""
    return f" (shipped pipelines: {', '.join(shipped_pipelines())})"


def model_path(value: str) -> Path | None:
    """The shipped file (``builtin:NAME``) or folder (``builtin:``) ``value`` names, else None."""
    if not value.startswith(PREFIX):
        return None
    name = value.removeprefix(PREFIX)
    return _data("models") / name if name else _data("models")
