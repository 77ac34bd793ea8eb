"""black2blond: CycleGAN (Zhu et al. 2017) for unpaired image-to-image translation.

A = the first domain (black hair), B = the second (blond hair).
G_AB = the paper's G (A -> B), G_BA = F (B -> A), D_A = D_X, D_B = D_Y.
"""

from .inference import translate, translate_image
from .networks import Discriminator, Generator
from .config import TrainConfig
from .training import Trainer

__all__ = ["Generator", "Discriminator", "TrainConfig", "Trainer", "translate", "translate_image"]
__version__ = "0.1.0"
