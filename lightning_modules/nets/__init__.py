from lightning_modules.nets.conv_vae import ConvVAE
from lightning_modules.nets.lenet import LeNet
from lightning_modules.nets.mlp_vae import MLPVAE

__all__ = ["MLPVAE", "ConvVAE", "LeNet"]
