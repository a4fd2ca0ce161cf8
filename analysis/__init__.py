"""Analysis helpers: projections, class separation, confusion and the figures that show them."""
