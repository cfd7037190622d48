"""Data for the learning loop: MNIST / Fashion-MNIST (IDX files), the spiral, mini-batches.

Nothing is downloaded or read at import time.
"""

from .batching import BatchIterator, minibatches
from .datasets import DatasetNotFoundError, DatasetSpec, FileSpec, load_idx_dataset
from .download import ChecksumError, DownloadError
from .idx import IdxError, read_idx, write_idx
from .mnist import FASHION_MNIST, MNIST, load_fashion_mnist, load_mnist
from .spiral import load_spiral

__all__ = [
    "BatchIterator",
    "ChecksumError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "FASHION_MNIST",
    "FileSpec",
    "IdxError",
    "MNIST",
    "load_fashion_mnist",
    "load_idx_dataset",
    "load_mnist",
    "load_spiral",
    "minibatches",
    "read_idx",
    "write_idx",
]
