"""Training reports drawn with Pillow alone: the loss curves, the sample grids' labels and an animated
GIF of the grids.

    loss_curves("runs/b2b/losses.csv", "runs/b2b/losses.png")
    label_grid(sample_grid(...), ["photo", "translated", "translated back"], ["black -> blond", ...])
    samples_gif("runs/b2b/samples", "runs/b2b/samples.gif")

No plotting library: two panels of smoothed lines with labelled axes are all a run needs,
and matplotlib would add tens of megabytes to every install for them.
"""

import csv
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# (panel title, columns of losses.csv); generator terms and discriminator terms have different scales
PANELS = [("generators: total, adversarial, cycle, identity", ["G", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A",
                                                               "idt_B"]),
          ("discriminators (halved LSGAN loss)", ["D_A", "D_B"]),
          ("attention: mean mask M, and its sparsity + smoothness loss", ["M_A", "M_B", "mask_A", "mask_B"])]
COLOURS = {"G": (0, 0, 0), "G_AB": (31, 119, 180), "G_BA": (255, 127, 14), "cycle_A": (44, 160, 44),
           "cycle_B": (214, 39, 40), "idt_A": (148, 103, 189), "idt_B": (140, 86, 75), "D_A": (31, 119, 180),
           "D_B": (255, 127, 14), "M_A": (31, 119, 180), "M_B": (255, 127, 14), "mask_A": (44, 160, 44),
           "mask_B": (214, 39, 40)}
MAX_GIF_FRAMES = 120


def read_losses(csv_path) -> tuple:
    """(steps, {column: values}) from train/run.py's losses.csv."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{csv_path} has no rows yet")
    steps = [int(r["step"]) for r in rows]
    names = [k for k in rows[0] if k not in ("step", "epoch", "lr")]
    # a blank column is a loss the run does not use (the identity terms with --lambda-identity 0)
    columns = {k: [float(r[k]) for r in rows] for k in names if all(r[k] for r in rows)}
    return steps, columns


def smooth(values: list, span: int) -> list:
    """Exponential moving average over about `span` values (bias-corrected at the start)."""
    alpha, avg, out = 2 / (span + 1), 0.0, []
    for i, v in enumerate(values, 1):
        avg = (1 - alpha) * avg + alpha * v
        out.append(avg / (1 - (1 - alpha) ** i))
    return out


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list:
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-12) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def loss_curves(csv_path, out_png, width: int = 1000, panel_height: int = 300) -> Path:
    """Draw the smoothed losses of a run against steps, generators above, discriminators below."""
    steps, columns = read_losses(csv_path)
    panels = [(title, names) for title, names in PANELS if any(k in columns for k in names)]  # e.g. no masks
    span = max(1, len(steps) // 100)
    margin_left, margin_right, margin_top, gap = 70, 150, 30, 50
    image = Image.new("RGB", (width, margin_top + len(panels) * (panel_height + gap)), "white")
    draw = ImageDraw.Draw(image)
    x0, x1 = margin_left, width - margin_right
    s_lo, s_hi = steps[0], max(steps[-1], steps[0] + 1)
    to_x = lambda s: x0 + (s - s_lo) / (s_hi - s_lo) * (x1 - x0)
    for p, (title, names) in enumerate(panels):
        y0 = margin_top + p * (panel_height + gap)
        y1 = y0 + panel_height
        curves = {k: smooth(columns[k], span) for k in names if k in columns}
        # the y range leaves out the first 5% of steps, where the losses start far above where
        # they settle; the lines are cut at the top of the panel there
        settled = [v[len(v) // 20:] for v in curves.values()]
        lo, hi = min(min(v) for v in settled), max(max(v) for v in settled)
        lo, hi = (lo - 0.5, hi + 0.5) if hi - lo < 1e-9 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        to_y = lambda v: min(max(y1 - (v - lo) / (hi - lo) * (y1 - y0), y0), y1)
        draw.rectangle([x0, y0, x1, y1], outline=(120, 120, 120))
        draw.text((x0, y0 - 18), f"{title}; smoothed over ~{span} steps", fill=(0, 0, 0))
        for t in _nice_ticks(lo, hi):
            draw.line([x0 - 4, to_y(t), x0, to_y(t)], fill=(0, 0, 0))
            draw.text((5, to_y(t) - 6), f"{t:.3g}", fill=(0, 0, 0))
        for t in _nice_ticks(s_lo, s_hi):
            draw.line([to_x(t), y1, to_x(t), y1 + 4], fill=(0, 0, 0))
            draw.text((to_x(t) - 10, y1 + 6), f"{t:g}", fill=(0, 0, 0))
        for i, (k, values) in enumerate(curves.items()):
            points = [(to_x(s), to_y(v)) for s, v in zip(steps, values)]
            if len(points) == 1:
                points = points * 2
            draw.line(points, fill=COLOURS[k], width=2)
            draw.line([x1 + 15, y0 + 12 + 16 * i, x1 + 35, y0 + 12 + 16 * i], fill=COLOURS[k], width=3)
            draw.text((x1 + 40, y0 + 6 + 16 * i), k, fill=(0, 0, 0))
    draw.text((x1 - 30, image.height - 16), "step", fill=(0, 0, 0))
    out_png = Path(out_png)
    image.save(out_png)
    return out_png


def label_grid(grid: Image.Image, columns: list, notes: list = ()) -> Image.Image:
    """`grid` (a cyclegan.inference.sample_grid) under a white strip that names its equal-width columns,
    with `notes` (text, e.g. which rows are which direction; wrapped to the width) above the names."""
    try:
        font = ImageFont.load_default(size=12)
    except TypeError:  # Pillow < 10.1: the bitmap font, no size
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    length = lambda t: draw.textlength(t, font=font)  # noqa: E731
    lines = [line for note in notes for line in wrap(note, grid.width - 8, length)]
    width = grid.width / len(columns)
    names = [wrap(name, width - 4, length) for name in columns]  # narrow columns (64 px) take two lines or more
    height = 16
    header = Image.new("RGB", (grid.width, height * (len(lines) + max(map(len, names))) + 4), "white")
    draw = ImageDraw.Draw(header)
    for i, line in enumerate(lines):
        draw.text((4, 2 + i * height), line, fill=(90, 90, 90), font=font)
    for i, name in enumerate(names):
        for j, part in enumerate(name):
            x = i * width + max(2, (width - length(part)) / 2)
            draw.text((x, 2 + (len(lines) + j) * height), part, fill="black", font=font)
    out = Image.new("RGB", (grid.width, header.height + grid.height), "white")
    out.paste(header, (0, 0))
    out.paste(grid, (0, header.height))
    return out


def wrap(text: str, width: float, length) -> list:
    """`text` in lines no longer than `width` by `length(line)`, broken at spaces (a long word stays whole)."""
    lines = []
    for word in text.split():
        if lines and length(f"{lines[-1]} {word}") <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def samples_gif(samples_dir, out_gif, duration_ms: int = 400) -> Path:
    """An animated GIF of the run's sample grids in step order (at most MAX_GIF_FRAMES, evenly spaced)."""
    frames = sorted(Path(samples_dir).glob("epoch*_step*.png"), key=lambda p: int(p.stem.split("step")[1]))
    if not frames:
        raise ValueError(f"no sample grids (epoch*_step*.png) in {samples_dir}")
    if len(frames) > MAX_GIF_FRAMES:
        frames = [frames[round(i * (len(frames) - 1) / (MAX_GIF_FRAMES - 1))] for i in range(MAX_GIF_FRAMES)]
    images = []
    for path in frames:
        with Image.open(path) as im:
            frame = im.convert("RGB")
        ImageDraw.Draw(frame).text((4, 4), path.stem.split("_")[1], fill=(255, 255, 0))
        images.append(frame.quantize(colors=256, method=Image.Quantize.MEDIANCUT))
    out_gif = Path(out_gif)
    images[0].save(out_gif, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return out_gif


def write_reports(run_dir) -> list:
    """losses.png and samples.gif of a train/run.py output folder, from what it holds now."""
    run_dir = Path(run_dir)
    written = []
    if (run_dir / "losses.csv").is_file():
        try:
            written.append(loss_curves(run_dir / "losses.csv", run_dir / "losses.png"))
        except ValueError:
            pass  # no rows yet
    if any((run_dir / "samples").glob("epoch*_step*.png")):
        written.append(samples_gif(run_dir / "samples", run_dir / "samples.gif"))
    return written
