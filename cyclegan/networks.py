"""The CycleGAN networks: a ResNet generator and a 70x70 PatchGAN discriminator.

Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", section 4 and appendix 7.2. Layer names follow the paper:
c7s1-k is a 7x7 stride-1 conv-norm-ReLU, dk a 3x3 stride-2 conv-norm-ReLU, Rk a
residual block of two 3x3 convs, uk a 3x3 stride-1/2 (transposed) conv-norm-ReLU,
Ck a 4x4 stride-2 conv-norm-LeakyReLU(0.2).

Domains: A = black hair, B = blond hair. G_AB (the paper's G) maps A to B,
G_BA (F) maps B to A, D_A (D_X) judges A, D_B (D_Y) judges B.
Tensor convention everywhere: float (N, C, H, W) in [-1, 1].
"""

import torch
import torch.nn as nn
from huggingface_hub import ModelCard

from .cards import model_card
from .mixin import StrictHubMixin
from .transform import affine_colours, apply_field, coefficient_field, guided_coefficients  # noqa: F401 (re-exported)


def init_weights(net: nn.Module, std: float = 0.02) -> None:
    """Gaussian init N(0, std) of every conv weight, zero biases (paper, sec. 7.2)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _norm(channels: int) -> nn.Module:
    # Instance norm without affine parameters or running statistics, as the reference:
    # every image is normalised by its own statistics, in training and at test time.
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """R{dim}: two 3x3 reflection-padded conv-norm layers with a skip connection."""

    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), _norm(dim), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), _norm(dim),
        )

    def forward(self, x):
        return x + self.block(x)


class Generator(
    nn.Module,
    StrictHubMixin,
    library_name="cyclegan",
    tags=["cyclegan", "image-to-image", "unpaired-image-translation"],
    pipeline_tag="image-to-image",
    paper_url="https://arxiv.org/abs/1703.10593",
):
    """ResNet generator c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3.

    Fully convolutional: it takes any (N, in_channels, H, W) input with H and W
    divisible by 4 (the two stride-2 downsamplings) and at least 8 (the reflection
    padding of the residual blocks needs 2 pixels there), and returns the same size in
    [-1, 1] (tanh). Other sizes raise ValueError; `cyclegan.inference.translate`
    pads and crops back for you.

    Every argument is a plain JSON value, so `save_pretrained` records all of them
    in config.json and `from_pretrained` rebuilds the same network.

    Args:
        in_channels (`int`, defaults to 3): channels of the input image.
        out_channels (`int`, defaults to 3): channels of the output image.
        ngf (`int`, defaults to 64): filters of the first layer (the paper's 64).
        n_blocks (`int`, defaults to 9): residual blocks; the paper uses 6 at 128x128
            and 9 at 256x256 (sec. 7.2).
        image_size (`int`, defaults to 256): the square size the model was trained at;
            inputs of that size give the best results. Stored for users, unused by the layers.
        source_domain (`str`, defaults to "A"): name of the input domain, e.g. "black".
        target_domain (`str`, defaults to "B"): name of the output domain, e.g. "blond".
        upsample (`str`, defaults to "deconv"): "deconv", the paper's transposed convolutions,
            or "resize_conv", nearest-neighbour upsampling and a 3x3 convolution, which avoids
            their checkerboard artefacts (Odena et al. 2016, "Deconvolution and Checkerboard
            Artifacts"). The same number of parameters either way.
        attention (`bool`, defaults to False): attention-guided output M * C + (1 - M) * x, where the
            last layer predicts the content C and the mask M (Mejjati et al. 2018).
        recolour (`bool`, defaults to False; needs attention): instead of painting the content, predict
            how to recolour the input: C = T(x), per-pixel affine colour transforms (3x3 matrix and offset)
            whose coefficients form a smooth field, the last layer's channels averaged over cells of `cell`
            pixels and scaled back up bilinearly (cyclegan.transform). T applies at any resolution
            (`cyclegan.faces.recolour_photo`), so a photo keeps its own strands, highlights and shading
            under the new colour by construction.
        cell (`int`, defaults to 4): side in pixels of the transform field's cells at the model's size.
        bins (`int`, defaults to 1; recolour only): knots of the field's luminance axis, the bilateral grid
            of HDRNet (Gharbi et al. 2017): each pixel's transform is interpolated between the knots at its
            own luminance, so dark and light pixels of one cell are recoloured differently (near-black hair
            to blond, the skin beside it kept). 1 is one transform per cell, as the first recolouring pairs.
        guided_radius (`int`, defaults to 0; recolour only): with r > 0 the mask is a colour guided filter
            of the raw mask (He et al. 2010, windows of 2r + 1 pixels) whose linear coefficients join the
            field, so at any resolution the mask follows the photo's own colour edges (the fast guided
            filter, Wu et al. 2018). 0 is the raw mask, scaled up as an image (the first recolouring pairs).
        guided_eps (`float`, defaults to 0.01): the guided filter's regulariser, in squared [-1, 1] units: how
            much colour contrast a mask edge needs to follow it.
        hair_lightness (`list[float]`, defaults to None; needs guided_radius): matched colour (issue [16],
            cyclegan.transform): the colour under the mask is not the field's transform but real target hair's,
            the hair's L* mapped rank by rank onto these quantiles of real target hair's L* (at levels
            (k + 0.5) / K, ascending). None: the field's transform, as every pair before it.
        hair_ab (`list`, defaults to None; with hair_lightness): real target hair's median [a*, b*], or one
            [a*, b*] for each hair_lightness value (real blond hair is warmer where it is darker).
        chroma_kept (`float`, defaults to 0.3): the share of the hair's own a*, b* variation kept around hair_ab.
        mask_gain (`float`, defaults to 1.0; needs guided_radius): a steeper blend, the guided mask M taken to
            clamp(k (M - 1/2) + 1/2) with k = mask_gain: a mask taught on drawn hair (--lambda-drawn) is a
            probability, soft where it is unsure, and a partial recolour there reads as a haze; k > 1 cuts the
            tails below (k - 1) / 2k and fills the hair above (k + 1) / 2k. Being linear in the mask's coefficients
            it is applied to them, so the photo path (the field) follows with no change.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        image_size: int = 256,
        source_domain: str = "A",
        target_domain: str = "B",
        upsample: str = "deconv",
        attention: bool = False,
        recolour: bool = False,
        cell: int = 4,
        bins: int = 1,
        guided_radius: int = 0,
        guided_eps: float = 0.01,
        hair_lightness: list = None,
        hair_ab: list = None,
        chroma_kept: float = 0.3,
        mask_gain: float = 1.0,
    ):
        super().__init__()
        if upsample not in ("deconv", "resize_conv"):
            raise ValueError(f"upsample must be 'deconv' or 'resize_conv', got {upsample!r}")
        for name, value in [("in_channels", in_channels), ("out_channels", out_channels), ("ngf", ngf)]:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"n_blocks must be a non-negative integer, got {n_blocks!r}")
        if not isinstance(image_size, int) or image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a positive multiple of 4, got {image_size!r}")
        if attention not in (True, False):
            raise ValueError(f"attention must be true or false, got {attention!r}")
        if attention and in_channels != out_channels:
            raise ValueError(f"attention blends the output with the input, so in_channels ({in_channels}) "
                             f"must equal out_channels ({out_channels})")
        if recolour not in (True, False):
            raise ValueError(f"recolour must be true or false, got {recolour!r}")
        if recolour and not attention:
            raise ValueError("recolour needs attention: the recolouring is applied where the mask is on")
        if recolour and in_channels != 3:
            raise ValueError(f"recolour transforms RGB colours: in_channels must be 3, got {in_channels}")
        if not isinstance(cell, int) or cell < 1:
            raise ValueError(f"cell must be a positive integer, got {cell!r}")
        if not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        if not isinstance(guided_radius, int) or guided_radius < 0:
            raise ValueError(f"guided_radius must be a non-negative integer, got {guided_radius!r}")
        if not guided_eps > 0:
            raise ValueError(f"guided_eps must be positive, got {guided_eps!r}")
        if (bins > 1 or guided_radius) and not recolour:
            raise ValueError("bins and guided_radius shape the recolouring transform: they need recolour")
        check_mask_gain(mask_gain, guided_radius)
        self.colour_target = colour_target(hair_lightness, hair_ab, chroma_kept, guided_radius)
        self.attention, self.recolour, self.cell = attention, recolour, cell
        self.bins, self.guided_radius, self.guided_eps, self.mask_gain = bins, guided_radius, guided_eps, float(mask_gain)
        self.image_size = image_size
        self.source_domain = source_domain
        self.target_domain = target_domain

        layers = [  # c7s1-ngf: reflection padding reduces border artifacts
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), _norm(ngf), nn.ReLU(inplace=True),
        ]
        for mult in (1, 2):  # d128, d256
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                _norm(ngf * mult * 2), nn.ReLU(inplace=True),
            ]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]  # R256 x n_blocks
        for mult in (4, 2):  # u128, u64
            if upsample == "deconv":  # the paper's fractionally strided convolutions
                layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1)]
            else:  # nearest-neighbour upsampling then a 3x3 conv: no checkerboard (Odena et al. 2016)
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                           nn.Conv2d(ngf * mult, ngf * mult // 2, 3)]
            layers += [_norm(ngf * mult // 2), nn.ReLU(inplace=True)]
        if recolour:  # c7s1-(12 bins + 1): the transform's coefficients and the mask's logit from one layer
            layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 12 * bins + 1, 7)]
        elif attention:  # c7s1-4: content and the mask's logit from one layer; see forward
            layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels + 1, 7)]
        else:
            layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]  # c7s1-3
        self.model = nn.Sequential(*layers)
        init_weights(self)
        if recolour:  # the transform starts as the identity: the output is the input until training moves it
            nn.init.zeros_(self.model[-1].weight[:12 * bins])

    def set_colour_target(self, target: dict) -> None:
        """Give the generator matched colour ({"lightness", "ab", "kept"}, as colour_target), also in the config
        save_pretrained writes (the mixin's record of the __init__ arguments); None takes it out (the field's own
        colour)."""
        if target is None:
            self.colour_target = None
            self._hub_mixin_config.update(hair_lightness=None, hair_ab=None)
            return
        self.colour_target = colour_target(target["lightness"], target["ab"], target["kept"], self.guided_radius)
        self._hub_mixin_config.update(hair_lightness=self.colour_target["lightness"], hair_ab=self.colour_target["ab"],
                                      chroma_kept=self.colour_target["kept"])

    def set_mask_gain(self, gain: float) -> None:
        """A steeper (or, at 1, the plain) guided mask from now on (mask_gain), also in the config save_pretrained
        writes."""
        check_mask_gain(gain, self.guided_radius)
        self.mask_gain = self._hub_mixin_config["mask_gain"] = float(gain)

    def generate_model_card(self, training: dict = None, **kwargs) -> ModelCard:
        """The README.md save_pretrained writes: the card push_pair publishes, for a local folder.

        `training` is the run's training.json ({"steps", "config"}), passed by train/run.py
        as save_pretrained(..., model_card_kwargs={"training": ...}).
        """
        return ModelCard(model_card(dict(self._hub_mixin_config), training=training, **kwargs))

    def forward(self, x: torch.Tensor, return_mask: bool = False, mask_floor=None, return_content: bool = False,
                return_field: bool = False):
        """(N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1].

        With return_mask=True, returns (output, mask), mask (N, 1, H, W) in [0, 1]: where
        the output comes from the content (1) rather than the input (0). The paper's
        generator changes everything, so its mask is all ones. mask_floor (a float or a
        0-d tensor in [0, 1], training only) raises the mask to floor + (1 - floor) * M:
        the warm-up in which the mask gates the output only gradually (see TrainConfig).
        return_content=True (attention only) returns (output, mask, content).
        return_field=True (recolour only) returns (output, mask, field): the transform's coefficients (and the
        guided mask's), (N, 12 bins (+ 4), H / cell, W / cell), which `recolour_photo` applies at any size.
        """
        if x.ndim != 4 or x.shape[-2] % 4 or x.shape[-1] % 4 or min(x.shape[-2:]) < 8:
            raise ValueError(
                f"Generator expects (N, C, H, W) with H and W divisible by 4 and at least 8, got shape {tuple(x.shape)}; "
                "pad the image (cyclegan.inference.translate does) or resize it"
            )
        y = self.model(x)
        if not self.attention:
            return (y, torch.ones_like(y[:, :1])) if return_mask else y
        if self.recolour:
            coefficients, mask = y[:, :-1], torch.sigmoid(y[:, -1:])
            guided = self.guided_radius > 0
            if guided:  # the mask as a linear function of the colours, window by window (cyclegan.transform)
                coefficients = torch.cat([coefficients.float(), steeper(guided_coefficients(
                    x, mask, self.guided_radius, self.guided_eps), self.mask_gain)], 1)
            field = coefficient_field(coefficients, self.cell)
            if guided:
                content, mask = apply_field(x, field, self.bins, guided=True, colour=self.colour_target)
            else:
                content = apply_field(x, field, self.bins)
        else:
            content, mask = torch.tanh(y[:, :-1]), torch.sigmoid(y[:, -1:])
        if mask_floor is not None:
            mask = mask_floor + (1 - mask_floor) * mask
        out = blend(content, mask, x)
        if return_field:
            if not self.recolour:
                raise ValueError("return_field needs a recolouring generator (recolour=True)")
            return out, mask, field
        if return_content:
            return out, mask, content
        return (out, mask) if return_mask else out


def colour_target(hair_lightness, hair_ab, chroma_kept: float, guided_radius: int):
    """Generator.colour_target from its matched-colour arguments ({"lightness", "ab", "kept"}, None without
    hair_lightness), or a ValueError naming the one that cannot work."""
    if hair_lightness is None:
        if hair_ab is not None:
            raise ValueError("hair_ab comes with hair_lightness (matched colour)")
        return None
    lightness = [float(v) for v in hair_lightness]
    if not guided_radius:
        raise ValueError("hair_lightness (matched colour) needs the guided mask: set guided_radius > 0")
    if len(lightness) < 2 or any(not 0 <= v <= 100 for v in lightness) or lightness != sorted(lightness):
        raise ValueError(f"hair_lightness must be at least 2 ascending L* values in [0, 100], got {hair_lightness!r}")
    try:
        pairs = [[float(a), float(b)] for a, b in (hair_ab if isinstance(hair_ab[0], (list, tuple)) else [hair_ab])]
    except (TypeError, ValueError, IndexError):
        pairs = []
    if len(pairs) not in (1, len(lightness)):
        raise ValueError(f"hair_ab must be the target hair's [a*, b*], or one [a*, b*] for each of the "
                         f"{len(lightness)} hair_lightness values, with hair_lightness; got {hair_ab!r}")
    if not 0 <= chroma_kept <= 1:
        raise ValueError(f"chroma_kept must be in [0, 1], got {chroma_kept!r}")
    return {"lightness": lightness, "ab": pairs[0] if len(pairs) == 1 else pairs, "kept": float(chroma_kept)}


def check_mask_gain(gain, guided_radius: int) -> None:
    """A ValueError unless `gain` can be a Generator's mask_gain."""
    if isinstance(gain, bool) or not (isinstance(gain, (int, float)) and gain >= 1):
        raise ValueError(f"mask_gain must be a number >= 1, got {gain!r}")
    if gain != 1 and not guided_radius:
        raise ValueError("mask_gain steepens the guided mask: it needs guided_radius > 0")


def steeper(mask_coefficients: torch.Tensor, gain: float) -> torch.Tensor:
    """The guided mask's coefficients (N, 4, H, W: a for R, G, B, then c) of k (M - 1/2) + 1/2 for M = a . x + c."""
    if gain == 1:
        return mask_coefficients
    a, c = mask_coefficients[:, :3], mask_coefficients[:, 3:]
    return torch.cat([gain * a, gain * (c - 0.5) + 0.5], 1)


def blend(content: torch.Tensor, mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """M * C + (1 - M) * x, the attention-guided output (Mejjati et al. 2018, Eq. 1).

    content, x: (N, C, H, W) in [-1, 1]; mask: (N, 1, H, W) in [0, 1]. Computed in fp32
    with torch.lerp, which returns x exactly where M = 0 and C exactly where M = 1, so
    under bf16/fp16 autocast the unchanged pixels keep the input's full precision.
    """
    return torch.lerp(x.float(), content.float(), mask.float().expand_as(content))


class Discriminator(nn.Module):
    """70x70 PatchGAN: C64-C128-C256-C512, then a 1-channel 4x4 conv (paper, sec. 7.2).

    Each output value judges one 70x70 patch of the input as real or fake. No norm
    on the first layer; LeakyReLU with slope 0.2; C512 has stride 1.

    Args:
        in_channels (`int`, defaults to 3): channels of the judged image.
        ndf (`int`, defaults to 64): filters of the first layer.
        n_layers (`int`, defaults to 3): stride-2 layers after the first; 3 gives the 70x70 field.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
        layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last C layer keeps the resolution
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                _norm(ndf * mult), nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [-1, 1] -> (N, 1, H', W') patch scores (raw, LSGAN)."""
        return self.model(x)
