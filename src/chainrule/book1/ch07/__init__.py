"""Book 1, ch. 7's module that its scripts import: ``simple_convnet``."""
