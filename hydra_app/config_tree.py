"""The composed config printed as a tree at the start of a command (``print_config=false``: not)."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

from training.run_record import rank

# Shown first, in this order; the other top-level keys follow as the config has them.
FIRST = ("data", "model", "optimizer", "scheduler", "trainer", "callbacks", "logger", "paths")


def tree(cfg: DictConfig, first: Sequence[str] = FIRST):
    """A ``rich`` tree with one branch per top-level key, each holding that key's YAML.

    Values are resolved where they can be; a node that cannot be resolved yet (a required
    ``???`` value, say) is shown as written, so that the tree never fails a run.

    Args:
        cfg: the composed config, without its ``hydra`` node.
        first: top-level keys shown first, in this order.
    """
    from rich.syntax import Syntax
    from rich.tree import Tree

    root = Tree("config", guide_style="dim")
    keys = [key for key in first if key in cfg] + [key for key in cfg if key not in first]
    for key in keys:
        node = cfg._get_node(key)
        branch = root.add(str(key), style="bold")
        if OmegaConf.is_config(node):
            try:
                text = OmegaConf.to_yaml(node, resolve=True)
            except Exception:  # shown unresolved; the command itself reports the problem
                text = OmegaConf.to_yaml(node, resolve=False)
        else:
            text = _scalar(cfg, key)
        branch.add(Syntax(text.rstrip("\n") or "{}", "yaml", background_color="default"))
    return root


def _scalar(cfg: DictConfig, key: str) -> str:
    try:
        return str(OmegaConf.select(cfg, key, throw_on_resolution_failure=True))
    except Exception:
        return str(cfg._get_node(key)._value())


def print_tree(cfg: DictConfig) -> None:
    """Print :func:`tree` when ``cfg.print_config`` is true (on DDP's rank 0 only)."""
    if not cfg.get("print_config") or rank() != 0:
        return
    from rich.console import Console

    Console(soft_wrap=True).print(tree(cfg))
