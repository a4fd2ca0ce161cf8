"""Names that configs choose components by. Free of torch, so configs are checked in a blink."""

# activation name -> torch.nn class name
ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}
# pooling name -> torch.nn class name
POOLINGS = {"max": "MaxPool2d", "avg": "AvgPool2d"}
# pixel likelihoods of the VAE's reconstruction term
LIKELIHOODS = ("bernoulli", "gaussian")
# whether a higher or a lower value of model.monitor is better
MONITOR_MODES = ("max", "min")
# image channels an image-folder dataset converts its files to: greyscale or RGB
IMAGE_CHANNELS = (1, 3)
# when the progress bar is shown: on a terminal only, always, never
PROGRESS_BAR_MODES = ("auto", "rich", "none")


def choose(kind: str, options, name: str):
    """``options[name]`` (or ``name`` for a tuple), with an error listing the choices."""
    if name not in options:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {sorted(options)}")
    return options[name] if isinstance(options, dict) else name
