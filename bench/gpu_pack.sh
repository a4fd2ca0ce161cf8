#!/usr/bin/env bash
# Pack what bench/gpu_check.sh needs on a GPU machine that has PyTorch and Lightning but no
# registry: the Hydra packages as wheels (the versions of .venv) and the dataset's .gz files,
# into .gpu/ (git-ignored; about 31 MB). Run here, from anywhere: bash bench/gpu_pack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PACK=.gpu
mkdir -p "$PACK/wheels" "$PACK/fashion-mnist"
# Pure-Python packages: one wheel each fits any Python 3 there.
packages=()
for name in hydra-core omegaconf antlr4-python3-runtime loky; do
    version=$("$PY" -c "import importlib.metadata as m; print(m.version('$name'))")
    packages+=("$name==$version")
done
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$PACK/wheels" "${packages[@]}"
# The IDX files as the Debian package or torchvision's download left them.
for source in /usr/share/datasets/fashion-mnist data/FashionMNIST/raw; do
    if ls "$source"/*-ubyte.gz >/dev/null 2>&1; then
        cp "$source"/*-ubyte.gz "$PACK/fashion-mnist/"
        break
    fi
done
ls "$PACK/fashion-mnist"/*-ubyte.gz >/dev/null  # none found: fails here, not on the GPU machine
du -sh "$PACK"
