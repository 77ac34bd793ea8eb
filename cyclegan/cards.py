"""Model cards: the README.md of a generator, written from its config.json, training.json and eval.json."""

from pathlib import Path

from huggingface_hub import ModelCardData

CARD_TAGS = ["cyclegan", "image-to-image", "unpaired-image-translation", "pytorch_model_hub_mixin", "model_hub_mixin"]
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def recolouring_text(config: dict) -> str:
    """The architecture's last layer for a recolouring generator (cyclegan/transform.py), in a sentence."""
    bins, cell = config.get("bins", 1), config.get("cell", 4)
    mask = (f"a raw mask whose colour guided filter (He et al. 2010, radius {config.get('guided_radius')}) gives "
            "linear coefficients, so that the mask M = clamp(a . x + c) follows the photo's own colour edges at any "
            "resolution" if config.get("guided_radius") else "a one-channel mask M (sigmoid)")
    if config.get("mask_gain", 1) != 1:
        mask += f", steepened to clamp({config['mask_gain']:g} (M - 1/2) + 1/2) so that where it is unsure it does not tint"
    text = (f"then a 7x7 layer predicting, per pixel, {bins} affine colour transforms (knots of a luminance axis, as "
            f"HDRNet's bilateral grid, Gharbi et al. 2017) and {mask}, all averaged over cells of {cell} px into a "
            "smooth field; the output is M * T(x) + (1 - M) * x with T the transform sliced at each pixel's place "
            "and luminance, so it recolours the photo's own pixels and can be applied to a photo at its full "
            "resolution")
    if config.get("hair_lightness"):
        lightness, ab = config["hair_lightness"], config["hair_ab"]
        ab = (f"{ab[0]:.1f}, {ab[1]:.1f}" if not isinstance(ab[0], list) else
              f"real hair's at each lightness ({ab[0][0]:.1f}, {ab[0][1]:.1f} in the darkest to {ab[-1][0]:.1f}, "
              f"{ab[-1][1]:.1f} in the lightest)")
        text += (f". Matched colour: T is not the field's transforms but real {config.get('target_domain', 'target')} "
                 f"hair's colour in CIELAB, the hair's lightness (its base layer, smoothed where flat and kept at "
                 f"edges; the fine detail rides on it, at most doubled) mapped rank by rank onto real hair's (L* "
                 f"{lightness[0]:.0f} to {lightness[-1]:.0f} over {len(lightness)} quantiles) and its a*, b* taken to "
                 f"{ab} plus {config.get('chroma_kept', 0.3):.0%} of "
                 "its own variation (cyclegan/transform.py; measured on CelebA train photos as the run started, or by "
                 "train/match_colour.py)")
    return text


def reverse_repo_id(repo_id: str, source_domain: str, target_domain: str) -> str:
    """The repo of the opposite direction in the same namespace: user/black2blond -> user/blond2black."""
    namespace = repo_id.rsplit("/", 1)[0] + "/" if "/" in repo_id else ""
    return f"{namespace}{target_domain}2{source_domain}"


def model_card(config: dict, repo_id: str = None, reverse_id: str = None, training: dict = None,
               evaluation: dict = None, sample: str = None, selection: dict = None) -> str:
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
        selection (`dict`, *optional*): selection.json of `train/evaluate.py --snapshots`, the table the
            pair was chosen from.
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
        + (recolouring_text(config) if config.get("recolour") else
           "then a 7x7 layer predicting content C (tanh) and a one-channel mask M (sigmoid); the output is "
           "M * C + (1 - M) * x, so the generator changes the photo only where M is on (attention-guided, "
           "Mejjati et al. 2018)" if config.get("attention") else "c7s1-3 with tanh")
        + "; reflection padding, instance norm.", "",
    ]
    if training:
        c = training.get("config", {})
        keys = ["image_size", "preprocess", "ngf", "n_blocks", "upsample", "attention", "recolour", "bins", "cell",
                "guided_radius", "guided_eps", "ndf", "n_layers_d", "lambda_cycle",
                "lambda_cycle_b", "lambda_identity", "lambda_mask", "lambda_mask_tv", "lambda_mask_face",
                "lambda_mask_edge", "lambda_drawn", "teach_mask_steps", "cycle_noise", "priors_start", "mask_start", "mask_warmup", "d_warmup", "d_negatives", "pool_size",
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
            start = f" Started from an already trained pair (`{Path(c['init_from']).name}`){warmup}."
        lines += ["## Training", "",
                  f"{training.get('steps', '?')} steps of the CycleGAN objective (LSGAN, cycle loss, identity loss, "
                  f"50-image history pool, Adam) on {data}.{start}{averaged}", "",
                  "| setting | value |", "| --- | --- |"]
        shown = [k for k in keys if k in c and not (k in ("lambda_cycle_b", "lambda_drawn", "teach_mask_steps")
                                                     and not c[k])]  # 0: off
        lines += [f"| {k} | {c[k]} |" for k in shown] + [""]
        sessions = training.get("sessions") or []  # the processes that trained it (train/run.py), oldest first
        if sessions:
            lines += [f"Trained in {training.get('wall_hours', '?')} hours of wall time:", "",
                      "| steps | hours | machine | command |", "| --- | --- | --- | --- |"]
            lines += [f"| {session_steps(x)} | {x['seconds'] / 3600:.2f} | {x['machine']} | `{x['command']}` |"
                      for x in sessions] + [""]
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
    lines += selection_table(selection, name, f"{tgt}2{src}")
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


def selection_table(selection: dict, name: str, reverse_name: str) -> list:
    """The card's lines on how the pair was chosen among a run's snapshots (selection.json), or none."""
    if not selection:
        return []
    page = selection.get("settings", {}).get("page", False)  # the rule read the page's figures: show those
    path = "page" if page else "model"
    rows = []
    for folder, report in selection["reports"].items():
        fwd, back = report[name][path], report[reverse_name][path]
        label = Path(folder).name + (" (chosen)" if folder == selection["chosen"] else "")
        rows.append(f"| {label} | {fwd['success_rate']:.1%} | {back['success_rate']:.1%} | "
                    f"{fwd['face_psnr']:.1f} / {back['face_psnr']:.1f} | "
                    f"{fwd['gender_kept']:.1%} / {back['gender_kept']:.1%} | {fwd['cycle_psnr']:.1f} / "
                    f"{back['cycle_psnr']:.1f} |")
    n = selection.get("max_images") or "all"
    where = " --page` through the web page's path (what users see)" if page else "`"
    start = f" from step {selection['from_step']:,}" if selection.get("from_step") else ""
    return ["## How this pair was chosen", "",
            f"`train/evaluate.py --snapshots{where} on {n} val faces per domain: among the snapshots{start} with face PSNR >= "
            f"{selection['min_face_psnr']} dB and gender kept >= {selection['min_gender_kept']:.0%} both ways, the "
            "one whose weaker direction succeeds most often (within one standard error a tie, won by the higher "
            "face PSNR).", "",
            f"| snapshot | success {name} | success {reverse_name} | face PSNR (dB) | gender kept | cycle PSNR (dB) |",
            "| --- | --- | --- | --- | --- | --- |", *rows, ""]


def session_steps(session: dict) -> str:
    """The steps column of the card's sessions table: a train/run.py process's GAN steps, or a train/teach_mask.py
    fine-tune of the mask alone."""
    if "teach_mask" in session:
        taught = session["teach_mask"]
        return f"mask taught on {taught['faces']} drawn faces, {taught['steps']:,} steps"
    return f"{session['from_step']:,}-{session['to_step']:,}"
