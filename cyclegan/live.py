"""The live path: a stream of frames (a webcam, a video file) translated frame by frame with the photo
path's pieces (cyclegan.faces: face box, model window, model, transform, paste-back), the face followed
from frame to frame and the model's change smoothed over frames so that the hair does not flicker.

    live = LiveTranslator(G_AB)                     # one per stream: it holds the stream's state
    out = live(frame)                               # (H, W, 3) uint8 RGB in, the same out

What a frame costs, and why it is cheaper than a photo:
  - the face is searched for on a small copy only while there is none (every SEARCH_EVERY frames); once
    found it is followed in a small region around where it was, at a scale where it is about TRACK_SIDE
    pixels wide (a few ms instead of ~70 ms for the whole frame);
  - no reconstruction (the page shows none live);
  - the model runs at its training scale on the face's window, as for photos, but only on every
    MODEL_EVERY-th frame: the frames between apply its (averaged) change to their own pixels, which for a
    recolouring generator means its transforms and guided mask at this frame's colours, so the hair's
    edges follow the frame while the model's view of it is a frame old.

Smoothing over frames (Tkachenka et al. 2019 feed the previous frame's mask back to the network; here
the model's output is averaged instead, which needs no retraining): the face box is a running average
of the detections, and so is the model's change: for a recolouring generator its field of colour
transforms and mask coefficients (linear in both, so the average of fields is a field whose mask is
the average mask over the same pixels), for the other generators its translation and mask. The average
is in the face's own coordinates, so it follows the face when the face moves.

Frames without a face come back unchanged: a face missed on HOLD frames in a row is dropped (the
cascade misses a frame now and then on a real face; holding it for a frame or two avoids the hair
flashing back to its colour).
"""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .faces import detect_faces, face_box, face_cascade, mask_image, model_window, paste_back, photo_curve, \
    profile_faces, recolour_photo
from .inference import image_to_tensor, tensor_to_image, translate

SEARCH_SIDE = 320  # the whole frame is searched on a copy at most this large
SEARCH_EVERY = 3  # while there is no face, search every this many frames (the others pass through)
TRACK_SIDE = 48  # a followed face is looked for where it was, scaled to about this many pixels wide
HOLD = 2  # a followed face missed on this many frames in a row is dropped
SMOOTHING = 0.5  # weight of the running average on the past: 0 is no smoothing
MODEL_EVERY = 2  # the model runs on every this many frames; the frames between reuse its averaged change


class LiveTranslator:
    """One stream's translator: call it on each frame in order. Not shared between streams (it holds the
    followed face and the running averages); `reset()` starts it afresh."""

    def __init__(self, G, precision: str = "fp32", smoothing: float = SMOOTHING, model_every: int = MODEL_EVERY,
                 drop_islands: bool = True, pick=None):
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing is the weight of the past in [0, 1), got {smoothing}")
        if model_every < 1:
            raise ValueError(f"model_every is a number of frames, at least 1, got {model_every}")
        self.G, self.precision, self.smoothing, self.drop_islands = G, precision, smoothing, drop_islands
        self.model_every = model_every
        self.recolour = getattr(G, "recolour", False)
        # Auto (cyclegan.faces.auto_pick): pick(photo, box) -> (G, G_back, note) chooses the generator, read once
        # per followed face (a face that is dropped or jumps is read again); G is then one of the pair G belongs to
        self.pick = pick
        self.reset()

    def reset(self) -> None:
        self.face = None  # (centre x, centre y, width) float, the running average of the detections
        self.misses = 0  # frames in a row the followed face was not found
        self.frames = 0
        self.change = None  # the running average of the model's change (a field, or a translation and mask)
        self.chosen = None  # with pick: (G, G_back, note) for the followed face

    def find_face(self, photo: Image.Image):
        """The face's (x, y, w, h) in this frame, followed from the last one, or None."""
        if self.face is None:
            if self.frames % SEARCH_EVERY:
                return None
            faces = detect_faces(photo, SEARCH_SIDE)
            return faces[0] if faces else None
        found = self.follow(photo)
        if found is None:
            self.misses += 1
            if self.misses >= HOLD:
                self.face, self.change = None, None
                return None
            cx, cy, w = self.face  # held where it was
            return round(cx - w / 2), round(cy - w / 2), round(w), round(w)
        self.misses = 0
        return found

    def follow(self, photo: Image.Image):
        """The face near the followed one: the cascade on the region of 3 face widths around it, scaled so
        that the face is about TRACK_SIDE pixels wide, looking only for faces of 0.6 to 1.7 times its width."""
        import cv2  # imported here, as in cyclegan.faces

        cx, cy, w = self.face
        left, top = max(0, round(cx - 1.5 * w)), max(0, round(cy - 1.5 * w))
        right, bottom = min(photo.width, round(cx + 1.5 * w)), min(photo.height, round(cy + 1.5 * w))
        if right - left < w / 2 or bottom - top < w / 2:
            return None
        scale = min(1.0, TRACK_SIDE / w)
        region = photo.crop((left, top, right, bottom))
        region = region.resize((max(1, round(region.width * scale)), max(1, round(region.height * scale))),
                               Image.BILINEAR)
        grey = cv2.cvtColor(np.asarray(region), cv2.COLOR_RGB2GRAY)
        side = w * scale
        faces = face_cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4,
                                                minSize=(round(0.6 * side),) * 2, maxSize=(round(1.7 * side),) * 2)
        if not len(faces):  # a face turned to one side, as detect_faces finds it
            faces = [f for f in profile_faces(grey, round(0.6 * side)) if f[2] <= 1.7 * side]
        if not len(faces):
            return None
        x, y, fw, fh = max(faces, key=lambda f: f[2] * f[3])
        return round(left + x / scale), round(top + y / scale), round(fw / scale), round(fh / scale)

    def track(self, face) -> tuple:
        """The running average of the face's centre and width; a face that jumped (its centre moved by more
        than its width) starts afresh, and so does the smoothing of the change."""
        x, y, w, h = face
        new = (x + w / 2, y + h / 2, float(w))
        if self.face is not None and abs(new[0] - self.face[0]) + abs(new[1] - self.face[1]) < self.face[2]:
            new = tuple(self.smoothing * old + (1 - self.smoothing) * n for old, n in zip(self.face, new))
        else:  # a new face: its change and (Auto) its direction start afresh
            self.change, self.chosen = None, None
        self.face = new
        cx, cy, w = new
        return round(cx - w / 2), round(cy - w / 2), round(w), round(w)

    def smooth(self, *change):
        """The running average of the model's change (tensors of the model's window; a window that changed
        size is averaged after scaling the past to it)."""
        if self.change is not None and self.smoothing > 0:
            change = [torch.lerp(new, F.interpolate(old[None], size=new.shape[-2:], mode="bilinear",
                                                    align_corners=False)[0]
                                 if old.shape != new.shape else old, self.smoothing)
                      for new, old in zip(change, self.change)]
        self.change = list(change)
        return self.change

    @torch.no_grad()
    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> the same with the face's hair translated (the frame itself without a face)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a frame is (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        photo = Image.fromarray(frame)
        index, face = self.frames, self.find_face(photo)
        self.frames += 1
        if face is None or min(photo.size) < self.G.image_size:
            return frame
        box = face_box(self.track(face), photo.size)
        G = self.G
        if self.pick is not None:
            if self.chosen is None:
                self.chosen = self.pick(photo, box)
            G = self.chosen[0]
            if G is None:  # hair it cannot call: the frame as it is
                return frame
        window, model_input = model_window(photo, box, G)
        x = image_to_tensor(model_input)
        run_model = self.change is None or index % self.model_every == 0
        if self.recolour:  # the change is the field of transforms (and the mask), applied to this frame's pixels
            if run_model:
                _, mask, field = translate(G, x, self.precision, return_field=True,
                                           drop_islands=self.drop_islands)
                # matched colour: the hair's curve and the lightness' base layer, averaged too
                matched = photo_curve(G, model_input, field[0])
                self.smooth(field[0].cpu(), mask[0].cpu(), *([matched[0], matched[2]] if matched else []))
            field, mask, *curve = self.change
            guided = G.guided_radius > 0  # the guided mask is rebuilt from the field: the model's is not needed
            matched = (curve[0], G.colour_target["kept"], curve[1]) if curve else None
            out = recolour_photo(photo, window, field, None if guided else mask_image(mask), G.bins, guided,
                                 matched)
        else:  # the change is translation - input (and the mask), added to this frame's window
            if run_model:
                fake, mask = translate(G, x, self.precision, return_mask=True, drop_islands=self.drop_islands)
                self.smooth((fake - x)[0].cpu(), mask[0].cpu())
            delta, mask = self.change
            if delta.shape[-2:] != x.shape[-2:]:
                delta, mask = (F.interpolate(t[None], size=x.shape[-2:], mode="bilinear")[0] for t in (delta, mask))
            attention = getattr(G, "attention", False)
            out = paste_back(photo, tensor_to_image((x + delta).clamp(-1, 1)), window, model_input,
                             mask_image(mask) if attention else None)
        return np.asarray(out)
