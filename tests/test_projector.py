"""The projector files: TSVs that restore the features, one shared sprite, entries per step."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from analysis.projector import sprite_thumbnails, write_projector
from tests.tensorboard_reading import projector_embeddings


def _images(count: int, channels: int = 1) -> torch.Tensor:
    # Image i is filled with the value i, so the sprite shows where each one went.
    return torch.arange(count, dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, channels, 28, 28)


def test_features_metadata_and_sprite_read_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    features = {
        "conv": rng.standard_normal((10, 7)).astype(np.float32) * 1e3,
        "logits": rng.standard_normal((10, 3)).astype(np.float32) * 1e-3,
    }
    metadata = {"label": list(range(10)), "class": [f"c{i}" for i in range(10)]}
    write_projector(tmp_path, 42, features, metadata, sprite_thumbnails(_images(10)))

    entries = {entry["name"]: entry for entry in projector_embeddings(tmp_path)}
    assert sorted(entries) == ["conv:00042", "logits:00042"]
    for tap, values in features.items():
        entry = entries[f"{tap}:00042"]
        read = np.loadtxt(entry["tensors"], delimiter="\t", dtype=np.float32, ndmin=2)
        np.testing.assert_array_equal(read, values)  # 9 digits restore every float32
        header, *rows = [line.split("\t") for line in entry["metadata"].read_text().splitlines()]
        assert header == ["label", "class"]
        assert rows == [[str(i), f"c{i}"] for i in range(10)]
        assert entry["thumbnail"] == (28, 28)

    # One sprite for both taps: 4 per row on a square of 4 x 28 pixels, row by row.
    assert entries["conv:00042"]["sprite"] == entries["logits:00042"]["sprite"]
    with Image.open(entries["conv:00042"]["sprite"]) as sprite:
        assert sprite.mode == "L" and sprite.size == (112, 112)
        pixels = np.asarray(sprite)
    for i in range(10):
        row, col = divmod(i, 4)
        assert (pixels[row * 28 : (row + 1) * 28, col * 28 : (col + 1) * 28] == i).all()
    assert (pixels[84:] == 0).all()  # the unused last row


def test_colour_images_give_a_colour_sprite(tmp_path):
    write_projector(tmp_path, 0, {"fc": np.zeros((5, 2))}, {"label": [0] * 5}, None)
    entry = projector_embeddings(tmp_path)[0]
    assert entry["thumbnail"] == ()  # no sprite without thumbnails

    write_projector(
        tmp_path,
        1,
        {"fc": np.zeros((5, 2))},
        {"label": [0] * 5},
        sprite_thumbnails(_images(5, channels=3)),
    )
    entry = next(e for e in projector_embeddings(tmp_path) if e["name"] == "fc:00001")
    with Image.open(entry["sprite"]) as sprite:
        assert sprite.mode == "RGB" and sprite.size == (84, 84)


def test_later_steps_add_entries_and_the_same_step_replaces_its_own(tmp_path):
    def write(step: int, width: int) -> None:
        write_projector(tmp_path, step, {"fc": np.ones((4, width))}, {"label": [1] * 4}, None)

    write(5, 2)
    write(9, 2)
    write(5, 3)  # the same step written again
    entries = {entry["name"]: entry for entry in projector_embeddings(tmp_path)}
    assert sorted(entries) == ["fc:00005", "fc:00009"]
    rows = entries["fc:00005"]["tensors"].read_text().splitlines()
    assert [len(row.split("\t")) for row in rows] == [3] * 4
