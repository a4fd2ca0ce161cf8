"""Feature vectors, metadata and thumbnails for TensorBoard's embedding projector."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# The projector reads sprites of at most 8192x8192 pixels.
MAX_SPRITE_PIXELS = 8192


def sprite_thumbnails(
    images: torch.Tensor, max_sprite_pixels: int = MAX_SPRITE_PIXELS
) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` -> floats in [0, 1], shrunk so that the square sprite fits the limit.

    The writer lays N thumbnails out on a ``ceil(sqrt(N))``-wide square grid.
    """
    per_row = math.ceil(math.sqrt(len(images)))
    side = max(images.shape[-2:])
    fitting = max_sprite_pixels // per_row
    if fitting < 1:
        raise ValueError(
            f"{len(images)} thumbnails cannot fit a {max_sprite_pixels}px sprite; "
            "lower callbacks.feature_embeddings.num_images"
        )
    thumbnails = images.float().div(255.0)
    if fitting < side:
        thumbnails = F.interpolate(thumbnails, size=(fitting, fitting), mode="area")
    return thumbnails


def add_projector_embedding(
    writer,
    tag: str,
    features: torch.Tensor,
    metadata: dict[str, list],
    thumbnails: torch.Tensor | None,
    step: int,
) -> None:
    """One projector entry: ``features`` ``[N, D]``, one metadata column per ``metadata`` key."""
    header = list(metadata)
    rows = [list(values) for values in zip(*metadata.values(), strict=True)]
    writer.add_embedding(
        features,
        metadata=rows,
        metadata_header=header,
        label_img=thumbnails,
        global_step=step,
        tag=tag,
    )
