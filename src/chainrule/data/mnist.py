"""MNIST and Fashion-MNIST: the book's ``load_mnist``, with pinned hashes and mirrors.

How the files are found, downloaded, verified and cached: see ``chainrule.data.datasets``.
"""

from __future__ import annotations

from .datasets import DatasetSpec, FileSpec, load_idx_dataset

__all__ = [
    "MNIST",
    "FASHION_MNIST",
    "MNIST_MIRRORS",
    "FASHION_MNIST_MIRRORS",
    "MNIST_SHA256",
    "FASHION_MNIST_SHA256",
    "load_mnist",
    "load_fashion_mnist",
]

_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_SHAPES = ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))

# SHA-256 of the .gz files as published with TensorFlow Datasets.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# SHA-256 of the decompressed files: Debian recompressed its .gz, the content is upstream's.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

MNIST = DatasetSpec(
    "mnist",
    *(FileSpec(n, MNIST_SHA256[n], "gz", s) for n, s in zip(_NAMES, _SHAPES, strict=True)),
    mirrors=MNIST_MIRRORS,
)
FASHION_MNIST = DatasetSpec(
    "fashion-mnist",
    *(FileSpec(n, FASHION_MNIST_SHA256[n], "idx", s) for n, s in zip(_NAMES, _SHAPES, strict=True)),
    mirrors=FASHION_MNIST_MIRRORS,
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)


def load_mnist(normalize=True, flatten=True, one_hot_label=False, data_dir=None, *,
               download=True, mirrors=None, progress=None):
    """((x_train, t_train), (x_test, t_test)) of MNIST, as the book's ``load_mnist``.

    Shapes: x float32 (N, 784) with ``flatten``, else (N, 1, 28, 28); values x / 255 in
    [0, 1] with ``normalize``, else 0..255. t int64 labels (N,) in 0..9, or float32 one-hot
    rows (N, 10) with ``one_hot_label``. N = 60000 for training, 10000 for test.

    The files are searched, downloaded and verified as ``chainrule.data.datasets`` says;
    ``mirrors`` (URL prefixes) replaces ``MNIST_MIRRORS``, ``progress=False`` silences the
    download progress. The pinned hashes are of the published .gz files, so a local .gz is
    checked by hash and a local decompressed file by its IDX structure (a .gz recompressed
    by another tool fails the hash: decompress it). Unlike the book, nothing is pickled:
    the cache is an .npz file.
    Raises ``DatasetNotFoundError`` (a ``FileNotFoundError``) when nothing is found and
    ``download`` is False, ``DownloadError`` (an ``OSError``) when every mirror failed,
    ``ChecksumError`` / ``IdxError`` (``ValueError``) for a corrupt local file.
    """
    return load_idx_dataset(MNIST, normalize, flatten, one_hot_label, data_dir,
                            download=download, mirrors=mirrors, progress=progress)


def load_fashion_mnist(normalize=True, flatten=True, one_hot_label=False, data_dir=None, *,
                       download=True, mirrors=None, progress=None):
    """((x_train, t_train), (x_test, t_test)) of Fashion-MNIST; same contract as ``load_mnist``.

    Labels 0..9 are T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker,
    Bag, Ankle boot. The hashes are of the decompressed files, so any gzip of the original
    content (Debian's included) is accepted.
    """
    return load_idx_dataset(FASHION_MNIST, normalize, flatten, one_hot_label, data_dir,
                            download=download, mirrors=mirrors, progress=progress)
