"""Any image Pillow opens -> 8-bit grey (``L``) or ``RGB``, with its values scaled, not clipped.

Pillow's own ``convert("L")`` clips 16- and 32-bit pixel values to 255, so a 16-bit photo
turns white. Here high-bit-depth pixels are scaled by their type's range first:

- ``I;16`` (any byte order): [0, 65535];
- ``I`` (signed 32-bit): [0, 2**31 - 1], negative values count as 0; but [0, 65535] when no
  value is above it, as for a 16-bit PGM, which Pillow opens as ``I``;
- ``F`` (32-bit float): [0, 1], values outside clipped.

Transparent pixels are drawn on a given background; an animated file gives its first frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

# Numpy's dtype of a high-bit-depth mode's pixels -> the value that becomes 255.
_FULL_SCALE = {"u2": 2**16 - 1, "i4": 2**31 - 1, "f4": 1.0}
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def has_alpha(image: Image.Image) -> bool:
    """Whether some pixels of ``image`` may be transparent (an alpha band or a key colour)."""
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def to_8bit(image: Image.Image) -> Image.Image:
    """A high-bit-depth image (``I;16*``, ``I``, ``F``) as ``L``, scaled by its type's range;
    any other image as it is."""
    pixels = np.asarray(image)
    full_scale = _FULL_SCALE.get(pixels.dtype.str[1:])
    if full_scale is None:
        return image
    if pixels.dtype.kind == "i" and pixels.max() <= _FULL_SCALE["u2"]:
        full_scale = _FULL_SCALE["u2"]
    scaled = np.clip(pixels.astype(np.float64), 0, full_scale) * (255 / full_scale)
    return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")


def decode(image: Image.Image, channels: int, background: str = "white") -> Image.Image:
    """``image`` as ``L`` (``channels`` 1) or ``RGB`` (3), upright per its EXIF orientation.

    Args:
        image: as :func:`PIL.Image.open` gives it, at the first frame of an animated file.
        channels: 1 or 3.
        background: the colour transparent pixels are drawn on, e.g. ``white`` or ``black``.
    """
    image = to_8bit(ImageOps.exif_transpose(image))
    if has_alpha(image):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, background), rgba)
    if image.mode not in ("1", "L", "RGB"):  # P, CMYK, YCbCr, LAB, HSV, RGBA: through RGB
        image = image.convert("RGB")
    return image.convert("RGB" if channels == 3 else "L")
