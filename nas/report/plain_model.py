"""A plain PyTorch model for one exported architecture: this file imports nothing but torch.

Written by ``nas export`` as ``model.py`` (the architecture is the ``ARCHITECTURE`` literal at the
end). It builds the same modules, under the same names, as the toolkit's builder, so the exported
``weights.pt`` loads into it and it gives the toolkit's outputs bit for bit in eval mode:

    import torch, model
    net = model.build()
    net.load_state_dict(torch.load("weights.pt", weights_only=True))
    logits = net(model.preprocess(uint8_images))  # N x C x H x W raw pixels

``preprocess`` resizes and normalises raw pixels as training did (``DATA``; absent where the
export had no data). Train it, prune it, ship it: it no longer needs the toolkit.

(The classes repeat ``nas.model.cells`` on purpose: this file must stand alone. The export
checks every written copy against the builder's model, and a test does so for every cell type.)
"""

import torch
from torch import nn


def activation(name):
    """The activation a cell names (in place, as the toolkit builds it)."""
    return {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "hardswish": nn.Hardswish}[name](inplace=True)


def conv_bn(in_ch, out_ch, kernel, stride=1, groups=1, act=None):
    """Conv (no bias) + BatchNorm (+ activation), padding kernel // 2."""
    layers = [nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_ch)]
    if act is not None:
        layers.append(activation(act))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel gating: global pool, 1x1 reduce, activation, 1x1 expand, gate."""

    def __init__(self, channels, squeeze, act, gate="sigmoid"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = activation(act)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid() if gate == "hardsigmoid" else nn.Sigmoid()

    def forward(self, x):
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drops the residual branch per sample while training only."""

    def __init__(self, p):
        super().__init__()
        self.p = float(p)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep


def squeeze_excite(channels, b):
    """EfficientNet's SE (the cell's activation, sigmoid) or MobileNetV3's (ReLU, hard-sigmoid)."""
    if b["se_style"] == "mobilenetv3":
        return SqueezeExcite(channels, b["se"], "relu", "hardsigmoid")
    return SqueezeExcite(channels, b["se"], b["act"])


def body(b):
    """The layers of one block; ``b`` is one entry of ARCHITECTURE["blocks"]."""
    cell, i, o, m, k, s, se, act = (b["cell"], b["in"], b["out"], b["mid"], b["kernel"], b["stride"],
                                    b["se"], b["act"])
    layers = []
    if cell == "mb":
        if m != i:
            layers.append(conv_bn(i, m, 1, act=act))
        layers.append(conv_bn(m, m, k, s, groups=m, act=act))
        if se:
            layers.append(squeeze_excite(m, b))
        layers.append(conv_bn(m, o, 1))
    elif cell == "fmb":
        if m != i:
            layers.append(conv_bn(i, m, k, s, act=act))
            if se:
                layers.append(squeeze_excite(m, b))
            layers.append(conv_bn(m, o, 1))
        else:
            layers.append(conv_bn(i, o, k, s, act=act))
            if se:
                layers.append(squeeze_excite(o, b))
    elif cell == "res":
        layers += [conv_bn(i, o, k, s, act=act), conv_bn(o, o, k)]
    elif cell == "resb":
        layers += [conv_bn(i, m, 1, act=act), conv_bn(m, m, k, s, act=act), conv_bn(m, o, 1)]
    else:
        raise ValueError("unknown cell " + repr(cell))
    return nn.Sequential(*layers)


class Block(nn.Module):
    """A cell body plus its shortcut (identity, 1x1 projection, or none)."""

    def __init__(self, b):
        super().__init__()
        self.body = body(b)
        self.use_residual = b["shortcut"] != "none"
        self.shortcut = (conv_bn(b["in"], b["out"], 1, b["stride"]) if b["shortcut"] == "projection"
                         else nn.Identity())
        self.drop_path = DropPath(b["drop_path"]) if self.use_residual else nn.Identity()
        # residual cells apply their activation after the addition; MBConv cells do not
        self.post_act = activation(b["act"]) if b["cell"] in ("res", "resb") else nn.Identity()

    def forward(self, x):
        out = self.body(x)
        if self.use_residual:
            out = self.drop_path(out) + self.shortcut(x)
        return self.post_act(out)


class Network(nn.Module):
    """Stem, stages, optional 1x1 head conv, global pool, optional hidden layer, dropout, classifier."""

    def __init__(self, arch):
        super().__init__()
        st = arch["stem"]
        stem = list(conv_bn(arch["in_channels"], st["channels"], st["kernel"], st["stride"], act=st["act"]))
        if st["pool"]:
            stem.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.stem = nn.Sequential(*stem)
        self.stages = nn.Sequential(*[
            nn.Sequential(*[Block(b) for b in arch["blocks"] if b["stage"] == i])
            for i in range(arch["num_stages"])])
        hd = arch["head"]
        features = arch["blocks"][-1]["out"]
        if hd["channels"]:
            self.head = conv_bn(features, hd["channels"], 1, act=hd["act"])
            features = hd["channels"]
        else:
            self.head = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        if hd["hidden"]:
            self.hidden = nn.Sequential(nn.Linear(features, hd["hidden"]), activation(hd["act"]))
            features = hd["hidden"]
        else:
            self.hidden = nn.Identity()
        self.dropout = nn.Dropout(hd["dropout"])
        self.classifier = nn.Linear(features, arch["num_classes"])

    def forward(self, x):
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(self.dropout(self.hidden(torch.flatten(self.pool(x), 1))))


def resize_matrix(size_in, size_out):
    """(size_out x size_in) weights of antialiased bilinear resizing along one axis."""
    eye = torch.eye(size_in).view(size_in, 1, 1, size_in)
    out = torch.nn.functional.interpolate(eye, size=(1, size_out), mode="bilinear", antialias=True,
                                          align_corners=False)
    return out.view(size_in, size_out).T.contiguous()


def preprocess(images):
    """Raw pixels (uint8 or float 0..255, N x C x H x W at DATA["input_size"]) -> the network's input:
    resized as training resized (antialiased bilinear, rounded to whole pixels), then normalised."""
    if DATA is None:
        raise ValueError("this export carries no data config: feed the normalised input directly")
    x = images.float()
    h, w = DATA["input_size"]
    r = DATA["resolution"]
    if (h, w) != (r, r):
        x = torch.matmul(torch.matmul(resize_matrix(h, r), x), resize_matrix(w, r).T).round().clamp(0, 255)
    std = torch.tensor(DATA["std"], dtype=torch.float32)
    scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1)
    shift = (-torch.tensor(DATA["mean"], dtype=torch.float32) / std).view(1, -1, 1, 1)
    return x * scale + shift


def build():
    """The network of ARCHITECTURE, freshly initialised (load ``weights.pt`` into it)."""
    return Network(ARCHITECTURE)


# --- the exported architecture (written by nas export) ---
ARCHITECTURE = None
DATA = None
