"""Lightning callbacks that turn runs into curves, tables, embeddings and image grids."""
