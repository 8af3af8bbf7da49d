"""Every error signify-graph raises on purpose, in one tree.

* :class:`SignifyError` — the root; catch it to catch all of ours.

  * :class:`PipelineInvalid` — a pipeline file (or its ``--set`` overrides and environment)
    cannot work. Holds every :class:`Problem` found, each with ``FILE:LINE:COL``.
  * :class:`PluginError` — a plugin failed to import or to register its stages; the message
    names the distribution and the entry point.
  * :class:`StageError` — a stage could not process one item (bad input, no model output…).
    Carries a stable ``code`` that clients see in ``{"error": {"code": ...}}``. Only that
    item of that session is affected.

    * :class:`InputError` — the item itself was bad (not an image, a decompression bomb,
      NaN landmarks…): the client's fault, and the client is told so.

  * :class:`StartupError` — anything that must stop the service before it listens; the CLI
    prints its one-line message and exits non-zero.
  * :class:`ProtocolError` — a WebSocket message the service cannot accept (not JSON, an
    unknown type, a bad target…). Carries the stable ``code`` the client sees; the
    connection stays open.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The ``id`` a client may give a message, echoed in its reply or error.
ClientId = str | int | None


class SignifyError(Exception):
    """Root of every error signify-graph raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a pipeline, pointing at the YAML node that causes it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PipelineInvalid(SignifyError):
    """A pipeline cannot work; ``problems`` lists every reason found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


class PluginError(SignifyError):
    """A plugin could not be loaded or registered something invalid."""


class StartupError(SignifyError):
    """The service must not start; the message is the one line the operator reads."""


class StageError(SignifyError):
    """A stage failed on one item. ``code`` is stable and machine-readable."""

    code: str = "stage_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class InputError(StageError):
    """The item itself is bad: the client sent something the stage must refuse."""

    code = "bad_input"


class StageConfigError(SignifyError):
    """A stage refuses its configuration while the graph is built (model missing, corrupt…).

    ``param`` names the parameter to blame, so the problem points at that YAML node; ``None``
    blames the node as a whole.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ProtocolError(SignifyError):
    """A message the server cannot accept; ``code`` is what the client sees."""

    def __init__(self, code: str, message: str, client_id: ClientId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id
