"""Publishing to and loading from the Hub over real HTTP, against tests/hub_server.py.

huggingface_hub runs unmocked in subprocesses whose HF_ENDPOINT points at the test server
on 127.0.0.1 and whose HF_HOME is fresh and empty, so every push and load goes through
the library's own HTTP code: create_repo, validate-yaml, preupload, commit, the Git LFS
batch upload, HEAD + GET downloads and the cache. Not exercised: the Xet upload protocol
the production Hub uses for large files (the subprocesses set HF_HUB_DISABLE_XET=1, so
LFS files take the classic LFS batch API), and the Hub's CDN redirects.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from conftest import REPO, free_port
from cyclegan.networks import Generator
from hub_server import HubServer

TOKEN = "hf_alice_write"
SMALL = dict(ngf=4, n_blocks=1, image_size=32)


@pytest.fixture
def hub():
    server = HubServer(users={TOKEN: "alice", "hf_bob_write": "bob"}, read_tokens={"hf_alice_read"}).start()
    yield server
    server.stop()


@pytest.fixture
def pair_dir(tmp_path):
    """weights/black2blond and weights/blond2black (tiny, random) plus an eval.json."""
    weights = tmp_path / "weights"
    for seed, (src, tgt) in enumerate((("black", "blond"), ("blond", "black"))):
        torch.manual_seed(seed)
        Generator(source_domain=src, target_domain=tgt, **SMALL).save_pretrained(weights / f"{src}2{tgt}")
    (weights / "black2blond" / "training.json").write_text(json.dumps({"steps": 7, "config": {"lambda_cycle": 10.0}}))
    figures = {"success_rate": 0.5, "success_rate_male": 0.25, "gender_kept": 0.9, "face_psnr": 20.0, "face_ssim": 0.5,
               "cycle_psnr": 22.0}
    (weights / "eval.json").write_text(json.dumps({"split": "val", "black2blond": {
        "n": 3, "model": figures, "identity": figures, "colour_shift": figures}}))
    return weights


def hf_env(hub, home, **extra):
    """Environment of a fresh Hub client: our endpoint, an empty HF_HOME, no inherited token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"HF_ENDPOINT": hub.url if hub else "http://127.0.0.1:9", "HF_HOME": str(home),
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1", "PYTHONPATH": str(REPO),
                "PYTHONWARNINGS": "ignore", **extra})
    return env


def push(hub, tmp_path, *args, **env):
    cmd = [sys.executable, str(REPO / "train" / "push.py"), *map(str, args)]
    return subprocess.run(cmd, env=hf_env(hub, tmp_path / "push_home", **env), capture_output=True, text=True,
                          timeout=120)


LOAD = """
import sys
from safetensors.torch import save_file
from cyclegan.hub import load_pair
G, G_back = load_pair(sys.argv[1], **eval(sys.argv[2]))
save_file({**{"G." + k: v for k, v in G.state_dict().items()}, **{"B." + k: v for k, v in G_back.state_dict().items()}},
          sys.argv[3])
print(G.source_domain, G.target_domain, G_back.source_domain, G_back.target_domain)
"""


def load(hub, home, repo_id, out, kwargs="{}", **env):
    """load_pair(repo_id) in a fresh process; its tensors saved to `out`."""
    return subprocess.run([sys.executable, "-c", LOAD, repo_id, kwargs, str(out)], env=hf_env(hub, home, **env),
                          capture_output=True, text=True, timeout=120)


def assert_same_weights(saved_file, pair_dir):
    tensors = load_file(str(saved_file))
    for prefix, folder in (("G.", "black2blond"), ("B.", "blond2black")):
        original = load_file(str(pair_dir / folder / "model.safetensors"))
        assert set(original) == {k[2:] for k in tensors if k.startswith(prefix)}
        for k, v in original.items():
            assert torch.equal(v, tensors[prefix + k]), f"{folder}: {k}"


def test_push_then_load_by_repo_id_in_a_fresh_process(hub, pair_dir, tmp_path):
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", "--token", TOKEN)
    assert result.returncode == 0, result.stderr
    assert re.findall(r"published (\S+)", result.stdout) == [
        f"{hub.url}/alice/black2blond/commit/{hub.repos['alice/black2blond']['branches']['main']}",
        f"{hub.url}/alice/blond2black/commit/{hub.repos['alice/blond2black']['branches']['main']}"]
    # exactly the expected files, the weights byte for byte, LFS the way the preupload answer asked
    assert set(hub.files("alice/black2blond")) == {"README.md", "config.json", "model.safetensors", "training.json",
                                                   "sample.png"}
    assert set(hub.files("alice/blond2black")) == {"README.md", "config.json", "model.safetensors", "sample.png"}
    assert hub.files("alice/black2blond")["model.safetensors"] == (pair_dir / "black2blond" / "model.safetensors").read_bytes()
    assert ("POST", "/alice/black2blond.git/info/lfs/objects/batch") in hub.requests
    assert sum(method == "PUT" for method, _ in hub.requests) == 4  # 2 x (weights + sample)
    assert ("POST", "/api/validate-yaml") in hub.requests

    result = load(hub, tmp_path / "fresh_home", "alice/black2blond", tmp_path / "loaded.safetensors")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["black", "blond", "blond", "black"]
    assert_same_weights(tmp_path / "loaded.safetensors", pair_dir)
    assert any(path.startswith("/alice/blond2black/resolve/") for _, path in hub.requests)

    # the same pair from the cache alone: no server, HF_HUB_OFFLINE=1
    hub.stop()
    result = load(None, tmp_path / "fresh_home", "alice/black2blond", tmp_path / "offline.safetensors",
                  HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    assert_same_weights(tmp_path / "offline.safetensors", pair_dir)
    result = load(None, tmp_path / "other_home", "alice/black2blond", tmp_path / "local.safetensors",
                  f"{{'local_files_only': True, 'cache_dir': {str(tmp_path / 'fresh_home' / 'hub')!r}}}")
    assert result.returncode == 0, result.stderr
    assert_same_weights(tmp_path / "local.safetensors", pair_dir)


def test_regular_uploads_and_a_branch(hub, pair_dir, tmp_path):
    hub.lfs_suffixes = ()  # the server asks for every file as a regular git blob
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", "--token", TOKEN, "--revision", "v1",
                  "--commit-message", "first pair", "--no-sample")
    assert result.returncode == 0, result.stderr
    assert not any("lfs" in path for _, path in hub.requests)
    assert hub.files("alice/black2blond", "main") == {}  # only the branch got the files
    assert set(hub.files("alice/black2blond", "v1")) == {"README.md", "config.json", "model.safetensors",
                                                         "training.json"}
    assert hub.commit_messages("alice/blond2black", "v1")[0] == "first pair"
    result = load(hub, tmp_path / "home", "alice/black2blond", tmp_path / "v1.safetensors", "{'revision': 'v1'}")
    assert result.returncode == 0, result.stderr
    assert_same_weights(tmp_path / "v1.safetensors", pair_dir)


def test_the_card_has_valid_metadata_and_its_code_runs(hub, pair_dir, tmp_path):
    assert push(hub, tmp_path, pair_dir, "alice/black2blond", "--token", TOKEN).returncode == 0
    card = hub.files("alice/black2blond")["README.md"].decode()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "pytorch" and meta["pipeline_tag"] == "image-to-image"
    assert {"cyclegan", "image-to-image", "unpaired-image-translation"} <= set(meta["tags"])
    assert meta["datasets"] == ["celeba"] and meta["license"] == "other"
    assert meta["reverse_model"] == "alice/blond2black"
    assert yaml.safe_load(hub.files("alice/blond2black")["README.md"].decode().split("---")[1])[
        "reverse_model"] == "alice/black2blond"
    assert "https://huggingface.co/alice/blond2black" in card and "![input, translation, reconstruction](sample.png)" in card
    assert "| success: the classifier sees the target hair colour | 50.0% |" in card  # from eval.json
    assert "| success (men) | 25.0% |" in card and "success (women)" not in card  # only the figures it has
    assert "7 steps" in card and "| lambda_cycle | 10.0 |" in card  # from training.json
    assert "non-commercial research" in card
    assert Image.open(__import__("io").BytesIO(hub.files("alice/black2blond")["sample.png"])).size == (96, 32)

    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    workdir = tmp_path / "user"
    workdir.mkdir()
    Image.open(REPO / "examples" / "astronaut_face.jpg").save(workdir / "face.jpg")
    result = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=hf_env(hub, tmp_path / "card_home"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    blond = Image.open(workdir / "blond.png")
    assert blond.size == (32, 32) and blond.getextrema() != ((0, 0), (0, 0), (0, 0))


def test_loading_an_unknown_repo_raises_the_hubs_not_found_error_with_a_clear_message(hub, tmp_path):
    result = load(hub, tmp_path / "home", "alice/nothing-here", tmp_path / "x.safetensors")
    assert result.returncode != 0
    assert "RepositoryNotFoundError: no model repo 'alice/nothing-here' on " + hub.url in result.stderr


@pytest.mark.parametrize("env,args,message", [
    ({}, [], "no Hugging Face token: log in with `hf auth login`"),
    ({}, ["--token", "hf_wrong"], "the Hub refused the token (401)"),
    ({"HF_TOKEN": "hf_alice_read"}, [], "read-only"),
    ({"HF_TOKEN": TOKEN}, ["--reverse-repo-id", "bob/blond2black"], "cannot push to bob/blond2black: its namespace 'bob' is not yours"),
])
def test_push_refusals_say_what_to_do_and_publish_nothing(hub, pair_dir, tmp_path, env, args, message):
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", *args, **env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert hub.repos == {}


def test_a_network_failure_mid_push_is_not_reported_as_success(hub, pair_dir, tmp_path):
    hub.fail_commits = {"alice/blond2black"}  # the second repo's commit loses its connection
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", "--token", TOKEN)
    assert result.returncode == 1
    assert "pushing alice/blond2black failed" in result.stderr
    assert "already published: alice/black2blond. Pushing again is safe." in result.stderr
    assert "published http" not in result.stdout
    assert "model.safetensors" in hub.files("alice/black2blond")
    assert hub.files("alice/blond2black") == {}  # created, but no half commit

    hub.fail_commits = set()  # and a second push completes it
    assert push(hub, tmp_path, pair_dir, "alice/black2blond", "--token", TOKEN).returncode == 0
    assert "model.safetensors" in hub.files("alice/blond2black")


def test_a_repo_the_server_will_not_let_us_write_is_a_clear_error(hub, pair_dir, tmp_path):
    hub.deny_writes = {"alice/blond2black"}  # e.g. a repo of an organisation where the user may only read
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", "--token", TOKEN)
    assert result.returncode == 1
    assert "pushing alice/blond2black failed: no write access to alice/blond2black" in result.stderr
    assert "already published: alice/black2blond" in result.stderr


def train_cmd(folders, out, *extra) -> list:
    """train/run.py on two image folders with networks small enough for a CPU step in milliseconds."""
    return [sys.executable, str(REPO / "train" / "run.py"), "--data-a", str(folders[0]), "--data-b", str(folders[1]),
            "--out", str(out), "--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--image-size", "32", "--precision",
            "fp32", "--no-compile", *extra]


def test_push_cli_argument_errors(pair_dir, tmp_path):
    result = push(None, tmp_path, pair_dir, "alice/b2b")
    assert result.returncode == 2
    assert "no generator folder" in result.stderr and "['black2blond', 'blond2black']" in result.stderr


def test_training_run_publishes_when_it_finishes(hub, image_folders, tmp_path):
    out = tmp_path / "run"
    cmd = train_cmd(image_folders, out, "--max-steps", "2", "--push-to-hub", "--hub-repo-id", "alice/a2b", "--no-sample")
    result = subprocess.run(cmd, env=hf_env(hub, tmp_path / "home", HF_TOKEN=TOKEN), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # the domains are named after the folders: trainA -> trainB is alice/a2b, its mirror alice/trainB2trainA
    assert json.loads(hub.files("alice/a2b")["training.json"])["steps"] == 2
    assert hub.files("alice/a2b")["model.safetensors"] == (out / "trainA2trainB" / "model.safetensors").read_bytes()
    assert "model.safetensors" in hub.files("alice/trainB2trainA")


def test_training_publishes_to_the_token_users_namespace_by_default(hub, image_folders, tmp_path):
    out = tmp_path / "run"
    cmd = train_cmd(image_folders, out, "--max-steps", "1", "--push-to-hub", "--no-sample")
    result = subprocess.run(cmd, env=hf_env(hub, tmp_path / "home", HF_TOKEN=TOKEN), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "publishing to alice/trainA2trainB and alice/trainB2trainA" in result.stdout  # said at the start
    assert hub.files("alice/trainA2trainB")["model.safetensors"] == (
        out / "trainA2trainB" / "model.safetensors").read_bytes()
    assert "model.safetensors" in hub.files("alice/trainB2trainA")


@pytest.mark.parametrize("flags,env,message", [
    (["--push-to-hub"], {}, "--push-to-hub: no Hugging Face token"),
    (["--push-to-hub", "--hub-repo-id", "alice/a2b"], {"HF_TOKEN": TOKEN}, "--push-to-hub: cannot reach the Hub"),
])
def test_training_with_push_checks_its_settings_before_training(image_folders, tmp_path, flags, env, message):
    a, b = image_folders
    cmd = [sys.executable, str(REPO / "train" / "run.py"), "--data-a", str(a), "--data-b", str(b),
           "--out", str(tmp_path / "run"), *flags]
    result = subprocess.run(cmd, env=hf_env(None, tmp_path / "home", **env), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "run").exists()


def test_load_pair_from_folders_finds_the_sibling_and_checks_it_is_the_reverse(pair_dir):
    from cyclegan.hub import load_pair
    G, G_back = load_pair(str(pair_dir / "black2blond"))
    assert (G.source_domain, G.target_domain, G_back.source_domain, G_back.target_domain) == (
        "black", "blond", "blond", "black")
    assert torch.equal(G_back.state_dict()["model.1.weight"],
                       load_file(str(pair_dir / "blond2black" / "model.safetensors"))["model.1.weight"])
    with pytest.raises(ValueError, match="maps black -> blond, not blond -> black: it is not the reverse"):
        load_pair(str(pair_dir / "black2blond"), reverse=str(pair_dir / "black2blond"))


def test_load_pair_takes_the_reverse_the_model_card_names(pair_dir, tmp_path):
    from cyclegan.hub import load_pair
    # the reverse under a name that is not the mirror's: only the card says where it is
    (pair_dir / "blond2black").rename(tmp_path / "darker")
    (pair_dir / "black2blond" / "README.md").write_text(f"---\nreverse_model: {tmp_path / 'darker'}\n---\n")
    G, G_back = load_pair(str(pair_dir / "black2blond"))
    assert (G_back.source_domain, G_back.target_domain) == ("blond", "black")
    assert torch.equal(G_back.state_dict()["model.1.weight"],
                       load_file(str(tmp_path / "darker" / "model.safetensors"))["model.1.weight"])


def test_one_line_deploys_the_pair_and_the_space_that_names_it(hub, pair_dir, tmp_path):
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", "--space", "alice/demo", "--no-sample",
                  HF_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert "deployed" in result.stdout and "naming alice/black2blond, alice/blond2black" in result.stdout
    files = hub.files("spaces/alice/demo")
    assert {"app.py", "requirements.txt", "README.md", ".gitattributes", "cyclegan/networks.py",
            "weights/black2blond/model.safetensors", "weights/blond2black/config.json",
            "examples/astronaut.jpg"} <= set(files)
    assert not [p for p in files if p.startswith(("tests/", "train/", "runs/", ".venv/")) or "__pycache__" in p]
    assert files["weights/black2blond/model.safetensors"] == (REPO / "weights/black2blond/model.safetensors").read_bytes()
    lfs = hub.commits[hub.repos["spaces/alice/demo"]["branches"]["main"]]["lfs"]
    assert {p for p in files if p.endswith((".safetensors", ".jpg", ".png"))} <= lfs and "app.py" not in lfs
    readme = files["README.md"].decode()
    assert yaml.safe_load(readme.split("---")[1])["models"] == ["alice/black2blond", "alice/blond2black"]
    assert readme.split("---", 2)[2] == (REPO / "README.md").read_text().split("---", 2)[2]  # the rest as it is

    # the Space downloaded into an empty folder, as the Hub builds it: its files alone run the page, which
    # links the published pair and translates an example
    space = tmp_path / "space"
    code = "import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1], " \
           "repo_type='space', local_dir=sys.argv[2])"
    download = subprocess.run([sys.executable, "-c", code, "alice/demo", str(space)],
                              env=hf_env(hub, tmp_path / "download_home"), capture_output=True, text=True, timeout=120)
    assert download.returncode == 0, download.stderr[-2000:]
    assert {str(p.relative_to(space)) for p in space.rglob("*") if p.is_file() and ".cache" not in p.parts} == set(files)
    assert (space / "weights/black2blond/model.safetensors").read_bytes() == files["weights/black2blond/model.safetensors"]
    code = "import app; app.load_models(app.DEFAULT_MODEL, 'cpu', 'fp32'); print(app.model_card_link(app.DEFAULT_MODEL))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code], cwd=space, env={**env, "HF_HUB_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[alice/blond2black](https://huggingface.co/alice/blond2black)" in run.stdout
    port = free_port()
    page = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--device", "cpu"], cwd=space,
                            env={**env, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                                 "GRADIO_SSR_MODE": "False", "PYTHONWARNINGS": "ignore"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from gradio_client import Client, handle_file
        assert "serving" in page.stdout.readline()  # the app's first line comes once it listens
        client = Client(f"http://127.0.0.1:{port}", verbose=False)
        *panels, (before, after), message = client.predict(handle_file(str(space / "examples" / "astronaut.jpg")),
                                                           "BA", True, True, api_name="/translate")
        assert message.startswith("1 face found") and Image.open(after).size == (512, 512)
    finally:
        page.kill()
        page.wait(timeout=30)


def test_a_hub_without_xet_gets_a_push_that_says_how_to_upload_through_lfs(hub, pair_dir, tmp_path):
    pytest.importorskip("hf_xet", reason="huggingface_hub uploads through Xet only when hf_xet is installed")
    result = push(hub, tmp_path, pair_dir, "alice/black2blond", "--no-sample", HF_TOKEN=TOKEN, HF_HUB_DISABLE_XET="")
    assert result.returncode == 1
    assert "does not offer Xet storage" in result.stderr and "set HF_HUB_DISABLE_XET=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_space_refuses_binary_files_without_the_gitattributes(hub, tmp_path):
    root = tmp_path / "checkout"
    for name in ("app.py", "README.md", "requirements.txt", "weights/black2blond/model.safetensors"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((REPO / name).read_bytes())
    (root / ".gitattributes").write_text("")
    env = hf_env(hub, tmp_path / "home", HF_TOKEN=TOKEN)
    code = ("import sys; from cyclegan.hub import push_space\n"
            "try:\n    push_space('alice/demo', sys.argv[1])\nexcept Exception as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", code, str(root)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert "deploying alice/demo failed" in result.stdout and "binary files" in result.stdout, result.stdout
    (root / ".gitattributes").write_bytes((REPO / ".gitattributes").read_bytes())  # the repository's own
    result = subprocess.run([sys.executable, "-c", code, str(root)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout == "" and result.returncode == 0, result.stdout + result.stderr
    assert "weights/black2blond/model.safetensors" in hub.files("spaces/alice/demo")


def test_deploy_refusals(hub, tmp_path):
    result = push(hub, tmp_path, "--space", "bob/demo", HF_TOKEN=TOKEN)
    assert result.returncode == 1 and "cannot deploy to bob/demo" in result.stderr
    result = push(hub, tmp_path, "weights")
    assert result.returncode == 2 and "give WEIGHTS and REPO_ID" in result.stderr


def test_the_card_shows_lambda_cycle_b_only_when_it_differs_from_lambda_cycle():
    from cyclegan.cards import model_card
    config = dict(Generator(ngf=8, n_blocks=1)._hub_mixin_config)
    same = model_card(config, training={"steps": 1, "config": {"lambda_cycle": 10.0, "lambda_cycle_b": 0.0}})
    own = model_card(config, training={"steps": 1, "config": {"lambda_cycle": 10.0, "lambda_cycle_b": 15.0}})
    assert "| lambda_cycle | 10.0 |" in same and "lambda_cycle_b" not in same
    assert "| lambda_cycle_b | 15.0 |" in own
    # the drawn masks' weight likewise only when they were used
    assert "lambda_drawn" not in model_card(config, training={"steps": 1, "config": {"lambda_drawn": 0.0}})
    assert "| lambda_drawn | 10.0 |" in model_card(config, training={"steps": 1, "config": {"lambda_drawn": 10.0}})
    assert "teach_mask_steps" not in model_card(config, training={"steps": 1, "config": {"teach_mask_steps": 0}})
    assert "| teach_mask_steps | 750 |" in model_card(config, training={"steps": 1, "config": {"teach_mask_steps": 750}})


def test_the_card_names_the_commands_steps_machine_and_wall_time_of_the_run():
    from cyclegan.cards import model_card
    config = dict(Generator(ngf=8, n_blocks=1)._hub_mixin_config)
    sessions = [{"command": "python train/run.py --celeba-root ../shared/celeba --out runs/b", "machine": "AMD EPYC, "
                 "2 cores, no GPU", "started": "2026-12-04T15:43:00", "from_step": 0, "to_step": 9000, "seconds": 36000},
                {"command": "python train/run.py --out runs/b --resume", "machine": "Intel Xeon, 2 cores, no GPU",
                 "started": "2026-12-05T09:00:00", "from_step": 9000, "to_step": 20000, "seconds": 18000}]
    card = model_card(config, training={"steps": 20000, "config": {}, "wall_hours": 15.0, "sessions": sessions})
    assert "Trained in 15.0 hours of wall time" in card
    assert "| 0-9,000 | 10.00 | AMD EPYC, 2 cores, no GPU | `python train/run.py --celeba-root ../shared/celeba " \
           "--out runs/b` |" in card
    assert "| 9,000-20,000 | 5.00 | Intel Xeon, 2 cores, no GPU | `python train/run.py --out runs/b --resume` |" in card
    assert "wall time" not in model_card(config, training={"steps": 1, "config": {}})  # older training.json: none


def test_the_card_shows_the_selection_table_with_the_chosen_snapshot():
    from cyclegan.cards import model_card

    def report(fwd, back):
        figures = lambda rate: {"success_rate": rate, "face_psnr": 50.0, "gender_kept": 0.97, "cycle_psnr": 28.0}
        return {"black2blond": {"n": 300, "model": figures(fwd)}, "blond2black": {"n": 300, "model": figures(back)}}
    selection = {"chosen": "runs/b/snapshots/step0015000", "met_floors": True, "min_face_psnr": 26.0,
                 "min_gender_kept": 0.93, "max_images": 300,
                 "reports": {"runs/b/snapshots/step0014500": report(0.85, 0.95),
                             "runs/b/snapshots/step0015000": report(0.89, 0.96)}}
    config = dict(Generator(ngf=8, n_blocks=1)._hub_mixin_config)  # A -> B
    config.update(source_domain="blond", target_domain="black")
    card = model_card(config, selection=selection)
    assert "## How this pair was chosen" in card and "on 300 val faces per domain" in card
    assert "| step0015000 (chosen) | 96.0% | 89.0% | 50.0 / 50.0 | 97.0% / 97.0% | 28.0 / 28.0 |" in card
    assert "| step0014500 | 95.0% | 85.0% |" in card  # this card's own direction first
    assert "How this pair was chosen" not in model_card(config)
    assert "among the snapshots from step 10,000 with" in model_card(config, selection={**selection, "from_step": 10000})
    # chosen on the page's path (--page): the table shows the figures the rule read
    paged = {**selection, "settings": {"page": True},
             "reports": {k: {d: {**r, "page": {**r["model"], "success_rate": r["model"]["success_rate"] - 0.1}}
                             for d, r in v.items()} for k, v in selection["reports"].items()}}
    card = model_card(config, selection=paged)
    assert "| step0015000 (chosen) | 86.0% | 79.0% |" in card and "web page's path" in card


def test_a_recolouring_generators_card_says_what_it_predicts():
    from cyclegan.cards import model_card
    config = {"ngf": 32, "n_blocks": 6, "image_size": 64, "attention": True, "recolour": True, "bins": 3, "cell": 4,
              "guided_radius": 2, "upsample": "resize_conv", "source_domain": "black", "target_domain": "blond"}
    card = model_card(config)
    assert "3 affine colour transforms" in card and "guided filter" in card and "cells of 4 px" in card
    assert "content C (tanh)" not in card and "steepened" not in card
    assert "content C (tanh)" in model_card({**config, "recolour": False})
    assert "steepened to clamp(3 (M - 1/2) + 1/2)" in model_card({**config, "mask_gain": 3.0})
