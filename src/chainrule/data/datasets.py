"""Any MNIST-like data set of four IDX files: find, download, verify, cache, convert.

Where the four files are looked for, in order (a directory counts only when it holds
all four, each as ``NAME.gz`` or raw ``NAME``):

1. ``data_dir``, when given, and nothing else (a missing ``data_dir`` is an error; one
   without the files gets them downloaded into it, or the error names it);
2. ``$CHAINRULE_DATA/<name>``, then ``$CHAINRULE_DATA`` itself;
3. the user cache ``$XDG_CACHE_HOME/chainrule/<name>`` (default ``~/.cache/chainrule/<name>``);
4. the data set's ``system_dirs`` (for Fashion-MNIST ``/usr/share/datasets/fashion-mnist``,
   from the Debian package dataset-fashion-mnist).

When none holds them, they are downloaded (``download=True``) into ``data_dir``, else
``$CHAINRULE_DATA/<name>``, else the cache. Every file is checked once against its pinned
SHA-256 (see ``FileSpec.hash_of``) and its IDX structure; the decoded arrays are then kept
in ``<cache>/<name>/decoded.npz`` (keyed by the source files' paths, sizes and
modification times, read without pickle, with a SHA-256 of the arrays that is checked,
and their structure, on every read), so later loads skip decompression and the files'
hashes. A cache that fails a check is ignored and rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..validation import InputTypeError, InputValueError, check_positive
from .download import ChecksumError, DownloadError, fetch
from .idx import GZIP_MAGIC, IdxError, decode_idx, gunzip

__all__ = ["FileSpec", "DatasetSpec", "DatasetNotFoundError", "load_idx_dataset"]


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are nowhere local, and downloading is off (or data_dir is missing)."""


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a data set: its name, its pinned SHA-256, and its expected shape.

    ``name`` has no ``.gz``: the file is found as ``name.gz`` or ``name`` and downloaded as
    ``name.gz``. ``hash_of`` says what ``sha256`` covers: ``"gz"`` the gzip file's bytes as
    published (so a decompressed local copy is checked by its IDX structure only), or
    ``"idx"`` the decompressed IDX bytes (checked whatever the compression). ``sha256``
    None checks the structure only; ``shape`` None accepts any size.
    """

    name: str
    sha256: str | None = None
    hash_of: str = "gz"
    shape: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.hash_of not in ("gz", "idx"):
            raise InputValueError(f"hash_of must be 'gz' or 'idx', got {self.hash_of!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """An MNIST-like data set: four IDX files, mirrors to fetch them from, places to look."""

    name: str
    train_images: FileSpec
    train_labels: FileSpec
    test_images: FileSpec
    test_labels: FileSpec
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    n_classes: int = 10

    @property
    def files(self):
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


def load_idx_dataset(spec, normalize=True, flatten=True, one_hot_label=False, data_dir=None, *,
                     download=True, mirrors=None, progress=None, timeout=5.0, cache=True):
    """((x_train, t_train), (x_test, t_test)) of the data set ``spec`` (a ``DatasetSpec``).

    Shapes: images (N, H, W) in the files give x float32 (N, H*W), or (N, 1, H, W) without
    ``flatten``; t as in ``load_mnist`` with ``spec.n_classes`` classes. ``timeout``
    (seconds) bounds each connection and read of a download; ``cache=False`` neither reads
    nor writes the decoded .npz cache.
    """
    if not isinstance(spec, DatasetSpec):
        raise InputTypeError(f"spec must be a DatasetSpec, got {type(spec).__name__}")
    flags = {"normalize": normalize, "flatten": flatten, "one_hot_label": one_hot_label,
             "download": download, "cache": cache}
    for flag, value in flags.items():
        if not isinstance(value, bool):
            raise InputTypeError(f"{flag} must be True or False, got {value!r}")
    if progress is not None and not isinstance(progress, bool):
        raise InputTypeError(f"progress must be None, True or False, got {progress!r}")
    check_positive(timeout, "timeout")
    mirrors = spec.mirrors if mirrors is None else _check_mirrors(mirrors)
    if data_dir is not None:
        data_dir = _check_data_dir(data_dir)

    directory = next((d for d in _search_dirs(spec, data_dir) if _complete(d, spec)), None)
    if directory is None:
        if not download:
            searched = "\n".join(f"  {d}" for d in _search_dirs(spec, data_dir))
            raise DatasetNotFoundError(
                f"{spec.name}: the files {_file_list(spec)} (or without .gz) were not found in:\n"
                f"{searched}\nand download is False: pass download=True, or put them into "
                f"{_download_dir(spec, data_dir)}"
            )
        directory = _download(spec, data_dir, mirrors, progress, timeout)
    arrays = _load_verified(spec, directory, cache)
    return _convert(arrays, normalize, flatten, one_hot_label, spec.n_classes)


def _check_mirrors(mirrors):
    if isinstance(mirrors, (str, bytes)) or not hasattr(mirrors, "__iter__"):
        raise InputTypeError(
            f"mirrors must be a sequence of URL prefixes, got {type(mirrors).__name__} "
            f"{mirrors!r}; for one mirror use [url]"
        )
    mirrors = tuple(mirrors)
    if not mirrors:
        raise InputValueError("mirrors must hold at least one URL prefix, got an empty sequence")
    for url in mirrors:
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "file:")):
            raise InputValueError(f"mirrors must be http://, https:// or file: URLs, got {url!r}")
    return mirrors


def _check_data_dir(data_dir):
    if not isinstance(data_dir, (str, os.PathLike)):
        raise InputTypeError(
            f"data_dir must be a path (str or os.PathLike), got {type(data_dir).__name__}"
        )
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        got = "a file" if path.exists() else "nothing there"
        raise DatasetNotFoundError(
            f"data_dir must be an existing directory, got {str(data_dir)!r} ({got})"
        )
    return path


def _cache_root():
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # XDG: ignore relative
    return base / "chainrule"


def _search_dirs(spec, data_dir):
    if data_dir is not None:  # the user's choice: never another copy behind their back
        return [data_dir]
    dirs = []
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        dirs += [Path(env) / spec.name, Path(env)]
    dirs.append(_cache_root() / spec.name)
    return dirs + [Path(d) for d in spec.system_dirs]


def _download_dir(spec, data_dir):
    if data_dir is not None:
        return data_dir
    env = os.environ.get("CHAINRULE_DATA")
    return Path(env) / spec.name if env else _cache_root() / spec.name


def _locate(directory, fspec):
    """``NAME.gz`` or ``NAME`` in ``directory`` (the .gz first), or None."""
    for candidate in (directory / f"{fspec.name}.gz", directory / fspec.name):
        if candidate.is_file():
            return candidate
    return None


def _complete(directory, spec):
    return all(_locate(directory, f) is not None for f in spec.files)


def _file_list(spec):
    return ", ".join(f"{f.name}.gz" for f in spec.files)


def _download(spec, data_dir, mirrors, progress, timeout):
    dest = _download_dir(spec, data_dir)
    made = [d for d in (dest, *dest.parents) if not d.exists()]  # removed again if empty
    dest.mkdir(parents=True, exist_ok=True)
    try:
        return _download_into(dest, spec, mirrors, progress, timeout)
    except DownloadError:
        for folder in made:  # deepest first: leave no empty folders behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _download_into(dest, spec, mirrors, progress, timeout):
    for fspec in spec.files:
        if _locate(dest, fspec) is not None:
            continue  # verified with the others when loaded
        try:
            fetch(f"{fspec.name}.gz", dest, mirrors, sha256=fspec.sha256,
                  hash_of=fspec.hash_of, progress=progress, timeout=timeout)
        except DownloadError as exc:
            raise DownloadError(
                f"{spec.name}: {exc}\nDownload the files by hand and put them into {dest} "
                f"(gzip-compressed or not): {_file_list(spec)}; or pass data_dir= (on the "
                "command line --data-dir DIR) or set CHAINRULE_DATA to a directory that "
                "holds them.",
                exc.attempts,
            ) from None
    return dest


def _idx_limit(fspec):
    """The most bytes the IDX file of ``fspec`` may hold: exactly its size when pinned."""
    from ..limits import memory_limit

    if fspec.shape is None:
        return memory_limit() // 3
    return 4 + 4 * len(fspec.shape) + math.prod(fspec.shape)  # uint8 items


def _read_verified(path, fspec):
    """The IDX array in ``path``, after the SHA-256 check that ``fspec`` pins.

    Bounded: the file is read only up to the size its pinned shape allows (plus gzip's
    overhead), the hash of a gzip file is checked before it is decompressed, and
    decompression stops as soon as it passes that size, so a gzip bomb costs
    milliseconds and no memory.
    """
    from ..limits import read_bounded

    limit = _idx_limit(fspec)
    raw = read_bounded(path, limit + limit // 100 + 4096, "data file")
    compressed = raw[:2] == GZIP_MAGIC
    if fspec.sha256 is not None and compressed and fspec.hash_of == "gz":
        _check_hash(path, raw, fspec.sha256, "file")
    data = gunzip(raw, path, limit=limit) if compressed else raw
    if fspec.sha256 is not None and fspec.hash_of == "idx":
        _check_hash(path, data, fspec.sha256, "decompressed data")
    return decode_idx(data, path)


def _check_hash(path, data, expected, what):
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{path}: SHA-256 of the {what} is {actual}, expected {expected}; the file "
            "is corrupt or another version: delete it (it is then downloaded again) or "
            "replace it with the original"
        )


def _check_structure(spec, paths, arrays):
    """Images uint8 (N, H, W), labels uint8 (N,) in [0, n_classes), shapes as pinned."""
    for path, fspec, array, ndim in zip(paths, spec.files, arrays, (3, 1, 3, 1), strict=True):
        if array.dtype != np.uint8 or array.ndim != ndim:
            raise IdxError(
                f"{path}: expected {ndim}-d unsigned bytes (type code 0x08), "
                f"got {array.ndim}-d {array.dtype.name}"
            )
        if fspec.shape is not None and array.shape != tuple(fspec.shape):
            raise IdxError(f"{path}: expected shape {tuple(fspec.shape)}, got {array.shape}")
    for images, labels in ((0, 1), (2, 3)):
        n_images, n_labels = len(arrays[images]), len(arrays[labels])
        if n_images != n_labels:
            raise IdxError(
                f"inconsistent numbers of samples: {paths[images]} has {n_images} images, "
                f"{paths[labels]} has {n_labels} labels"
            )
        top = int(arrays[labels].max(initial=0))
        if top >= spec.n_classes:
            raise IdxError(
                f"{paths[labels]}: labels must be in [0, {spec.n_classes - 1}], got {top}"
            )


_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def _load_verified(spec, directory, cache):
    """The four uint8 arrays of ``directory``, verified now or taken from the .npz cache."""
    paths = [_locate(directory, f) for f in spec.files]
    cache_file = _cache_root() / spec.name / "decoded.npz"
    key = json.dumps(
        {
            "format": 1,
            "files": [
                [str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns,
                 f.sha256, f.hash_of, f.shape]
                for p, f in zip(paths, spec.files, strict=True)
            ],
        }
    )
    if cache:
        arrays = _read_cache(cache_file, key)
        if arrays is not None:
            try:
                _check_structure(spec, paths, arrays)
                return arrays
            except IdxError:
                pass  # a cache that does not fit the data set: decode the files again
    arrays = [_read_verified(p, f) for p, f in zip(paths, spec.files, strict=True)]
    _check_structure(spec, paths, arrays)
    if cache:
        _write_cache(cache_file, key, arrays)
    return arrays


def _arrays_digest(arrays):
    """SHA-256 over the four arrays' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _read_cache(cache_file, key):
    """The cached arrays when their key and SHA-256 (recorded when written) match; else None.

    The hash finds a damaged or altered cache; the caller also checks the structure.
    """
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            arrays = [z[k] for k in _KEYS]
            if str(z["sha256"]) != _arrays_digest(arrays):
                return None
            return arrays
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # absent, stale or damaged: decode the files again


def _write_cache(cache_file, key, arrays):
    """Write the cache atomically; a read-only or full disk only costs the next load time."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(cache_file) as f:
            np.savez(f, key=np.array(key), sha256=np.array(_arrays_digest(arrays)),
                     **dict(zip(_KEYS, arrays, strict=True)))
    except OSError:
        pass


def _convert(arrays, normalize, flatten, one_hot_label, n_classes):
    out = []
    for images, labels in ((arrays[0], arrays[1]), (arrays[2], arrays[3])):
        n = images.shape[0]
        if normalize:  # one pass, and the same numbers as the book's astype, then /= 255.0
            x = np.divide(images, np.float32(255.0), dtype=np.float32)
        else:
            x = images.astype(np.float32)
        x = x.reshape(n, -1) if flatten else x.reshape(n, 1, *images.shape[1:])
        if one_hot_label:
            t = np.zeros((n, n_classes), dtype=np.float32)
            t[np.arange(n), labels] = 1.0
        else:
            t = labels.astype(np.int64)
        out.append((x, t))
    return tuple(out)
