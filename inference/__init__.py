"""Using a trained model: a checkpoint loaded, evaluated on a split, run on files, exported."""
