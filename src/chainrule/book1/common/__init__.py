"""Book 1's ``common`` package: functions, gradient, layers, networks, optimizers, Trainer."""
