"""Hydra's Optuna sweeper, made to go on with the trials of a search that was stopped."""
