"""Real photos for a model trained on CelebA faces: find the face, crop it the way CelebA is
cropped, translate, and paste the result back into the photo.

    result = translate_photo(photo, G_AB, G_BA)   # photo: PIL RGB of any size
    result.composite                               # the photo with the translated face blended in
    result.mask                                    # where the model changed the picture

An attention generator's change is pasted where its mask is on, and nowhere else (by default
not on the mask's small islands away from the hair either: cyclegan.inference.mask_islands); a
paper generator's (which repaints everything) over the crop box with feathered edges.

Faces are found with OpenCV's bundled Haar cascade "frontalface_alt2" (shipped inside the
opencv wheel; nothing is downloaded; of the bundled frontal cascades it had the fewest
false detections on our example photos). The crop box is calibrated on CelebA itself: on
394 of 400 train images as the model saw them (the central 178x178 of the aligned
178x218), the cascade's face box is centred at (0.499, 0.582) of the crop and 0.565 of
its side wide (std 0.009, 0.010, 0.039), so a detected face of width w gets a square
crop of side w / 0.565 placed the same way: face centred, hair above, a little neck.
"""

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .inference import DETAIL_SIGMA, MASK_OFF, image_to_tensor, keep_detail, tensor_to_image, translate

# where a CelebA training crop has its face: Haar box centre (x, y) and width, as fractions of the crop side
FACE_CENTRE_X, FACE_CENTRE_Y, FACE_WIDTH = 0.499, 0.582, 0.565
DETECT_SIDE = 640  # detect on a copy at most this large: the cascade's time grows with the pixels
FEATHER = 0.12  # share of the crop side over which the pasted crop fades into the photo
# attention generators: below MASK_OFF (cyclegan.inference) the photo is left exactly as it was; the change
# fades in up to MASK_ON
MASK_ON = 0.1


@dataclass
class PhotoResult:
    model_input: Image.Image  # the crop as the model saw it, image_size x image_size
    translation: Image.Image  # the model's output, image_size x image_size
    reconstruction: Image.Image  # the translation mapped back by the reverse generator
    composite: Image.Image  # the full photo with the translation blended in over the crop box
    box: tuple  # (left, top, right, bottom) of the crop in the photo
    message: str  # what was done: which face, or why the centre was used
    mask: Image.Image  # L, image_size x image_size: where the model changed the picture (255 everywhere: paper G)

    @property
    def fraction_changed(self) -> float:
        """Share of the crop where the mask is at least one half."""
        return float((np.asarray(self.mask) >= 128).mean())


def detect_faces(photo: Image.Image) -> list:
    """Faces in a PIL RGB photo as (x, y, w, h) in its pixels, largest first."""
    import cv2  # imported here: only photos need it, not training

    scale = min(1.0, DETECT_SIDE / max(photo.size))
    small = photo if scale == 1.0 else photo.resize((max(1, round(photo.width * scale)),
                                                     max(1, round(photo.height * scale))), Image.BILINEAR)
    grey = cv2.cvtColor(np.asarray(small.convert("RGB")), cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    min_side = max(24, min(small.size) // 10)
    if min(small.size) < min_side:
        return []
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    faces = [tuple(int(round(v / scale)) for v in f) for f in faces]
    return sorted(faces, key=lambda f: f[2] * f[3], reverse=True)


def face_box(face: tuple, photo_size: tuple) -> tuple:
    """The square CelebA-like crop (left, top, right, bottom) around a face (x, y, w, h).

    Moved (not cut) to stay inside the photo, and shrunk only when the photo is smaller.
    """
    x, y, w, h = face
    side = min(round(w / FACE_WIDTH), *photo_size)
    left = round(x + w / 2 - FACE_CENTRE_X * side)
    top = round(y + h / 2 - FACE_CENTRE_Y * side)
    left = min(max(left, 0), photo_size[0] - side)
    top = min(max(top, 0), photo_size[1] - side)
    return left, top, left + side, top + side


def centre_box(photo_size: tuple) -> tuple:
    """The largest central square."""
    side = min(photo_size)
    left, top = (photo_size[0] - side) // 2, (photo_size[1] - side) // 2
    return left, top, left + side, top + side


def feather_mask(side: int) -> Image.Image:
    """An L mask of side x side: 255 inside, fading linearly to 0 over FEATHER of the side at the edges."""
    ramp = max(1, round(side * FEATHER))
    d = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32)  # distance to the nearest edge
    edge = np.clip((d + 0.5) / ramp, 0, 1)
    return Image.fromarray((np.minimum.outer(edge, edge) * 255).round().astype(np.uint8))


def mask_weight(mask: Image.Image, side: int) -> np.ndarray:
    """(side, side) float weights in [0, 1] from an attention mask (L image): exactly 0 where the
    upsampled mask is below MASK_OFF, rising linearly to 1 at MASK_ON, times the square's feather
    so that a mask reaching the crop's edge fades out instead of ending in a straight line."""
    up = np.asarray(mask.resize((side, side), Image.BILINEAR), dtype=np.float32) / 255
    weight = np.clip((up - MASK_OFF) / (MASK_ON - MASK_OFF), 0, 1)
    return weight * np.asarray(feather_mask(side), dtype=np.float32) / 255


def paste_back(photo: Image.Image, crop: Image.Image, box: tuple, model_input: Image.Image = None,
               mask: Image.Image = None, detail: bool = False) -> Image.Image:
    """`photo` with `crop` blended in over `box` (feathered edges); pixels outside the box are untouched.

    With `model_input` (what the model was given, the crop's size), only the change the
    model made, crop - model_input, is upsampled and added to the photo, which keeps the
    photo's own detail at full resolution instead of pasting a blurry upscaled crop.
    With `mask` (an attention generator's, L, the crop's size) the change is added only
    where the mask is on (see mask_weight) instead of over a feathered square, so the
    photo keeps every pixel the model left alone. With `detail` (and `model_input`), the
    changed region keeps the photo's texture at its full resolution: the upscaled change gives
    the colour, the photo the strands (cyclegan.inference.keep_detail, its blur scaled to the box).
    """
    side = box[2] - box[0]
    region = photo.crop(box)
    if model_input is None:
        pasted = Image.composite(crop.resize((side, side), Image.BICUBIC), region, feather_mask(side))
    else:
        change = np.asarray(crop, dtype=np.float32) - np.asarray(model_input, dtype=np.float32)  # (h, w, 3)
        change = np.stack([np.asarray(Image.fromarray(c).resize((side, side), Image.BICUBIC)) for c in
                           change.transpose(2, 0, 1)], axis=-1)  # per channel: mode F resizes floats
        original = np.asarray(region, dtype=np.float32)
        if detail:  # the change's colour over the photo's own texture, before the mask weighs it
            as_float = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None] / 127.5 - 1
            changed = as_float(np.clip(original + change, 0, 255))
            changed = keep_detail(as_float(original), changed, torch.ones_like(changed[:, :1]), DETAIL_SIGMA * side)
            change = (changed[0].permute(1, 2, 0).numpy() + 1) * 127.5 - original
        if mask is not None:
            change = change * mask_weight(mask, side)[..., None]
        new = np.clip(original + change, 0, 255).round().astype(np.uint8)
        pasted = Image.fromarray(new) if mask is not None else Image.composite(Image.fromarray(new), region,
                                                                              feather_mask(side))
    out = photo.copy()
    out.paste(pasted, box[:2])
    return out


def mask_overlay(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The image in grey with the mask as a heat map on it: orange where the model changed the
    picture, the plain grey image where it left it alone."""
    grey = np.asarray(image.convert("L").convert("RGB"), dtype=np.float32) * 0.8
    m = np.asarray(mask.resize(image.size, Image.BILINEAR), dtype=np.float32)[..., None] / 255
    heat = np.array([255, 120, 0], dtype=np.float32)
    return Image.fromarray((grey * (1 - 0.75 * m) + heat * 0.75 * m).round().astype(np.uint8))


def translate_photo(photo: Image.Image, G, G_back, crop_face: bool = True, precision: str = "auto",
                    detail: bool = False, drop_islands: bool = True) -> PhotoResult:
    """Translate the face of a photo with G and back with G_back (e.g. G_AB, G_BA).

    Args:
        photo (`PIL.Image.Image`): RGB, any size (see cyclegan.data.load_image for files).
        G, G_back: the generators; G.image_size is the side the model was trained at.
        crop_face (`bool`, defaults to True): find the largest face and crop around it as
            CelebA is cropped; with False, or when no face is found, use the central square.
        precision (`str`): as in cyclegan.inference.translate.
        detail (`bool`, defaults to False): keep the photo's fine detail (hair strands) under
            the translation's colours, at the crop's size and in the full photo (keep_detail).
        drop_islands (`bool`, defaults to True): leave the photo alone on the mask's small specks
            away from the hair, both ways (cyclegan.inference.mask_islands).
    """
    faces = detect_faces(photo) if crop_face else []
    if faces:
        box = face_box(faces[0], photo.size)
        message = "1 face found" if len(faces) == 1 else f"{len(faces)} faces found; translated the largest"
    else:
        box = centre_box(photo.size)
        message = ("no face found: translated the central square of the photo" if crop_face
                   else "face cropping off: translated the central square of the photo")
    size = G.image_size
    model_input = photo.crop(box).resize((size, size), Image.LANCZOS)
    x = image_to_tensor(model_input)  # (1, 3, size, size) in [-1, 1]
    fake, mask = translate(G, x, precision, return_mask=True, detail=detail, drop_islands=drop_islands)
    rec = translate(G_back, fake, precision, detail=detail, drop_islands=drop_islands)
    translation = tensor_to_image(fake)
    mask = Image.fromarray((mask[0, 0].cpu().numpy() * 255).round().astype(np.uint8))
    attention = getattr(G, "attention", False)
    composite = paste_back(photo, translation, box, model_input, mask if attention else None, detail)
    return PhotoResult(model_input, translation, tensor_to_image(rec), composite, box, message, mask)
