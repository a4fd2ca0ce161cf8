"""``data.augment``: per image, seeded, exact across a resume, and on training batches only."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from hydra_app.config_env import compose
from lightning_modules.data.augment import BatchAugment, batch_seed
from tests.test_resume import STEPS_PER_EPOCH, _outcome, _train
from tests.tiny_data import write_image_folder
from training import components

AUGMENT = "data/augment=standard"


def _copies(n: int = 64) -> torch.Tensor:
    """``n`` copies of one uint8 image with a bright off-centre block (any change shows)."""
    image = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    image[..., 4:20, 6:14] = 200
    return image.repeat(n, 1, 1, 1)


def test_identical_images_in_a_batch_come_out_different():
    out = BatchAugment(crop_padding=2, flip_p=0.5, erase_p=0.5)(_copies(), seed=0)
    assert out.dtype == torch.uint8 and out.shape == (64, 1, 28, 28)
    distinct = {tuple(image.flatten().tolist()) for image in out}
    assert len(distinct) > 32  # 25 offsets x 2 flips x erasing: a repeat is rare


@pytest.mark.parametrize(
    "settings",
    [
        {"crop_padding": 2, "flip_p": 0.0, "erase_p": 0.0},
        {"crop_padding": 0, "flip_p": 0.5, "erase_p": 0.0},
        {"crop_padding": 0, "flip_p": 0.0, "erase_p": 0.5},
    ],
    ids=["crop", "flip", "erase"],
)
def test_each_part_changes_some_images_and_keeps_others(settings):
    images = _copies()
    out = BatchAugment(**settings)(images, seed=3)
    changed = (out != images).flatten(1).any(1)
    assert 0 < changed.sum() < len(images)
    if settings["flip_p"]:
        assert torch.equal(out[changed], images[changed].flip(-1))
    if settings["erase_p"]:
        assert (out[changed] == 0).sum() > (images[changed] == 0).sum()  # pixels set to 0 only
        assert torch.equal(out[~changed], images[~changed])


def test_the_same_seed_draws_the_same_augmentation():
    augment, images = BatchAugment(), _copies()
    assert torch.equal(augment(images, seed=5), augment(images, seed=5))
    assert not torch.equal(augment(images, seed=5), augment(images, seed=6))
    assert batch_seed(42, 0, 1) != batch_seed(42, 1, 0) != batch_seed(43, 0, 1)


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 24, 40)], ids=["rgb32", "wide"])
def test_crop_and_flip_move_every_channel_of_any_size_together(shape):
    images = torch.randint(1, 256, (32, *shape), dtype=torch.uint8)  # no 0: padding shows
    flipped = BatchAugment(crop_padding=0, flip_p=0.5, erase_p=0.0)(images, seed=1)
    changed = (flipped != images).flatten(1).any(1)
    assert 0 < changed.sum() < len(images)
    assert torch.equal(flipped[changed], images[changed].flip(-1))

    p, (_, h, w) = 2, shape
    cropped = BatchAugment(crop_padding=p, flip_p=0.0, erase_p=0.0)(images, seed=1)
    assert cropped.shape == images.shape
    padded = torch.nn.functional.pad(images, (p, p, p, p))
    windows = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)]
    for out, source in zip(cropped, padded, strict=True):
        # One window of the padded image, the same for all channels.
        assert any(torch.equal(out, source[:, dy : dy + h, dx : dx + w]) for dy, dx in windows)
    assert not torch.equal(cropped, images)


class FirstBatches(Callback):
    """Keeps the first training, validation and test batch, as the model gets them."""

    def __init__(self) -> None:
        self.batches: dict[str, torch.Tensor] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.setdefault("train", batch[0].clone())

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dl_idx=0) -> None:
        if not trainer.sanity_checking:
            self.batches.setdefault("val", batch[0].clone())

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dl_idx=0) -> None:
        self.batches.setdefault("test", batch[0].clone())


def _image_folder_config(tmp_path, *overrides: str):
    """Three-channel 32-px images in class folders, so crop and flip see more than one shape."""
    root = write_image_folder(tmp_path / "photos", ("boot", "coat"), per_class=20, test_per_class=4)
    return compose(
        [
            "data=image_folder",
            f"data.root={root}",
            "data.channels=3",
            "data.image_size=32",
            "data.cache_dir=null",
            "data.batch_size=16",
            "trainer.accelerator=cpu",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.log_dir={tmp_path / 'run' / 'logs'}",
            *overrides,
        ]
    )


@pytest.mark.parametrize("folders", [False, True], ids=["idx", "image_folder"])
def test_only_training_batches_are_augmented(compose_cfg, tmp_path, folders):
    overrides = (AUGMENT, "trainer.max_epochs=1", "+trainer.limit_train_batches=2")
    cfg = _image_folder_config(tmp_path, *overrides) if folders else compose_cfg(*overrides)
    L.seed_everything(cfg.seed)
    data, model = components.datamodule(cfg), components.model(cfg)
    data.setup()
    splits_before = {k: (x.clone(), y.clone()) for k, (x, y) in data.splits.items()}
    loader = data.train_dataloader()
    loader.sampler.set_epoch(0)
    first_images, _ = next(iter(loader))
    seen = FirstBatches()
    trainer = components.trainer(cfg, [seen], [])
    trainer.fit(model, datamodule=data)
    trainer.test(model, datamodule=data)

    plain = data.to_model_input(first_images.clone())
    augmented = data.to_model_input(data.augment(first_images, batch_seed(cfg.seed, 0, 0)))
    assert not torch.equal(seen.batches["train"], plain)
    assert torch.equal(seen.batches["train"], augmented)
    for split in ("val", "test"):
        images = data.splits[split][0][: cfg.data.eval_batch_size]
        assert torch.equal(seen.batches[split], data.to_model_input(images.clone()))
    # Image grids, embeddings and the confusion matrix read the splits: still the originals.
    for split, (images, targets) in splits_before.items():
        assert torch.equal(data.splits[split][0], images)
        assert torch.equal(data.splits[split][1], targets)


def test_an_augmented_run_killed_and_resumed_equals_an_uninterrupted_one(tiny_data_dir, tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert _train(tiny_data_dir, full, f"hydra.run.dir={full}", AUGMENT).returncode == 0
    fault = {"FAULT_KILL_AFTER_STEP": str(STEPS_PER_EPOCH + STEPS_PER_EPOCH // 2)}
    assert _train(tiny_data_dir, killed, f"hydra.run.dir={killed}", AUGMENT, fault=fault).returncode
    resumed = _train(tiny_data_dir, killed, f"resume={killed}", AUGMENT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _outcome(killed) == _outcome(full)
