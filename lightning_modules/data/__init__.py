"""Data modules and the dataset files they read."""
