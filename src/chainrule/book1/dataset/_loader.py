"""The book's ``load_mnist`` contract on top of chainrule's loaders."""

from __future__ import annotations

import numpy as np


def as_book(loaded, normalize, one_hot_label):
    """The arrays the book's ``load_mnist`` returns, from chainrule's.

    The book gives uint8 pixels without ``normalize`` (float32 / 255 with it), uint8
    labels, and float64 one-hot rows; chainrule's loaders give float32 pixels, int64
    labels and float32 rows. The values are the same.
    """
    out = []
    for x, t in loaded:
        if not normalize:
            x = x.astype(np.uint8)
        t = t.astype(np.float64) if one_hot_label else t.astype(np.uint8)
        out.append((x, t))
    return tuple(out)
