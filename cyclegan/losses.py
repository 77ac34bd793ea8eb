"""CycleGAN objectives (Zhu et al. 2017, sec. 3 and 4): LSGAN, cycle and identity losses.

All losses take float tensors and return a scalar; images are (N, C, H, W) in [-1, 1].
"""

import torch
import torch.nn.functional as F

from .evaluation import face_region
from .transform import srgb_to_lab


def gan_loss(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al. 2017), which the paper uses instead of the log loss (sec. 4).

    For a discriminator D and generator G:
        L_D = E_y[(D(y) - 1)^2] + E_x[D(G(x))^2]
        L_G = E_x[(D(G(x)) - 1)^2]
    This function returns the mean of (prediction - t)^2 with t = 1 for real, 0 for fake.

    Args:
        prediction (`torch.Tensor`): the discriminator's patch scores, any shape.
        target_is_real (`bool`): whether the ideal answer is "real" (1) or "fake" (0).
    """
    target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
    return F.mse_loss(prediction.float(), target.float())


def cycle_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Cycle-consistency loss, one direction of Eq. 2: E_x[||F(G(x)) - x||_1].

    The caller weights it by lambda_cycle (10 in the paper, sec. 4).
    """
    return F.l1_loss(reconstructed.float(), real.float())


def identity_loss(real: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Identity-mapping loss, one direction of sec. 5.2: E_y[||G(y) - y||_1].

    A generator fed an image of its target domain should return it unchanged; this
    keeps colour composition. The reference weights it by lambda_identity * lambda_cycle
    (0.5 * 10).
    """
    return F.l1_loss(same.float(), real.float())


def discriminator_loss(pred_real: torch.Tensor, pred_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss, halved "to slow down the rate at which D learns" (sec. 4)."""
    return 0.5 * (gan_loss(pred_real, True) + gan_loss(pred_fake, False))


def mask_sparsity_loss(mask: torch.Tensor) -> torch.Tensor:
    """L1 sparsity of an attention mask, mean(M) over pixels (Mejjati et al. 2018; Tang et al. 2019).

    Alone, the adversarial and cycle losses are as happy with a mask of all ones (the
    paper's generator, which repaints the whole picture) as with one on the hair only;
    this term charges every changed pixel, so only changes that pay for themselves
    against D stay. The caller weights it by lambda_mask.

    Args:
        mask (`torch.Tensor`): (N, 1, H, W) in [0, 1].
    """
    return mask.float().mean()


def mask_smoothness_loss(mask: torch.Tensor) -> torch.Tensor:
    """Total variation of an attention mask: mean |M(i+1, j) - M(i, j)| + mean |M(i, j+1) - M(i, j)|.

    Keeps the mask in regions instead of speckles (Tang et al. 2019 use the same term);
    the caller weights it by lambda_mask_tv.

    Args:
        mask (`torch.Tensor`): (N, 1, H, W) in [0, 1].
    """
    m = mask.float()
    return (m[..., 1:, :] - m[..., :-1, :]).abs().mean() + (m[..., :, 1:] - m[..., :, :-1]).abs().mean()


def mask_face_loss(mask: torch.Tensor) -> torch.Tensor:
    """Mean of an attention mask over the central face box (evaluation.FACE_BOX): mean(M[face]).

    A prior for aligned faces (CelebA): hair colour never needs the eyes, nose or mouth
    changed, yet late in training the masks spread onto them (darkened eye sockets, face
    PSNR falling step after step). Unlike the L1 sparsity it leaves the hair free, so it
    does not charge the changes that make the translation. Only meaningful where the
    training crops are aligned as CelebA's (the app crops faces the same way). The caller
    weights it by lambda_mask_face.

    Args:
        mask (`torch.Tensor`): (N, 1, H, W) in [0, 1], CelebA-aligned.
    """
    return face_region(mask.float()).mean()


def mask_edge_loss(real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The change a translation makes where its mask is only partly on: mean((1 - M) |G(x) - x|).

    With G(x) = x + M (C - x) this is mean(M (1 - M) |C - x|): nothing where the mask is off
    (M = 0) or fully on (M = 1), most at its soft edge. There the content shows through at half
    strength, and the content of the skin next to the hair is not the photo's (the generators
    recolour everything, lightening skin too, then the mask picks): a pink line along the
    hairline. The term asks for the photo in the content wherever the mask is unsure, or a mask that
    is sure (its gradient pushes M below 1/2 towards 0 and above towards 1). The caller weights
    it by lambda_mask_edge.

    Args:
        real, fake (`torch.Tensor`): (N, C, H, W), the photo x and its translation G(x).
        mask (`torch.Tensor`): (N, 1, H, W) in [0, 1], G's mask for x.
    """
    return ((1 - mask.float()) * (fake.float() - real.float()).abs()).mean()


COLOUR_DIRECTIONS = 32  # random unit directions in CIELAB the sliced Wasserstein distance projects on
COLOUR_MIN_PIXELS = 64  # fewer masked pixels than this on either side: no colour term this step


def colour_distribution_loss(fake: torch.Tensor, fake_mask: torch.Tensor, real: torch.Tensor,
                             real_mask: torch.Tensor, generator: torch.Generator = None) -> torch.Tensor:
    """Sliced Wasserstein distance in CIELAB between the recoloured hair and real hair of the target colour
    (issue [16]; Rabin et al. 2011, the sliced distance; as colour transfer uses it, Pitie et al. 2005).

    The pixels of `fake` where its mask is over 0.5 against those of `real` (the target domain's photos) where
    `real_mask` is over 0.5 (the reverse generator's mask on them: their hair); both sets projected on
    COLOUR_DIRECTIONS random unit directions of L*a*b* (L* in units of 100, a* and b* of 100), each projection
    sorted and compared quantile by quantile (the smaller set's count of quantiles), the mean absolute
    difference. The discriminator judges the image as a whole, and near-black hair's colour is a small part of
    its loss; this says directly how far the recoloured hair's colours are from real hair's: too dark, too red,
    too grey. Gradients reach `fake` only. 0 when either side has fewer than COLOUR_MIN_PIXELS pixels.

    fake, real: (N, 3, H, W) in [-1, 1]; fake_mask, real_mask: (N, 1, H, W) in [0, 1].
    """
    def hair(x, mask):  # (n, 3) L*a*b* / 100 of the pixels the mask holds
        lab = srgb_to_lab(x.float()).permute(0, 2, 3, 1)
        return lab[mask[:, 0] > 0.5] / 100

    ours, theirs = hair(fake, fake_mask.detach()), hair(real.detach(), real_mask.detach())
    if min(len(ours), len(theirs)) < COLOUR_MIN_PIXELS:
        return fake.new_zeros((), dtype=torch.float32)
    directions = torch.randn(3, COLOUR_DIRECTIONS, generator=generator).to(ours.device)
    directions = directions / directions.norm(dim=0, keepdim=True)
    n = min(len(ours), len(theirs))
    quantiles = torch.linspace(0, 1, n, device=ours.device)
    a = torch.quantile(ours @ directions, quantiles, dim=0)  # (n, directions)
    b = torch.quantile(theirs @ directions, quantiles, dim=0)
    return (a - b).abs().mean()


def drawn_mask_loss(mask: torch.Tensor, hair: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of a mask (N, 1, H, W) in [0, 1] against hair drawn by hand (the same shape, in [0, 1]),
    the mean over pixels. The clamp away from 0 and 1 passes its gradient straight through (as guided_mask's), so a
    mask shut where hair was drawn is still taught to open."""
    mask = mask.float()
    mask = mask + (mask.clamp(1e-4, 1 - 1e-4) - mask).detach()
    return F.binary_cross_entropy(mask, hair.float())
