"""Loading and saving models through the Hugging Face Hub mixin: safetensors only, strictly.

`StrictHubMixin` is huggingface_hub's PyTorchModelHubMixin with three changes: loading
fails loudly, naming every missing, unexpected or misshapen tensor (the mixin's default
is not strict); weights are always written as contiguous CPU tensors; and a path that
does not exist is reported as such instead of being tried as a Hub repo id.
"""

import json
import shutil
import tempfile
from pathlib import Path

import httpx2  # huggingface_hub's HTTP client
import torch.nn as nn
from huggingface_hub import HfApi, ModelCard, ModelCardData, PyTorchModelHubMixin, get_token, hf_hub_download
from huggingface_hub import constants
from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError, RemoteEntryNotFoundError,
                                    RepositoryNotFoundError, RevisionNotFoundError)
from huggingface_hub.repocard import metadata_load, metadata_save
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .inference import image_to_tensor, sample_grid

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




# Publishing a pair and loading it back

CARD_TAGS = ["cyclegan", "image-to-image", "unpaired-image-translation", "pytorch_model_hub_mixin", "model_hub_mixin"]
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


class HubPushError(RuntimeError):
    """Publishing failed; the message says what was published, what was not, and what to do."""


def reverse_repo_id(repo_id: str, source_domain: str, target_domain: str) -> str:
    """The repo of the opposite direction in the same namespace: user/black2blond -> user/blond2black."""
    namespace = repo_id.rsplit("/", 1)[0] + "/" if "/" in repo_id else ""
    return f"{namespace}{target_domain}2{source_domain}"


def model_card(config: dict, repo_id: str = None, reverse_id: str = None, training: dict = None,
               evaluation: dict = None, sample: str = None) -> str:
    """The README.md of a generator, from data: its config.json, training.json and eval.json.

    The same card for a Hub repo (push_pair) and a local save_pretrained folder
    (Generator.generate_model_card), which has no repo ids.

    Args:
        config (`dict`): the generator's config.json (source_domain, target_domain, image_size, ...).
        repo_id (`str`, *optional*), reverse_id (`str`, *optional*): this repo and the one of the
            opposite direction; without them the card describes a local folder whose reverse is
            the sibling folder <b>2<a>, which load_pair finds by itself.
        training (`dict`, *optional*): training.json written by train/run.py ({"steps", "config"}).
        evaluation (`dict`, *optional*): eval.json of train/evaluate.py (both directions).
        sample (`str`, *optional*): file name of a sample image uploaded next to the card.
    """
    src, tgt = config["source_domain"], config["target_domain"]
    name = f"{src}2{tgt}"
    on_hub = repo_id is not None
    reverse_name = f"{tgt}2{src}"
    if on_hub:
        reverse_id = reverse_id or reverse_repo_id(repo_id, src, tgt)
    meta = ModelCardData(
        library_name="pytorch", pipeline_tag="image-to-image", tags=CARD_TAGS, datasets=["celeba"],
        license="other", license_name="celeba-research-only", license_link=CELEBA_URL,
        reverse_model=reverse_id,  # read by load_pair to find the opposite direction (None: not written)
    )
    size = config.get("image_size", 128)
    reverse = (f"[{reverse_id}](https://huggingface.co/{reverse_id})" if on_hub else
               f"the generator folder `{reverse_name}` next to this one")
    lines = [
        "---", meta.to_yaml(), "---", "",
        f"# {name}: {src} hair -> {tgt} hair (CycleGAN)", "",
        f"One direction of a CycleGAN pair ([Zhu et al. 2017](https://arxiv.org/abs/1703.10593)) trained "
        f"without paired images: this generator turns {size}x{size} face photos of people with {src} hair into "
        f"{tgt} hair. The opposite direction is {reverse}.", "",
    ]
    if sample:
        lines += [f"![input, translation, reconstruction]({sample})", "",
                  f"Input | {name} | back through {reverse_name}, on an example photo "
                  "from outside the training data.", ""]
    lines += [
        "## Use", "",
        "With the `cyclegan` package of the black2blond project on the Python path:", "",
        "```python",
        "from PIL import Image",
        "from cyclegan.hub import load_pair",
        "from cyclegan.inference import translate_image",
        f'G, G_back = load_pair("{repo_id or "path/to/" + name}")  # {src} -> {tgt}, and {tgt} -> {src}',
        f'face = Image.open("face.jpg").convert("RGB").resize(({size}, {size}))  # an aligned face crop',
        "translation, reconstruction = translate_image(face, G, G_back)",
        f'translation.save("{tgt}.png")',
        "```", "",
        "## Architecture", "",
        f"ResNet generator as in the paper: c7s1-{config.get('ngf', 64)}, two stride-2 downsamplings, "
        f"{config.get('n_blocks', 9)} residual blocks, two upsamplings "
        f"({'transposed convolutions' if config.get('upsample', 'deconv') == 'deconv' else 'nearest-neighbour resize + 3x3 convolution'}), "
        + ("then a 7x7 layer predicting content C (tanh) and a one-channel mask M (sigmoid); the output is "
           "M * C + (1 - M) * x, so the generator changes the photo only where M is on (attention-guided, "
           "Mejjati et al. 2018)" if config.get("attention") else "c7s1-3 with tanh")
        + "; reflection padding, instance norm.", "",
    ]
    if training:
        c = training.get("config", {})
        keys = ["image_size", "ngf", "n_blocks", "upsample", "attention", "ndf", "n_layers_d", "lambda_cycle",
                "lambda_cycle_b", "lambda_identity", "lambda_mask", "lambda_mask_tv", "lambda_mask_face",
                "lambda_mask_edge", "cycle_noise", "mask_start", "mask_warmup", "d_warmup", "d_negatives", "pool_size",
                "lr", "beta1", "batch_size", "epochs", "epochs_decay", "epoch_size", "balance_male", "ema_decay",
                "precision", "seed"]
        data = ("the CelebA train partition" if c.get("celeba_root") or not c.get("data_a")
                else f"the image folders {Path(c['data_a']).name}/ and {Path(c['data_b']).name}/")
        averaged = (" These weights are the exponential moving average of the trained ones (Yazici et al. 2019)."
                    if training.get("averaged") else "")
        start = ""
        if c.get("init_from"):
            warmup = (f"; its first {c['d_warmup']} steps trained only the fresh discriminators"
                      if c.get("d_warmup") else "")
            start = f" Started from an already trained pair (`{c['init_from']}`){warmup}."
        lines += ["## Training", "",
                  f"{training.get('steps', '?')} steps of the CycleGAN objective (LSGAN, cycle loss, identity loss, "
                  f"50-image history pool, Adam) on {data}.{start}{averaged}", "",
                  "| setting | value |", "| --- | --- |"]
        shown = [k for k in keys if k in c and not (k == "lambda_cycle_b" and not c[k])]  # 0 = lambda_cycle
        lines += [f"| {k} | {c[k]} |" for k in shown] + [""]
    ev = (evaluation or {}).get(name)
    if ev:
        rows = [("success: the classifier sees the target hair colour", "success_rate", "%"),
                ("success (men)", "success_rate_male", "%"), ("success (women)", "success_rate_female", "%"),
                ("gender kept (all)", "gender_kept", "%"), ("gender kept (men)", "gender_kept_male", "%"),
                ("gender kept (women)", "gender_kept_female", "%"), ("face PSNR (dB)", "face_psnr", ""),
                ("face SSIM", "face_ssim", ""), ("cycle PSNR (dB)", "cycle_psnr", "")]
        fmt = lambda v, unit: f"{100 * v:.1f}%" if unit else f"{v:.2f}"
        lines += ["## Evaluation", "",
                  f"`train/evaluate.py` on the {evaluation.get('split', 'val')} partition of CelebA ({ev['n']} "
                  f"{src}-haired faces), against the identity mapping (output = input) and a plain colour shift:", "",
                  "| | this model | identity | colour shift |", "| --- | --- | --- | --- |"]
        lines += [f"| {label} | {fmt(ev['model'][k], u)} | {fmt(ev['identity'][k], u)} | "
                  f"{fmt(ev['colour_shift'][k], u)} |" for label, k, u in rows if k in ev["model"]] + [""]
    lines += [
        "## Limits", "",
        f"- Trained on CelebA's aligned celebrity faces at {size}x{size}: expect it to work on similar crops "
        "(face centred, some hair and background), less well on other framings, lighting and ages.",
        "- A CycleGAN can make its reconstruction look perfect by hiding information in the translation, "
        "so a good reconstruction does not prove the translation is faithful.",
        f"- The weights derive from [CelebA]({CELEBA_URL}), which is licensed for non-commercial research "
        "only; the same restriction applies to this model.", "",
    ]
    return "\n".join(lines)


def writer(token: str = None) -> dict:
    """whoami of a token that can write ({"name", "orgs", ...}); the token defaults to HF_TOKEN
    or the cached login. Raises HubPushError saying what to do: no token, a refused or
    read-only one, or a Hub that cannot be reached."""
    token = token or get_token()
    if not token:
        raise HubPushError("no Hugging Face token: log in with `hf auth login`, set HF_TOKEN, or pass --token "
                           "(a token with write access, from https://huggingface.co/settings/tokens)")
    try:
        who = HfApi(token=token).whoami()
    except HfHubHTTPError as e:
        if e.response is None:
            raise HubPushError(f"cannot reach the Hub at {constants.ENDPOINT}: {e}") from e
        raise HubPushError(f"the Hub refused the token ({e.response.status_code}): it is invalid or expired; "
                           "log in again with `hf auth login` or pass another --token") from e
    except (OSError, httpx2.TransportError) as e:  # no network: connection refused, DNS, timeout
        raise HubPushError(f"cannot reach the Hub at {constants.ENDPOINT}: {type(e).__name__}: {e}") from e
    if who.get("auth", {}).get("accessToken", {}).get("role") == "read":
        raise HubPushError(f"the token of {who['name']} is read-only; pushing needs a write token "
                           "(https://huggingface.co/settings/tokens)")
    return who


def namespaces(who: dict) -> set:
    """Where the whoami answer `who` may write: the user's own name and their organisations."""
    return {who["name"]} | {org["name"] for org in who.get("orgs", [])}


def failure(e: Exception, repo_id: str) -> str:
    """Why an upload to `repo_id` failed, in words."""
    status = e.response.status_code if isinstance(e, HfHubHTTPError) and e.response is not None else None
    if status == 403:
        return f"no write access to {repo_id} (it belongs to someone else, or the token cannot write)"
    if "xet-write-token" in str(e) and "404" in str(e):  # hf_xet's own error, when it is installed
        return (f"the Hub at {constants.ENDPOINT} does not offer Xet storage, which huggingface_hub uses for large "
                "files when the hf_xet package is installed: set HF_HUB_DISABLE_XET=1 to upload them through Git LFS")
    return f"{type(e).__name__}: {e}"


def push_pair(folders, repo_id: str, reverse_id: str = None, *, evaluation: dict = None, sample_image=None,
              private: bool = None, token: str = None, commit_message: str = None, revision: str = None) -> list:
    """Publish two save_pretrained folders (A->B, B->A) as two Hub repos, each with a model card.

    Args:
        folders (`tuple`): the A->B and B->A generator folders (config.json, model.safetensors,
            optionally training.json).
        repo_id (`str`): where A->B goes, e.g. "user/black2blond".
        reverse_id (`str`, *optional*): where B->A goes; defaults to the mirror name, "user/blond2black".
        evaluation (`dict`, *optional*): eval.json of train/evaluate.py, shown in the cards.
        sample_image (*optional*): a face photo; the cards show it translated and reconstructed.
        private, token, commit_message, revision: as in huggingface_hub; the token defaults to
            HF_TOKEN or the cached login; revision is a branch, created when missing.
    Returns:
        The commit URLs, one per repo.
    Raises:
        HubPushError: no or a read-only token, a namespace that is not the user's, or an upload
            that failed; it names what was already published.
    """
    from .networks import Generator  # networks imports this module

    folders = [Path(f) for f in folders]
    configs = [json.loads((f / "config.json").read_text()) for f in folders]
    src, tgt = configs[0]["source_domain"], configs[0]["target_domain"]
    reverse_id = reverse_id or reverse_repo_id(repo_id, src, tgt)
    token = token or get_token()
    api = HfApi(token=token)
    who = writer(token)
    mine = namespaces(who)
    for rid in (repo_id, reverse_id):
        if "/" in rid and rid.split("/")[0] not in mine:
            raise HubPushError(f"cannot push to {rid}: its namespace '{rid.split('/')[0]}' is not yours "
                               f"({who['name']}) nor one of your organisations; choose a repo id under your name")

    samples = [None, None]
    if sample_image is not None:  # input | translation | reconstruction, for each direction
        G_AB, G_BA = (Generator.from_pretrained(f) for f in folders)
        size = configs[0].get("image_size", 128)
        face = image_to_tensor(Image.open(sample_image).convert("RGB").resize((size, size), Image.LANCZOS))
        samples = [sample_grid(G_AB, G_BA, face, face[:0], "fp32"), sample_grid(G_BA, G_AB, face, face[:0], "fp32")]

    published, urls = [], []
    for folder, config, rid, other, sample in ((folders[0], configs[0], repo_id, reverse_id, samples[0]),
                                               (folders[1], configs[1], reverse_id, repo_id, samples[1])):
        training_file = folder / "training.json"
        training = json.loads(training_file.read_text()) if training_file.is_file() else None
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("config.json", WEIGHTS_NAME, "training.json"):
                if (folder / name).is_file():
                    shutil.copy(folder / name, tmp)
            if sample is not None:
                sample.save(Path(tmp) / "sample.png")
            card = model_card(config, rid, other, training, evaluation, "sample.png" if sample else None)
            (Path(tmp) / "README.md").write_text(card)
            try:
                api.create_repo(rid, private=private, exist_ok=True)
                if revision and revision != "main":
                    api.create_branch(rid, branch=revision, exist_ok=True)
                info = api.upload_folder(repo_id=rid, folder_path=tmp, revision=revision,
                                         commit_message=commit_message or f"Upload {rid.rsplit('/', 1)[-1]}")
            except Exception as e:  # one commit per repo: a failed upload leaves that repo as it was
                done = f"already published: {', '.join(published)}" if published else "nothing was published"
                raise HubPushError(f"pushing {rid} failed: {failure(e, rid)}; {done}. Pushing again is safe.") from e
        published.append(rid)
        urls.append(info.commit_url)
    return urls


def load_pair(name: str, reverse: str = None, **kwargs):
    """(G, G_back): the generator `name` and the one of the opposite direction, e.g. for black2blond
    the black -> blond generator and blond -> black.

    Args:
        name (`str`): a Hub repo id ("user/black2blond") or a save_pretrained folder.
        reverse (`str`, *optional*): where the opposite direction is. By default the
            `reverse_model` of the model card (README.md) when there is one, else the mirror
            name from the domains: "user/blond2black", or the sibling folder "blond2black".
        **kwargs: passed to both `from_pretrained` calls (revision, cache_dir,
            local_files_only, token, map_location, ...).
    """
    from .networks import Generator  # networks imports this module
    G = Generator.from_pretrained(name, **kwargs)
    if reverse is None:
        reverse = _card_metadata(name, kwargs).get("reverse_model")
    if reverse is None:
        mirror = f"{G.target_domain}2{G.source_domain}"
        reverse = str(Path(name).parent / mirror) if Path(name).is_dir() else reverse_repo_id(
            name, G.source_domain, G.target_domain)
    G_back = Generator.from_pretrained(reverse, **kwargs)
    if (G_back.source_domain, G_back.target_domain) != (G.target_domain, G.source_domain):
        raise ValueError(f"{reverse} maps {G_back.source_domain} -> {G_back.target_domain}, not "
                         f"{G.target_domain} -> {G.source_domain}: it is not the reverse of {name}")
    return G, G_back


def _card_metadata(name: str, kwargs: dict) -> dict:
    """The YAML metadata of a folder's or repo's README.md; {} when there is none."""
    if Path(name).is_dir():
        card = Path(name) / "README.md"
        return (metadata_load(card) or {}) if card.is_file() else {}
    keys = ("revision", "cache_dir", "local_files_only", "token", "force_download")
    try:
        card = hf_hub_download(repo_id=name, filename="README.md", **{k: kwargs[k] for k in keys if k in kwargs})
    except (RemoteEntryNotFoundError, LocalEntryNotFoundError):
        return {}
    return metadata_load(card) or {}


# Deploying the page as a Hugging Face Space

SPACE_FILES = ["app.py", "requirements.txt", "README.md", ".gitattributes", "cyclegan/*.py", "weights/**/*",
               "examples/*"]  # what the Space runs; never tests, runs or caches


def push_space(space_id: str, root, models: list = (), *, private: bool = None, token: str = None,
               commit_message: str = None) -> str:
    """Upload the page (app.py, cyclegan/, weights/, examples/, README.md, requirements.txt,
    .gitattributes) from the checkout `root` to the Gradio Space `space_id`, created when missing.

    `models` (the published pair's repo ids) go into the front matter's `models:`, which
    links the Space to them on the Hub and names them in the page's model-card link.
    Binary files go up as LFS, as the .gitattributes says. Returns the commit URL; raises
    HubPushError as push_pair does.
    """
    root = Path(root)
    who = writer(token)
    mine = namespaces(who)
    if "/" not in space_id or space_id.split("/")[0] not in mine:
        raise HubPushError(f"cannot deploy to {space_id}: give it as <your user or organisation>/<name>, "
                           f"e.g. {who['name']}/black2blond-demo")
    missing = [p for p in ("app.py", "weights", ".gitattributes") if not (root / p).exists()]
    if missing:
        raise HubPushError(f"{root} is not a black2blond checkout: no {', '.join(missing)}")
    api = HfApi(token=token or get_token())
    with tempfile.TemporaryDirectory() as tmp:
        for pattern in SPACE_FILES:
            for f in root.glob(pattern):
                if f.is_file() and "__pycache__" not in f.parts:
                    (Path(tmp) / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(f, Path(tmp) / f.relative_to(root))
        readme = Path(tmp) / "README.md"  # its front matter's models: the published pair
        metadata_save(readme, {**metadata_load(readme), "models": list(models)})
        try:
            api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
            info = api.upload_folder(repo_id=space_id, repo_type="space", folder_path=tmp,
                                     commit_message=commit_message or "Deploy black2blond")
        except Exception as e:
            raise HubPushError(f"deploying {space_id} failed: {failure(e, space_id)}; the Space is as it was. "
                               "Deploying again is safe.") from e
    return info.commit_url
