"""Book 2's module tree ("Deep Learning from Scratch 2", chapter 1), on chainrule's core.

The book's scripts run with only their imports changed, mechanically:

    from common.X import ...        ->  from chainrule.book2.common.X import ...
    from dataset import spiral      ->  from chainrule.book2.dataset import spiral
    from two_layer_net import ...   ->  from chainrule.book2.ch01.two_layer_net import ...

Inside this package the book's semantics hold: list-valued ``params``/``grads``, its
layers (``SoftmaxWithLoss`` with the ``+1e-7`` cross entropy, dropout without scaling
in training), its optimizers' update rules, its ``Trainer`` (``fit(x, t, max_epoch,
batch_size, max_grad, eval_interval)``, ``loss_list`` of averages over each
``eval_interval`` iterations, ``plot()``), and NumPy's *global* generator where the
book draws from it: ``spiral.load_data()`` seeds it with 1984, as the book's does, so
the weights and mini-batches drawn after it repeat from run to run. Nothing here is
pickled: ``BaseModel.save_params`` writes safetensors files.

``rewrite_imports`` does the rewrite on a script's text; ``python -m chainrule.book2
SCRIPT.py`` runs a script of the book with its imports rewritten.
"""

from __future__ import annotations

from ..book1._rewrite import rewrite
from ..book1._runner import run_script as _run_script

__all__ = ["rewrite_imports", "run_script"]


def rewrite_imports(source, *, chapter=None):
    """A book-2 script's text with its imports pointed at ``chainrule.book2``.

    ``chapter`` (``'ch01'``) maps imports of that chapter's own modules
    (``from two_layer_net import TwoLayerNet``) to ``chainrule.book2.<chapter>``. Only
    import lines change.
    """
    return rewrite(source, "chainrule.book2", chapter=chapter)


def run_script(path, *, chapter=None, argv=()):
    """Run a book-2 script with its imports rewritten, as ``python SCRIPT.py`` would.

    ``chapter`` defaults to the script's folder name when it is one (``ch01``). Returns
    the script's namespace.
    """
    return _run_script(path, "chainrule.book2", chapter=chapter, argv=argv)
