"""Name the config group option that has a key an override sets, when the chosen one lacks it.

``python train.py model.kl_weight=2`` fails in Hydra with "Key 'kl_weight' is not in struct":
``kl_weight`` is a setting of ``model=vae`` and the default model is ``lenet``. After a failed
start, :func:`hints` composes the configs again (without torch) and says so:
``model.kl_weight is a setting of model=vae, not of model=lenet: add model=vae``.
Keys that no option of the group has are left to Hydra's own error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from omegaconf import OmegaConf

from hydra_app.config_env import initialized


def hints(argv: Sequence[str]) -> list[str]:
    """One line for each override in ``argv`` (a command line) that names such a key."""
    from hydra import compose
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    args, _ = get_args_parser().parse_known_args(list(argv))
    overrides = OverridesParser.create().parse_overrides(args.overrides)
    found = []
    with initialized() as loader:

        def options(group: str) -> list[str]:
            return [] if "." in group else loader.get_group_options(group)

        # Group choices alone decide which keys exist; a swept group is looked at option by option.
        picked = {
            o.key_or_group: list(o.sweep_string_iterator())
            if o.is_sweep_override()
            else [o.value()]
            for o in overrides
            if o.type == OverrideType.CHANGE and options(o.key_or_group)
        }
        choices = [f"{group}={values[0]}" for group, values in picked.items()]
        cfg = compose("train", overrides=choices, return_hydra_config=True)
        composed = {(): OmegaConf.to_container(cfg, resolve=False)}

        def has_key(group: str, option: str, key: str) -> bool:
            others = tuple(c for c in choices if not c.startswith(f"{group}="))
            with_option = (*others, f"{group}={option}")
            if with_option not in composed:
                try:
                    config = compose("train", overrides=list(with_option))
                    composed[with_option] = OmegaConf.to_container(config, resolve=False)
                except Exception:  # an option that does not compose with the others offers no keys
                    composed[with_option] = None
            return _contains(composed[with_option], key)

        for override in overrides:
            key = override.key_or_group
            group = key.split(".")[0]
            if (
                override.type != OverrideType.CHANGE  # +key, ++key and ~key look nothing up
                or override.package is not None
                or "." not in key
                or group == "hydra"
                or group not in cfg  # groups whose options live under their own name only
                or not options(group)
                or (len(picked.get(group, [])) < 2 and _contains(composed[()], key))
            ):
                continue
            chosen = picked.get(group, [cfg.hydra.runtime.choices[group]])
            lacking = [option for option in chosen if not has_key(group, option, key)]
            having = [
                option
                for option in options(group)
                if option not in lacking and has_key(group, option, key)
            ]
            if lacking and having:
                fix = "use" if group in picked else "add"
                settings = _alternatives([f"{group}={option}" for option in having])
                not_of = ", ".join(f"{group}={option}" for option in lacking)
                found.append(f"{key} is a setting of {settings}, not of {not_of}: {fix} {settings}")
    return found


def _alternatives(choices: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join([", ".join(choices[:-1]), choices[-1]] if len(choices) > 2 else choices)


def _contains(config: dict | None, key: str) -> bool:
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def print_hints(argv: Sequence[str]) -> None:
    """Print :func:`hints` to stderr; never raises, so the error being reported stays the one."""
    try:
        found = hints(argv)
    except Exception:  # a hint is extra help on a failed start; the original error is what counts
        return
    for line in found:
        print(line, file=sys.stderr)
