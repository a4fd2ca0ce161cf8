"""Sections on the VAE: its samples, reconstructions and interpolations, and its KL weight."""

from __future__ import annotations

from analysis import claims
from callbacks.image_grids import (
    INTERPOLATIONS,
    PRIOR_SAMPLES,
    RECONSTRUCTIONS,
)
from lightning_modules.vae import ACTIVE_UNITS, TEST_IW_NLL
from study import comparison_figures
from study.document import Claim, Figure, Missing, Section, Table
from study.results import (
    KL,
    KL_WEIGHT,
    KL_WEIGHT_KEY,
    NELBO,
    RECON,
    VAE,
    Study,
    add_sample_sheet,
    fmt,
    usable,
)


def vae(study: Study) -> Section:
    section = Section("VAE: fake images, reconstructions, interpolations")
    for _, result in usable(section, study.runs(VAE)):
        for name, caption in (
            (PRIOR_SAMPLES, "Fake images: decodings of draws from the prior"),
            (RECONSTRUCTIONS, "Test images (top) and their reconstructions (bottom)"),
            (
                INTERPOLATIONS,
                "Linear interpolation in latent space between test images of two classes",
            ),
        ):
            path = result.grid(name)
            section.add(
                Figure(path, caption, enlarge=True)
                if path
                else Missing(caption, f"no {name} grid in {result.directory}")
            )
        section.add(
            Table(
                [
                    "test −ELBO",
                    "test IW bound on −log p(x)",
                    "reconstruction",
                    "KL",
                    "active units",
                ],
                [[fmt(result.number(k), 5) for k in (NELBO, TEST_IW_NLL, RECON, KL, ACTIVE_UNITS)]],
                caption="Nats per image on the test split; active latent units on validation",
            )
        )
    return section


def kl_weight(study: Study) -> Section:
    section = Section("KL weight")
    finished = usable(section, study.runs(KL_WEIGHT))
    by_weight = {float(job.params[KL_WEIGHT_KEY]): (job, r) for job, r in finished}
    if not by_weight:
        return section
    recon = {w: r.number(RECON) for w, (_, r) in by_weight.items()}
    kl = {w: r.number(KL) for w, (_, r) in by_weight.items()}
    section.add(
        Table(
            ["KL weight", "reconstruction", "KL", "−ELBO"],
            [
                [f"{w:g}", fmt(recon[w]), fmt(kl[w]), fmt(r.number(NELBO))]
                for w, (_, r) in sorted(by_weight.items())
            ],
            caption="Test terms in nats per image; −ELBO is reconstruction + KL at weight 1",
        )
    )
    points = {
        f"weight {w:g}": (kl[w], recon[w])
        for w in by_weight
        if kl[w] is not None and recon[w] is not None
    }
    if points:
        path = study.figure(
            comparison_figures.tradeoff_figure(
                points, "KL term (nats)", "reconstruction term (nats)"
            ),
            "kl_tradeoff",
        )
        section.add(Figure(path, "Reconstruction against KL for each KL weight"))
    add_sample_sheet(
        study,
        section,
        [j for j, _ in by_weight.values()],
        KL_WEIGHT_KEY,
        "kl_samples",
        "Prior samples at each KL weight",
    )
    section.add(Claim(claims.small_kl_weight(recon, kl)))
    return section
