"""LightningModules, nets and data modules, composed by the Hydra configs under ``conf/``."""

from lightning_modules.classifier import ImageClassifier
from lightning_modules.data import IDXImageDataModule
from lightning_modules.vae import VAE

__all__ = ["VAE", "IDXImageDataModule", "ImageClassifier"]
