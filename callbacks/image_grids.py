"""Prior samples, reconstructions and latent interpolations of a generative model as image grids."""

from __future__ import annotations

import io
import logging
from contextlib import nullcontext
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from lightning_modules.best_weights import best_weights
from lightning_modules.protocols import Generative
from storage.run_files import atomic_write_bytes, update_metrics
from storage.run_loggers import log_image

log = logging.getLogger(__name__)

IMAGES_DIR = "images"
# Grid names: TensorBoard tags "images/<name>", PNGs "<run dir>/images/<name>[_epoch<k>].png".
PRIOR_SAMPLES = "prior_samples"
RECONSTRUCTIONS = "reconstructions"
INTERPOLATIONS = "interpolations"
# Mean over the final prior samples of each sample's pixel standard deviation: near 0 when the
# model has collapsed to flat one-colour images.
SAMPLE_PIXEL_STD_KEY = "samples/pixel_std"


def final_grid_path(run_dir: str | Path, name: str) -> Path:
    """The grid drawn at the end of fit."""
    return Path(run_dir) / IMAGES_DIR / f"{name}.png"


class ImageGrids(Callback):
    """Every ``every_n_epochs`` epochs with the current weights, and at the end of fit with the
    best checkpoint's, draws from the model:

    - ``prior_samples``: ``samples_per_side`` x ``samples_per_side`` decodings of prior draws,
      the same draws every time so that epochs can be compared;
    - ``reconstructions``: ``num_reconstructions`` test images above their reconstructions
      (decoded posterior means);
    - ``interpolations``: one row per pair of test images of different classes, decoding
      ``interpolation_steps`` evenly spaced points on the line between their posterior means,
      both ends included.

    Talks to the model only through :class:`~lightning_modules.protocols.Generative`; does
    nothing for other models. Test images come from the datamodule's ``splits["test"]``.
    """

    def __init__(
        self,
        every_n_epochs: int = 5,
        samples_per_side: int = 8,
        num_reconstructions: int = 8,
        num_interpolations: int = 8,
        interpolation_steps: int = 10,
        seed: int = 0,
    ) -> None:
        self.every_n_epochs = every_n_epochs
        self.samples_per_side = samples_per_side
        self.num_reconstructions = num_reconstructions
        self.num_interpolations = num_interpolations
        self.interpolation_steps = interpolation_steps
        self.seed = seed

    @override
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs == 0 and epoch < trainer.max_epochs:
            self._draw(trainer, pl_module, suffix=f"_epoch{epoch:03d}")

    @override
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw(trainer, pl_module, suffix="", best=True)

    def _draw(self, trainer, pl_module, suffix: str, best: bool = False) -> None:
        """Draws with the current weights, or with ``best`` the best checkpoint's."""
        if not trainer.is_global_zero:
            return
        if not isinstance(pl_module, Generative):
            log.debug("ImageGrids: %s is not Generative, no grids", type(pl_module).__name__)
            return
        test_split = getattr(trainer.datamodule, "splits", {}).get("test")
        if test_split is None:
            log.info("ImageGrids: the datamodule has no test split, no grids")
            return
        from torchvision.utils import make_grid

        images, targets = test_split
        to_input = trainer.datamodule.to_model_input
        device = pl_module.device
        weights = best_weights(trainer, pl_module, "Image grids") if best else nullcontext()
        was_training = pl_module.training
        pl_module.eval()
        try:
            with weights, torch.no_grad():
                samples = self.draw_prior(pl_module, device)
                spread = float(samples.flatten(1).std(dim=1).mean())
                grids = {
                    PRIOR_SAMPLES: make_grid(samples, nrow=self.samples_per_side),
                    RECONSTRUCTIONS: self.reconstructions(
                        pl_module, to_input(images[: self.num_reconstructions]).to(device)
                    ),
                }
                pairs = self.pair_indices(targets)
                if pairs:
                    endpoints = to_input(images[pairs]).to(device)
                    grids[INTERPOLATIONS] = self.interpolations(pl_module, endpoints)
        finally:
            pl_module.train(was_training)
        self._publish(trainer, grids, suffix)
        if best:
            update_metrics(trainer.default_root_dir, {SAMPLE_PIXEL_STD_KEY: spread})
            log.info("Prior samples' mean pixel std: %.4f", spread)

    def prior_samples(self, model: Generative, device: torch.device) -> torch.Tensor:
        from torchvision.utils import make_grid

        return make_grid(self.draw_prior(model, device), nrow=self.samples_per_side)

    def draw_prior(self, model: Generative, device: torch.device) -> torch.Tensor:
        """The ``samples_per_side ** 2`` prior samples, the same draws every time."""
        generator = torch.Generator(device=device).manual_seed(self.seed)
        return model.sample(self.samples_per_side**2, generator=generator).cpu()

    def reconstructions(self, model: Generative, x: torch.Tensor) -> torch.Tensor:
        from torchvision.utils import make_grid

        recon = model.decode(model.encode(x)[0])
        return make_grid(torch.cat([x, recon]).cpu(), nrow=len(x))

    def interpolations(self, model: Generative, endpoints: torch.Tensor) -> torch.Tensor:
        """``endpoints`` holds the pairs as consecutive images: (a0, b0, a1, b1, ...)."""
        from torchvision.utils import make_grid

        mean = model.encode(endpoints)[0]
        start, end = mean[0::2], mean[1::2]
        t = torch.linspace(0, 1, self.interpolation_steps, device=mean.device).view(1, -1, 1)
        z = start[:, None] + t * (end - start)[:, None]  # [pairs, steps, latent]
        frames = model.decode(z.flatten(0, 1))
        return make_grid(frames.cpu(), nrow=self.interpolation_steps)

    def pair_indices(self, targets: torch.Tensor) -> list[int]:
        """Indices (a0, b0, a1, b1, ...) of pairs from different classes, drawn with ``seed``."""
        order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(self.seed))
        first_of: dict[int, int] = {}  # class -> its first image in the seeded order
        for index, label in zip(order.tolist(), targets[order].tolist(), strict=True):
            first_of.setdefault(label, index)
        labels = sorted(first_of)
        if len(labels) < 2:
            return []
        # Pair each class with the next one, cycling: every pair crosses a class boundary.
        pairs = []
        for k in range(self.num_interpolations):
            pairs += [first_of[labels[k % len(labels)]], first_of[labels[(k + 1) % len(labels)]]]
        return pairs

    def _publish(self, trainer, grids: dict[str, torch.Tensor], suffix: str) -> None:
        from torchvision.utils import save_image

        run_dir = Path(trainer.default_root_dir)
        for name, grid in grids.items():
            buffer = io.BytesIO()
            save_image(grid, buffer, format="png")
            path = final_grid_path(run_dir, name)
            atomic_write_bytes(path.with_name(f"{name}{suffix}.png"), buffer.getvalue())
            log_image(trainer, f"{IMAGES_DIR}/{name}", grid, trainer.global_step, "CHW")
        log.info("Image grids (%s) written to %s", ", ".join(grids), run_dir / IMAGES_DIR)
