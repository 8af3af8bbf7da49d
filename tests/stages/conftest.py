"""Fixtures of the stage tests: the committed photos, hands found on them, loaded graphs.

Loading MediaPipe and detecting hands on 75 photos takes about a second each time, so what
several modules need is computed once per test session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from signify_stages.hands import HandsStage

from signify_graph import Graph, Hand, Image, PluginHost, create_host, load_graph
from signify_graph.testing import StageHarness

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests" / "data" / "photos"
PIPELINES = REPO / "pipelines"
CLASSIFIER = REPO / "models" / "classifier.onnx"


@dataclass(frozen=True)
class Photo:
    letter: str
    path: Path

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    def rgb(self) -> npt.NDArray[np.uint8]:
        bgr = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        assert bgr is not None, self.path
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def committed_photos() -> list[Photo]:
    return [Photo(path.parent.name, path) for path in sorted(PHOTOS.glob("*/*.jpg"))]


@pytest.fixture(scope="session")
def photos() -> list[Photo]:
    found = committed_photos()
    assert len(found) == 75, "tests/data/photos should hold the 75 committed photos"
    return found


def detect_all(photos: list[Photo], pad: float) -> list[Hand | None]:
    """The full model in image mode on every photo, as ``training/extract.yaml`` runs it."""
    params = {"mode": "image", "model": "full", "pad": pad}
    with StageHarness(HandsStage, params, base_dir=PIPELINES) as harness:
        session = harness.session()
        return [session.process(Image(photo.rgb())) for photo in photos]


@pytest.fixture(scope="session")
def padded_hands(photos: list[Photo]) -> list[Hand | None]:
    """Hands found with a 25 % border (``None`` where none was), in ``photos`` order."""
    return detect_all(photos, 0.25)


@pytest.fixture(scope="session")
def unpadded_hands(photos: list[Photo]) -> list[Hand | None]:
    return detect_all(photos, 0.0)


@pytest.fixture(scope="session")
def real_hands(padded_hands: list[Hand | None]) -> list[Hand]:
    return [hand for hand in padded_hands if hand is not None]


@pytest.fixture(scope="session")
def host() -> PluginHost:
    return create_host()


@pytest.fixture(scope="session")
def classifier() -> Path:
    assert CLASSIFIER.is_file(), (
        f"{CLASSIFIER} is missing: train it with `python -m training.train` (see training/)"
    )
    return CLASSIFIER


@pytest.fixture(scope="session")
def default_graph(host: PluginHost, classifier: Path) -> Iterator[Graph]:
    """``pipelines/default.yaml`` with a 25 % border, as for photos of tightly cropped hands."""
    graph = load_graph(str(PIPELINES / "default.yaml"), host, overrides=["hands.pad=0.25"])
    yield graph
    graph.close()


@pytest.fixture(scope="session")
def fast_graph(host: PluginHost, classifier: Path) -> Iterator[Graph]:
    graph = load_graph(str(PIPELINES / "fast.yaml"), host, overrides=["hands.pad=0.25"])
    yield graph
    graph.close()
