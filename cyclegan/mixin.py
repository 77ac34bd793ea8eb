"""Saving and loading models with the Hugging Face Hub mixin: safetensors only, strictly.

`StrictHubMixin` is huggingface_hub's PyTorchModelHubMixin with three changes: loading
fails loudly, naming every missing, unexpected or misshapen tensor (the mixin's default
is not strict); weights are always written as contiguous CPU tensors; and a path that
does not exist is reported as such instead of being tried as a Hub repo id.
Publishing a pair with model cards is cyclegan.hub; the cards' text is cyclegan.cards.
"""

import json
from pathlib import Path

import torch.nn as nn
from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin, constants, hf_hub_download
from huggingface_hub.errors import (LocalEntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError,
                                    RevisionNotFoundError)
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .cards import CARD_TAGS

WEIGHTS_NAME = "model.safetensors"


class StrictHubMixin(PyTorchModelHubMixin):
    """save_pretrained / from_pretrained / push_to_hub for an nn.Module, with strict loading.

    Subclass it next to nn.Module; the subclass's __init__ arguments (plain JSON values)
    become config.json.
    """

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load from a folder written by save_pretrained or a Hub repo id; weights are loaded strictly.

        Takes the mixin's arguments (revision, cache_dir, local_files_only, token,
        force_download) and map_location (e.g. "cuda"). Raises ValueError naming every
        missing, unexpected or misshapen tensor, and for a corrupt config.json or weights file.
        """
        name = str(pretrained_model_name_or_path)
        looks_like_path = Path(name).is_absolute() or name.startswith(".") or name.count("/") > 1 or "\\" in name
        if not Path(name).is_dir() and (looks_like_path or Path(name).exists()):
            raise FileNotFoundError(f"no model folder at {name} (expected config.json + {WEIGHTS_NAME})")
        try:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        except json.JSONDecodeError as e:
            raise ValueError(f"config.json of {pretrained_model_name_or_path} is not valid JSON: {e}") from e
        except RepositoryNotFoundError as e:  # the Hub's own error type, with a message that says what to do
            raise RepositoryNotFoundError(
                f"no model repo '{name}' on {constants.ENDPOINT}, or it is private and no token with access was "
                "given (log in with `hf auth login` or pass token=...); a local folder must exist",
                response=e.response) from e
        except RevisionNotFoundError as e:
            raise RevisionNotFoundError(f"model repo '{name}' has no revision {kwargs.get('revision')!r}",
                                        response=e.response) from e
        except RemoteEntryNotFoundError as e:
            raise RemoteEntryNotFoundError(
                f"model repo '{name}' has no {WEIGHTS_NAME}: this project loads safetensors weights only",
                response=e.response) from e
        except LocalEntryNotFoundError as e:
            raise LocalEntryNotFoundError(
                f"'{name}' is not in the local Hub cache and downloading is off (HF_HUB_OFFLINE=1 or "
                "local_files_only=True), or the Hub cannot be reached; load it once online first") from e

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        """The README.md save_pretrained writes: what the folder holds and how to load it.

        The mixin's default card says the model "has been pushed to the Hub" and leaves
        "[More Information Needed]" fields, which is untrue of a local folder.
        """
        name = type(self).__name__
        meta = ModelCardData(library_name="pytorch", tags=[t for t in CARD_TAGS if "mixin" in t])
        return ModelCard("\n".join([
            "---", meta.to_yaml(), "---", "", f"# {name}", "",
            f"`config.json` and `model.safetensors` of a `{name}` from the `cyclegan` package of the black2blond "
            f"project, written by `save_pretrained`. Load it with `{name}.from_pretrained(<this folder or repo>)`.",
            ""]))

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write model.safetensors; contiguous CPU copies, since training keeps weights channels_last."""
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(Path(save_directory) / WEIGHTS_NAME))

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision=None,
        cache_dir=None,
        force_download: bool = False,
        local_files_only: bool = False,
        token=None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ):
        """Build from config.json (the mixin passes it as model_kwargs), load weights strictly."""
        weights_file = resolve_weights_file(model_id, revision, cache_dir, force_download, local_files_only, token)
        model = cls(**model_kwargs)
        load_weights(model, weights_file, map_location=map_location, strict=strict)
        return model


def resolve_weights_file(model_id: str, revision=None, cache_dir=None, force_download=False,
                         local_files_only=False, token=None) -> Path:
    """model.safetensors of a save_pretrained folder, or downloaded from a Hub repo id."""
    if Path(model_id).is_dir():
        if not (Path(model_id) / "config.json").is_file():
            raise FileNotFoundError(f"{model_id} has no config.json; was it written by save_pretrained?")
        weights_file = Path(model_id) / WEIGHTS_NAME
        if not weights_file.is_file():
            raise FileNotFoundError(f"{model_id} has no {WEIGHTS_NAME}; was it written by save_pretrained?")
        return weights_file
    return Path(hf_hub_download(
        repo_id=model_id, filename=WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
        force_download=force_download, local_files_only=local_files_only, token=token,
    ))


def load_weights(model: nn.Module, weights_file, map_location="cpu", strict: bool = True) -> None:
    """Load a safetensors file into `model`, checking names and shapes first.

    Raises ValueError naming every missing, unexpected or misshapen tensor (with
    strict=False only the shapes are checked) and for a file that is not valid
    safetensors. Tensors stored in another float dtype (e.g. fp16) are cast.
    """
    try:
        state = load_file(str(weights_file), device=str(map_location))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"cannot read weights {weights_file}: {e} (corrupt or not a safetensors file?)") from e
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected)) if state[k].shape != expected[k].shape
    ]
    problems = []
    if misshapen:
        problems.append(f"wrong shape: {misshapen}")
    if strict and missing:
        problems.append(f"missing: {missing}")
    if strict and unexpected:
        problems.append(f"unexpected: {unexpected}")
    if problems:
        raise ValueError(
            f"weights {weights_file} do not fit {type(model).__name__} as configured ({'; '.join(problems)}); "
            "check that config.json belongs to these weights"
        )
    model.load_state_dict(state, strict=strict)
    model.to(map_location)
