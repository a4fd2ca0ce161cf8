"""The bottom layer: run files written whole or not at all, and the run's TensorBoard logger."""
