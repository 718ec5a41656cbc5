"""What a trained model expects of its input, so that an exported model scores raw images as it
scored them in training (issue 33): per-channel mean and standard deviation (of the images it was
trained on, at its resolution), the raw image size, how images were resized, the channels, and
what each output index means. Torch-free: the CLI and the export's JSON read it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RESIZE = "bilinear, antialiased (torch.nn.functional.interpolate, align_corners=False), rounded to uint8"


@dataclass(frozen=True)
class DataConfig:
    mean: tuple[float, ...]  # per channel, of pixel / 255
    std: tuple[float, ...]  # per channel, of pixel / 255 (at least 1/255)
    input_size: tuple[int, int]  # the raw images' height and width
    resolution: int  # what the network sees (square)
    channels: int
    class_names: tuple[str, ...]
    trained_on: str = ""  # the images the statistics come from
    resize: str = RESIZE
    input: str = "uint8 pixels 0..255, N x C x H x W"
    normalise: str = "x / 255, minus mean, over std, per channel"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d | self.extra

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataConfig":
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs = {k: v for k, v in d.items() if k in known}
        for name in ("mean", "std", "input_size", "class_names"):
            if name in kwargs:
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs, extra={k: v for k, v in d.items() if k not in known})
