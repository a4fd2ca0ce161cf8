"""The VAE's nets, loss terms and metrics, checked against hand computations on tiny examples."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn

from lightning_modules.base import STAGES
from lightning_modules.nets.conv_vae import ConvVAE
from lightning_modules.nets.gaussian_latent import GaussianLatentNet
from lightning_modules.nets.mlp_vae import MLPVAE
from lightning_modules.protocols import Generative
from lightning_modules.vae import (
    ACTIVE_UNITS,
    KL_PER_DIM,
    TERMS,
    TEST_IW_NLL,
    VAE,
    WARMUP_KL_WEIGHT,
)
from lightning_modules.vae_losses import (
    bernoulli_nll,
    gaussian_kl,
    gaussian_nll,
    importance_weighted_nll,
    pixel_likelihood,
)
from storage.run_files import read_metrics


def test_kl_matches_closed_form_by_hand():
    mean = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    # 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2) per dim
    expected = torch.tensor([[0.5 * (1 + 1 - 1 - 0), 0.5 * (0 + 4 - 1 - math.log(4.0))]])
    torch.testing.assert_close(gaussian_kl(mean, logvar), expected)
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)
    )
    torch.testing.assert_close(gaussian_kl(mean, logvar), reference)


def test_bernoulli_reconstruction_is_bce_summed_over_pixels():
    x = torch.tensor([[[[0.0, 1.0], [0.25, 1.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    p = torch.sigmoid(logits)
    by_hand = -(x * p.log() + (1 - x) * (1 - p).log()).sum(dim=(1, 2, 3))
    torch.testing.assert_close(bernoulli_nll(logits, x), by_hand)
    assert bernoulli_nll(logits, x)[1].item() == pytest.approx(4 * math.log(2.0))


def test_gaussian_reconstruction_is_normal_log_density_summed_over_pixels():
    x = torch.rand(3, 1, 4, 4)
    logits = torch.randn(3, 1, 4, 4)
    density = torch.distributions.Normal(torch.sigmoid(logits), 0.2)
    by_hand = -density.log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(gaussian_nll(logits, x, 0.2), by_hand)
    torch.testing.assert_close(pixel_likelihood("gaussian", 0.2)(logits, x), by_hand)


def test_unknown_likelihood_names_the_choices():
    with pytest.raises(ValueError, match="bernoulli.*gaussian"):
        pixel_likelihood("laplace")


class FixedPosterior(GaussianLatentNet):
    """Same (mean, logvar) for every image and a decoder that ignores z: every term is known."""

    def __init__(self, mean: list[float], logvar: list[float], logit: float = 0.0) -> None:
        dims = len(mean)
        posterior = torch.tensor([*mean, *logvar])
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 2 * dims))
        decoder = nn.Sequential(nn.Linear(dims, 4), nn.Unflatten(1, (1, 2, 2)))
        with torch.no_grad():
            for layer, bias in ((encoder[1], posterior), (decoder[0], torch.full((4,), logit))):
                layer.weight.zero_()
                layer.bias.copy_(bias)
        super().__init__(encoder, decoder, dims)


def _vae(net, **kwargs) -> VAE:
    return VAE(net, optimizer=partial(torch.optim.Adam, lr=1e-3), input_shape=(1, 2, 2), **kwargs)


def test_loss_is_recon_plus_weighted_kl_averaged_over_the_batch():
    net = FixedPosterior(mean=[1.0, 0.0], logvar=[0.0, math.log(4.0)], logit=0.0)
    x = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]], [[[1.0, 1.0], [0.0, 0.0]]]])
    recon = 4 * math.log(2.0)  # sigmoid(0) = 0.5 for every pixel, whatever the target
    kl = 0.5 + 0.5 * (3 - math.log(4.0))
    for kl_weight in (0.0, 0.5, 1.0, 4.0):
        model = _vae(net, kl_weight=kl_weight)
        loss = model._step((x, torch.zeros(2)), "train")
        assert loss.item() == pytest.approx(recon + kl_weight * kl, rel=1e-6)
        train = model.metrics_of("train")
        assert train["recon"].compute().item() == pytest.approx(recon, rel=1e-6)
        assert train["kl"].compute().item() == pytest.approx(kl, rel=1e-6)
        assert train["nelbo"].compute().item() == pytest.approx(recon + kl, rel=1e-6)


def test_importance_weighted_bound_is_exact_when_the_posterior_is_the_prior():
    # q(z|x) = p(z) and p(x|z) independent of z: every importance weight is p(x), for any k.
    net = FixedPosterior(mean=[0.0, 0.0, 0.0], logvar=[0.0, 0.0, 0.0], logit=0.7)
    x = torch.rand(5, 1, 2, 2)
    mean, logvar = net.encode(x)
    bound = importance_weighted_nll(x, mean, logvar, net.decoder_logits, bernoulli_nll, samples=7)
    torch.testing.assert_close(bound, bernoulli_nll(net.decoder_logits(mean), x))


def test_importance_weighted_bound_tightens_with_more_samples():
    torch.manual_seed(0)
    net = ConvVAE(latent_dim=4, channels=(4,), image_size=8)
    x = torch.rand(64, 1, 8, 8)
    mean, logvar = net.encode(x)
    nelbo = (bernoulli_nll(net.decoder_logits(mean), x) + gaussian_kl(mean, logvar).sum(1)).mean()
    one = importance_weighted_nll(x, mean, logvar, net.decoder_logits, bernoulli_nll, 1).mean()
    many = importance_weighted_nll(x, mean, logvar, net.decoder_logits, bernoulli_nll, 64).mean()
    assert many < one
    assert one.item() == pytest.approx(nelbo.item(), rel=0.05)  # k=1 is the ELBO in expectation


@pytest.mark.parametrize("channels,image_size", [((32, 64), 28), ((8, 16, 32), 28), ((4,), 9)])
def test_conv_vae_decoder_mirrors_the_encoder(channels, image_size):
    net = ConvVAE(latent_dim=5, channels=channels, image_size=image_size)
    x = torch.rand(3, 1, image_size, image_size)
    mean, logvar = net.encode(x)
    assert mean.shape == logvar.shape == (3, 5)
    assert net.decoder_logits(mean).shape == x.shape
    assert isinstance(net, Generative)
    samples = net.sample(6, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (6, 1, image_size, image_size)
    assert 0 <= samples.min() and samples.max() <= 1
    torch.testing.assert_close(samples, net.sample(6, generator=torch.Generator().manual_seed(1)))


def test_conv_vae_channel_widths_and_activation_are_configurable():
    net = ConvVAE(channels=(8, 16), activation="tanh")
    convs = [m for m in net.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16]
    assert any(isinstance(m, nn.Tanh) for m in net.decoder)
    with pytest.raises(ValueError, match="model.channels"):
        ConvVAE(channels=(8,) * 6, image_size=28)


def test_mlp_baseline_has_the_pytorch_examples_shape():
    net = MLPVAE()
    assert net.latent_dim == 20
    widths = [m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
    assert widths == [400, 40, 400, 784]


@pytest.mark.parametrize("image", [(1, 28), (3, 32)])
def test_mlp_baseline_builds_from_the_vae_config(compose_cfg, image):
    from bench.vae_baseline import MODELS
    from training import components

    channels, side = image
    overrides = MODELS["MLP VAE 784-400-20 (pytorch/examples)"]
    cfg = compose_cfg("model=vae", *overrides)
    cfg.model.net.in_channels, cfg.model.net.image_size = channels, side
    net = components.model(cfg).net
    assert isinstance(net, MLPVAE)
    x = torch.rand(2, channels, side, side)
    assert net.decoder_logits(net.encode(x)[0]).shape == x.shape


def test_vae_run_writes_elbo_kl_active_units_and_iw_bound(compose_cfg):
    from train import train

    cfg = compose_cfg(
        "model=vae", "model.iw_samples=4", "model.latent_dim=6", "model.kl_warmup_epochs=2"
    )
    metrics = train(cfg)
    # 500 training images: 15 batches of 32 and one of 20 an epoch; the weight at step s is
    # s / 32. The second epoch's mean over its images:
    expected = (sum(32 * s for s in range(17, 32)) + 20 * 32) / 500 / 32
    assert metrics[WARMUP_KL_WEIGHT] == pytest.approx(expected)
    assert metrics["val/loss"] == pytest.approx(metrics["val/nelbo"])  # warm-up is training only
    for stage in STAGES:
        for term in TERMS:
            assert math.isfinite(metrics[f"{stage}/{term}"]), f"{stage}/{term}"
    nelbo = metrics["test/recon"] + metrics["test/kl"]
    assert metrics["test/nelbo"] == pytest.approx(nelbo, rel=1e-5)
    assert 0 < metrics[TEST_IW_NLL] <= metrics["test/nelbo"] + 1.0
    assert 0 <= metrics[ACTIVE_UNITS] <= 6
    assert metrics["val/loss_best"] == pytest.approx(metrics["best/val/loss"])
    on_disk = read_metrics(cfg.paths.output_dir)
    assert len(on_disk[KL_PER_DIM]) == 6
    assert sum(on_disk[KL_PER_DIM]) == pytest.approx(on_disk["val/kl"], rel=1e-4)
    assert on_disk["status"] == "completed"


def test_standardised_input_is_refused_with_the_fix(compose_cfg):
    from train import train

    with pytest.raises(ValueError, match="model.normalize_inputs=false"):
        train(compose_cfg("model=vae", "model.normalize_inputs=true"))
