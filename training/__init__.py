"""A training run: built from its composed config, checked, fitted, resumed and recorded."""
