"""A dataset's tensors living on the training device, and the augmentation that runs there.

Batches are index slices of these tensors (airbench-style): no loader, no host-to-device copy
per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import Dataset
from .data_config import DataConfig
from .side_by_side import SETUP


class DeviceData:
    """A dataset's tensors at one resolution, on one device, with its normalisation constants."""

    def __init__(self, data: Dataset, resolution: int, device: torch.device) -> None:
        x_train, x_val = data.at_resolution(resolution)
        self.x_train = x_train.to(device)
        self.y_train = data.y_train.to(device)
        self.x_val = x_val.to(device)
        self.y_val = data.y_val.to(device)
        mean, std = statistics(x_train)
        self.scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
        self.shift = (-mean / std).view(1, -1, 1, 1).to(device)
        self.flip = data.flip
        self.pad = max(1, resolution // 8)

    @classmethod
    def get(cls, data: Dataset, resolution: int, device: torch.device) -> "DeviceData":
        """Made once per (resolution, device) and kept on ``data`` itself, so it is freed with it."""
        key = (resolution, str(device))
        with SETUP:  # grouped trainers (nas.train.side_by_side) share one copy
            if key not in data.device_cache:
                made = cls(data, resolution, device)
                if device.type == "cuda":  # made on this thread's stream, read on the others'
                    torch.cuda.current_stream(device).synchronize()
                data.device_cache[key] = made
        return data.device_cache[key]  # type: ignore[return-value]

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.scale + self.shift


def statistics(x_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 training images, in pixel / 255 (std at least 1/255):
    what training normalises by, and what an exported model's data config carries."""
    return x_train.float().mean(dim=(0, 2, 3)) / 255.0, x_train.float().std(dim=(0, 2, 3)).clamp_min(1.0) / 255.0


def data_config(data: Dataset, resolution: int) -> DataConfig:
    """What a network trained on ``data``'s training images at ``resolution`` expects of its input."""
    mean, std = statistics(data.at_resolution(resolution)[0])
    return DataConfig(mean=tuple(mean.tolist()), std=tuple(std.tolist()),
                      input_size=(int(data.x_train.shape[2]), int(data.x_train.shape[3])), resolution=resolution,
                      channels=data.in_channels,
                      class_names=data.class_names or tuple(str(i) for i in range(data.num_classes)),
                      trained_on=data.name)


def augment(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Random crop with zero padding (per-sample shifts by one gather) and optional h-flip."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device, generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device, generator=gen)
    rows = (dy + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w)
    cols = (dx + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    out = padded[torch.arange(n, device=x.device).view(n, 1, 1, 1),
                 torch.arange(c, device=x.device).view(1, c, 1, 1), rows, cols]
    if flip:
        mask = torch.rand(n, device=x.device, generator=gen) < 0.5
        out = torch.where(mask.view(n, 1, 1, 1), out.flip(3), out)
    return out
