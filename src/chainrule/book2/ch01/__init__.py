"""Book 2, ch. 1's modules: ``two_layer_net`` (trained by ``train.py`` and
``train_custom_loop.py``) and ``forward_net`` (its classes, without the demo)."""
