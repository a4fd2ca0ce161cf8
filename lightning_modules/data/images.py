"""Image files -> the uint8 tensors and float inputs the models see, the same for training and
prediction: one channel count and size, aspect ratio kept, padded with the background."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps

from lightning_modules.data.decode import decode

INVERT_CHOICES = ("auto", "true", "false")


def invert_choice(invert: str | bool) -> str:
    """``invert`` as one of :data:`INVERT_CHOICES`; the command line's ``invert=true`` and
    ``invert=false`` reach the code as booleans (YAML reads them so)."""
    choice = str(invert).lower() if isinstance(invert, bool) else invert
    if choice not in INVERT_CHOICES:
        raise ValueError(f"invert={invert!r}; use one of {list(INVERT_CHOICES)}")
    return choice


def is_light_background(grey: Image.Image) -> bool:
    """Whether the border pixels are mostly light (a dark object on white paper)."""
    pixels = np.asarray(grey)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return float(border.mean()) > 127.5


def decode_for_model(
    image: Image.Image, channels: int, invert: str | bool = "false"
) -> Image.Image:
    """``image`` in 8-bit grey or RGB at its own size, as the model sees it: light on dark.

    Transparent pixels are the paper the object lies on: white where the image may be
    inverted, so that ``auto`` sees a light background, black with ``invert=false``.

    Args:
        image: as :func:`PIL.Image.open` gives it, any mode (see
            :mod:`lightning_modules.data.decode`).
        channels: 1 (grey) or 3 (RGB).
        invert: ``true``; ``auto``: when the background is light (Fashion-MNIST is light
            clothes on black); ``false``.
    """
    invert = invert_choice(invert)
    image = decode(image, channels, background="black" if invert == "false" else "white")
    grey = image if image.mode == "L" else image.convert("L")
    if invert == "true" or (invert == "auto" and is_light_background(grey)):
        image = ImageOps.invert(image)
    return image


def fit_size(image: Image.Image, image_size: int) -> torch.Tensor:
    """An ``L`` or ``RGB`` image as a uint8 tensor ``[channels, image_size, image_size]``,
    scaled to fit with its aspect ratio kept and centred on black."""
    if image.size != (image_size, image_size):
        # Pillow's resampling filters antialias when they shrink.
        image = ImageOps.pad(image, (image_size, image_size), Image.Resampling.BILINEAR, color=0)
    array = np.array(image, dtype=np.uint8)  # a copy torch may own
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def fit_image(image: Image.Image, image_size: int, channels: int, invert: str | bool = "false"):
    """``image`` as a uint8 tensor ``[channels, image_size, image_size]``: see
    :func:`decode_for_model` and :func:`fit_size`."""
    return fit_size(decode_for_model(image, channels, invert), image_size)


def scale(images: torch.Tensor, normalize: bool, mean: float, std: float) -> torch.Tensor:
    """uint8 images -> floats in [0, 1], standardised with ``mean``/``std`` if ``normalize``."""
    x = images.float().div_(255.0)
    return x.sub_(mean).div_(std) if normalize else x


@dataclass(frozen=True)
class InputSpec:
    """What a model was trained on: stored in its checkpoint as plain values."""

    class_names: list[str] = field(default_factory=list)
    channels: int = 1
    image_size: int = 28
    normalize: bool = False
    mean: float = 0.5
    std: float = 0.5

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def as_dict(self) -> dict:
        return asdict(self)


class ImageTransform:
    """A PIL image -> the float tensor ``[C, H, W]`` a model with ``spec`` expects.

    Args:
        spec: the model's input settings.
        invert: ``auto``, ``true`` or ``false``; see :func:`decode_for_model`.
    """

    def __init__(self, spec: InputSpec, invert: str | bool = "auto") -> None:
        self.spec = spec
        self.invert = invert_choice(invert)

    def decode(self, image: Image.Image) -> Image.Image:
        """At the image's own size: what :meth:`fit` takes."""
        return decode_for_model(image, self.spec.channels, self.invert)

    def fit(self, decoded: Image.Image) -> torch.Tensor:
        return fit_size(decoded, self.spec.image_size)

    def to_uint8(self, image: Image.Image) -> torch.Tensor:
        return self.fit(self.decode(image))

    def to_model_input(self, images: torch.Tensor) -> torch.Tensor:
        return scale(images, self.spec.normalize, self.spec.mean, self.spec.std)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.to_model_input(self.to_uint8(image))
