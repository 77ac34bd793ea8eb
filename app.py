"""black2blond web page (placeholder until issue [5]: the Gradio demo).

For now it checks that the library imports and that the default models in
weights/ load, and says what is missing.
"""

import sys
from pathlib import Path

from cyclegan import Generator

WEIGHTS = Path(__file__).resolve().parent / "weights"


def load_default_models():
    """G_AB (black -> blond) and G_BA (blond -> black) from weights/, in eval mode."""
    return tuple(Generator.from_pretrained(WEIGHTS / name).eval() for name in ("black2blond", "blond2black"))


if __name__ == "__main__":
    try:
        G_AB, G_BA = load_default_models()
    except FileNotFoundError as e:
        sys.exit(f"the web page is not built yet (issue [5]) and the default models are missing: {e}")
    print(f"the web page is not built yet (issue [5]); the default models load fine "
          f"({G_AB.source_domain} -> {G_AB.target_domain} and back, {G_AB.image_size} px)")
