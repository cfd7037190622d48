"""The IDX file format of MNIST and Fashion-MNIST: read and write, raw or gzip-compressed.

An IDX file is a header, then the array in C order, big-endian::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 ubyte, 0x09 byte, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     ndim
    4 * ndim    the dimensions, big-endian uint32
    ...         prod(dims) items of the type, big-endian

Everything is taken from the header (no hard-coded offsets), and the data must be
exactly as long as the dimensions say.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..validation import InputTypeError, InputValueError

__all__ = ["IdxError", "read_idx", "write_idx"]

GZIP_MAGIC = b"\x1f\x8b"

# type code -> big-endian dtype as stored in the file
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}


class IdxError(InputValueError):
    """A file that is not a valid IDX file: bad magic, unknown type, wrong size, bad gzip."""


def read_idx(path):
    """array = the IDX file at ``path``, gzip-compressed or raw (told apart by magic bytes).

    Shapes: the dimensions in the header, e.g. (60000, 28, 28) for MNIST training images
    and (60000,) for its labels. The dtype is the header's type in native byte order
    (uint8, int8, int16, int32, float32 or float64); the array is writeable.

    Raises ``IdxError`` (a ``ValueError``), naming the file, for wrong magic bytes, an
    unknown type code, data longer or shorter than the dimensions say, and a truncated or
    corrupt gzip stream. The file and its decompressed data are read only up to what
    this process may allocate (``chainrule.limits``); more is an error, not a
    ``MemoryError``. ``FileNotFoundError`` and other ``OSError`` pass through.
    """
    from ..limits import memory_limit, read_bounded

    path = Path(path)
    room = memory_limit() // 3  # the file, its decompressed bytes and the copy below
    raw = read_bounded(path, room, "IDX file")
    data = gunzip(raw, path, limit=room) if raw[:2] == GZIP_MAGIC else raw
    array = decode_idx(data, path)
    return array.astype(array.dtype.newbyteorder("="))  # a writeable, native-order copy


def gunzip(raw, name, limit=None):
    """The decompressed bytes of a gzip stream, or ``IdxError`` naming ``name``.

    Decompression streams, so at most ``limit`` bytes (when given) are ever produced: a
    stream that would decompress to more (a gzip bomb, or simply not the expected file)
    is refused as soon as it passes ``limit``. Concatenated gzip members are joined.
    """
    out, rest = bytearray(), raw
    try:
        while rest:
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = rest
            while data:
                room = -1 if limit is None else limit + 1 - len(out)
                out += member.decompress(data, max(room, 1) if room >= 0 else 0)
                if limit is not None and len(out) > limit:
                    raise IdxError(f"{name}: the gzip data decompresses to more than {limit} "
                                   "bytes, the most this file may hold")
                data = member.unconsumed_tail
            if not member.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            rest = member.unused_data
    except (EOFError, OSError, zlib.error) as exc:
        raise IdxError(
            f"{name}: truncated or corrupt gzip data ({len(raw)} bytes compressed): {exc}"
        ) from None
    return bytes(out)


def decode_idx(data, name):
    """The array held by the IDX bytes ``data`` (a view of them, big-endian dtype).

    ``name`` only labels errors. Zero-copy: the result shares ``data``'s memory and is
    read-only when ``data`` is ``bytes``.
    """
    size = len(data)
    if size < 4:
        raise IdxError(f"{name}: not an IDX file: expected a 4-byte header, got {size} bytes")
    if data[0] != 0 or data[1] != 0:
        raise IdxError(
            f"{name}: not an IDX file: expected magic bytes 00 00, "
            f"got {data[0]:02x} {data[1]:02x}"
        )
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise IdxError(f"{name}: unknown IDX type code: expected one of {known}, got 0x{code:02X}")
    header = 4 + 4 * ndim
    if size < header:
        raise IdxError(
            f"{name}: truncated IDX header: expected {header} bytes for {ndim} dimensions, "
            f"got {size}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _DTYPES[code]
    expected = dtype.itemsize * int(np.prod(dims, dtype=object))
    got = size - header
    if got != expected:
        what = "truncated" if got < expected else f"{got - expected} bytes too many"
        raise IdxError(
            f"{name}: IDX data does not match its dimensions {dims} of "
            f"{dtype.newbyteorder('=').name}: expected {expected} bytes after the {header}-byte "
            f"header, got {got} ({what})"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def write_idx(path, array):
    """Write ``array`` to ``path`` as IDX (gzip-compressed when ``path`` ends with ``.gz``).

    Shapes: any array with 1 to 255 dimensions, each below 2**32, of dtype uint8, int8,
    int16, int32, float32 or float64 (other dtypes raise ``TypeError``: convert first,
    e.g. ``labels.astype(np.uint8)``). The file is written atomically (a temporary file in
    the same directory, then ``os.replace``); gzip output is reproducible (mtime 0).
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        names = ", ".join(dt.name for dt in _CODES)
        raise InputTypeError(f"array must have an IDX dtype ({names}), got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise InputValueError(f"array must have 1 to 255 dimensions, got {array.ndim}")
    if max(array.shape) >= 2**32:
        raise InputValueError(f"array dimensions must be below 2**32, got {array.shape}")
    header = bytes([0, 0, _CODES[native], array.ndim]) + np.array(array.shape, ">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    with atomic_write(path) as f:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
                gz.write(header)
                gz.write(body)
        else:
            f.write(header)
            f.write(body)
