"""Glue between the Hydra config and Lightning: building components, recording a run."""
