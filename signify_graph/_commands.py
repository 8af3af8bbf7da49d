"""Registration point for the heavier commands (serve, eval, run, bench, replay, loadtest).

Each lives in its own module and is imported only when it runs, so ``validate`` and
``stages`` start without importing the server or the research tools.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(
    sub: Any,
    commands: dict[str, Callable[[argparse.Namespace, Any], int]],
    add_set: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the subcommands implemented outside ``cli.py``."""
    from . import _bench, _eval, _loadtest, _replay_cmd, _run_cmd, _serve_cmd

    modules = (
        ("serve", _serve_cmd),
        ("run", _run_cmd),
        ("replay", _replay_cmd),
        ("bench", _bench),
        ("eval", _eval),
    )
    for name, module in modules:
        add_set(module.add_parser(sub))
        commands[name] = module.run
    # loadtest drives a running server; it loads no pipeline, so it takes no --set.
    _loadtest.add_parser(sub)
    commands["loadtest"] = _loadtest.run
