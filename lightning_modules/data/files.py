"""Find, verify and extract the IDX files that torchvision's MNIST-style readers expect.

Sources are tried in order: the data dir itself, system copies (e.g. Debian's
``dataset-fashion-mnist``), then torchvision's download. Every file is checked
against a known MD5 before it is used, and extraction goes through a temporary
name, so the data dir never holds a half-written file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from storage.run_files import PARTIAL_SUFFIX, atomic_writer

log = logging.getLogger(__name__)

# MD5 sums of the *uncompressed* IDX files. Archives are accepted when either their
# own MD5 is torchvision's or their content matches these: Debian ships re-compressed
# archives whose bytes differ from upstream's but whose content is identical.
IDX_MD5 = {
    "FashionMNIST": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}


class DatasetError(RuntimeError):
    """The dataset files are missing or damaged; the message says how to fix it."""


@dataclass(frozen=True)
class IDXFile:
    name: str  # uncompressed file name, e.g. "train-images-idx3-ubyte"
    archive_md5: str  # MD5 of "<name>.gz" as published upstream
    idx_md5: str | None  # MD5 of the uncompressed file, where known

    @property
    def archive(self) -> str:
        return self.name + ".gz"


def idx_files(dataset_cls: type) -> list[IDXFile]:
    """The four files of a torchvision MNIST-style dataset class, with their checksums."""
    known = IDX_MD5.get(dataset_cls.__name__, {})
    files = []
    for archive, md5 in dataset_cls.resources:
        name = archive.removesuffix(".gz")
        files.append(IDXFile(name=name, archive_md5=md5, idx_md5=known.get(name)))
    return files


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _gunzip_md5(path: Path) -> str | None:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    except (OSError, EOFError):  # truncated or not gzip at all
        return None
    return digest.hexdigest()


def archive_is_valid(path: Path, spec: IDXFile) -> bool:
    if md5sum(path) == spec.archive_md5:
        return True
    return spec.idx_md5 is not None and _gunzip_md5(path) == spec.idx_md5


def extracted_is_valid(path: Path, spec: IDXFile) -> bool:
    """An extracted file is trusted by its MD5 where known, else by its IDX header and size."""
    if spec.idx_md5 is not None:
        return md5sum(path) == spec.idx_md5
    return _idx_size_matches_header(path)


def _idx_size_matches_header(path: Path) -> bool:
    with open(path, "rb") as f:
        header = f.read(4)
        if len(header) < 4 or header[:2] != b"\x00\x00":
            return False
        ndim = header[3]
        dims = f.read(4 * ndim)
    if len(dims) != 4 * ndim:
        return False
    count = 1
    for i in range(ndim):
        count *= int.from_bytes(dims[4 * i : 4 * i + 4], "big")
    return path.stat().st_size == 4 + 4 * ndim + count  # uint8 payload


# An extraction takes seconds: older temporary files were left by a killed process, while
# younger ones may belong to a parallel job extracting the same file right now.
STALE_PARTIAL_S = 600


def _remove_stale_partials(target: Path) -> None:
    for partial in target.parent.glob(f".{target.name}.*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                log.info("Removing %s, left by an interrupted extraction", partial)
                partial.unlink()


def _extract_atomically(archive: Path, target: Path) -> None:
    _remove_stale_partials(target)
    with atomic_writer(target) as out, gzip.open(archive, "rb") as src:
        shutil.copyfileobj(src, out, length=1 << 20)


def ensure_idx_files(
    dataset_cls: type,
    root: str | os.PathLike,
    system_dirs: list[str] | tuple[str, ...] = (),
    download: bool = True,
) -> Path:
    """Make ``root/<Class>/raw`` hold the verified, extracted IDX files and return that dir.

    Raises :class:`DatasetError` naming every place tried and the ways to fix it.
    """
    raw_dir = Path(root) / dataset_cls.__name__ / "raw"
    files = idx_files(dataset_cls)
    problems: list[str] = []

    missing = []
    for spec in files:
        target = raw_dir / spec.name
        if not target.exists():
            missing.append(spec)
        elif not extracted_is_valid(target, spec):
            raise DatasetError(
                f"{target} is corrupt or truncated (checksum/size mismatch). "
                f"Delete it (rm {target}) and run again to restore it from a clean copy."
            )
    if not missing:
        return raw_dir

    for spec in missing:
        try:
            raw_dir.mkdir(parents=True, exist_ok=True)
            if _extract_from_system_copy(spec, raw_dir, system_dirs, problems):
                continue
            if download and _download_and_extract(dataset_cls, spec, raw_dir, problems):
                continue
        except PermissionError as err:
            raise DatasetError(
                f"{spec.name} of {dataset_cls.__name__} is missing from {raw_dir}, and that dir "
                f"cannot be written ({err}). Point data.data_dir=<a writable dir> (the files are "
                "restored there), or put the extracted IDX files into it."
            ) from err
        if not download:
            problems.append("download: disabled (data.download=false)")
        raise DatasetError(_missing_message(dataset_cls, spec, raw_dir, system_dirs, problems))
    return raw_dir


def _extract_from_system_copy(spec, raw_dir, system_dirs, problems) -> bool:
    for directory in system_dirs:
        archive = Path(directory) / spec.archive
        if not archive.exists():
            problems.append(f"{archive}: not found")
            continue
        if not archive_is_valid(archive, spec):
            problems.append(f"{archive}: checksum mismatch (corrupt or truncated), skipped")
            continue
        log.info("Extracting %s into %s", archive, raw_dir)
        _extract_atomically(archive, raw_dir / spec.name)
        return True
    return False


# A mirror that accepts the connection but never answers must not hang the run.
DOWNLOAD_TIMEOUT_S = 30.0
DOWNLOAD_TRIES = 3  # per mirror


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """torchvision's ``download_url`` opens its connections with the default socket timeout."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(url: str, root: str, spec: IDXFile) -> str | None:
    """Download ``url`` into ``root`` with a timeout and retries; the last error, or None."""
    from torchvision.datasets.utils import download_url

    error = None
    for attempt in range(1, DOWNLOAD_TRIES + 1):
        log.info("Downloading %s (try %d of %d)", url, attempt, DOWNLOAD_TRIES)
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                download_url(url, root=root, filename=spec.archive, md5=spec.archive_md5)
            return None
        except Exception as err:  # network errors come in many types
            if isinstance(err, TimeoutError) or "timed out" in str(err):
                error = f"no answer within {DOWNLOAD_TIMEOUT_S:g} s, {DOWNLOAD_TRIES} tries"
            else:
                error = f"{type(err).__name__}: {err}".splitlines()[0]
            log.warning("Download of %s failed: %s", url, error)
    return error


def _download_and_extract(dataset_cls, spec, raw_dir, problems) -> bool:
    errors = []
    with tempfile.TemporaryDirectory(dir=raw_dir, prefix=".download-") as tmp:
        for mirror in dataset_cls.mirrors:
            url = f"{mirror}{spec.archive}"
            if error := _download(url, tmp, spec):
                errors.append(f"{url}: {error}")
                continue
            archive = Path(tmp) / spec.archive
            if archive.exists() and archive_is_valid(archive, spec):
                _extract_atomically(archive, raw_dir / spec.name)
                return True
            errors.append(f"{url}: downloaded file failed its checksum")
    problems.extend(f"download {e}" for e in errors)
    return False


def _missing_message(dataset_cls, spec, raw_dir, system_dirs, problems) -> str:
    tried = "\n".join(f"  - {p}" for p in [f"{raw_dir / spec.name}: not found", *problems])
    fixes = [
        "let torchvision download it: keep data.download=true on a machine with internet access",
        f"copy the four .gz files of {dataset_cls.__name__} into a directory and pass "
        "data.system_dirs=[<that dir>]",
        f"or put the extracted IDX files into {raw_dir}",
    ]
    if dataset_cls.__name__ == "FashionMNIST":
        fixes.insert(0, "on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist")
    fix_text = "\n".join(f"  - {f}" for f in fixes)
    return (
        f"Cannot find {spec.name} of {dataset_cls.__name__}. Tried:\n{tried}\n"
        f"Ways to fix it:\n{fix_text}"
    )
