"""Load every landmark source as raw hands plus the aspect they need.

A *source* is one recording of (as far as can be told) one person, or one photo collection: the
unit of leave-one-source-out. Three live in this repository (``training/data/``, licensed, see its
README); the 43 of ``../shared/data/signers/`` are read from there, never copied in (most carry no
licence), and their sha256 is checked against ``sources.json`` and recorded in the model.

Every source keeps its own coordinates: raw image-normalised, wrist-relative, min-relative or
pixel offsets divided by their largest value. ``normalize`` removes translation and scale, so all
of them are usable as they are once x is put in the units of y by ``aspect`` (width / height).
The features are computed later, after augmentation, by
``signify_stages.normalize.normalize_batch`` — the function the server runs — so training and
serving cannot drift apart.

The aspect of the repository's webcam sets is not recorded; their rigid palm distances are most
consistent around 1.5 (between 4:3 and 16:9), so :data:`WEBCAM_ASPECT` is 1.5, and training
stretches x by a random factor around every source's aspect (see :mod:`training.augment`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "training" / "data"
#: Where the 43 signer sources are read from (``SIGNIFY_SIGNERS_DIR`` overrides it).
SIGNERS_DIR = Path(os.environ.get("SIGNIFY_SIGNERS_DIR", ROOT.parent / "shared/data/signers"))
#: Assumed width / height of the frames the repository's webcam sets were recorded from.
WEBCAM_ASPECT = 1.5
#: The training sources kept in this repository.
REPO_SOURCES = ("boris", "nejohnson", "roboflow_train")
EVAL_SOURCES = ("roboflow_valid", "roboflow_test")
_FILES = {
    "boris": "boris_asl_alphabet.npz",
    "nejohnson": "nejohnson2_asl.npz",
    "roboflow_train": "roboflow_train.npz",
    "roboflow_valid": "roboflow_valid.npz",
    "roboflow_test": "roboflow_test.npz",
}
#: The data README says "several people"; 30 training photos viewed here show at least five
#: rooms, backgrounds and skin tones (one room in most of them).
_ROBOFLOW_PEOPLE = "5 (judgement: at least five settings and skin tones in 30 photos)"
_REPO_FACTS = {
    "boris": ("1", "CC0-1.0", True, "borisgraudt/asl-ai @ fa1dcdb4"),
    "nejohnson": ("1", "MIT", True, "nejohnson2/real-time-asl-translator @ b3708875"),
    "roboflow_train": (
        _ROBOFLOW_PEOPLE,
        "Public Domain",
        True,
        "Roboflow ASL Letters v1 (David Lee)",
    ),
    "roboflow_valid": (
        _ROBOFLOW_PEOPLE,
        "Public Domain",
        True,
        "Roboflow ASL Letters v1 (David Lee)",
    ),
    "roboflow_test": (
        _ROBOFLOW_PEOPLE,
        "Public Domain",
        True,
        "Roboflow ASL Letters v1 (David Lee)",
    ),
}
#: Signer sources whose rows are consecutive webcam frames, in recording order, per letter.
_VIDEO_RUNS = frozenset({"lm_AnnuMaryMahesh", "lm_Rhys12-Tran"})


@dataclass
class Source:
    """One data set: raw hands (N, 21, 3), aspect (N,), letters (N,), and where it came from.

    ``run`` groups rows that must stay together (a letter run, an original photo) and
    ``order`` is the frame position within a run (non-zero only for consecutive video frames).
    """

    name: str
    path: Path
    sha256: str
    origin: str
    licence: str
    people: str
    has_z: bool
    X: npt.NDArray[np.float32]
    aspect: npt.NDArray[np.float32]
    y: npt.NDArray[np.str_]
    run: npt.NDArray[np.str_]
    order: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def letters(self) -> str:
        return "".join(sorted(set(self.y.tolist())))

    @property
    def people_count(self) -> float:
        """How many people the source holds, read from ``people``: "1 …" → 1, "2-3" → 2.5."""
        return people_count(self.people)

    def describe(self) -> str:
        z = "" if self.has_z else ", 2-D only"
        return (
            f"{self.name}: {len(self)} hands, {len(self.letters)} letters ({self.letters}){z}, "
            f"sha256 {self.sha256[:16]}…, from {self.origin}"
        )


def people_count(text: str) -> float:
    """The number of people a description states ("1 probably", "1-3 (…)", "unknown, probably
    1"): the first number or range in it, a range counting as its middle; 1 when none."""
    match = re.search(r"(\d+)(?:\s*-\s*(\d+))?", text)
    if match is None:
        return 1.0
    low, high = int(match.group(1)), int(match.group(2) or match.group(1))
    return (low + high) / 2


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def signer_catalogue(signers_dir: Path = SIGNERS_DIR) -> dict[str, dict[str, Any]]:
    """``sources.json`` of the signer sources: name → its description (repo, licence, …)."""
    path = signers_dir / "sources.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"missing {path}: the signer sources live in ../shared/data/signers "
            "(set SIGNIFY_SIGNERS_DIR to read them elsewhere)"
        )
    catalogue: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return dict(sorted(catalogue.items()))


def all_training_sources() -> tuple[str, ...]:
    """Every training source: the repository's three, then the signers', by name."""
    return (*REPO_SOURCES, *signer_catalogue())


def load(name: str) -> Source:
    """Load one source by name (see :func:`all_training_sources` and :data:`EVAL_SOURCES`)."""
    if name in _FILES:
        return _load_repo(name)
    return _load_signer(name)


@cache
def _load_cached(name: str) -> Source:
    return load(name)


def load_many(names: tuple[str, ...] | list[str]) -> list[Source]:
    """Several sources; each file is read (and its checksum taken) once per process."""
    return [_load_cached(name) for name in names]


def _load_repo(name: str) -> Source:
    path = DATA_DIR / _FILES[name]
    if not path.is_file():
        hint = " (run python -m training.extract_landmarks)" if name.startswith("roboflow") else ""
        raise FileNotFoundError(f"missing data file {path}{hint}")
    people, licence, has_z, origin = _REPO_FACTS[name]
    with np.load(path, allow_pickle=False) as d:
        X = d["X"].astype(np.float32)
        y = d["y"].astype(str)
        n = len(y)
        if name == "boris":
            aspect = np.full(n, WEBCAM_ASPECT, np.float32)
            run = y.copy()
            order = d["frame_index"].astype(np.int64)
        elif name == "nejohnson":
            aspect = np.full(n, WEBCAM_ASPECT, np.float32)
            run = np.array([f"nj{i}" for i in range(n)])
            order = np.zeros(n, np.int64)
        else:
            aspect = d["aspect"].astype(np.float32)
            run = d["group"].astype(str)
            order = np.zeros(n, np.int64)
    return Source(
        name, path, sha256(path), origin, licence, people, has_z, X, aspect, y, run, order
    )


def _load_signer(name: str) -> Source:
    catalogue = signer_catalogue()
    if name not in catalogue:
        known = ", ".join([*REPO_SOURCES, *EVAL_SOURCES, *catalogue])
        raise KeyError(f"unknown source {name!r}; known: {known}")
    facts = catalogue[name]
    path = SIGNERS_DIR / f"{name}.npz"
    digest = sha256(path)
    if digest != facts["sha256"]:
        raise ValueError(f"{path}: sha256 {digest} differs from sources.json ({facts['sha256']})")
    with np.load(path, allow_pickle=False) as d:
        X = d["X"].astype(np.float32)
        y = np.char.upper(d["y"].astype(str))
        aspect = d["aspect"].astype(np.float32)
    n = len(y)
    if name in _VIDEO_RUNS:
        run = np.array([f"{name}:{letter}" for letter in y])
        order = np.arange(n, dtype=np.int64)
    else:
        run = np.array([f"{name}:{i}" for i in range(n)])
        order = np.zeros(n, np.int64)
    origin = f"{facts['repo']} @ {facts['commit'][:8]}"
    return Source(
        name,
        path,
        digest,
        origin,
        facts["licence"],
        facts["people"],
        bool(facts["has_z"]),
        X,
        aspect,
        y,
        run,
        order,
    )


def mirrored(X: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mirror hands (x → −x about the wrist's x), as a selfie-view camera would.

    Reflecting about the wrist rather than x → 1 − x works for every coordinate convention
    (wrist-relative or min-relative sources are not in 0..1).
    """
    out = X.copy()
    out[..., 0] = 2.0 * out[..., :1, 0] - out[..., 0]
    return out
