"""Make astronaut_dark.jpg: the astronaut (astronaut.jpg, public domain) with her hair darkened by hand, the page's
black -> blond example (no licence-clean photo of a black-haired person ships in the packages we could use).

    python examples/darken_hair.py

The hair is a polygon drawn around it by eye, snapped to the photo's edges with the colour guided filter
(cyclegan.transform.guided_coefficients) and kept off the light backdrop at its edge; under it each pixel
becomes dark brown-black with the photo's own shading (its luminance to the power 1.6: the strands stay).
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from cyclegan.transform import guided_coefficients  # noqa: E402

im = Image.open(HERE / 'astronaut.jpg').convert('RGB')
# the hair, drawn by eye (the photo's pixels)
poly = [(148,55),(160,28),(190,14),(230,12),(268,20),(292,40),(302,70),(300,105),(290,128),(275,125),(268,100),(262,82),(240,74),(215,76),(195,84),(185,100),(180,125),(165,130),(152,110)]
m = Image.new('L', im.size, 0); ImageDraw.Draw(m).polygon(poly, fill=255)
m = m.filter(ImageFilter.GaussianBlur(3))
# snapped to the photo's colour edges: the guided filter's linear coefficients, smoothed, applied at every pixel
x = torch.from_numpy(np.asarray(im, np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
p = torch.from_numpy(np.asarray(m, np.float32) / 255)[None, None]
coef = guided_coefficients(x, p, 4, 1e-4)
coef = torch.nn.functional.avg_pool2d(coef, 9, 1, 4, count_include_pad=False)
matte = ((coef[:, :3] * x).sum(1, keepdim=True) + coef[:, 3:]).clamp(0, 1)[0, 0].numpy()
a = np.asarray(im, np.float32) / 255
lum = a @ np.array([0.299, 0.587, 0.114], np.float32)
core = np.asarray(m.point(lambda t: 255 if t > 128 else 0).filter(ImageFilter.MinFilter(15)), np.float32) / 255
core = np.asarray(Image.fromarray((core * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(4)), np.float32) / 255
matte = matte * np.maximum(np.clip((0.70 - lum) / 0.12, 0, 1), core)  # at the edge, the light backdrop is not hair
# black hair: the photo's own shading, darkened (a gamma lifts the texture out of the shadows) and cooled
dark = (lum[..., None] ** 1.6) * np.array([0.42, 0.36, 0.33], np.float32)
out = a * (1 - matte[..., None]) + dark * matte[..., None]
Image.fromarray((out * 255).round().clip(0, 255).astype(np.uint8)).save(HERE / 'astronaut_dark.jpg', quality=92)
