"""Hydra's side of every command: what the configs read (resolvers, the project root), the
Hydra callbacks that guard run and sweep dirs and sum up a sweep, and hints for Hydra's errors."""
