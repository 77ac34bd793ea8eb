"""Judging unpaired translations, as StarGAN and AttGAN judge attribute editing.

Does the output carry the target attribute (an attribute classifier trained on CelebA's
labels), and is everything else kept (the Male prediction, PSNR and SSIM on the central
face region, PSNR of the reconstruction)? Images are (N, 3, H, W) in [-1, 1].
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .hub import StrictHubMixin

ATTRIBUTES = ["Black_Hair", "Blond_Hair", "Male"]
PSNR_CAP = 100.0  # dB given to identical images, whose PSNR is infinite
# The central face (eyes, nose, mouth; no hair) as fractions of CelebA's aligned 178x178
# crop: the eyes sit at about 51% of the height, the mouth at about 74%.
FACE_BOX = (0.30, 0.42, 0.70, 0.82)  # left, top, right, bottom


class AttributeClassifier(nn.Module, StrictHubMixin, library_name="cyclegan", tags=["celeba", "attributes"]):
    """A small CNN predicting CelebA attributes from a face crop (multi-label, one logit each).

    Four stages of two 3x3 conv-BN-ReLU layers and a 2x2 max pool, global average
    pooling and a linear layer. Any input size is resized to `image_size` first.

    Args:
        attributes (`list[str]`, defaults to Black_Hair, Blond_Hair, Male): CelebA attribute names.
        image_size (`int`, defaults to 64): side the input is resized to.
        width (`int`, defaults to 32): channels of the first stage, doubled at each stage.
    """

    def __init__(self, attributes: list = None, image_size: int = 64, width: int = 32):
        super().__init__()
        self.attributes = list(attributes or ATTRIBUTES)
        self.image_size = image_size
        layers, channels = [], 3
        for k in range(4):
            out = width * 2**k
            for _ in range(2):
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                channels = out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(channels, len(self.attributes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, n_attributes) logits."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
        return self.head(self.features(x).mean(dim=(2, 3)))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> dict:
        """{attribute: bool (N,)}: the classifier's yes/no for each attribute."""
        logits = self(x)
        return {name: logits[:, k] > 0 for k, name in enumerate(self.attributes)}


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, cap: float = PSNR_CAP) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB: 10 log10(range^2 / MSE).

    For images in [-1, 1] the range is 2. Identical images (MSE 0) get `cap` (100 dB)
    instead of infinity, so means stay finite and JSON-friendly.
    """
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse)).clamp(max=cap).nan_to_num(cap)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5,
    K1 = 0.01, K2 = 0.03, computed per channel over the valid window positions and averaged."""
    x, y = x.float(), y.float()
    c = x.shape[1]
    window = _gaussian_window().to(x)[None, None].repeat(c, 1, 1, 1)
    mean = lambda t: F.conv2d(t, window, groups=c)
    mu_x, mu_y = mean(x), mean(y)
    var_x = mean(x * x) - mu_x**2
    var_y = mean(y * y) - mu_y**2
    cov = mean(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


def face_region(x: torch.Tensor) -> torch.Tensor:
    """The central face box (FACE_BOX) of CelebA-aligned crops (N, C, H, W)."""
    h, w = x.shape[-2:]
    left, top, right, bottom = FACE_BOX
    return x[..., round(top * h):round(bottom * h), round(left * w):round(right * w)]
