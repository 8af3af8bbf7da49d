"""The tools run the built-in stages on the committed photos: the stage tests' fixtures."""

from __future__ import annotations

from ..stages.conftest import classifier, host, padded_hands, photos

__all__ = ["classifier", "host", "padded_hands", "photos"]
