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
