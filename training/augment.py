"""Turn static hands into augmented windows of T frames, then into features.

All augmentation acts on raw landmarks, before ``normalize_batch``, so the model sees
exactly what the serving path would compute for such a hand. Why each step:

* **mirror** (x → −x): other hand / selfie view. ``normalize`` is mirror-invariant by
  construction, so this only matters where its chirality test is ambiguous (e.g. O);
* **3-D rotation**: in-plane ±20° and about the horizontal axis ±15° (signers hold the hand
  differently), and about the vertical axis by any angle (±180°). The photos are taken from the
  front, the side and from behind the signing hand (the photographer's own hand), while the
  webcam sets only see it from the front; ASL letters do not depend on which side the camera
  is on. On roboflow_valid this lifted a model trained on the webcam sets alone from 54 % to
  70 %, and one trained on all three sources from 84 % to 89 %;
* **bone lengths** (each bone × [0.9, 1.1], joint angles kept): other signers have other
  finger and palm proportions (neutral on roboflow_valid, kept for unseen signers);
* **aspect stretch** (x × s, s log-uniform in [0.8, 1.25]): the true aspect of the webcam
  sets is unknown and the photos were stretched to 416×416 from unknown originals;
* **z scale** (× [0.7, 1.4]): MediaPipe's depth is the least reliable coordinate and its
  scale differs between model versions;
* **jitter** (Gaussian, σ ≤ 1 % of the palm size) per frame, and a slow **drift** of the
  rotation over the window: a held letter still moves a little from frame to frame;
* **start padding** (the first k frames repeat the earliest one): the server pads the
  window that way until T frames have arrived;
* **transition** (the first k ≤ T/2 frames come from another letter): a sliding window
  straddles the change from one letter to the next; the label is the newest letter;
* **the wrist's path** over a window of real video frames is moved with the hand (mirrored,
  turned, stretched) and sped up or slowed down (× [1/1.4, 1.4]: signers and frame rates
  differ), and the window is placed anywhere in the frame: what J and Z are drawn with is the
  movement, never the place;
* **z dropout** (z set to 0 on a share of windows of 3-D sources): nine sources, and any
  client that sends 2-D landmarks, have no depth; ``normalize`` then tells chirality from the
  image plane, and the model must read such hands as well as 3-D ones. Windows of 2-D sources
  are always flattened again after the 3-D rotations.

Scale is not augmented: ``normalize`` divides by the palm size, so it would be a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from signify_stages.normalize import N_FEATURES, normalize_batch

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the augmentations; ``off()`` gives the identity (for evaluation)."""

    mirror: float = 0.5
    roll_deg: float = 20.0
    tilt_deg: float = 15.0
    yaw_deg: float = 60.0
    stretch: float = 1.25
    z_scale: tuple[float, float] = (0.7, 1.4)
    jitter: float = 0.01
    bones: float = 0.1
    drift_deg: float = 4.0
    pad_start: float = 0.25
    transition: float = 0.15
    z_drop: float = 0.2
    speed: float = 1.4

    @classmethod
    def off(cls) -> AugmentConfig:
        return cls(0.0, 0.0, 0.0, 0.0, 1.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


#: Parent of each landmark in the hand's kinematic tree (the wrist is its own parent).
_PARENT = np.array([0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19])


def _ancestry() -> npt.NDArray[np.float64]:
    """A[k, j] = 1 when landmark k is on the path from the wrist to landmark j (j included)."""
    A = np.zeros((len(_PARENT), len(_PARENT)))
    for j in range(1, len(_PARENT)):
        k = j
        while k != 0:
            A[k, j] = 1.0
            k = _PARENT[k]
    return A


_ANCESTRY = _ancestry()


def scale_bones(
    P: npt.NDArray[np.float64], factor: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Scale each bone (parent → landmark) by ``factor`` (..., 21, 1), keeping the joint angles:
    other signers have other finger and palm proportions. The wrist lands on the origin."""
    bone = (P - P[..., _PARENT, :]) * factor
    out: npt.NDArray[np.float64] = np.swapaxes(np.swapaxes(bone, -1, -2) @ _ANCESTRY, -1, -2)
    return out


def rotation(rx: FloatArray, ry: FloatArray, rz: FloatArray) -> npt.NDArray[np.float64]:
    """Rotation matrices (B, 3, 3) = Rz @ Ry @ Rx for angles in radians."""
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    one, zero = np.ones_like(rx), np.zeros_like(rx)
    Rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(-1, 3, 3)
    Ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(-1, 3, 3)
    Rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    return Rz @ Ry @ Rx


def augment_windows(
    raw: FloatArray,
    aspect: FloatArray,
    cfg: AugmentConfig,
    rng: np.random.Generator,
    has_z: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.float64], FloatArray]:
    """Augment windows of raw hands (B, T, 21, 3) with aspects (B,); return raw hands again.

    Works in "true shape" space (x and z multiplied by the aspect, wrist at the origin) and
    converts back with the same aspect, so ``normalize_batch(out, aspect)`` applies.
    ``has_z`` (B,) marks the windows whose source has depth (default: all). The wrist's path
    over the window (real for consecutive video frames, still for a repeated one) is kept and
    moved as the hand is: mirrored, turned, stretched, a little faster or slower, with tremor,
    and the whole window is put somewhere random in the frame — only the movement is real.
    """
    B, T = raw.shape[:2]
    a = aspect.astype(np.float64)[:, None, None, None]
    P = raw.astype(np.float64)
    P[..., 0] *= a[..., 0]
    P[..., 2] *= a[..., 0]
    path = P[:, :, 0, :] - P[:, :1, 0, :]  # (B, T, 3): the wrist, from where the window starts
    path[..., 2] = 0.0
    P = P - P[:, :, :1]
    if cfg.bones:
        P = scale_bones(P, rng.uniform(1.0 - cfg.bones, 1.0 + cfg.bones, (B, 1, len(_PARENT), 1)))
    if cfg.mirror:
        sign = np.where(rng.random(B) < cfg.mirror, -1.0, 1.0)
        P[..., 0] *= sign[:, None, None]
        path[..., 0] *= sign[:, None]
    rad = np.pi / 180.0

    def angles(limit: float) -> FloatArray:
        return rng.uniform(-limit, limit, B) * rad

    R0 = rotation(angles(cfg.tilt_deg), angles(cfg.yaw_deg), angles(cfg.roll_deg))
    R1 = rotation(angles(cfg.drift_deg), angles(cfg.drift_deg), angles(cfg.drift_deg)) @ R0
    t = np.linspace(0.0, 1.0, T)[None, :, None, None] if T > 1 else np.zeros((1, 1, 1, 1))
    start = P @ np.swapaxes(R0, 1, 2)[:, None]
    end = P @ np.swapaxes(R1, 1, 2)[:, None]
    P = (1.0 - t) * start + t * end
    path = path @ np.swapaxes(R0, 1, 2)
    path[..., 2] = 0.0
    if cfg.stretch != 1.0:
        log_s = np.log(cfg.stretch)
        stretch = np.exp(rng.uniform(-log_s, log_s, B))
        P[..., 0] *= stretch[:, None, None]
        path[..., 0] *= stretch[:, None]
    P[..., 2] *= rng.uniform(*cfg.z_scale, B)[:, None, None]
    path *= rng.uniform(1.0 / cfg.speed, cfg.speed, B)[:, None, None]
    if cfg.jitter:
        size = np.linalg.norm(P[:, :, [5, 9, 13, 17]], axis=-1).mean(axis=(1, 2))
        sigma = rng.uniform(0.0, cfg.jitter, B) * size
        P = P + rng.normal(size=P.shape) * sigma[:, None, None, None]
        path[..., :2] += rng.normal(size=path[..., :2].shape) * sigma[:, None, None]
    if cfg.pad_start and T > 1:
        k = np.where(rng.random(B) < cfg.pad_start, rng.integers(1, T, B), 0)
        index = np.maximum(np.arange(T)[None, :], k[:, None])
        P = np.take_along_axis(P, index[:, :, None, None], axis=1)
        path = np.take_along_axis(path, index[:, :, None], axis=1)
    if cfg.transition and T > 1 and B > 1:
        other = np.roll(P, 1, axis=0)
        k = np.where(rng.random(B) < cfg.transition, rng.integers(1, T // 2 + 1, B), 0)
        mask = np.arange(T)[None, :] < k[:, None]
        P = np.where(mask[:, :, None, None], other, P)
    flat = np.zeros(B, bool) if has_z is None else ~has_z
    if cfg.z_drop:
        flat |= rng.random(B) < cfg.z_drop
    P[flat, :, :, 2] = 0.0
    place = np.stack([a[:, 0, 0, 0] * rng.uniform(0.3, 0.7, B), rng.uniform(0.3, 0.7, B)], -1)
    P[..., :2] += path[:, :, None, :2] + place[:, None, None, :]
    P[..., 0] /= a[..., 0]
    P[..., 2] /= a[..., 0]
    return P, aspect


def features(raw: npt.ArrayLike, aspect: npt.ArrayLike) -> FloatArray:
    """Features (..., 66) of raw hands (..., 21, 3) with one aspect per hand, via the contract."""
    points = np.asarray(raw)
    lead = points.shape[:-2]
    ratio = np.broadcast_to(
        np.asarray(aspect, np.float64).reshape(lead[:1] + (1,) * (len(lead) - 1)), lead
    ).reshape(-1)
    return normalize_batch(points.reshape(-1, 21, 3), ratio).reshape(*lead, N_FEATURES)


def static_windows(raw: FloatArray, T: int) -> FloatArray:
    """Windows of T identical frames (N, T, 21, 3): a hand held still, as a photo is served."""
    return np.repeat(raw[:, None], T, axis=1)
