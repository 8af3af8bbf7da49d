"""The classifier network and its export to one self-contained ONNX file.

A per-frame linear embedding, one LSTM layer over the window and a linear head. The exported
graph ends in a softmax, so the server reads probabilities and needs no knowledge of logits.
Batch and window length are dynamic (T ≥ 1 works); metadata says which T it was trained for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

N_FEATURES = 63


class LetterLSTM(nn.Module):
    """features (B, T, 63) → logits (B, n_labels), read from the last time step."""

    def __init__(self, n_labels: int, hidden: int = 128, embed: int = 128, dropout: float = 0.2):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(N_FEATURES, embed), nn.ReLU(), nn.Dropout(dropout))
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(x))
        return self.head(out[:, -1])


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
    """Probabilities (N, n_labels) of feature windows (N, T, 63) with the torch model."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            x = torch.from_numpy(np.ascontiguousarray(windows[start : start + batch], np.float32))
            out.append(torch.softmax(net(x), dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
