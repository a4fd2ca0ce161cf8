"""LightningModules, nets and data modules, composed by the Hydra configs under ``conf/``.

Exports load on first use, so that reading a name table (e.g. for config checks) does not
import torch and Lightning.
"""

from importlib import import_module

_EXPORTS = {
    "ImageClassifier": "lightning_modules.classifier",
    "VAE": "lightning_modules.vae",
    "IDXImageDataModule": "lightning_modules.data.datamodule",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
