"""Fetch one file from a list of mirrors: stream, verify, then rename atomically."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from ..atomic import atomic_write
from ..validation import InputValueError

__all__ = ["DownloadError", "ChecksumError", "fetch", "sha256_of_stream"]

_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror gave a verified copy of a file; ``attempts`` lists (url, error) pairs."""

    def __init__(self, message, attempts=()):
        super().__init__(message)
        self.attempts = list(attempts)


class ChecksumError(InputValueError):
    """A file's SHA-256 is not the pinned one."""


def sha256_of_stream(f):
    """hex SHA-256 of everything left in the binary file object ``f``."""
    digest = hashlib.sha256()
    while chunk := f.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def mirror_url(mirror, filename):
    return mirror + filename if mirror.endswith("/") else f"{mirror}/{filename}"


def fetch(filename, dest_dir, mirrors, *, sha256, hash_of, progress, timeout):
    """Download ``filename`` (gzip) into ``dest_dir`` from the first mirror that works.

    The bytes are streamed to a temporary file in ``dest_dir``, checked against ``sha256``
    (of the gzip bytes when ``hash_of == "gz"``, of the decompressed bytes when
    ``hash_of == "idx"``; no check when ``sha256`` is None), fsynced, then renamed onto
    ``dest_dir / filename`` with ``os.replace``; the temporary file is removed on any
    failure, so a partial file never carries the final name. ``timeout`` (seconds)
    bounds the connection and each read. Returns the final path, or raises
    ``DownloadError`` whose ``attempts`` name every mirror tried with its error.
    """
    dest = Path(dest_dir) / filename
    if not mirrors:
        raise DownloadError(f"could not download {filename}: no mirrors to download from")
    attempts = []
    for mirror in mirrors:
        url = mirror_url(mirror, filename)
        bar = _Progress(progress, filename, url)
        try:
            _fetch_one(url, dest, sha256, hash_of, bar, timeout)
        except (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # it holds the open response: close the connection now, not at GC
            bar.close(f"failed: {_describe(exc)}")
            attempts.append((url, exc))
            continue
        bar.close("done")
        return dest
    lines = "\n".join(f"  {url}: {_describe(exc)}" for url, exc in attempts)
    raise DownloadError(f"could not download {filename} from any mirror:\n{lines}", attempts)


def _describe(exc):
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"{type(exc).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _fetch_one(url, dest, sha256, hash_of, bar, timeout):
    with atomic_write(dest) as f:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar.start(total)
            got = 0
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                digest.update(chunk)
                got += len(chunk)
                bar.update(len(chunk))
        if total is not None and got != total:
            raise InputValueError(f"truncated download: got {got} of {total} bytes")
        if sha256 is None:
            return
        if hash_of == "idx":
            f.seek(0)
            with gzip.GzipFile(fileobj=f, mode="rb") as gz:
                actual, what = sha256_of_stream(gz), "decompressed data"
        else:
            actual, what = digest.hexdigest(), "file"
        if actual != sha256:
            raise ChecksumError(f"SHA-256 of the downloaded {what} is {actual}, expected {sha256}")


class _Progress:
    """A tqdm bar when tqdm is installed and stderr is a terminal, else one line per file.

    ``enabled`` False silences it; None and True show it.
    """

    def __init__(self, enabled, filename, url):
        self.enabled = enabled is not False
        self.filename, self.url = filename, url
        self.bar = None
        self.line_open = False
        self.started = time.perf_counter()
        self.got = 0

    def start(self, total):
        if not self.enabled:
            return
        tqdm = None
        if sys.stderr is not None and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass
        if tqdm is not None:
            self.bar = tqdm(
                total=total, unit="B", unit_scale=True, desc=self.filename, file=sys.stderr
            )
        else:
            size = f" ({total / 1e6:.1f} MB)" if total is not None else ""
            sys.stderr.write(f"chainrule: downloading {self.url}{size} ... ")
            sys.stderr.flush()
            self.line_open = True

    def update(self, n):
        self.got += n
        if self.bar is not None:
            self.bar.update(n)

    def close(self, outcome):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
            if outcome != "done":
                sys.stderr.write(f"chainrule: {self.url}: {outcome}\n")
            return
        if not self.line_open:  # failed before the response: start() wrote nothing
            sys.stderr.write(f"chainrule: downloading {self.url} ... ")
        seconds = time.perf_counter() - self.started
        sys.stderr.write(f"{outcome} ({self.got / 1e6:.1f} MB, {seconds:.1f} s)\n")
        sys.stderr.flush()
