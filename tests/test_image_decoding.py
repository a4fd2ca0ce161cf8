"""Every image mode Pillow reads decodes to the 8-bit values of its own 8-bit version: the one
decoder of predict.py and data=image_folder (lightning_modules/data/decode.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lightning_modules.data.decode import decode
from lightning_modules.data.images import decode_for_model

# Every grey level once: 16 x 16 pixels, 0 at the top left, 255 at the bottom right.
RAMP = np.arange(256, dtype=np.uint8).reshape(16, 16)


def reopened(image: Image.Image, fmt: str = "PNG", **save_args) -> Image.Image:
    """``image`` written to a file in ``fmt`` and opened again, as a user's file would be."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    buffer.seek(0)
    return Image.open(buffer)


def grey(image: Image.Image, channels: int = 1, background: str = "white") -> np.ndarray:
    return np.asarray(decode(image, channels, background)).astype(int)


def test_8bit_grey_is_kept_exactly():
    assert np.array_equal(grey(reopened(Image.fromarray(RAMP))), RAMP)


@pytest.mark.parametrize("dtype, mode", [("<u2", "I;16"), (">u2", "I;16B")])
def test_16bit_is_scaled_by_its_range_not_clipped(dtype, mode):
    # v * 257 spans 0..65535 as v spans 0..255, and v * 257 * 255 / 65535 is v exactly.
    image = Image.frombytes(mode, (16, 16), (RAMP.astype(dtype) * 257).tobytes())
    assert image.mode == mode
    assert np.array_equal(grey(image), RAMP)


def test_a_16bit_png_decodes_like_its_8bit_version_within_one_grey_level():
    # An uneven 16-bit ramp; its 8-bit version keeps the high byte, so rounding differs by <= 1.
    wide = np.linspace(127, 65453, 256).round().astype(np.uint16).reshape(16, 16)
    image = reopened(Image.fromarray(wide))
    assert image.mode == "I;16"
    difference = np.abs(grey(image) - (wide >> 8))
    assert difference.max() <= 1


def test_32bit_int_is_scaled_by_its_range_and_negatives_are_black():
    values = np.rint(RAMP.astype(np.float64) * (2**31 - 1) / 255).astype(np.int32)
    values[0, 0] = -5
    image = Image.fromarray(values)
    assert image.mode == "I"
    decoded = grey(image)
    assert decoded[0, 0] == 0
    assert np.array_equal(decoded.ravel()[1:], RAMP.ravel()[1:])


def test_a_16bit_pgm_opened_as_32bit_int_is_scaled_as_16bit():
    pgm = b"P5 16 16 65535\n" + (RAMP.astype(">u2") * 257).tobytes()
    image = Image.open(io.BytesIO(pgm))
    assert image.mode == "I"
    assert np.array_equal(grey(image), RAMP)


def test_float_is_read_as_0_to_1_and_clipped():
    values = RAMP.astype(np.float32) / 255
    values[0, :2] = [-0.5, 1.5]
    image = Image.fromarray(values)
    assert image.mode == "F"
    decoded = grey(image)
    assert decoded[0, 0] == 0 and decoded[0, 1] == 255
    assert np.array_equal(decoded.ravel()[2:], RAMP.ravel()[2:])


def test_1bit_is_black_and_white():
    image = reopened(Image.fromarray(RAMP >= 128))
    assert image.mode == "1"
    assert np.array_equal(grey(image), np.where(RAMP >= 128, 255, 0))


def grey_palette_image() -> Image.Image:
    """RAMP as a palette image whose entry i is grey level i."""
    image = Image.fromarray(RAMP, mode="P")
    image.putpalette([level for i in range(256) for level in (i, i, i)])
    return image


def test_palette_without_transparency():
    image = reopened(grey_palette_image())
    assert image.mode == "P" and "transparency" not in image.info
    assert np.array_equal(grey(image), RAMP)


def test_transparent_pixels_are_the_paper_the_invert_setting_expects():
    # A dark square (palette entry 50) on a transparent page (entry 200).
    pixels = np.full((16, 16), 200, dtype=np.uint8)
    pixels[4:12, 4:12] = 50
    page = Image.fromarray(pixels, mode="P")
    page.putpalette(grey_palette_image().getpalette())
    image = reopened(page, transparency=200)
    assert image.mode == "P" and image.info["transparency"] == 200
    square = pixels == 50
    assert (grey(image, background="white")[~square] == 255).all()
    assert (grey(image, background="black")[~square] == 0).all()
    assert (grey(image)[square] == 50).all()
    # Light paper, inverted by invert=auto or true; invert=false draws on black at once.
    for invert, level in (("auto", 205), ("true", 205), ("false", 50)):
        decoded = np.asarray(decode_for_model(image, 1, invert))
        assert (decoded[~square] == 0).all() and (decoded[square] == level).all()


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_the_background(mode):
    alpha = np.where(np.arange(16) < 8, 255, 0).astype(np.uint8)[None].repeat(16, axis=0)
    bands = [RAMP] * (3 if mode == "RGBA" else 1) + [alpha]
    image = reopened(Image.fromarray(np.stack(bands, axis=-1), mode=mode))
    assert image.mode == mode
    for background, level in (("white", 255), ("black", 0)):
        decoded = grey(image, background=background)
        assert np.array_equal(decoded[:, :8], RAMP[:, :8])
        assert (decoded[:, 8:] == level).all()


def test_rgb_to_grey_and_to_rgb():
    colour = np.stack([RAMP, 255 - RAMP, np.full_like(RAMP, 50)], axis=-1)
    image = reopened(Image.fromarray(colour))
    assert np.array_equal(grey(image, channels=3), colour)
    # ITU-R 601 luma, as Pillow's "L": 0.299 R + 0.587 G + 0.114 B, to within its rounding.
    luma = colour @ np.array([0.299, 0.587, 0.114])
    assert np.abs(grey(image) - luma).max() <= 1


def test_cmyk():
    cmyk = Image.fromarray(np.stack([np.zeros_like(RAMP)] * 3 + [255 - RAMP], axis=-1), "CMYK")
    image = reopened(cmyk, fmt="JPEG", quality=100)
    assert image.mode == "CMYK"
    # JPEG's lossy coding at quality 100 moves a flat ramp by a few levels at most.
    assert np.abs(grey(image) - RAMP).max() <= 3


@pytest.mark.parametrize("fmt", ["GIF", "PNG"])
def test_an_animated_file_gives_its_first_frame(fmt):
    first, second = grey_palette_image(), Image.fromarray(255 - RAMP, mode="P")
    second.putpalette(first.getpalette())
    image = reopened(first, fmt=fmt, save_all=True, append_images=[second], duration=100)
    assert image.n_frames == 2
    assert np.array_equal(grey(image), RAMP)
