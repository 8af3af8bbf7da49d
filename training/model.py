"""The classifier network and its export to one self-contained ONNX file.

Per frame, the hand's shape (63 numbers of ``signify-hand-v2``) and the wrist's movement since
the previous frame of the window, in palm sizes (computed here from the contract's wrist place
and palm size, which are then dropped: where the hand is never decides a letter); a per-frame
embedding (``layers`` linear + ReLU blocks), one LSTM layer over the window and a linear head.
The exported graph ends in a softmax, so the server reads probabilities and needs no knowledge
of logits. Batch and window length are dynamic (T ≥ 1 works); metadata says which T it was
trained for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from signify_stages.normalize import N_FEATURES, N_SHAPE
from torch import nn

#: The most a wrist is taken to move between two frames, in palm sizes: beyond it, the
#: tracker jumped (or the hand's chirality flipped and its mirrored place with it).
MAX_STEP = 2.0

#: Parent of each landmark in the hand's kinematic tree (the wrist is its own parent).
_PARENT = [0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19]
#: Consecutive bones of each finger (child landmark of the first and of the second bone).
_JOINTS = [(c, c + 1) for f in (1, 5, 9, 13, 17) for c in range(f, f + 3)]
#: Pairs whose distance tells the thumb's place among the fingers (A E M N S T) and how the
#: fingertips meet (O, F, R, V): thumb tip to every finger's lower joints, and tip to tip.
_TIPS = [4, 8, 12, 16, 20]
_PAIRS = [(4, j) for j in (5, 6, 9, 10, 13, 14, 17, 18)] + [
    (a, b) for i, a in enumerate(_TIPS) for b in _TIPS[i + 1 :]
]


def _selection(rows: int, columns: list[int]) -> torch.Tensor:
    """(rows, len(columns)) matrix that picks ``columns`` of a row vector (a gather as a matmul)."""
    matrix = torch.zeros(rows, len(columns))
    for j, i in enumerate(columns):
        matrix[i, j] = 1.0
    return matrix


def _geometry_matrices() -> dict[str, torch.Tensor]:
    """Constant matrices that turn the 63 features into the derived ones with products only.

    ``difference``: features → the K difference vectors (20 bones, then the pairs), flattened;
    ``triples``: a flattened vector field → the sum of each vector's 3 components (squared
    lengths); ``repeat``: the bones' lengths → each repeated 3 times; ``first``/``second``: the
    unit bones → the first/second bone of each joint.
    """
    ends = [(_PARENT[c], c) for c in range(1, 21)] + _PAIRS
    difference = torch.zeros(N_SHAPE, 3 * len(ends))
    for k, (a, b) in enumerate(ends):
        for axis in range(3):
            difference[3 * b + axis, 3 * k + axis] = 1.0
            difference[3 * a + axis, 3 * k + axis] = -1.0
    triples = torch.zeros(3 * len(ends), len(ends))
    for k in range(len(ends)):
        triples[3 * k : 3 * k + 3, k] = 1.0
    return {
        "difference": difference,
        "triples": triples,
        "repeat": triples[:60, :20].T.contiguous(),
        "first": _selection(60, [3 * (a - 1) + i for a, _ in _JOINTS for i in range(3)]),
        "second": _selection(60, [3 * (b - 1) + i for _, b in _JOINTS for i in range(3)]),
        "joint_triples": triples[: 3 * len(_JOINTS), : len(_JOINTS)].contiguous(),
    }


class HandGeometry(nn.Module):
    """Derived per-frame features: bone directions, joint bend, thumb-to-finger distances.

    Rotation-invariant cues a small network struggles to compute from 63 coordinates with the
    few people it learns from. They are computed inside the model — so inside the ONNX graph,
    as constant matrix products and element-wise operations, no reshapes — and the feature
    contract stays ``normalize``'s numbers.
    """

    size = N_SHAPE + 3 * 20 + len(_JOINTS) + len(_PAIRS)

    def __init__(self) -> None:
        super().__init__()
        for name, matrix in _geometry_matrices().items():
            self.register_buffer(name, matrix, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vectors = x @ self.difference
        length = torch.sqrt((vectors * vectors) @ self.triples + 1e-12)
        unit = vectors[..., :60] / (length[..., :20] @ self.repeat + 1e-6)
        bend = ((unit @ self.first) * (unit @ self.second)) @ self.joint_triples
        return torch.cat([x, unit, bend, length[..., 20:]], dim=-1)


class LetterLSTM(nn.Module):
    """features (B, T, N_FEATURES) → logits (B, n_labels), read from the last time step."""

    def __init__(
        self,
        n_labels: int,
        hidden: int = 128,
        embed: int = 128,
        dropout: float = 0.2,
        layers: int = 1,
        derived: bool = False,
    ):
        super().__init__()
        self.geometry = HandGeometry() if derived else None
        blocks: list[nn.Module] = []
        width = (HandGeometry.size if derived else N_SHAPE) + 2
        for _ in range(layers):
            blocks += [nn.Linear(width, embed), nn.ReLU(), nn.Dropout(dropout)]
            width = embed
        self.embed = nn.Sequential(*blocks)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x[..., :N_SHAPE]
        if self.geometry is not None:
            shape = self.geometry(shape)
        out, _ = self.lstm(self.embed(torch.cat([shape, movement(x)], dim=-1)))
        return self.head(out[:, -1])


def movement(x: torch.Tensor) -> torch.Tensor:
    """The wrist's step (B, T, 2) from each frame of the window to the next, in palm sizes
    (0 for the first frame), from the contract's wrist place and palm size."""
    wrist = x[..., N_SHAPE : N_SHAPE + 2]
    palm = x[..., N_SHAPE + 2 :].clamp(min=1e-3)
    step = (wrist[:, 1:] - wrist[:, :-1]) / palm[:, 1:]
    return torch.cat([torch.zeros_like(wrist[:, :1]), step.clamp(-MAX_STEP, MAX_STEP)], dim=1)


class Averaged(nn.Module):
    """Members whose probabilities are averaged, as one network.

    It returns the log of the mean probability, so that a softmax over it (``predict``, the
    exported graph) gives exactly the mean of the members' probabilities.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities = torch.stack([torch.softmax(m(x), dim=-1) for m in self.members])
        return torch.log(probabilities.mean(dim=0) + 1e-12)


class WithSoftmax(nn.Module):
    """What is exported: probabilities, not logits."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(features), dim=-1)


def export_onnx(net: nn.Module, path: Path, window: int, metadata: dict[str, Any]) -> None:
    """Write ``net`` as one ONNX file with weights embedded and ``metadata`` as string props.

    The TorchScript exporter (``dynamo=False``) keeps weights inside the file; torch 2.13's
    default exporter would write them to a separate ``.onnx.data`` file.
    """
    model = WithSoftmax(net).eval()
    dummy = torch.zeros(1, window, N_FEATURES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(
        model,
        (dummy,),
        str(tmp),
        dynamo=False,
        opset_version=17,
        input_names=["features"],
        output_names=["probabilities"],
        dynamic_axes={"features": {0: "batch", 1: "time"}, "probabilities": {0: "batch"}},
    )
    proto = onnx.load(str(tmp))
    tmp.unlink()
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    proto.producer_name = "signify-graph training"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path), save_as_external_data=False)
    for tensor in onnx.load(str(path), load_external_data=False).graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise RuntimeError(f"{path}: tensor {tensor.name} is stored outside the file")


def predict(net: nn.Module, windows: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Probabilities (N, n_labels) of feature windows (N, T, N_FEATURES) with the torch model."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            x = torch.from_numpy(np.ascontiguousarray(windows[start : start + batch], np.float32))
            out.append(torch.softmax(net(x), dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
