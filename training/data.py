"""Load the landmark sets as raw image-normalised hands plus the aspect they need.

Every source keeps its raw coordinates: the features are computed later, after augmentation,
by ``signify_stages.normalize.normalize_batch`` — the same function the server uses — so
training and serving cannot drift apart.

Aspect (width / height) of the webcam sets is not recorded. Their rigid palm distances are
most consistent around 1.5 (between 4:3 and 16:9), so :data:`WEBCAM_ASPECT` is 1.5 and
training stretches x by a random factor around it (see :mod:`training.augment`). The photos
are 416×416, so their aspect is exactly 1 (but they were stretched from unknown originals).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Assumed width / height of the frames the webcam sets were recorded from (see above).
WEBCAM_ASPECT = 1.5
#: The three training sources, in the order of the leave-one-source-out table.
TRAIN_SOURCES = ("boris", "nejohnson", "roboflow_train")
EVAL_SOURCES = ("roboflow_valid", "roboflow_test")
_FILES = {
    "boris": "boris_asl_alphabet.npz",
    "nejohnson": "nejohnson2_asl.npz",
    "roboflow_train": "roboflow_train.npz",
    "roboflow_valid": "roboflow_valid.npz",
    "roboflow_test": "roboflow_test.npz",
}


@dataclass
class Source:
    """One data set: raw hands (N, 21, 3), aspect (N,), letters (N,), and where it came from.

    ``run`` groups rows that must stay together (a letter run, an original photo) and
    ``order`` is the frame position within a run (consecutive video frames for boris).
    """

    name: str
    path: Path
    sha256: str
    origin: str
    X: npt.NDArray[np.float32]
    aspect: npt.NDArray[np.float32]
    y: npt.NDArray[np.str_]
    run: npt.NDArray[np.str_]
    order: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.y)

    def describe(self) -> str:
        letters = "".join(sorted(set(self.y.tolist())))
        return (
            f"{self.name}: {len(self)} hands, {len(set(letters))} letters ({letters}), "
            f"sha256 {self.sha256[:16]}…, from {self.origin}"
        )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(name: str, data_dir: Path = DATA_DIR) -> Source:
    """Load one source by name (see :data:`TRAIN_SOURCES` and :data:`EVAL_SOURCES`)."""
    path = data_dir / _FILES[name]
    if not path.is_file():
        hint = " (run python -m training.extract_landmarks)" if name.startswith("roboflow") else ""
        raise FileNotFoundError(f"missing data file {path}{hint}")
    with np.load(path, allow_pickle=False) as d:
        X = d["X"].astype(np.float32)
        y = d["y"].astype(str)
        n = len(y)
        if name == "boris":
            origin = str(d["source"])
            aspect = np.full(n, WEBCAM_ASPECT, np.float32)
            run = y.copy()
            order = d["frame_index"].astype(np.int64)
        elif name == "nejohnson":
            origin = str(d["source"])
            aspect = np.full(n, WEBCAM_ASPECT, np.float32)
            run = np.array([f"nj{i}" for i in range(n)])
            order = np.zeros(n, np.int64)
        else:
            origin = str(d["source"])
            aspect = d["aspect"].astype(np.float32)
            run = d["group"].astype(str)
            order = np.zeros(n, np.int64)
    return Source(name, path, sha256(path), origin, X, aspect, y, run, order)


def load_many(names: tuple[str, ...] | list[str], data_dir: Path = DATA_DIR) -> list[Source]:
    return [load(name, data_dir) for name in names]


def mirrored(X: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mirror raw image coordinates (x → 1 − x), as a selfie-view camera would."""
    out = X.copy()
    out[..., 0] = 1.0 - out[..., 0]
    return out
