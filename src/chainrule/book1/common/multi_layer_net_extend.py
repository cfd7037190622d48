"""Book 1's ``common/multi_layer_net_extend.py``: ``MultiLayerNetExtend``, with dropout and
batch normalisation.

``from common.multi_layer_net_extend import *`` also hands a script ``np`` and
``OrderedDict``, as the book's module does.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ...validation import InputValueError, check_bool, check_number
from .multi_layer_net import MultiLayerNet

__all__ = ["np", "OrderedDict", "MultiLayerNetExtend"]

_UNSET = object()


class MultiLayerNetExtend(MultiLayerNet):
    """[Affine -> (BatchNorm) -> activation -> (Dropout)] x L -> Affine -> SoftmaxWithLoss.

    Book 1's extended network: ``MultiLayerNet``'s arguments plus ``use_dropout``,
    ``dropout_ration`` (the book's spelling; ``dropout_ratio`` is accepted too) and
    ``use_batchnorm``. With batch normalisation ``params`` gains ``gamma1``/``beta1``
    ... (ones and zeros) and ``layers`` ``BatchNorm1`` ...; with dropout, ``Dropout1``
    ... . ``predict(x, train_flg=False)`` and ``loss(x, t, train_flg=False)`` take the
    training flag; ``gradient`` and ``numerical_gradient`` use training mode, as in the
    book (so dropout masks are drawn from NumPy's global generator at every loss).
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False, *, dropout_ratio=_UNSET):
        if dropout_ratio is not _UNSET:
            if dropout_ration != 0.5:
                raise InputValueError("give dropout_ration (the book's spelling) or "
                                      "dropout_ratio, not both")
            dropout_ration = dropout_ratio
        self.use_dropout = check_bool(use_dropout, "use_dropout")
        self.use_batchnorm = check_bool(use_batchnorm, "use_batchnorm")
        ratio = check_number(dropout_ration, "dropout_ration", low=0, high=1, high_open=True)
        super(MultiLayerNet, self).__init__()
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std,
                    weight_decay_lambda, self.use_dropout, ratio, self.use_batchnorm)
