from lightning_modules.nets.lenet import LeNet

__all__ = ["LeNet"]
