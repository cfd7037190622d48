"""Book 1's module tree ("Deep Learning from Scratch"), on chainrule's core.

The book's scripts run with only their imports changed, mechanically:

    from common.X import ...           ->  from chainrule.book1.common.X import ...
    from dataset.mnist import load_mnist
                                       ->  from chainrule.book1.dataset.mnist import load_mnist
                                           (or chainrule.book1.dataset.fashion_mnist)
    from two_layer_net import ...      ->  from chainrule.book1.ch05.two_layer_net import ...
                                           (a chapter's module other scripts import)

Inside this package the book's semantics hold: its attribute names (``Affine.W``,
``dW``, ``BatchNormalization.dgamma``, ...), its two ``TwoLayerNet``s, its dropout (no
scaling in training, ``1 - ratio`` at inference), its batch normalisation (running
variance from 0, eps 1e-6), the ``+1e-7`` cross entropy, its optimizers' update rules,
its ``Trainer``, and NumPy's *global* generator (``np.random.randn``, ``rand``,
``choice``) where the book draws from it, so ``np.random.seed(...)`` reproduces a run.
Nothing here is pickled: ``save_params`` writes safetensors files.

``rewrite_imports`` does the rewrite on a script's text; ``python -m chainrule.book1
SCRIPT.py`` runs a script of the book with its imports rewritten (``--fashion`` loads
Fashion-MNIST in place of MNIST).
"""

from __future__ import annotations

from ._rewrite import rewrite
from ._runner import run_script as _run_script

__all__ = ["rewrite_imports", "run_script"]


def rewrite_imports(source, *, dataset="mnist", chapter=None):
    """A book-1 script's text with its imports pointed at ``chainrule.book1``.

    ``dataset`` is ``'mnist'`` or ``'fashion-mnist'`` (where ``from dataset.mnist import
    load_mnist`` goes); ``chapter`` (``'ch04'``, ``'ch05'``, ...) maps imports of that
    chapter's own modules (``from two_layer_net import TwoLayerNet``) to
    ``chainrule.book1.<chapter>``. Only import lines change.
    """
    return rewrite(source, "chainrule.book1", dataset=dataset, chapter=chapter)


def run_script(path, *, dataset="mnist", chapter=None, argv=()):
    """Run a book-1 script with its imports rewritten, as ``python SCRIPT.py`` would.

    ``chapter`` defaults to the script's folder name when it is one (``ch05``). Returns
    the script's namespace.
    """
    return _run_script(path, "chainrule.book1", dataset=dataset, chapter=chapter, argv=argv)
