"""Reading back what a run wrote for TensorBoard, with tensorboard's own event reader."""

from __future__ import annotations

from pathlib import Path


def event_tags(log_dir: Path) -> dict[str, list[str]]:
    """Tags by kind (``images``, ``scalars``, ...) in all event files of ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events.Tags()


def scalar_steps(log_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def projector_embeddings(log_dir: Path) -> list[dict]:
    """``projector_config.pbtxt`` parsed: each entry's tensor name, files and thumbnail size."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = text_format.Parse((log_dir / "projector_config.pbtxt").read_text(), ProjectorConfig())
    return [
        {
            "name": embedding.tensor_name,
            "tensors": log_dir / embedding.tensor_path,
            "metadata": log_dir / embedding.metadata_path,
            "sprite": log_dir / embedding.sprite.image_path,
            "thumbnail": tuple(embedding.sprite.single_image_dim),
        }
        for embedding in config.embeddings
    ]
