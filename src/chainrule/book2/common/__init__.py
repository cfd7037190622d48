"""Book 2's ``common`` package (what chapter 1 uses): config, np, functions, layers,
optimizer, trainer, util, base_model."""
