"""``load_mnist`` for Fashion-MNIST, with book 1's signature and dtypes.

Rewrite ``from dataset.mnist import load_mnist`` to
``from chainrule.book1.dataset.fashion_mnist import load_mnist`` and a script of the
book trains on Fashion-MNIST (ten classes of clothing, the same shapes as MNIST, found in
``/usr/share/datasets/fashion-mnist`` on Debian or downloaded by chainrule).
"""

from __future__ import annotations

from ...data import load_fashion_mnist as _load_fashion_mnist
from ._loader import as_book
from .mnist import img_dim, img_size, test_num, train_num

__all__ = ["load_mnist", "train_num", "test_num", "img_dim", "img_size"]


def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    """((x_train, t_train), (x_test, t_test)) of Fashion-MNIST, as book 1's ``load_mnist``.

    The same shapes and dtypes as ``chainrule.book1.dataset.mnist.load_mnist``.
    """
    return as_book(_load_fashion_mnist(normalize, flatten, one_hot_label), normalize,
                   one_hot_label)
