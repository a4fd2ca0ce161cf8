"""Image grids: written as PNGs and as TensorBoard images, read back from the event files."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from callbacks.image_grids import (
    IMAGES_DIR,
    INTERPOLATIONS,
    PRIOR_SAMPLES,
    RECONSTRUCTIONS,
    ImageGrids,
    final_grid_path,
)
from lightning_modules.nets.conv_vae import ConvVAE
from tests.tensorboard_reading import images as event_images
from tests.tensorboard_reading import logged_hparams

GRIDS = (PRIOR_SAMPLES, RECONSTRUCTIONS, INTERPOLATIONS)
SIDE = 28 + 2  # make_grid pads each image by 2 pixels


def _pixels(png: Path | bytes) -> np.ndarray:
    """RGB pixels as int [height, width, 3]."""
    source = io.BytesIO(png) if isinstance(png, bytes) else png
    return np.asarray(Image.open(source).convert("RGB")).astype(int)


def test_vae_run_writes_grids_to_png_and_tensorboard(compose_cfg):
    from train import train

    cfg = compose_cfg(
        "model=vae",
        "model.iw_samples=2",
        "trainer.max_epochs=3",
        "callbacks.image_grids.every_n_epochs=2",
        "callbacks.image_grids.num_interpolations=3",
        "callbacks.image_grids.interpolation_steps=5",
    )
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    expected_shapes = {  # (rows, columns) of 28x28 images
        PRIOR_SAMPLES: (8, 8),
        RECONSTRUCTIONS: (2, 8),
        INTERPOLATIONS: (3, 5),
    }
    for name, (rows, columns) in expected_shapes.items():
        for path in (final_grid_path(run_dir, name), run_dir / IMAGES_DIR / f"{name}_epoch002.png"):
            assert _pixels(path).shape[:2] == (rows * SIDE + 2, columns * SIDE + 2), path

    images = event_images(run_dir / "tensorboard")
    assert set(images) == {f"{IMAGES_DIR}/{name}" for name in GRIDS}
    steps_per_epoch = 16  # 500 training images in batches of 32
    for name, (rows, columns) in expected_shapes.items():
        logged = images[f"{IMAGES_DIR}/{name}"]
        # Epoch 2 (every_n_epochs) and the end of fit (after epoch 3).
        assert [e.step for e in logged] == [2 * steps_per_epoch, 3 * steps_per_epoch]
        assert (logged[-1].height, logged[-1].width) == (rows * SIDE + 2, columns * SIDE + 2)
        # The TensorBoard image is the PNG on disk (TensorBoard truncates where PNG rounds).
        on_disk = _pixels(final_grid_path(run_dir, name))
        in_events = _pixels(logged[-1].encoded_image_string)
        assert np.abs(on_disk - in_events).max() <= 1
    assert "model/kl_weight" in logged_hparams(run_dir / "tensorboard")


def _prior_samples_png(cfg, checkpoint: Path) -> np.ndarray:
    """The prior-sample grid the run's ImageGrids draws with ``checkpoint``'s weights, as PNG."""
    from torchvision.utils import save_image

    from training import components

    model = components.model(cfg)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    grids = ImageGrids(samples_per_side=cfg.callbacks.image_grids.samples_per_side, seed=cfg.seed)
    with torch.no_grad():
        grid = grids.prior_samples(model.eval(), torch.device("cpu"))
    png = io.BytesIO()
    save_image(grid, png, format="png")
    return _pixels(png.getvalue())


def test_end_of_fit_grids_are_drawn_from_the_best_checkpoint(compose_cfg):
    from train import train

    # Ranking by the highest validation loss makes the first epoch the best and not the last;
    # every epoch is kept, so the last weights are on disk too.
    cfg = compose_cfg(
        "model=vae",
        "model.monitor_mode=max",
        "+callbacks.model_checkpoint.save_top_k=-1",
        "test=false",
    )
    metrics = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    best, last = Path(metrics["best_checkpoint"]), run_dir / "checkpoints" / "epoch_001.ckpt"
    assert best.name == "epoch_000.ckpt" and metrics["epochs"] == 2

    drawn = _pixels(final_grid_path(run_dir, PRIOR_SAMPLES))
    # The same arithmetic on the same weights; PNG keeps round(255 * x), so a value on a
    # rounding boundary may move by one level.
    assert np.abs(drawn - _prior_samples_png(cfg, best)).max() <= 1
    assert np.abs(drawn - _prior_samples_png(cfg, last)).max() > 1


def test_best_weights_are_swapped_in_for_the_block_only(tmp_path, caplog):
    from lightning_modules.best_weights import best_weights

    module = torch.nn.Linear(2, 1)
    own = {name: value.clone() for name, value in module.state_dict().items()}
    best = {name: torch.full_like(value, 3.0) for name, value in own.items()}
    torch.save({"state_dict": best}, tmp_path / "best.ckpt")
    trainer = SimpleNamespace(
        checkpoint_callback=SimpleNamespace(best_model_path=str(tmp_path / "best.ckpt"))
    )
    with pytest.raises(KeyError), best_weights(trainer, module, "Grids"):
        torch.testing.assert_close(module.state_dict(), best, rtol=0, atol=0)
        raise KeyError  # the module's own weights come back whatever happens in the block
    torch.testing.assert_close(module.state_dict(), own, rtol=0, atol=0)

    no_checkpoints = SimpleNamespace(checkpoint_callback=None)
    with caplog.at_level("INFO"), best_weights(no_checkpoints, module, "Grids"):
        torch.testing.assert_close(module.state_dict(), own, rtol=0, atol=0)
    assert "Grids: no best checkpoint, so drawn with the current weights" in caplog.text


def test_classifier_run_draws_no_grids(compose_cfg):
    from train import train

    cfg = compose_cfg(
        "model=small", "trainer.max_epochs=1", "callbacks.image_grids.every_n_epochs=1"
    )
    train(cfg)
    assert not (Path(cfg.paths.output_dir) / IMAGES_DIR).exists()


def test_fast_dev_run_draws_without_a_tensorboard_logger(compose_cfg):
    from train import train

    cfg = compose_cfg("model=vae", "trainer.fast_dev_run=true", "test=false")
    train(cfg)
    assert final_grid_path(cfg.paths.output_dir, PRIOR_SAMPLES).exists()


def test_prior_samples_use_the_same_draws_every_time():
    net = ConvVAE(latent_dim=3, channels=(4,))
    grids = ImageGrids(samples_per_side=2, seed=5)
    first = grids.prior_samples(net, torch.device("cpu"))
    torch.rand(10)  # the global RNG must not matter
    torch.testing.assert_close(grids.prior_samples(net, torch.device("cpu")), first)
    other_seed = ImageGrids(samples_per_side=2, seed=6).prior_samples(net, torch.device("cpu"))
    assert not torch.equal(other_seed, first)


def test_interpolation_rows_join_images_of_different_classes_ends_included():
    targets = torch.tensor([3, 3, 1, 1, 7, 3, 7])
    grids = ImageGrids(num_interpolations=4, interpolation_steps=4, seed=0)
    pairs = grids.pair_indices(targets)
    assert len(pairs) == 8
    assert all(targets[a] != targets[b] for a, b in zip(pairs[0::2], pairs[1::2], strict=True))
    assert grids.pair_indices(torch.tensor([2, 2, 2])) == []

    net = ConvVAE(latent_dim=3, channels=(4,))
    endpoints = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        grid = grids.interpolations(net, endpoints)
        ends = net.decode(net.encode(endpoints)[0])
        first_cell, last_cell = grid[:, 2:30, 2:30], grid[:, 2:30, 3 * SIDE + 2 : 4 * SIDE]
    torch.testing.assert_close(first_cell[0], ends[0, 0])
    torch.testing.assert_close(last_cell[0], ends[1, 0])
