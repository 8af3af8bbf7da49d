"""The training data: every source loads as it is described, and batches weigh people, not
frames."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from training.augment import AugmentConfig, augment_windows
from training.data import REPO_SOURCES, SIGNERS_DIR, all_training_sources, load, load_many
from training.sampler import Sampler

LETTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.fixture(scope="module")
def sources():
    return load_many(list(all_training_sources()))


def test_every_source_of_the_signers_readme_loads_with_its_checksum_and_conventions(sources):
    catalogue = json.loads((SIGNERS_DIR / "sources.json").read_text())
    by_name = {s.name: s for s in sources}
    assert set(by_name) == set(REPO_SOURCES) | set(catalogue)
    assert len(catalogue) == 43
    for name, facts in catalogue.items():
        source = by_name[name]
        assert source.sha256 == facts["sha256"]
        assert len(source) == facts["n"] and source.X.shape == (facts["n"], 21, 3)
        assert set(source.y.tolist()) <= LETTERS
        assert source.has_z == facts["has_z"]
        assert source.X[..., 2].any() == facts["has_z"]
        assert np.isfinite(source.X).all() and (source.aspect > 0).all()


def test_nine_sources_have_no_depth(sources):
    assert sum(not s.has_z for s in sources) == 9


def test_a_changed_signer_file_is_refused(tmp_path, monkeypatch):
    import training.data as data

    name = "lm_1rishu0"
    (tmp_path / "sources.json").write_text((SIGNERS_DIR / "sources.json").read_text())
    (tmp_path / f"{name}.npz").write_bytes((SIGNERS_DIR / f"{name}.npz").read_bytes() + b"x")
    monkeypatch.setattr(data, "SIGNERS_DIR", tmp_path)
    data.signer_catalogue.cache_clear()
    try:
        with pytest.raises(ValueError, match="sha256"):
            load(name)
    finally:
        data.signer_catalogue.cache_clear()


def test_batches_draw_letters_evenly_and_each_person_holding_a_letter_alike(sources):
    labels = sorted(LETTERS)
    sampler = Sampler(sources, labels, 8, AugmentConfig.off(), np.random.default_rng(0))
    rows = sampler.rows(260_000)
    letters = Counter(sampler.target[rows].tolist())
    assert max(letters.values()) / min(letters.values()) < 1.1
    # Letter A: boris holds 404 frames of it, img_AbdulM09 75 (both one person), roboflow_train
    # 5 people: a source is drawn in proportion to its people, whatever its number of frames.
    starts = np.cumsum([0, *(len(s) for s in sources)])
    owner = np.searchsorted(starts, rows, side="right") - 1
    of_a = Counter(owner[sampler.target[rows] == 0].tolist())
    holding_a = [k for k, s in enumerate(sources) if (s.y == "A").any()]
    assert set(of_a) == set(holding_a)
    per_person = [n / sources[k].people_count for k, n in of_a.items()]
    assert max(per_person) / min(per_person) < 1.35
    names = [s.name for s in sources]
    assert of_a[names.index("roboflow_train")] > 3 * of_a[names.index("boris")]


def test_windows_of_2d_sources_stay_flat_and_z_dropout_flattens_a_share_of_the_rest():
    rng = np.random.default_rng(0)
    raw = rng.normal(0.5, 0.1, (400, 4, 21, 3)).astype(np.float32)
    has_z = np.arange(400) % 2 == 0
    raw[~has_z, :, :, 2] = 0.0
    out, _ = augment_windows(raw, np.ones(400, np.float32), AugmentConfig(), rng, has_z)
    flat = ~out[..., 2].any(axis=(1, 2))
    assert flat[~has_z].all()
    assert 0.1 < flat[has_z].mean() < 0.3  # z_drop 0.2
