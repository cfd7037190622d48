"""Book 1, ch. 5's modules that its scripts import: ``layer_naive``, ``two_layer_net``."""
