"""Book 1's ``dataset`` package: ``mnist.load_mnist``, and ``fashion_mnist.load_mnist`` with
the same signature for Fashion-MNIST."""
