"""Evaluate a black <-> blond generator pair on CelebA, offline.

    python train/evaluate.py --weights weights --celeba-root ../shared/celeba --split val

Translates every image of each domain in the split and reports, per direction:
  success      share of translations the attribute classifier gives the target hair colour;
  gender kept  share whose Male prediction equals the input's, overall and for men and women
               (by CelebA's label); and "gender as labelled": share of CelebA's men the classifier
               calls men, of its women women (the identity's figure is the classifier's accuracy on the
               photos; a translation that makes a misread man read as a man loses "kept" but not this);
  face PSNR / SSIM  between input and translation on the central face box (no hair);
  cycle PSNR   between input and reconstruction;
  hair left    of the pixels that had the source domain's hair colour in the input (outside the face
               box; cyclegan.evaluation.HairColour, a per-pixel likelihood from the two domains'
               colour histograms), the share that still have it in the translation; and
               faces_over_third_left, the share of faces (with at least HAIR_MIN_PIXELS of it) that
               keep more than a third: a two-tone translation keeps much. "target_photos" gives
               the level real photos show: the share of source hair colour in the target domain's
               photos over that in the source's (dark backgrounds and shadows count as "black");
next to the same figures for two useless models: the identity (output = input) and a
global colour shift (input + the mean colour difference between the domains). Success is
also given for men and women apart, and "target_photos" is the classifier's success on the
real photos of the target domain: what a translation as convincing as a real photo would get.
Every figure's standard error over the faces is beside it, under "se" (train/compare.py uses
them to tell two pairs apart). Writes <out>/eval.json and <out>/contact_sheet.png (input |
translation | reconstruction, and the mask of attention generators). PSNR of identical images is
capped at 100 dB.
--detail scores the translations as the web page shows them instead of the model's own output:
with the photo's texture kept under the mask (cyclegan.inference.keep_detail);
--drop-islands without the mask's small specks away from the hair (cyclegan.inference.mask_islands),
which the page also leaves out: the page's default output is --detail --drop-islands.
--page scores what the web page shows, under "page": each whole aligned photo through
cyclegan.faces.translate_photo with the page's defaults (face detection, paste-back or, for a
recolouring generator, its wider hair window recoloured at the photo's resolution), cut back to
the central square the crops are; its cycle PSNR compares the page's reconstruction with what
the model was given, and no_face counts photos where no face was found (scored unchanged). Two
figures of the whole photo come with it: hair_left_photo, the hair left over the whole aligned
photo (178x218: the lengths beside and below the face too), and strands, the fine detail
(luminance minus its blur, sigma 2 px) of the result over the photo's where the page changed a
pixel by more than 12 grey levels: 1 keeps the photo's texture, a flat patch gives less, a painted
lattice more.
colour: the CIELAB medians (L*, a*, b*, chroma) of the hair a translation recoloured: the result's pixels
outside the central face box that it changed by more than 12 grey levels (on the page's path, over the whole
photo), pooled over the faces (at most 4,096 evenly spaced pixels a photo); target_photos' colour is the same
of real hair of the target colour (the target domain's pixels whose colour HairColour calls that domain's
hair). A convincing blond is as light and as little red as real blond hair; a black not greyer or tinted.

Choosing the model to ship from a run (train/run.py --snapshot-every):

    python train/evaluate.py --weights runs/b2b --snapshots --celeba-root ../shared/celeba --max-images 300

evaluates every <run>/snapshots/step*/ (from --from-step on: e.g. the step a recipe's priors start)
and the run's final generators (without the baselines) and picks by this rule: among the snapshots whose face PSNR is at least
--min-face-psnr (default 26 dB) and whose gender kept is at least --min-gender-kept
(default 93%) in both directions (when none meets both floors: among all), take the
highest success rate of the weaker direction; every snapshot within one standard error
of it (sqrt(p(1 - p) / n) of that success rate: 1.8 points for p = 0.9 on 300 faces)
ties with it, and of those the one whose lower face PSNR (of its two directions) is
highest wins: a difference the sample cannot tell from noise does not pay for a face
changed more. With --page the rule reads the page's figures (what users see), else the crops'.
Writes <out>/selection.json (every snapshot's figures and the choice). Run again into
the same --out as a run goes on, it scores only the new snapshots (and the final generators):
a snapshot scored with the same settings is taken from the selection.json already there.
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch
from tqdm import tqdm

from PIL import Image

from cyclegan.data import celeba_crop, celeba_domains, celeba_image_dir, domain_images, load_image, to_float, to_tensor
from cyclegan.evaluation import AttributeClassifier, HairColour, changed_pixels, colour_figures, drawn_mask, \
    face_region, load_hair_masks, mask_scores, outside_face_box, psnr, recoloured_hair, ssim
from cyclegan.faces import translate_photo
from cyclegan.inference import gaussian_blur, image_to_tensor, optimize_for_inference, sample_grid, translate
from cyclegan.networks import Generator

N_SHEET = 8  # images per direction on the contact sheet
HAIR_MASKS = REPO / "hair_masks" / "val.json"  # hand-drawn hair masks of 47 val faces (issue [16])
HAIR_MIN_PIXELS = 100  # faces_over_third_left counts faces with at least this many pixels of source hair colour
# the strands figure (page path): the fine detail is luminance minus its blur at this sigma (px), measured where
# the translation changed a pixel by more than this many grey levels (as measured by hand in issue [11])
STRANDS_SIGMA = 2.0


def mean(x: torch.Tensor) -> float:
    return round(x.float().mean().item(), 4) if len(x) else float("nan")


def standard_error(x: torch.Tensor) -> float:
    """Of the mean of x (a share when x is boolean: sqrt(p(1 - p) / n), as the mean of 0s and 1s gives)."""
    x = x.float()
    return round((x.var(correction=0) / len(x)).sqrt().item(), 4) if len(x) > 1 else float("nan")


def ratio_standard_error(kept: torch.Tensor, had: torch.Tensor) -> float:
    """Of the ratio of sums R = sum(kept) / sum(had) over the images (the delta method's first order)."""
    kept, had = kept.float(), had.float()
    if len(had) < 2 or not had.sum():
        return float("nan")
    residuals = kept - kept.sum() / had.sum() * had
    return round(((residuals ** 2).sum() / (len(had) * (len(had) - 1))).sqrt().item() / had.mean().item(), 4)


def model_batches(images, G, F_inv, batch_size, precision, detail, drop_islands, shift, baselines):
    """(real, {name: (translation, cycle PSNR)}) batches of the model on the crops, and the baselines."""
    for i in tqdm(range(0, len(images), batch_size), desc=f"{G.source_domain} -> {G.target_domain}"):
        real = to_float(images[i:i + batch_size])
        fake = translate(G, real, precision, detail=detail, drop_islands=drop_islands)
        rec = translate(F_inv, fake, precision, detail=detail, drop_islands=drop_islands)
        outputs = {"model": (fake, psnr(rec, real))}
        if baselines:
            shifted = (real + shift).clamp(-1, 1)
            outputs["identity"] = (real, psnr(real, real))
            outputs["colour_shift"] = (shifted, psnr((shifted - shift).clamp(-1, 1), real))  # exact but where clipped
        yield real, outputs


def page_batches(paths, G, F_inv, image_size, precision):
    """(real, {"page": (translation, cycle PSNR)}) per photo, through the web page's path: the whole aligned
    photo through translate_photo with the page's defaults (face found with the cascade, the change pasted
    back into the photo with its detail kept and the mask's islands dropped; a recolouring generator's
    wider window), scored on the photo's central square as the crops are. The cycle PSNR is that of the
    page's reconstruction against what the model was given. A photo whose face is not found counts as
    left unchanged (it fails success), and `no_face` counts them."""
    def crop(im):  # the photo's central square at the model's size, as the crops are scored
        return to_float(to_tensor(celeba_crop(im).resize((image_size,) * 2, Image.BICUBIC)))[None]

    for path in tqdm(paths, desc=f"page: {G.source_domain} -> {G.target_domain}"):
        photo = load_image(path)
        r = translate_photo(photo, G, F_inv, precision=precision, detail=True, drop_islands=True)
        real = crop(photo)
        cycle = psnr(image_to_tensor(r.reconstruction), image_to_tensor(r.model_input)) if r.translated \
            else torch.tensor([float("nan")])
        whole = {"photo": image_to_tensor(photo), "composite": image_to_tensor(r.composite)}
        yield real, {"page": (crop(r.composite), cycle, torch.tensor([not r.translated]), whole)}


def drawn_mask_figures(masks: dict, folder: Path, G, F_inv, precision, hair, source: str) -> dict:
    """The page's change on every photo (in `folder`, CelebA's img_align_celeba) with a drawn hair mask of G's source
    domain ({name: (domain, polygon)}, cyclegan.evaluation.load_hair_masks), whatever --max-images (photos this
    copy of CelebA lacks are left out; n counts those scored): the mean IoU of the changed pixels with the drawn
    hair, the mean share of the pixels outside it that changed, and how many photos kept that share within 1%.
    And the hair left in the hair itself: of the drawn hair's pixels outside the face box that have the source
    domain's hair colour (`hair`, a HairColour; `source` its key, "A" or "B"), the share the page left with it
    (hair_left, pooled), beside the level real hair shows (hair_left_real: the share of the target colour's drawn
    hair with the source colour over the share of the source colour's): the hair-left figure without the dark
    backgrounds and clothes outside the hair, which a translation is right to keep."""
    scores, kept, had, real = [], [], [], {}
    for name, (domain, polygon) in masks.items():
        if not (folder / name).is_file():
            continue
        photo = load_image(folder / name)
        x, drawn = image_to_tensor(photo), drawn_mask(polygon, photo)
        zone = drawn[None] & outside_face_box(x)
        counts = real.setdefault(domain, [0, 0])  # drawn hair's pixels, and those with the source colour
        counts[0], counts[1] = counts[0] + zone.sum().item(), counts[1] + (hair.has(x, source) & zone).sum().item()
        if domain != G.source_domain:
            continue
        r = translate_photo(photo, G, F_inv, precision=precision, detail=True, drop_islands=True)
        scores.append(mask_scores(drawn, photo, r.composite))
        k, h = hair.left(x, image_to_tensor(r.composite), source, zone)
        kept.append(k)
        had.append(h)
    if not scores:
        return {"n": 0}
    iou, outside = (torch.tensor([s[k] for s in scores]) for k in ("iou", "outside"))
    kept, had = torch.cat(kept), torch.cat(had)
    share = {d: c[1] / c[0] if c[0] else float("nan") for d, c in real.items()}
    level = share.get(G.target_domain, float("nan")) / share[G.source_domain] if share[G.source_domain] else \
        float("nan")
    return {"n": len(scores), "iou": round(mean(iou), 4), "outside": round(mean(outside), 4),
            "outside_within_1pct": int((outside <= 0.01).sum()),
            "hair_left": round(kept.sum().item() / max(1, had.sum().item()), 4), "hair_left_real": round(level, 4),
            "se": {"iou": standard_error(iou), "outside": standard_error(outside),
                   "hair_left": ratio_standard_error(kept, had)}}


def strands(photo: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """(N,) the result's high-frequency energy over the photo's, where the translation changed the photo.

    Luminance minus its Gaussian blur (sigma STRANDS_SIGMA px) is the fine detail, strands and edges; its RMS
    over the pixels changed by more than 12 grey levels (cyclegan.evaluation.CHANGED), in the result against the photo. 1 keeps
    the photo's texture; a flat painted patch gives much less, a woven lattice or noise more. NaN where the
    translation changed fewer than HAIR_MIN_PIXELS pixels. photo, result: (N, 3, H, W) in [-1, 1]."""
    changed = changed_pixels(photo, result)  # (N, H, W)
    energy = []
    for x in (photo, result):
        luminance = (x + 1) / 2 * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        luminance = luminance.sum(1, keepdim=True)
        detail = (luminance - gaussian_blur(luminance, STRANDS_SIGMA))[:, 0]
        energy.append((detail ** 2 * changed).flatten(1).sum(1))
    ratio = (energy[1] / energy[0].clamp(min=1e-12)).sqrt()
    return torch.where(changed.flatten(1).sum(1) >= HAIR_MIN_PIXELS, ratio, torch.full_like(ratio, float("nan")))


@torch.no_grad()
def evaluate_direction(batches, male, classifier, target_attr, hair, source, n_sheet=N_SHEET):
    """Figures of one direction (e.g. black -> blond) from `batches` (model_batches or page_batches)."""
    records = {}
    for real, outputs in batches:
        male_in = classifier.predict(real)["Male"]
        for name, (out, cycle, *page) in outputs.items():
            pred = classifier.predict(out)
            r = records.setdefault(name, {k: [] for k in ("target", "male", "male_pred", "face_psnr", "face_ssim",
                                                          "cycle_psnr", "kept", "had", "no_face", "strands",
                                                          "kept_photo", "had_photo", "colour")})
            r["target"].append(pred[target_attr])
            r["male"].append(pred["Male"] == male_in)
            r["male_pred"].append(pred["Male"])
            r["face_psnr"].append(psnr(face_region(out), face_region(real)))
            r["face_ssim"].append(ssim(face_region(out), face_region(real)))
            r["cycle_psnr"].append(cycle)
            kept, had = hair.left(real, out, source)
            r["kept"].append(kept)
            r["had"].append(had)
            r["no_face"].append(page[0] if page else torch.zeros(len(real), dtype=torch.bool))
            if not page:
                r["colour"] += recoloured_hair(real, out)
            else:  # the whole photo as the page shows it: its strands, colour, and the hair left anywhere in it
                photo, composite = page[1]["photo"], page[1]["composite"]
                r["colour"] += recoloured_hair(photo, composite)
                r["strands"].append(strands(photo, composite))
                kept, had = hair.left(photo, composite, source)
                r["kept_photo"].append(kept)
                r["had_photo"].append(had)
    male = torch.tensor(male, dtype=torch.bool)
    result = {"n": len(male), "n_male": int(male.sum())}
    for name, r in records.items():
        colour = colour_figures(r.pop("colour"))  # (n, 3) L*a*b* arrays of different lengths: pooled, not stacked
        r = {k: torch.cat(v) if v else torch.zeros(0) for k, v in r.items()}
        left = r["kept"].float() / r["had"].clamp(min=1)
        counted = r["had"] >= HAIR_MIN_PIXELS  # faces with some source hair colour to remove
        per_face = {  # the figures that are means over the faces: each face's value
            "faces_over_third_left": left[counted] > 1 / 3,
            "no_face": r["no_face"],
            **{f"{figure}{part}": r[column][who]
               for figure, column in (("success_rate", "target"), ("gender_kept", "male"))
               for part, who in (("", slice(None)), ("_male", male), ("_female", ~male))},
            "gender_as_labelled_male": r["male_pred"][male],  # called a man, of CelebA's men
            "gender_as_labelled_female": ~r["male_pred"][~male],
            "face_psnr": r["face_psnr"],
            "face_ssim": r["face_ssim"],
            "cycle_psnr": r["cycle_psnr"][~r["cycle_psnr"].isnan()],
        }
        if len(r["strands"]):  # the page path: the whole photos
            per_face["strands"] = r["strands"][~r["strands"].isnan()]
        result[name] = {
            "hair_left": round(r["kept"].sum().item() / r["had"].sum().item(), 4) if r["had"].sum() else float("nan"),
            "sheet_left": [round(v, 3) for v in left[:n_sheet].tolist()],
            **{figure: mean(values) for figure, values in per_face.items()},
            # each figure's standard error over the faces, to tell a difference between two pairs from noise
            "se": {"hair_left": ratio_standard_error(r["kept"], r["had"]),
                   **{figure: standard_error(values) for figure, values in per_face.items()}},
            "colour": colour,
        }
        if len(r["had_photo"]):  # over the whole photo, not only the central square
            result[name]["hair_left_photo"] = round(r["kept_photo"].sum().item() / r["had_photo"].sum().item(), 4) \
                if r["had_photo"].sum() else float("nan")
            result[name]["se"]["hair_left_photo"] = ratio_standard_error(r["kept_photo"], r["had_photo"])
    return result


def evaluate_pair(G_AB, G_BA, images, male, paths, classifier, hair, args, baselines: bool = True) -> dict:
    """Both directions' figures of one generator pair on the decoded images of both domains (hair: their
    HairColour)."""
    # the useless colour shift: move every pixel by the difference of the domains' mean colours
    mean_colour = {k: to_float(v).mean(dim=(0, 2, 3)).view(1, 3, 1, 1) for k, v in images.items()}
    report = {"split": args.split, "image_size": G_AB.image_size, "detail": args.detail,
              "drop_islands": args.drop_islands}
    for (src, dst, G, F_inv, target_attr) in (("A", "B", G_AB, G_BA, args.attr_b), ("B", "A", G_BA, G_AB, args.attr_a)):
        batches = model_batches(images[src], G, F_inv, args.batch_size, args.precision, args.detail,
                                args.drop_islands, mean_colour[dst] - mean_colour[src], baselines)
        result = evaluate_direction(batches, male[src], classifier, target_attr, hair, src)
        if args.page:
            page = page_batches(paths[src], G, F_inv, G.image_size, args.precision)
            result.update(evaluate_direction(page, male[src], classifier, target_attr, hair, src))
            if args.hair_masks:
                folder = celeba_image_dir(args.celeba_root)
                result["page"]["drawn_masks"] = drawn_mask_figures(args.hair_masks, folder, G, F_inv, args.precision,
                                                                    hair, src)
        if baselines:
            result["target_photos"] = classifier_rate(classifier, images[dst], male[dst], target_attr, args.batch_size)
            # the source hair colour real photos of the target domain show, as a share of what the source's show
            had = hair.share(images[src], src).mean().item()
            result["target_photos"]["hair_left"] = round(hair.share(images[dst], src).mean().item() / had, 4) \
                if had else float("nan")
            # the colour real hair of the target colour has: its pixels in the target domain's photos
            result["target_photos"]["colour"] = colour_figures(hair.lab(to_float(images[dst]), dst))
        report[f"{G.source_domain}2{G.target_domain}"] = result
    return report


@torch.no_grad()
def classifier_rate(classifier, images, male, attr, batch_size) -> dict:
    """How often the classifier sees `attr` in real photos of the target domain, overall and by sex: the
    success a translation as convincing as a real photo would get (CelebA's blond men are few and the
    classifier misses more of them, so compare the model's success by sex against these)."""
    seen = torch.cat([classifier.predict(to_float(images[i:i + batch_size]))[attr]
                      for i in range(0, len(images), batch_size)])
    male = torch.tensor(male, dtype=torch.bool)
    return {"n": len(images), "n_male": int(male.sum()), "success_rate": mean(seen),
            "success_rate_male": mean(seen[male]), "success_rate_female": mean(seen[~male])}


def select(reports: dict, min_face_psnr: float, min_gender_kept: float) -> tuple:
    """(name of the chosen snapshot, whether it met the floors), by the rule in this file's docstring, on the
    page's path (what users see) when every report has it (--page), else on the model's crops."""
    def directions(report):
        return [v for v in report.values() if isinstance(v, dict) and "model" in v]

    path = "page" if all(d.get("page") for r in reports.values() for d in directions(r)) else "model"

    def lowest_face_psnr(name):  # of its two directions
        return min(d[path]["face_psnr"] for d in directions(reports[name]))

    qualified = [name for name, r in reports.items()
                 if all(d[path]["face_psnr"] >= min_face_psnr and d[path]["gender_kept"] >= min_gender_kept
                        for d in directions(r))]
    weaker = {name: min(directions(reports[name]), key=lambda d: d[path]["success_rate"])  # its weaker direction
              for name in qualified or reports}
    best = max(weaker.values(), key=lambda d: d[path]["success_rate"])
    p, n = best[path]["success_rate"], best["n"]
    standard_error = (p * (1 - p) / n) ** 0.5
    tied = [name for name, d in weaker.items() if d[path]["success_rate"] >= p - standard_error]
    return max(tied, key=lowest_face_psnr), bool(qualified)


def snapshot_folders(run: Path, from_step: int, every: int = 0) -> list:
    """The run's snapshots/step*/ from from_step on (with `every`, only steps that are multiples of it), then the
    run's final generators."""
    steps = {f: int(f.name.removeprefix("step")) for f in sorted((run / "snapshots").glob("step*"))}
    snapshots = [f for f, step in steps.items() if step >= from_step and not (every and step % every)]
    if not snapshots:
        raise FileNotFoundError(f"--snapshots: no snapshots/step*/ from step {from_step} on in {run} "
                                f"(train with --snapshot-every)")
    return snapshots + [run]


def scored_before(selection_file: Path, settings: dict) -> dict:
    """The snapshots' reports in a selection.json written with the same settings: a snapshot never changes once
    written, so it needs no second scoring (the run's final generators do change, and are always scored)."""
    if not selection_file.exists():
        return {}
    earlier = json.loads(selection_file.read_text())
    if earlier.get("settings") != settings:
        return {}
    return {name: report for name, report in earlier["reports"].items() if Path(name).parent.name == "snapshots"}


def load_generators(folder: Path, a, b, args):
    G_AB = Generator.from_pretrained(folder / f"{a.name}2{b.name}")
    G_BA = Generator.from_pretrained(folder / f"{b.name}2{a.name}")
    return tuple(optimize_for_inference(G, args.device, args.precision) for G in (G_AB, G_BA))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights", help="folder with the two generators, e.g. black2blond/ "
                        "and blond2black/ (a weights/ folder or a train/run.py output folder)")
    parser.add_argument("--classifier", default=str(REPO / "weights" / "classifier"),
                        help="the attribute classifier's save_pretrained folder (default %(default)s)")
    parser.add_argument("--celeba-root", required=True, help="CelebA in the Kaggle layout")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"], help="(default %(default)s)")
    parser.add_argument("--attr-a", default="Black_Hair", help="attribute of domain A (default %(default)s)")
    parser.add_argument("--attr-b", default="Blond_Hair", help="attribute of domain B (default %(default)s)")
    parser.add_argument("--out", default="runs/eval", help="folder for eval.json and contact_sheet.png")
    parser.add_argument("--max-images", type=int, default=0, help="evaluate only N images per domain, 0 = all")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (default %(default)s)")
    parser.add_argument("--precision", default="fp32", help="auto | bf16 | fp16 | fp32 (default %(default)s)")
    switches = {  # flags that are off unless given
        "--detail": "score the translations with the photo's texture kept under the mask, as the web page shows them "
                    "by default (cyclegan.inference.keep_detail; the page also drops the mask's islands: add "
                    "--drop-islands), both ways of the cycle",
        "--drop-islands": "score the translations without the mask's small specks away from the hair, as the web "
                          "page shows them (cyclegan.inference.mask_islands), both ways of the cycle",
        "--page": "also score the web page's path (figures under 'page'): each whole aligned photo through "
                  "cyclegan.faces.translate_photo with the page's defaults, scored on its central square; about "
                  "0.1 s a photo more",
        "--snapshots": "--weights is a train/run.py folder: evaluate its snapshots/step*/ and final generators and "
                       "choose one (see above); writes selection.json",
    }
    for flag, text in switches.items():
        parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument("--hair-masks", default=str(HAIR_MASKS),
                        help="with --page, score the page's change against these hand-drawn hair masks (under "
                             "page/drawn_masks: iou, the share changed outside the hair, and hair_left in the drawn hair "
                             "itself beside hair_left_real, the level real hair shows; default %(default)s; 'none': not)")
    parser.add_argument("--from-step", type=int, default=0,
                        help="--snapshots: only the snapshots from this step on (default %(default)s: all)")
    parser.add_argument("--every", type=int, default=0,
                        help="--snapshots: only the snapshots whose step is a multiple of this, e.g. 2000 for a first "
                             "pass over a long run (a page evaluation of 300 faces a direction takes about 10 minutes "
                             "a snapshot on 2 cores); 0 = all (default %(default)s)")
    parser.add_argument("--min-face-psnr", type=float, default=26.0,
                        help="--snapshots: face PSNR floor in dB, both directions (default %(default)s)")
    parser.add_argument("--min-gender-kept", type=float, default=0.93,
                        help="--snapshots: gender-kept floor, both directions (default %(default)s)")
    args = parser.parse_args(argv)
    if args.every < 0:
        parser.error("--every must be 0 (all snapshots) or a number of steps")

    weights = Path(args.weights)
    try:
        a, b = celeba_domains(args.celeba_root, args.attr_a, args.attr_b, args.split)
        folders = snapshot_folders(weights, args.from_step, args.every) if args.snapshots else [weights]
        G_AB, G_BA = load_generators(folders[0], a, b, args)
        classifier = AttributeClassifier.from_pretrained(args.classifier).eval()
        args.hair_masks = load_hair_masks(args.hair_masks) if args.page and args.hair_masks != "none" else None
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for domain in (a, b):
        if args.max_images:
            domain.paths, domain.male = domain.paths[:args.max_images], domain.male[:args.max_images]
    size = G_AB.image_size
    (images_a, male_a, paths_a), (images_b, male_b, paths_b) = domain_images(a, size), domain_images(b, size)
    images, male, paths = {"A": images_a, "B": images_b}, {"A": male_a, "B": male_b}, {"A": paths_a, "B": paths_b}
    hair = HairColour(images)  # the domains' colour statistics, the same for every pair scored
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.snapshots:
        settings = {key: getattr(args, key) for key in ("classifier", "split", "max_images", "precision", "detail",
                                                         "drop_islands", "page")}
        earlier = scored_before(out / "selection.json", settings)
        reports = {}
        for i, folder in enumerate(folders):
            if str(folder) in earlier:
                reports[str(folder)] = earlier[str(folder)]
                print(f"{summary_line(folder, reports[str(folder)])} (scored before)")
                continue
            if i:  # the first pair is loaded above
                G_AB, G_BA = load_generators(folder, a, b, args)
            reports[str(folder)] = evaluate_pair(G_AB, G_BA, images, male, paths, classifier, hair, args,
                                                 baselines=False)
            print(summary_line(folder, reports[str(folder)]))
        best, qualified = select(reports, args.min_face_psnr, args.min_gender_kept)
        selection = {"chosen": best, "met_floors": qualified, "min_face_psnr": args.min_face_psnr,
                     "min_gender_kept": args.min_gender_kept, "from_step": args.from_step,
                     "max_images": args.max_images, "settings": settings, "reports": reports}
        (out / "selection.json").write_text(json.dumps(selection, indent=2) + "\n")
        print(f"chosen: {best} ({'meets' if qualified else 'no snapshot meets'} the floors face PSNR >= "
              f"{args.min_face_psnr} dB, gender kept >= {args.min_gender_kept:.0%}); wrote {out / 'selection.json'}")
        return 0

    report = {"weights": str(weights), **evaluate_pair(G_AB, G_BA, images, male, paths, classifier, hair, args)}
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    sheet = sample_grid(G_AB, G_BA, to_float(images["A"][:N_SHEET]), to_float(images["B"][:N_SHEET]), args.precision,
                        args.detail, args.drop_islands)
    sheet.save(out / "contact_sheet.png")
    print(json.dumps(report, indent=2))
    print(f"wrote {out / 'eval.json'} and {out / 'contact_sheet.png'}")
    return 0


def summary_line(folder, report: dict) -> str:
    parts = [f"{k}{' (' + path + ')' if path != 'model' else ''}: success {v[path]['success_rate']:.1%}, "
             f"gender {v[path]['gender_kept']:.1%}, face {v[path]['face_psnr']:.1f} dB, "
             f"cycle {v[path]['cycle_psnr']:.1f} dB, hair left {v[path]['hair_left']:.1%}"
             + (f", hair L* {v[path]['colour']['L']:.1f} a* {v[path]['colour']['a']:.1f} chroma "
                f"{v[path]['colour']['chroma']:.1f}" if "colour" in v[path] else "")  # reports scored before it: none
             for k, v in report.items() if isinstance(v, dict) for path in ("model", "page") if path in v]
    return f"{folder}: " + "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
