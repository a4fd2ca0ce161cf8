"""Inputs a model can only guess at: a blank page, a few pixels, a sliver. The model still
answers; these warnings say why the answer means little."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Pixel std on the 0..255 scale below which an image looks blank: the least varied of
# Fashion-MNIST's 60000 training images has 16.5, a blank page with scanner or JPEG noise a few.
BLANK_STD = 4.0
# Fitted into the input size, a side under this many pixels or an aspect ratio over this
# leaves the object a few pixels wide.
MIN_SIDE = 8
MAX_ASPECT = 8.0


def input_warnings(decoded: Image.Image) -> list[str]:
    """What makes ``decoded`` (8-bit ``L`` or ``RGB``, at its own size) a doubtful input;
    empty when nothing does."""
    width, height = decoded.size
    found = []
    std = float(np.asarray(decoded.convert("L"), dtype=np.float64).std())
    if std < BLANK_STD:
        found.append(f"looks blank (pixel std {std:.1f} < {BLANK_STD:g} of 255)")
    if min(width, height) < MIN_SIDE:
        found.append(f"tiny ({width}x{height} px, a side under {MIN_SIDE})")
    elif max(width, height) > MAX_ASPECT * min(width, height):
        found.append(f"extreme aspect ratio ({width}x{height} px, over {MAX_ASPECT:g}:1)")
    return found
