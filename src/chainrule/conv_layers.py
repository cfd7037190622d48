"""Convolution and pooling layers (book 1, ch. 7), on the layer protocol.

Images are (N, C, H, W). Each layer turns its windows into rows with ``im2col`` (a
strided view, copied once), so the work is a matrix product; backward sends gradients
back through ``col2im``, the exact adjoint. Re-exported by ``chainrule.layers``.
"""

from __future__ import annotations

import numpy as np

from .functions import conv_output_size, fold, windows_of
from .protocol import Layer
from .validation import InputValueError, check_number

__all__ = ["Convolution", "Pooling", "AvgPooling", "Flatten"]


def _positive_int(value, name):
    return check_number(value, name, integer=True, low=1)


class Convolution(Layer):
    """y[n, f] = sum_c W[f, c] * x[n, c] + b[f]  (cross-correlation, as in PyTorch).

    Shapes: x (N, C, H, W), W (FN, C, FH, FW), b (FN,) -> y (N, FN, OH, OW) with
    OH = (H + 2 pad - FH) // stride + 1. Computed as y_n = W_mat @ col_n + b, one matrix
    product per image, with W_mat = W.reshape(FN, C*FH*FW) and col_n (C*FH*FW, OH*OW)
    the image's windows as columns (``im2col``'s rows, transposed per image), so y comes
    out contiguous in (N, FN, OH, OW) order.

    Backward, with dy_n (FN, OH*OW): db = sum over n and pixels of dy, dW = sum_n
    dy_n @ col_n.T reshaped to W's shape, dx = the windows dcol_n = W_mat.T @ dy_n added
    back where they came from (``col2im``). Set ``input_grad = False`` on a first layer
    to skip dx (models do).
    """

    param_names = ("W", "b")
    decay = ("W",)

    def __init__(self, W, b, stride=1, pad=0):
        if np.ndim(W) != 4 or np.shape(b) != (np.shape(W)[0],):
            raise InputValueError(f"W must have shape (FN, C, FH, FW) and b (FN,), got "
                                  f"{np.shape(W)} and {np.shape(b)}")
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.stride = _positive_int(stride, "stride")
        self.pad = check_number(pad, "pad", integer=True, low=0)
        self.input_grad = True
        self.x_shape = self.cols = None

    def __repr__(self):
        fn, c, fh, fw = self.params[0].shape
        return f"Convolution({c}, {fn}, {fh}x{fw}, stride={self.stride}, pad={self.pad})"

    def forward(self, x):
        W, b = self.params
        fn, c, fh, fw = W.shape
        n = x.shape[0]
        windows = windows_of(x, fh, fw, self.stride, self.pad)  # (N, C, OH, OW, FH, FW)
        oh, ow = windows.shape[2:4]
        self.x_shape = x.shape
        self.cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * fh * fw, oh * ow)
        out = np.matmul(W.reshape(fn, -1), self.cols)
        out += b[:, None]
        return out.reshape(n, fn, oh, ow)

    def backward(self, dout):
        W, _ = self.params
        fn, c, fh, fw = W.shape
        n, _, oh, ow = dout.shape
        dout = dout.reshape(n, fn, oh * ow)
        dout.sum(axis=(0, 2), out=self.grads[1])
        np.sum(np.matmul(dout, self.cols.transpose(0, 2, 1)), axis=0,
               out=self.grads[0].reshape(fn, -1))
        if not self.input_grad:
            return None
        dcols = np.matmul(W.reshape(fn, -1).T, dout)  # (N, C*FH*FW, OH*OW)
        return fold(dcols.reshape(n, c, fh, fw, oh, ow), self.x_shape, self.stride, self.pad)


class _Pool(Layer):
    """Shared by the pooling layers: windows of pool_h x pool_w, visited by offset.

    For each of the pool_h * pool_w offsets (dy, dx) inside a window, the strided view
    x[:, :, dy::stride, dx::stride] (cut to OH x OW) holds that offset of every window at
    once, so pooling is a few elementwise operations on (N, C, OH, OW) arrays — no copy
    into rows, no loop over samples or pixels.
    """

    fill = 0.0  # what the padding counts as

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        super().__init__()
        self.pool_h = _positive_int(pool_h, "pool_h")
        self.pool_w = _positive_int(pool_w, "pool_w")
        self.stride = _positive_int(stride, "stride")
        self.pad = check_number(pad, "pad", integer=True, low=0)
        self.x_shape = None

    def __repr__(self):
        return (f"{type(self).__name__}({self.pool_h}x{self.pool_w}, stride={self.stride}"
                + (f", pad={self.pad})" if self.pad else ")"))

    def _views(self, x):
        """The per-offset views (N, C, OH, OW) of x after padding it with ``fill``."""
        self.x_shape = x.shape
        if self.pad:
            p = self.pad
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        self._padded_shape = x.shape
        return self._offsets(x)

    def _offsets(self, padded):
        s, (_, _, h, w) = self.stride, self.x_shape
        oh = conv_output_size(h, self.pool_h, s, self.pad)
        ow = conv_output_size(w, self.pool_w, s, self.pad)
        return [padded[:, :, dy:dy + s * oh:s, dx:dx + s * ow:s]
                for dy in range(self.pool_h) for dx in range(self.pool_w)]

    def _scatter(self, parts):
        """Add per-offset gradients (N, C, OH, OW) back into a contiguous dx."""
        dx = np.zeros(self._padded_shape, dtype=parts[0].dtype)
        for view, part in zip(self._offsets(dx), parts, strict=True):
            view += part
        if self.pad:
            p = self.pad
            return np.ascontiguousarray(dx[:, :, p:-p, p:-p])
        return dx


class Pooling(_Pool):
    """Max pooling: y[n, c, i, j] = max of x[n, c] over the window under (i, j).

    Shapes: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 pad - pool_h) // stride + 1.
    Padding counts as -inf, as in PyTorch (book 1 pads with 0, which differs only where
    a whole window is negative). Backward: each window's gradient goes to the position
    of its maximum (the first one in row-major order, on ties, as PyTorch), summed where
    windows overlap.
    """

    fill = -np.inf

    def forward(self, x):
        views = self._views(x)
        out = views[0].copy()
        # bigger[k]: offset k beat every offset before it; the last offset that did holds
        # the first maximum of the window (later equal values do not count)
        self.bigger = []
        for view in views[1:]:
            self.bigger.append(np.greater(view, out))
            np.maximum(out, view, out=out)
        return out

    def _masks(self):
        """One bool (N, C, OH, OW) per offset: does it hold the window's first maximum?"""
        later = np.zeros_like(self.bigger[0]) if self.bigger else None
        masks = []
        for bigger in reversed(self.bigger):
            masks.append(np.greater(bigger, later))  # bigger and no later offset bigger still
            later |= bigger
        masks.append(~later if later is not None else None)
        return masks[::-1]

    def backward(self, dout):
        n, c, h, w = self.x_shape
        ph, pw, s = self.pool_h, self.pool_w, self.stride
        masks = self._masks()
        if masks[0] is None:  # a 1x1 window: the identity on the strided positions
            return self._scatter([dout])
        _, _, oh, ow = dout.shape
        if s == ph == pw and not self.pad and (oh * ph, ow * pw) == (h, w):
            # the windows tile the image: write each offset's share into its place
            dx = np.empty(self.x_shape, dtype=dout.dtype)
            blocks = dx.reshape(n, c, oh, ph, ow, pw)
            for k, mask in enumerate(masks):
                np.multiply(dout, mask, out=blocks[:, :, :, k // pw, :, k % pw])
            return dx
        return self._scatter([dout * mask for mask in masks])


class AvgPooling(_Pool):
    """Average pooling: y[n, c, i, j] = mean of x[n, c] over the window under (i, j).

    Padding counts as zeros in the mean (PyTorch's ``count_include_pad=True``).
    Backward: every position of a window receives dy / (pool_h * pool_w).
    """

    def forward(self, x):
        views = self._views(x)
        out = views[0].copy()
        for view in views[1:]:
            out += view
        out /= self.pool_h * self.pool_w
        return out

    def backward(self, dout):
        share = dout / (self.pool_h * self.pool_w)
        return self._scatter([share] * (self.pool_h * self.pool_w))


class Flatten(Layer):
    """y = x.reshape(N, -1): (N, d1, d2, ...) -> (N, d1*d2*...).   Backward: dx = dy reshaped."""

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.x_shape)
