"""LightningModules, the nets they train and the data modules that feed them."""
