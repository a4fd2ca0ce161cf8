"""The nets: LeNet-style classifiers with feature taps, and VAE nets."""
