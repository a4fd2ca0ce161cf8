"""Per-image augmentation of whole uint8 batches, on whatever device the batch is on."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

# Fixed odd multipliers that mix the parts of a batch's key into one seed.
_KEY_MULTIPLIERS = (1_000_003, 8_191, 131_071)


def batch_seed(seed: int, epoch: int, batch: int, rank: int = 0) -> int:
    """One seed per (run seed, epoch, batch of the epoch, rank): a resumed run redraws the same."""
    mixed = seed
    for part, multiplier in zip((epoch, batch, rank), _KEY_MULTIPLIERS, strict=True):
        mixed = (mixed * multiplier + part + 1) % (1 << 62)
    return mixed


class BatchAugment:
    """Random crop after zero padding, horizontal flip and random erasing, image by image.

    Each image of a batch draws its own crop offset, flip and erased rectangle (as
    torchvision's ``RandomCrop(padding=...)``, ``RandomHorizontalFlip`` and ``RandomErasing``
    with value 0 do for one image), all at once on the batch's device. The draws come from
    a generator seeded with the batch's :func:`batch_seed`, so they depend on the run's seed
    and the batch's place in training only, not on the global RNG or on how the run got there.

    Args:
        crop_padding: pixels of zeros added on each side before cropping back to the original
            size; 0 turns cropping off.
        flip_p: probability of a horizontal flip.
        erase_p: probability of erasing one rectangle (set to 0, the background).
        erase_scale: range of the erased area as a fraction of the image.
        erase_ratio: range of the rectangle's aspect ratio (height / width), drawn log-uniformly.
    """

    def __init__(
        self,
        crop_padding: int = 2,
        flip_p: float = 0.5,
        erase_p: float = 0.5,
        erase_scale: Sequence[float] = (0.02, 0.2),
        erase_ratio: Sequence[float] = (0.3, 3.3),
    ) -> None:
        self.crop_padding = int(crop_padding)
        self.flip_p = float(flip_p)
        self.erase_p = float(erase_p)
        self.erase_scale = tuple(float(s) for s in erase_scale)
        self.erase_ratio = tuple(float(r) for r in erase_ratio)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(crop_padding={self.crop_padding}, flip_p={self.flip_p}, "
            f"erase_p={self.erase_p}, erase_scale={self.erase_scale}, "
            f"erase_ratio={self.erase_ratio})"
        )

    def __call__(self, images: torch.Tensor, seed: int) -> torch.Tensor:
        """Augmented copy of ``images`` (``[N, C, H, W]``, any dtype), drawn from ``seed``."""
        n, _, h, w = images.shape
        device = images.device
        generator = torch.Generator(device=device).manual_seed(seed)
        # All draws at once, in a fixed layout: offset y, offset x, flip, erase?, area, ratio,
        # top, left.
        u = torch.rand(n, 8, generator=generator, device=device)
        rows = torch.arange(h, device=device).expand(n, h)
        cols = torch.arange(w, device=device).expand(n, w)
        flip = u[:, 2] < self.flip_p
        cols = torch.where(flip[:, None], cols.flip(1), cols)
        x = images
        if self.crop_padding:
            p = self.crop_padding
            x = F.pad(images, (p, p, p, p))
            rows = rows + (u[:, 0] * (2 * p + 1)).long().clamp_max(2 * p)[:, None]
            cols = cols + (u[:, 1] * (2 * p + 1)).long().clamp_max(2 * p)[:, None]
        # One gather does crop and flip: out[i, c, y, x] = padded[i, c, rows[i, y], cols[i, x]].
        index_y = rows[:, None, :, None].expand(-1, x.shape[1], -1, x.shape[3])
        x = x.gather(2, index_y)
        index_x = cols[:, None, None, :].expand(-1, x.shape[1], h, -1)
        x = x.gather(3, index_x)
        if self.erase_p > 0:
            x = x.masked_fill(self._erase_mask(u, h, w), 0)
        return x

    def _erase_mask(self, u: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """``[N, 1, H, W]``: True inside each chosen image's erased rectangle."""
        lo, hi = self.erase_scale
        area = (lo + (hi - lo) * u[:, 4]) * h * w
        log_lo, log_hi = torch.log(torch.tensor(self.erase_ratio, device=u.device))
        ratio = torch.exp(log_lo + (log_hi - log_lo) * u[:, 5])
        eh = torch.sqrt(area * ratio).round().long().clamp(1, h)
        ew = torch.sqrt(area / ratio).round().long().clamp(1, w)
        top = (u[:, 6] * (h - eh + 1)).long()
        left = (u[:, 7] * (w - ew + 1)).long()
        ys = torch.arange(h, device=u.device)[None, :]
        xs = torch.arange(w, device=u.device)[None, :]
        in_y = (ys >= top[:, None]) & (ys < (top + eh)[:, None])
        in_x = (xs >= left[:, None]) & (xs < (left + ew)[:, None])
        chosen = (u[:, 3] < self.erase_p)[:, None, None]
        return (chosen & in_y[:, :, None] & in_x[:, None, :])[:, None]
