"""read_idx / write_idx: every IDX type, gzip or raw, and every malformed file refused by name."""

import gzip

import numpy as np
import pytest

from chainrule.data import IdxError, read_idx, write_idx

TYPES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def sample(dtype, shape=(3, 4, 5)):
    values = np.arange(np.prod(shape)).reshape(shape) - 7
    if np.dtype(dtype).kind == "u":
        values = values + 7
    if np.dtype(dtype).kind == "f":
        values = values * 0.37
    return values.astype(dtype)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", list(TYPES))
def test_round_trip(tmp_path, dtype, suffix):
    path = tmp_path / f"a-idx3{suffix}"
    array = sample(dtype)
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype, code", TYPES.items())
def test_header_is_big_endian_with_type_code(tmp_path, dtype, code):
    path = tmp_path / "x"
    write_idx(path, sample(dtype, (2, 300)))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, code, 2])
    assert raw[4:12] == (2).to_bytes(4, "big") + (300).to_bytes(4, "big")
    assert raw[12:] == sample(dtype, (2, 300)).astype(np.dtype(dtype).newbyteorder(">")).tobytes()


def test_gzip_is_detected_by_magic_not_by_name(tmp_path):
    array = sample(np.int16, (6,))
    write_idx(tmp_path / "a.gz", array)
    (tmp_path / "a.gz").rename(tmp_path / "looks-raw")  # gzip content, no .gz
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-raw"), array)
    write_idx(tmp_path / "b", array)
    (tmp_path / "b").rename(tmp_path / "looks.gz")  # raw content, .gz name
    np.testing.assert_array_equal(read_idx(tmp_path / "looks.gz"), array)


def test_header_is_parsed_not_assumed(tmp_path):
    # 1-d and 4-d files: the data offset is 4 + 4 * ndim, whatever the MNIST files use
    for shape in [(5,), (2, 1, 3, 2)]:
        write_idx(tmp_path / "f", sample(np.uint8, shape))
        assert read_idx(tmp_path / "f").shape == shape


def write_raw(path, data, gz=False):
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def header(code, *dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize("gz", [False, True])
def test_wrong_magic(tmp_path, gz):
    path = write_raw(tmp_path / "bad-magic", b"\x00\x01\x08\x01" + bytes(4 + 3), gz)
    expected = r"bad-magic: not an IDX file: expected magic bytes 00 00, got 00 01"
    with pytest.raises(IdxError, match=expected):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = write_raw(tmp_path / "bad-type", header(0x0A, 3) + bytes(3))
    expected = r"bad-type: unknown IDX type code: expected one of 0x08, .*got 0x0A"
    with pytest.raises(IdxError, match=expected):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_data_longer_than_dimensions(tmp_path, gz):
    path = write_raw(tmp_path / "too-long", header(0x0C, 2, 3) + bytes(4 * 6 + 2), gz)
    expected = r"too-long: .*\(2, 3\) of int32: expected 24 bytes .*got 26 \(2 bytes too many\)"
    with pytest.raises(IdxError, match=expected):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_data_shorter_than_dimensions(tmp_path, gz):
    path = write_raw(tmp_path / "too-short", header(0x08, 60000, 28, 28) + bytes(100), gz)
    expected = r"too-short: .*expected 47040000 bytes after the 16-byte header, got 100 \(trunc"
    with pytest.raises(IdxError, match=expected):
        read_idx(path)


def test_truncated_raw_file(tmp_path):
    write_idx(tmp_path / "full", sample(np.float64, (10, 10)))
    path = write_raw(tmp_path / "cut", (tmp_path / "full").read_bytes()[:-5])
    with pytest.raises(IdxError, match=r"cut: .*expected 800 bytes .*got 795 \(truncated\)"):
        read_idx(path)


@pytest.mark.parametrize("cut", [1, 10, 100])
def test_truncated_gzip_file(tmp_path, cut):
    write_idx(tmp_path / "full.gz", sample(np.float64, (50, 10)))
    path = write_raw(tmp_path / "cut.gz", (tmp_path / "full.gz").read_bytes()[:-cut])
    with pytest.raises(IdxError, match=r"cut.gz: truncated or corrupt gzip data"):
        read_idx(path)


def test_corrupt_gzip_file(tmp_path):
    write_idx(tmp_path / "full.gz", sample(np.uint8, (50, 10)))
    data = bytearray((tmp_path / "full.gz").read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 in the trailer
    path = write_raw(tmp_path / "crc.gz", bytes(data))
    with pytest.raises(IdxError, match=r"crc.gz: truncated or corrupt gzip data"):
        read_idx(path)


@pytest.mark.parametrize(
    "data, expected", [(b"", "got 0 bytes"), (header(0x08, 5, 5)[:9], "expected 12 .* got 9")]
)
def test_truncated_header(tmp_path, data, expected):
    path = write_raw(tmp_path / "stub", data)
    with pytest.raises(IdxError, match=f"stub: .*{expected}"):
        read_idx(path)


def test_idx_error_is_a_value_error_and_missing_file_is_oserror(tmp_path):
    assert issubclass(IdxError, ValueError)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent")


def test_write_refuses_other_dtypes_and_scalars(tmp_path):
    with pytest.raises(TypeError, match="array must have an IDX dtype .*got int64"):
        write_idx(tmp_path / "a", np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="array must have 1 to 255 dimensions, got 0"):
        write_idx(tmp_path / "a", np.uint8(3))
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left


def test_write_accepts_non_native_byte_order(tmp_path):
    array = sample(np.float32).astype(">f4")
    write_idx(tmp_path / "be", array)
    back = read_idx(tmp_path / "be")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, array)


def test_write_is_atomic_and_reproducible(tmp_path):
    array = sample(np.uint8, (20, 7))
    write_idx(tmp_path / "a.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    write_idx(tmp_path / "a.gz", array)  # overwrite in place
    assert (tmp_path / "a.gz").read_bytes() == first  # gzip mtime is 0
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]
