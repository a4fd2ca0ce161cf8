"""Building a run from its composed config, running it, and recording what it did."""
