from lightning_modules.data.datamodule import IDXImageDataModule
from lightning_modules.data.files import DatasetError, ensure_idx_files

__all__ = ["DatasetError", "IDXImageDataModule", "ensure_idx_files"]
