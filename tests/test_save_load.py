"""save_pretrained / from_pretrained: exact round trip, config contents, strict loading."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from cyclegan.networks import Generator


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    G = Generator(ngf=8, n_blocks=2, image_size=64, source_domain="black", target_domain="blond")
    G = G.to(memory_format=torch.channels_last)  # as training leaves it
    G.save_pretrained(tmp_path / "black2blond")
    return G, tmp_path / "black2blond"


def test_round_trip_restores_every_tensor_and_the_output(saved):
    G, path = saved
    H = Generator.from_pretrained(path)
    original, loaded = G.state_dict(), H.state_dict()
    assert original.keys() == loaded.keys()
    for k in original:
        assert torch.equal(original[k], loaded[k]), k
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    # G runs channels_last, H contiguous: different conv kernels, so float-rounding tolerance
    torch.testing.assert_close(H(x), G(x), rtol=0, atol=1e-5)


def test_config_records_what_a_user_needs(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    assert config == {"in_channels": 3, "out_channels": 3, "ngf": 8, "n_blocks": 2, "image_size": 64,
                      "source_domain": "black", "target_domain": "blond", "upsample": "deconv", "attention": False,
                      "recolour": False, "cell": 4, "bins": 1, "guided_radius": 0, "guided_eps": 0.01,
                      "hair_lightness": None, "hair_ab": None, "chroma_kept": 0.3, "mask_gain": 1.0}
    H = Generator.from_pretrained(path)
    assert (H.image_size, H.source_domain, H.target_domain) == (64, "black", "blond")
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_fp16_weights_load_into_fp32(saved):
    G, path = saved
    state = load_file(path / "model.safetensors")
    save_file({k: v.half() for k, v in state.items()}, path / "model.safetensors")
    H = Generator.from_pretrained(path)
    assert next(H.parameters()).dtype == torch.float32
    w = "model.1.weight"
    torch.testing.assert_close(H.state_dict()[w], G.state_dict()[w], atol=1e-3, rtol=1e-2)


def _rewrite(path, change):
    state = load_file(path / "model.safetensors")
    change(state)
    save_file(state, path / "model.safetensors")


def test_missing_tensor_is_named(saved):
    _, path = saved
    _rewrite(path, lambda s: s.pop("model.1.bias"))
    with pytest.raises(ValueError, match=r"missing: \['model.1.bias'\]"):
        Generator.from_pretrained(path)


def test_extra_tensor_is_named(saved):
    _, path = saved
    _rewrite(path, lambda s: s.update({"model.99.weight": torch.zeros(2)}))
    with pytest.raises(ValueError, match=r"unexpected: \['model.99.weight'\]"):
        Generator.from_pretrained(path)


def test_misshapen_tensors_are_named(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "ngf": 16}))  # config no longer fits the weights
    with pytest.raises(ValueError, match=r"wrong shape: .*'model.1.weight: file \(8, 3, 7, 7\) vs model \(16, 3, 7, 7\)"):
        Generator.from_pretrained(path)


def test_corrupt_files_are_clear_errors(saved):
    _, path = saved
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated download
    with pytest.raises(ValueError, match="cannot read weights"):
        Generator.from_pretrained(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json .* is not valid JSON"):
        Generator.from_pretrained(path)


def test_missing_files_and_folders(saved, tmp_path):
    _, path = saved
    with pytest.raises(FileNotFoundError, match="no model folder"):
        Generator.from_pretrained(tmp_path / "nowhere")
    (path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        Generator.from_pretrained(path)
    (path / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        Generator.from_pretrained(path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_map_location_cuda(saved):
    _, path = saved
    H = Generator.from_pretrained(path, map_location="cuda")
    assert next(H.parameters()).is_cuda


def test_a_local_folder_gets_a_true_card_the_same_push_pair_publishes(tmp_path):
    from huggingface_hub.repocard import metadata_load
    from cyclegan.cards import model_card
    from cyclegan.hub import load_pair
    training = {"steps": 12, "averaged": True, "config": {"lr": 2e-4, "attention": True, "celeba_root": "x"}}
    for src, tgt in (("black", "blond"), ("blond", "black")):
        G = Generator(ngf=4, n_blocks=1, image_size=32, source_domain=src, target_domain=tgt, attention=True)
        G.save_pretrained(tmp_path / f"{src}2{tgt}", model_card_kwargs={"training": training})
    card = (tmp_path / "black2blond" / "README.md").read_text()
    config = json.loads((tmp_path / "black2blond" / "config.json").read_text())
    assert card == model_card(config, training=training)
    assert "pushed to the Hub" not in card and "More Information Needed" not in card  # the mixin's default card
    assert "the generator folder `blond2black` next to this one" in card and "huggingface.co" not in card
    assert "12 steps" in card and "moving average" in card and "M * C + (1 - M) * x" in card
    assert "Started from" not in card
    warm = {**training, "config": {**training["config"], "init_from": "weights", "d_warmup": 5}}
    assert ("Started from an already trained pair (`weights`); its first 5 steps trained only the fresh "
            "discriminators." in model_card(config, training=warm))
    assert "reverse_model" not in metadata_load(tmp_path / "black2blond" / "README.md")  # load_pair uses the sibling
    G, G_back = load_pair(str(tmp_path / "black2blond"))
    assert (G_back.source_domain, G_back.target_domain) == ("blond", "black")


def test_other_hub_models_get_a_short_true_card(tmp_path):
    from cyclegan.evaluation import AttributeClassifier
    AttributeClassifier().save_pretrained(tmp_path / "classifier")
    card = (tmp_path / "classifier" / "README.md").read_text()
    assert "AttributeClassifier.from_pretrained" in card and "pushed to the Hub" not in card


# Every argument of Generator.__init__ with a value other than its default (in and out channels stay 3: a
# recolouring generator needs RGB); the shape arguments are checked by the strict load and the output, the
# others are read back from the loaded generator's attribute of the same name.
NON_DEFAULT = dict(in_channels=3, out_channels=3, ngf=6, n_blocks=2, image_size=40, source_domain="blond",
                   target_domain="black", upsample="resize_conv", attention=True, recolour=True, cell=5, bins=2,
                   guided_radius=3, guided_eps=0.037, hair_lightness=[20.0, 40.0, 60.0], hair_ab=[[5.0, 20.0], [4.0, 21.0], [3.0, 22.0]],
                   chroma_kept=0.5, mask_gain=2.5)
SHAPE_ONLY = {"in_channels", "out_channels", "ngf", "n_blocks", "upsample"}
# matched colour's arguments are read back from the loaded generator's colour_target
MATCHED = {"hair_lightness": "lightness", "hair_ab": "ab", "chroma_kept": "kept"}


def test_every_generator_setting_round_trips_through_config_json_field_by_field(tmp_path):
    import inspect
    arguments = [p for p in inspect.signature(Generator.__init__).parameters if p != "self"]
    # a new argument must be added here, so that it is covered too
    assert sorted(arguments) == sorted(NON_DEFAULT)
    defaults = inspect.signature(Generator.__init__).parameters
    assert all(NON_DEFAULT[a] != defaults[a].default for a in arguments if a not in ("in_channels", "out_channels"))
    torch.manual_seed(0)
    G = Generator(**NON_DEFAULT).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.normal_(0, 0.1)  # a field and mask that vary, so the guided filter's settings show in the output
    G.save_pretrained(tmp_path / "g")
    config = json.loads((tmp_path / "g" / "config.json").read_text())
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    for name, value in NON_DEFAULT.items():
        assert config[name] == value, name
        if name in MATCHED:
            assert loaded.colour_target[MATCHED[name]] == value, name
        elif name not in SHAPE_ONLY:
            assert getattr(loaded, name) == value, name
    x = torch.rand(1, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), G(x))
