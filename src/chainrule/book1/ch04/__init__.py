"""Book 1, ch. 4's modules that its scripts import: ``gradient_1d``, ``gradient_2d``,
``two_layer_net``."""
