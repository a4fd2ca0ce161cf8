"""Reading back what a run wrote for TensorBoard, with tensorboard's own event reader."""

from __future__ import annotations

from pathlib import Path

from storage.tensorboard import read_scalars


def events(log_dir: Path):
    """Every event under ``log_dir``, none sampled away (``EventAccumulator``, reloaded)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def event_files(log_dir: Path) -> list[Path]:
    """The event files directly in ``log_dir``, oldest first (their names start with the time)."""
    return sorted(log_dir.glob("events.out.tfevents.*"))


def event_tags(log_dir: Path) -> dict[str, list[str]]:
    """Tags by kind (``images``, ``scalars``, ...) in all event files of ``log_dir``."""
    return events(log_dir).Tags()


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar."""
    return read_scalars(log_dir)


def scalar_steps(log_dir: Path, tag: str) -> list[int]:
    return [step for step, _ in scalars(log_dir)[tag]]


def images(log_dir: Path) -> dict[str, list]:
    """``{tag: [image event, ...]}``; each event has ``step``, ``width``, ``height`` and the PNG."""
    read = events(log_dir)
    return {tag: read.Images(tag) for tag in read.Tags()["images"]}


def hparams_plugin(log_dir: Path) -> dict:
    """The HParams plugin's records by tag, e.g. ``_hparams_/session_start_info``."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events(log_dir).PluginTagToContent("hparams")
    return {
        tag: plugin_data_pb2.HParamsPluginData.FromString(data) for tag, data in content.items()
    }


def logged_hparams(log_dir: Path) -> dict[str, float | str]:
    """The settings the run logged to TensorBoard's HParams dashboard (unordered: see
    :func:`hparam_columns` for the order)."""
    session = hparams_plugin(log_dir)["_hparams_/session_start_info"].session_start_info
    return {
        key: value.number_value if value.HasField("number_value") else value.string_value
        for key, value in session.hparams.items()
    }


def hparam_columns(log_dir: Path) -> dict[str, bool]:
    """The experiment's hparams in the order logged, each with whether it is marked ``differs``,
    which TensorBoard lists first (then by name)."""
    experiment = hparams_plugin(log_dir)["_hparams_/experiment"].experiment
    return {info.name: info.differs for info in experiment.hparam_infos}


def experiments(root: Path) -> dict[str, object]:
    """``{run: HParams experiment}`` of every run under ``root`` that declares one, as
    TensorBoard finds them when pointed at ``root`` (it shows all its runs with one of them)."""
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    runs = EventMultiplexer().AddRunsFromDirectory(str(root))
    runs.Reload()
    return {
        run: plugin_data_pb2.HParamsPluginData.FromString(tags[metadata.EXPERIMENT_TAG]).experiment
        for run, tags in runs.PluginRunToTagToContent(metadata.PLUGIN_NAME).items()
        if metadata.EXPERIMENT_TAG in tags
    }


def session_status(log_dir: Path) -> str:
    """How the run's session ended for the HParams dashboard: ``STATUS_SUCCESS``, ..."""
    from tensorboard.plugins.hparams import api_pb2

    end = hparams_plugin(log_dir)["_hparams_/session_end_info"].session_end_info
    return api_pb2.Status.Name(end.status)


def custom_scalars_layout(log_dir: Path) -> dict[str, dict[str, list[str]]]:
    """The Custom Scalars layout: ``{category: {chart title: [tag regex, ...]}}``."""
    from tensorboard.plugins.custom_scalar import layout_pb2, metadata

    [config] = events(log_dir).Tensors(metadata.CONFIG_SUMMARY_TAG)
    layout = layout_pb2.Layout.FromString(config.tensor_proto.string_val[0])
    return {
        category.title: {chart.title: list(chart.multiline.tag) for chart in category.chart}
        for category in layout.category
    }


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
