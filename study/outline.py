"""The report's sections in the order of the seed study's outline."""

from __future__ import annotations

from collections.abc import Callable

from study.classifier_sections import architectures, hardest_classes, learning_curves, visualization
from study.document import Section
from study.results import Study
from study.training_sections import activations, momentum
from study.vae_sections import kl_weight, vae

SECTIONS: tuple[Callable[[Study], Section], ...] = (
    architectures,
    learning_curves,
    visualization,
    hardest_classes,
    activations,
    momentum,
    vae,
    kl_weight,
)
