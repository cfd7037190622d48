"""MNIST / Fashion-MNIST loading: search order, downloads, checksums, the .npz cache.

Downloads are tested only against a local HTTP server on 127.0.0.1 serving IDX files the
tests generate; any other connection fails the test. The real-data tests read the Debian
package dataset-fashion-mnist and are skipped where it is not installed.
"""

import gzip
import hashlib
import http.server
import socket
import threading
import time
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import (
    ChecksumError,
    DatasetNotFoundError,
    DatasetSpec,
    DownloadError,
    FileSpec,
    IdxError,
    load_fashion_mnist,
    load_idx_dataset,
    load_mnist,
    write_idx,
)
from chainrule.data import datasets as datasets_module
from chainrule.data.mnist import FASHION_MNIST_SHA256

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


# ---------------------------------------------------------------- isolation


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Any connection or name lookup beyond this machine fails the test."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL_HOSTS:
            raise AssertionError(f"a test tried to reach the internet: {address}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOCAL_HOSTS:
            raise AssertionError(f"a test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """A private cache; no CHAINRULE_DATA: tests never read or write the real home cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    return tmp_path / "cache"


# ---------------------------------------------------------------- a local mirror


class Handler(http.server.BaseHTTPRequestHandler):
    """GET /<mirror>/<file>: the server's mode for <mirror> decides what comes back.

    ok: the file; 404: not found; close: hang up without a response; truncate: announce
    the full length, send half, hang up; short: send half with a matching length;
    corrupt: the file with one byte flipped.
    """

    def do_GET(self):  # noqa: N802 - http.server's name
        mirror, _, name = self.path.strip("/").partition("/")
        self.server.requests.append(self.path)
        mode = self.server.modes.get(mirror, "ok")
        path = self.server.root / name
        if mode == "close":
            self.close_connection = True
            return
        if mode == "404" or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if mode == "corrupt":
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        body = data[: len(data) // 2] if mode in ("truncate", "short") else data
        self.send_response(200)
        self.send_header("Content-Length", str(len(data) if mode == "truncate" else len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.root, httpd.modes, httpd.requests = root, {}, []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    httpd.url = lambda mirror: f"http://127.0.0.1:{httpd.server_port}/{mirror}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def dead_mirror():
    """A 127.0.0.1 port with nothing listening (bound, never listened on): connects are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/dead/"
    sock.close()


def toy_arrays(n_train=30, n_test=12, seed=0):
    rng = np.random.default_rng(seed)
    return {
        NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, n_train).astype(np.uint8),
        NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, n_test).astype(np.uint8),
    }


def write_dataset(directory, arrays, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / (f"{name}.gz" if gz else name), array)
    return directory


def spec_for(directory, hash_of="gz", name="toy", wrong=()):
    """A DatasetSpec pinning the SHA-256 of the .gz files in ``directory``."""
    files = []
    for fname in NAMES:
        data = (directory / f"{fname}.gz").read_bytes()
        digest = hashlib.sha256(data if hash_of == "gz" else gzip.decompress(data)).hexdigest()
        files.append(FileSpec(fname, "0" * 64 if fname in wrong else digest, hash_of))
    return DatasetSpec(name, *files)


@pytest.fixture
def toy(server):
    arrays = toy_arrays()
    write_dataset(server.root, arrays)
    return arrays


def load(spec, **kwargs):
    kwargs.setdefault("progress", False)
    return load_idx_dataset(spec, **kwargs)


def leftovers(directory):
    """Temporary files left in a download folder (none when the folder is gone)."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def check_arrays(result, arrays, normalize=True):
    (x_train, t_train), (x_test, t_test) = result
    scale = 255.0 if normalize else 1.0
    for x, t, images, labels in (
        (x_train, t_train, arrays[NAMES[0]], arrays[NAMES[1]]),
        (x_test, t_test, arrays[NAMES[2]], arrays[NAMES[3]]),
    ):
        assert x.dtype == np.float32 and x.shape == (len(images), 784)
        np.testing.assert_array_equal(x, images.reshape(len(images), -1).astype(np.float32) / scale)
        assert t.dtype == np.int64
        np.testing.assert_array_equal(t, labels)


# ---------------------------------------------------------------- downloads


@pytest.mark.parametrize("hash_of", ["gz", "idx"])
def test_download_verifies_lands_atomically_and_is_not_repeated(server, toy, isolated_dirs,
                                                                hash_of):
    spec = spec_for(server.root, hash_of)
    result = load(spec, mirrors=[server.url("good")])
    check_arrays(result, toy)
    dest = isolated_dirs / "chainrule" / "toy"
    for name in NAMES:  # byte for byte what the mirror served
        assert (dest / f"{name}.gz").read_bytes() == (server.root / f"{name}.gz").read_bytes()
    assert leftovers(dest) == []
    assert len(server.requests) == 4
    check_arrays(load(spec, mirrors=[server.url("good")]), toy)
    check_arrays(load(spec, download=False), toy)
    assert len(server.requests) == 4  # found locally: no second download


def test_download_goes_to_data_dir_then_chainrule_data(server, toy, tmp_path, monkeypatch):
    spec = spec_for(server.root)
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    load(spec, data_dir=data_dir, mirrors=[server.url("good")])
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "shared"))
    load(spec, mirrors=[server.url("good")])
    assert sorted(p.name for p in (tmp_path / "shared" / "toy").iterdir()) == sorted(
        f"{n}.gz" for n in NAMES
    )


def test_only_missing_files_are_downloaded(server, toy, isolated_dirs):
    dest = isolated_dirs / "chainrule" / "toy"
    write_dataset(dest, {NAMES[1]: toy[NAMES[1]]}, gz=False)  # one file already there, raw
    check_arrays(load(spec_for(server.root), mirrors=[server.url("good")]), toy)
    assert sorted(server.requests) == sorted(f"/good/{n}.gz" for n in (NAMES[0], *NAMES[2:]))


def test_checksum_mismatch_leaves_nothing_under_the_final_name(server, toy, isolated_dirs):
    spec = spec_for(server.root, wrong={NAMES[1]})
    with pytest.raises(DownloadError, match="ChecksumError: SHA-256 of the downloaded file") as e:
        load(spec, mirrors=[server.url("good")])
    dest = isolated_dirs / "chainrule" / "toy"
    assert not (dest / f"{NAMES[1]}.gz").exists()
    assert leftovers(dest) == []
    assert "train-labels-idx1-ubyte.gz" in str(e.value)


@pytest.mark.parametrize(
    "mode, error",
    [
        ("truncate", "truncated download: got 11782 of 23564 bytes"),
        ("short", "ChecksumError"),
        ("corrupt", "ChecksumError"),
        ("404", "HTTP Error 404"),
        ("close", "RemoteDisconnected"),
    ],
)
def test_bad_mirror_responses_are_errors(server, toy, isolated_dirs, mode, error):
    server.modes["bad"] = mode
    with pytest.raises(DownloadError, match=error):
        load(spec_for(server.root), mirrors=[server.url("bad")])
    dest = isolated_dirs / "chainrule" / "toy"
    assert not dest.exists()  # no final file, no temporary file, no empty folder


def test_an_http_error_closes_its_connection_at_once(server, toy, isolated_dirs):
    # an HTTPError holds the open response; kept in DownloadError.attempts, it would keep
    # the socket open until collected (a ResourceWarning then)
    server.modes["bad"] = "404"
    with pytest.raises(DownloadError) as e:
        load(spec_for(server.root), mirrors=[server.url("bad")])
    [(url, exc)] = e.value.attempts
    assert isinstance(exc, urllib.error.HTTPError) and exc.code == 404
    assert exc.fp.closed
    assert "HTTP Error 404" in str(e.value)  # closing keeps what the message needs


@pytest.mark.parametrize("mode", ["short", "truncate"])
def test_truncated_download_with_decompressed_hash(server, toy, isolated_dirs, mode):
    server.modes["bad"] = mode
    with pytest.raises(DownloadError, match="bad/train-images-idx3-ubyte.gz"):
        load(spec_for(server.root, "idx"), mirrors=[server.url("bad")])
    assert not (isolated_dirs / "chainrule" / "toy").exists()


def test_dead_mirror_then_good_one(server, toy, dead_mirror, isolated_dirs):
    server.modes["bad"] = "corrupt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load(spec_for(server.root), mirrors=[dead_mirror, server.url("bad"),
                                                      server.url("good")])
    check_arrays(result, toy)
    assert leftovers(isolated_dirs / "chainrule" / "toy") == []


def test_all_mirrors_dead_is_quick_and_names_every_mirror(server, toy, dead_mirror,
                                                          isolated_dirs):
    server.modes.update({"missing": "404", "hangup": "close"})
    mirrors = [dead_mirror, server.url("missing"), server.url("hangup")]
    start = time.perf_counter()
    with pytest.raises(DownloadError) as e:
        load(spec_for(server.root), mirrors=mirrors)
    assert time.perf_counter() - start < 10
    message = str(e.value)
    for mirror in mirrors:
        assert f"{mirror}train-images-idx3-ubyte.gz: " in message
    assert "ConnectionRefusedError" in message or "Connection refused" in message
    dest = isolated_dirs / "chainrule" / "toy"
    assert f"put them into {dest}" in message  # where to put the files by hand
    for name in NAMES:
        assert f"{name}.gz" in message
    tried = [url for url, _ in e.value.attempts]
    assert tried == [f"{m}train-images-idx3-ubyte.gz" for m in mirrors]
    assert isinstance(e.value, OSError)
    assert not (isolated_dirs / "chainrule").exists()  # no empty folders left behind


def test_the_cli_offline_says_data_dir_in_its_own_words(dead_mirror, isolated_dirs,
                                                        monkeypatch, capsys, tmp_path):
    import dataclasses

    from chainrule.cli import main
    from chainrule.data import mnist

    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(mnist.MNIST,
                                                            mirrors=(dead_mirror,)))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "mnist", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "pass --data-dir DIR or set CHAINRULE_DATA" in err and "data_dir=" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (isolated_dirs / "chainrule").exists() and not (tmp_path / "runs").exists()


def test_progress_line_on_stderr(server, toy, capsys):
    load(spec_for(server.root), mirrors=[server.url("good")], progress=None)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4
    assert err[0].startswith(f"chainrule: downloading {server.url('good')}train-images-idx3-ubyte")
    assert all(" ... done (" in line for line in err)


def test_progress_false_is_silent(server, toy, capsys):
    load(spec_for(server.root), mirrors=[server.url("good")], progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- local files


def test_search_order(tmp_path, isolated_dirs, monkeypatch):
    arrays = {name: toy_arrays(seed=i) for i, name in enumerate(["dd", "env", "envdir", "cache"])}
    cache = write_dataset(isolated_dirs / "chainrule" / "toy", arrays["cache"])
    spec = spec_for(cache, "idx")
    spec = DatasetSpec("toy", *(FileSpec(f.name) for f in spec.files))  # structure only
    check_arrays(load(spec, download=False), arrays["cache"])
    write_dataset(tmp_path / "env", arrays["envdir"])  # $CHAINRULE_DATA itself
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    check_arrays(load(spec, download=False), arrays["envdir"])
    write_dataset(tmp_path / "env" / "toy", arrays["env"])  # $CHAINRULE_DATA/<name> first
    check_arrays(load(spec, download=False), arrays["env"])
    data_dir = write_dataset(tmp_path / "dd", arrays["dd"], gz=False)
    check_arrays(load(spec, data_dir=data_dir, download=False), arrays["dd"])
    (data_dir / NAMES[3]).unlink()  # an incomplete data_dir: never another copy instead
    with pytest.raises(DatasetNotFoundError, match=f"not found in:\n  {data_dir}\nand"):
        load(spec, data_dir=data_dir, download=False)


def test_system_dirs_are_searched_last(tmp_path):
    arrays = toy_arrays()
    system = write_dataset(tmp_path / "system", arrays)
    spec = DatasetSpec("toy", *(FileSpec(n) for n in NAMES), system_dirs=(str(system),))
    check_arrays(load(spec, download=False), arrays)


def test_local_file_with_wrong_hash_is_refused(tmp_path):
    arrays = toy_arrays()
    data_dir = write_dataset(tmp_path / "dd", arrays)
    spec = spec_for(data_dir, "idx", wrong={NAMES[2]})
    expected = f"{data_dir / NAMES[2]}.gz: SHA-256 of the decompressed data is [0-9a-f]{{64}}, "
    with pytest.raises(ChecksumError, match=expected + "expected 0{64}; .*delete it"):
        load(spec, data_dir=data_dir, download=False)


def test_decompressed_hash_accepts_any_compression(tmp_path):
    arrays = toy_arrays()
    gz_dir = write_dataset(tmp_path / "gz", arrays)
    spec = spec_for(gz_dir, "idx")
    check_arrays(load(spec, data_dir=write_dataset(tmp_path / "raw", arrays, gz=False),
                      download=False, cache=False), arrays)
    recompressed = tmp_path / "re"
    recompressed.mkdir()
    for name in NAMES:
        data = gzip.decompress((gz_dir / f"{name}.gz").read_bytes())
        (recompressed / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
    check_arrays(load(spec, data_dir=recompressed, download=False, cache=False), arrays)


def test_structure_is_checked(tmp_path):
    arrays = toy_arrays()
    arrays[NAMES[3]][0] = 10  # a label out of range
    data_dir = write_dataset(tmp_path / "dd", arrays)
    spec = DatasetSpec("toy", *(FileSpec(n) for n in NAMES))
    with pytest.raises(IdxError, match=r"t10k-labels-idx1-ubyte.gz: labels must be in \[0, 9\]"):
        load(spec, data_dir=data_dir, download=False)
    arrays = toy_arrays()
    arrays[NAMES[1]] = arrays[NAMES[1]][:-1]
    write_dataset(data_dir, arrays)
    with pytest.raises(IdxError, match="inconsistent numbers of samples: .* has 30 images, "):
        load(spec, data_dir=data_dir, download=False)


def test_npz_cache_is_used_and_invalidated(tmp_path, isolated_dirs, monkeypatch):
    arrays = toy_arrays()
    data_dir = write_dataset(tmp_path / "dd", arrays)
    spec = spec_for(data_dir, "idx")
    check_arrays(load(spec, data_dir=data_dir, download=False), arrays)
    cache_file = isolated_dirs / "chainrule" / "toy" / "decoded.npz"
    with np.load(cache_file, allow_pickle=False) as z:  # plain arrays, no pickle
        np.testing.assert_array_equal(z["train_images"], arrays[NAMES[0]])
    assert leftovers(cache_file.parent) == []

    def no_decoding(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(datasets_module, "_read_verified", no_decoding)
    check_arrays(load(spec, data_dir=data_dir, download=False), arrays)
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_dirs))
    changed = toy_arrays(seed=5)
    write_dataset(data_dir, changed)  # new files: the cache key no longer matches
    with pytest.raises(ChecksumError):
        load(spec, data_dir=data_dir, download=False)
    check_arrays(load(spec_for(data_dir, "idx"), data_dir=data_dir, download=False), changed)


def test_damaged_cache_is_rebuilt(tmp_path, isolated_dirs):
    arrays = toy_arrays()
    data_dir = write_dataset(tmp_path / "dd", arrays)
    spec = spec_for(data_dir)
    load(spec, data_dir=data_dir, download=False)
    cache_file = isolated_dirs / "chainrule" / "toy" / "decoded.npz"
    cache_file.write_bytes(b"not a zip file")
    check_arrays(load(spec, data_dir=data_dir, download=False), arrays)
    with np.load(cache_file, allow_pickle=False) as z:
        assert "train_images" in z.files


def test_conversions(tmp_path):
    arrays = toy_arrays()
    data_dir = write_dataset(tmp_path / "dd", arrays)
    spec = spec_for(data_dir)
    check_arrays(load(spec, data_dir=data_dir, normalize=False), arrays, normalize=False)
    (x, t), (x_test, t_test) = load(spec, data_dir=data_dir, flatten=False, one_hot_label=True)
    assert x.shape == (30, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], arrays[NAMES[0]] / np.float32(255))
    assert t.shape == (30, 10) and t.dtype == np.float32 and x_test.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(t.argmax(axis=1), arrays[NAMES[1]])
    np.testing.assert_array_equal(t.sum(axis=1), np.ones(30))
    assert t_test.shape == (12, 10)


# ---------------------------------------------------------------- load_mnist itself


def test_load_mnist_without_files_or_download_says_where_to_put_them(isolated_dirs):
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(download=False)
    assert isinstance(e.value, FileNotFoundError)
    message = str(e.value)
    assert "mnist: the files train-images-idx3-ubyte.gz" in message
    assert str(isolated_dirs / "chainrule" / "mnist") in message
    assert "download is False" in message


def test_missing_data_dir_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_dir must be an existing directory, got "
                                                r"'.*nowhere' \(nothing there\)"):
        load_mnist(data_dir=tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileNotFoundError, match=r"\(a file\)"):
        load_fashion_mnist(data_dir=tmp_path / "file")


def test_load_mnist_checks_the_pinned_hashes(tmp_path, server, toy, isolated_dirs):
    # toy files under MNIST's names: the download is refused by the pinned .gz hashes
    with pytest.raises(DownloadError, match="ChecksumError") as e:
        load_mnist(mirrors=[server.url("good")], progress=False)
    assert str(e.value).startswith("mnist: could not download train-images-idx3-ubyte.gz")
    assert not (isolated_dirs / "chainrule" / "mnist").exists()
    # local .gz files: hash of the .gz; raw files: structure, here the pinned shape
    with pytest.raises(ChecksumError, match="SHA-256 of the file"):
        load_mnist(data_dir=write_dataset(tmp_path / "gz", toy), download=False)
    with pytest.raises(IdxError, match=r"expected shape \(60000, 28, 28\), got \(30, 28, 28\)"):
        load_mnist(data_dir=write_dataset(tmp_path / "raw", toy, gz=False), download=False)


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"normalize": 1}, TypeError, "normalize must be True or False, got 1"),
        ({"flatten": None}, TypeError, "flatten must be True or False, got None"),
        ({"one_hot_label": "yes"}, TypeError, "one_hot_label must be True or False, got 'yes'"),
        ({"download": 0}, TypeError, "download must be True or False, got 0"),
        ({"progress": "bar"}, TypeError, "progress must be None, True or False, got 'bar'"),
        ({"mirrors": "http://x/"}, TypeError, "mirrors must be a sequence of URL prefixes"),
        ({"mirrors": []}, ValueError, "mirrors must hold at least one URL prefix"),
        ({"mirrors": ["ftp://x/"]}, ValueError, "mirrors must be http://, https:// or file:"),
        ({"data_dir": 3}, TypeError, "data_dir must be a path .*got int"),
    ],
)
def test_load_mnist_validates_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        load_mnist(**kwargs)


# ---------------------------------------------------------------- real Fashion-MNIST


@pytest.fixture(scope="module")
def fashion_cache(tmp_path_factory):
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} is absent (Debian package dataset-fashion-mnist)")
    return tmp_path_factory.mktemp("fashion-cache")


@pytest.fixture
def fashion(fashion_cache, monkeypatch):
    """load_fashion_mnist with a cache shared by this module's real-data tests."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(fashion_cache))
    return lambda **kwargs: load_fashion_mnist(download=False, progress=False, **kwargs)


@pytest.fixture(scope="module")
def fashion_default(fashion_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(fashion_cache))
        mp.delenv("CHAINRULE_DATA", raising=False)
        return load_fashion_mnist(download=False, progress=False)


def test_fashion_shapes_and_values(fashion_default):
    (x_train, t_train), (x_test, t_test) = fashion_default
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0
    assert t_train.dtype == np.int64 and t_train.shape == (60000,) and t_test.shape == (10000,)
    np.testing.assert_array_equal(np.bincount(t_train, minlength=10), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(t_test, minlength=10), np.full(10, 1000))
    assert t_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # as published


def test_fashion_files_match_the_pinned_decompressed_hashes(fashion_cache):
    for name, expected in FASHION_MNIST_SHA256.items():
        with gzip.open(FASHION_DIR / f"{name}.gz") as f:
            assert hashlib.sha256(f.read()).hexdigest() == expected, name


def test_fashion_variants(fashion, fashion_default):
    (x, t), (x_test, t_test) = fashion(flatten=False, one_hot_label=True)
    assert x.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(x[:100].reshape(100, -1), fashion_default[0][0][:100])
    assert t.shape == (60000, 10) and t.dtype == np.float32 and t_test.shape == (10000, 10)
    np.testing.assert_array_equal(t.argmax(axis=1), fashion_default[0][1])
    (x_raw, _), _ = fashion(normalize=False)
    assert x_raw.max() == 255.0 and x_raw.dtype == np.float32
    np.testing.assert_array_equal(x_raw[:100] / np.float32(255), fashion_default[0][0][:100])


def test_fashion_cache_file_written(fashion_cache, fashion_default):
    cache_file = fashion_cache / "chainrule" / "fashion-mnist" / "decoded.npz"
    with np.load(cache_file, allow_pickle=False) as z:
        assert z["train_images"].shape == (60000, 28, 28)
