"""The cells a stage can be made of, each built from a :class:`BlockSpec`.

Layouts follow torchvision so that reference networks match their published parameter counts:
MBConv and fused-MBConv as in ``torchvision.models.efficientnet``, residual cells as in
``torchvision.models.resnet`` (v1.5: stride on the k x k conv).
"""

from __future__ import annotations

import torch
from torch import nn

from .specs import BlockSpec


def activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "silu":
        return nn.SiLU(inplace=True)
    if name == "hardswish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {name!r}")


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
            act: str | None = None) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ activation)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act is not None:
        layers.append(activation(act))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel gating: global pool, 1x1 reduce, activation, 1x1 expand, gate (sigmoid, or
    MobileNetV3's hard-sigmoid)."""

    def __init__(self, channels: int, squeeze: int, act: str, gate: str = "sigmoid") -> None:
        super().__init__()
        # AdaptiveAvgPool2d (not .mean) so that fvcore counts the pooling like torchvision's SE.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = activation(act)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid() if gate == "hardsigmoid" else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample while training."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep


class Block(nn.Module):
    """A cell body plus its shortcut; the body differs by cell type, the wiring does not."""

    def __init__(self, spec: BlockSpec, body: nn.Sequential, post_act: str | None) -> None:
        super().__init__()
        self.body = body
        self.use_identity = spec.shortcut == "identity"
        self.use_residual = spec.shortcut != "none"
        self.shortcut = (conv_bn(spec.in_channels, spec.out_channels, 1, spec.stride)
                         if spec.shortcut == "projection" else nn.Identity())
        self.drop_path = DropPath(spec.drop_path) if self.use_residual else nn.Identity()
        # ResNet cells apply their activation after the addition; MBConv cells do not.
        self.post_act = activation(post_act) if post_act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.use_residual:
            out = self.drop_path(out) + self.shortcut(x)
        return self.post_act(out)


def squeeze_excite(channels: int, s: BlockSpec) -> SqueezeExcite:
    """The SE a block's style asks for (nas.arch.fields.SE_STYLES)."""
    if s.se_style == "mobilenetv3":
        return SqueezeExcite(channels, s.se_channels, "relu", "hardsigmoid")
    return SqueezeExcite(channels, s.se_channels, s.activation)


def mbconv_body(s: BlockSpec) -> nn.Sequential:
    layers: list[nn.Module] = []
    if s.has_expand:
        layers.append(conv_bn(s.in_channels, s.mid_channels, 1, act=s.activation))
    layers.append(conv_bn(s.mid_channels, s.mid_channels, s.kernel, s.stride,
                          groups=s.mid_channels, act=s.activation))
    if s.se_channels:
        layers.append(squeeze_excite(s.mid_channels, s))
    layers.append(conv_bn(s.mid_channels, s.out_channels, 1))
    return nn.Sequential(*layers)


def fused_mbconv_body(s: BlockSpec) -> nn.Sequential:
    layers: list[nn.Module] = []
    if s.has_expand:
        layers.append(conv_bn(s.in_channels, s.mid_channels, s.kernel, s.stride, act=s.activation))
        if s.se_channels:
            layers.append(squeeze_excite(s.mid_channels, s))
        layers.append(conv_bn(s.mid_channels, s.out_channels, 1))
    else:
        layers.append(conv_bn(s.in_channels, s.out_channels, s.kernel, s.stride, act=s.activation))
        if s.se_channels:
            layers.append(squeeze_excite(s.out_channels, s))
    return nn.Sequential(*layers)


def residual_body(s: BlockSpec) -> nn.Sequential:
    return nn.Sequential(
        conv_bn(s.in_channels, s.out_channels, s.kernel, s.stride, act=s.activation),
        conv_bn(s.out_channels, s.out_channels, s.kernel),
    )


def bottleneck_body(s: BlockSpec) -> nn.Sequential:
    return nn.Sequential(
        conv_bn(s.in_channels, s.mid_channels, 1, act=s.activation),
        conv_bn(s.mid_channels, s.mid_channels, s.kernel, s.stride, act=s.activation),
        conv_bn(s.mid_channels, s.out_channels, 1),
    )


def make_block(spec: BlockSpec) -> Block:
    if spec.cell == "mb":
        return Block(spec, mbconv_body(spec), None)
    if spec.cell == "fmb":
        return Block(spec, fused_mbconv_body(spec), None)
    if spec.cell == "res":
        return Block(spec, residual_body(spec), spec.activation)
    if spec.cell == "resb":
        return Block(spec, bottleneck_body(spec), spec.activation)
    raise ValueError(f"unknown cell {spec.cell!r}")
