"""Publishing a generator pair on the Hugging Face Hub (with model cards and samples) and loading it back.

Saving and strict safetensors loading of one model is cyclegan.mixin (StrictHubMixin); the
cards' text is cyclegan.cards.
"""

import json
import shutil
import tempfile
from pathlib import Path

import httpx2  # huggingface_hub's HTTP client
from huggingface_hub import HfApi, constants, get_token, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RemoteEntryNotFoundError
from huggingface_hub.repocard import metadata_load, metadata_save
from PIL import Image

from .cards import model_card, reverse_repo_id
from .inference import image_to_tensor, sample_grid
from .mixin import WEIGHTS_NAME
from .networks import Generator


class HubPushError(RuntimeError):
    """Publishing failed; the message says what was published, what was not, and what to do."""


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


def push_pair(folders, repo_id: str, reverse_id: str = None, *, evaluation: dict = None, selection: dict = None,
              sample_image=None, private: bool = None, token: str = None, commit_message: str = None,
              revision: str = None) -> list:
    """Publish two save_pretrained folders (A->B, B->A) as two Hub repos, each with a model card.

    Args:
        folders (`tuple`): the A->B and B->A generator folders (config.json, model.safetensors,
            optionally training.json).
        repo_id (`str`): where A->B goes, e.g. "user/black2blond".
        reverse_id (`str`, *optional*): where B->A goes; defaults to the mirror name, "user/blond2black".
        evaluation (`dict`, *optional*): eval.json of train/evaluate.py, shown in the cards.
        selection (`dict`, *optional*): selection.json of train/evaluate.py --snapshots, shown in the cards.
        sample_image (*optional*): a face photo; the cards show it translated and reconstructed.
        private, token, commit_message, revision: as in huggingface_hub; the token defaults to
            HF_TOKEN or the cached login; revision is a branch, created when missing.
    Returns:
        The commit URLs, one per repo.
    Raises:
        HubPushError: no or a read-only token, a namespace that is not the user's, or an upload
            that failed; it names what was already published.
    """

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
            card = model_card(config, rid, other, training, evaluation, "sample.png" if sample else None, selection)
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
               "examples/*", "docs/*.jpg"]  # what the Space runs and its README shows; never tests, runs or caches


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
