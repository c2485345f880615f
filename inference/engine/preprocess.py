"""From a stored file to the tensor a backbone eats: decode at the smallest useful scale, crop the animal
square as DeepFaune does, resize, normalise."""
import math
from dataclasses import dataclass

import torch
from PIL import Image, ImageOps
from torchvision.transforms import functional as F

from inference.engine.specs import BackboneSpec

Box = tuple[float, float, float, float]  # normalised x, y, width, height


@dataclass(frozen=True)
class CropRequest:
    path: str
    box: Box | None  # None: the whole image


def square_around(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A square (in pixels) centred on the box, as large as its longer side, slid back inside the image."""
    x, y, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    side = min(max(w, h, 1.0), width, height)
    left = min(max(x + w / 2 - side / 2, 0), width - side)
    top = min(max(y + h / 2 - side / 2, 0), height - side)
    return round(left), round(top), round(left + side), round(top + side)


def _decode(path: str, box: Box | None, input_size: int) -> Image.Image:
    image = Image.open(path)
    if image.format == "JPEG":
        # Ask the decoder for the smallest scale at which the crop still has input_size pixels a side.
        fraction = max(box[2], box[3]) if box else 1.0
        scale = input_size / max(1.0, fraction * min(image.size))
        image.draft("RGB", (math.ceil(image.size[0] * scale), math.ceil(image.size[1] * scale)))
    return ImageOps.exif_transpose(image).convert("RGB")


def crop_image(request: CropRequest, spec: BackboneSpec) -> Image.Image:
    """The picture the backbone sees, before resizing: upright (EXIF), decoded small, cropped square."""
    image = _decode(request.path, request.box, spec.input_size)
    if request.box is not None and spec.crop == "square_box":
        image = image.crop(square_around(request.box, *image.size))
    return image


def load_crop(request: CropRequest, spec: BackboneSpec) -> torch.Tensor:
    return to_tensor(crop_image(request, spec), spec)


def to_tensor(image: Image.Image, spec: BackboneSpec) -> torch.Tensor:
    mode = F.InterpolationMode.BICUBIC if spec.interpolation == "bicubic" else F.InterpolationMode.BILINEAR
    resized = F.resize(image, [spec.input_size, spec.input_size], interpolation=mode, antialias=True)
    pixels: torch.Tensor = F.normalize(F.pil_to_tensor(resized).float().div_(255), spec.mean, spec.std)
    return pixels


def video_frames(path: str, count: int = 12) -> list[Image.Image]:
    """`count` frames evenly spread over the clip (DeepFaune samples 12 per video)."""
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or count
        frames = []
        for index in sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)}):
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if ok:
                frames.append(Image.fromarray(frame[:, :, ::-1]))
        return frames
    finally:
        capture.release()
