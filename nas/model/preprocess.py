"""The input front an exported model carries (``export --include-preprocessing``): raw uint8
images in, the network's normalised input out, as training prepared them.

Training resizes each dataset once to the network's resolution with antialiased bilinear
interpolation, rounds to uint8, then normalises per channel. The antialiased resize is not an
operator ONNX's TorchScript-based exporter knows, but for a fixed input size it is a fixed linear
map per axis: its weights are read off by resizing the identity once, here, and applied as two
matrix products (exported everywhere), then rounded as training rounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def resize_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """(size_out x size_in) weights of antialiased bilinear resizing along one axis."""
    # each image one unit impulse along its width (torch 2.13's CPU kernel gets a height-only
    # resize of width-1 images wrong; the weights are the same along either axis)
    eye = torch.eye(size_in).view(size_in, 1, 1, size_in)
    out = F.interpolate(eye, size=(1, size_out), mode="bilinear", antialias=True, align_corners=False)
    return out.view(size_in, size_out).T.contiguous()


class Preprocess(nn.Module):
    """uint8 (or float 0..255) N x C x H x W at ``input_size`` -> the normalised N x C x R x R input."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], input_size: tuple[int, int],
                 resolution: int) -> None:
        super().__init__()
        h, w = input_size
        self.resizes = (h, w) != (resolution, resolution)
        self.register_buffer("rows", resize_matrix(h, resolution))
        self.register_buffer("cols", resize_matrix(w, resolution))
        std_t = torch.tensor(std, dtype=torch.float32)
        self.register_buffer("scale", (1.0 / (255.0 * std_t)).view(1, -1, 1, 1))
        self.register_buffer("shift", (-torch.tensor(mean, dtype=torch.float32) / std_t).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.resizes:
            x = torch.matmul(torch.matmul(self.rows, x), self.cols.T).round().clamp(0, 255)
        return x * self.scale + self.shift
