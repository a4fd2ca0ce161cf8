from __future__ import annotations

import pytest
import torch

from lightning_modules.nets.lenet import LeNet
from lightning_modules.protocols import FeatureTaps
from training import components


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_lenet5_has_the_classic_parameter_count():
    assert n_params(LeNet()) == 61_706


@pytest.mark.parametrize(
    "model, dims", [("lenet", (400, 84)), ("small", (300, 32)), ("conv_bn", (576, 112))]
)
def test_feature_taps_have_the_right_shapes(compose_cfg, model, dims):
    net = components.model(compose_cfg(f"model={model}")).net
    assert isinstance(net, FeatureTaps)
    x = torch.randn(5, 1, 28, 28)
    taps = net.features(x)
    assert list(taps) == list(net.tap_names) == ["conv", "fc", "logits"]
    assert [tuple(t.shape) for t in taps.values()] == [(5, dims[0]), (5, dims[1]), (5, 10)]
    assert net.tap_dims == {"conv": dims[0], "fc": dims[1], "logits": 10}
    assert torch.allclose(taps["logits"], net(x))


def test_small_net_has_at_most_a_quarter_of_lenet5s_parameters(compose_cfg):
    small = n_params(components.model(compose_cfg("model=small")).net)
    assert small <= 0.25 * 61_706


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_activation_and_pooling_are_config_options(compose_cfg, activation, pooling):
    net = components.model(
        compose_cfg(f"model.activation={activation}", f"model.pooling={pooling}")
    ).net
    kinds = {type(m).__name__ for m in net.modules()}
    assert {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}.keys() & kinds == {
        {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[activation]
    }
    assert {"MaxPool2d": "max", "AvgPool2d": "avg"}.keys() & kinds == {
        {"max": "MaxPool2d", "avg": "AvgPool2d"}[pooling]
    }
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'.*relu"):
        LeNet(activation="gelu")


def test_label_smoothing_changes_the_training_loss_only(compose_cfg):
    import torch.nn.functional as F

    model = components.model(compose_cfg("model.label_smoothing=0.2"))
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8)
    logits = model(x)
    smoothed = F.cross_entropy(logits, y, label_smoothing=0.2)
    plain = F.cross_entropy(logits, y)
    assert torch.allclose(model._step((x, y), "train"), smoothed, atol=1e-6)
    assert torch.allclose(model._step((x, y), "val"), plain, atol=1e-6)
    assert not torch.allclose(smoothed, plain, atol=1e-3)


@pytest.mark.parametrize("model", ["lenet", "conv_bn", "vae"])
def test_channels_last_changes_the_layout_not_the_function(compose_cfg, model):
    nhwc = components.model(compose_cfg(f"model={model}")).net
    nchw = components.model(compose_cfg(f"model={model}", "channels_last=false")).net
    nchw.load_state_dict(nhwc.state_dict())
    nhwc.eval(), nchw.eval()
    convs = [m.weight for m in nhwc.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert all(p.is_contiguous() for p in nchw.parameters())
    assert list(dict(nhwc.named_parameters())) == list(dict(nchw.named_parameters()))
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        a, b = nhwc(x), nchw(x)
    for got, want in zip(
        a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True
    ):
        # Only the order of float32 sums changes (at most 5x5x64 terms per output): a relative
        # error of a few 1e-7 per layer, far below 1e-4 of the outputs' scale.
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
