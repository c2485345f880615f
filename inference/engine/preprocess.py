"""From a stored file to the tensor a backbone eats: decode at the smallest useful scale, crop the
animal square as DeepFaune does, resize, normalise."""

import math
from dataclasses import dataclass

import torch
from PIL import Image, ImageOps
from torchvision.transforms import functional as F

from faune_platform.boxes import Box
from inference.engine.specs import BackboneSpec


@dataclass(frozen=True)
class CropRequest:
    path: str
    box: Box | None  # None: the whole image


def _decode(path: str, box: Box | None, input_size: int) -> Image.Image:
    image = Image.open(path)
    if image.format == "JPEG":
        # Ask the decoder for the smallest scale at which the crop still has input_size pixels
        # a side.
        fraction = max(box.w, box.h) if box else 1.0
        scale = input_size / max(1.0, fraction * min(image.size))
        image.draft("RGB", (math.ceil(image.size[0] * scale), math.ceil(image.size[1] * scale)))
    return ImageOps.exif_transpose(image).convert("RGB")


def crop_image(request: CropRequest, spec: BackboneSpec) -> Image.Image:
    """The picture the backbone sees, before resizing: upright (EXIF), decoded small,
    cropped square."""
    image = _decode(request.path, request.box, spec.input_size)
    if request.box is not None and spec.crop == "square_box":
        image = image.crop(request.box.square_around(*image.size))
    return image


def load_crop(request: CropRequest, spec: BackboneSpec) -> torch.Tensor:
    return to_tensor(crop_image(request, spec), spec)


def to_tensor(image: Image.Image, spec: BackboneSpec) -> torch.Tensor:
    mode = (
        F.InterpolationMode.BICUBIC
        if spec.interpolation == "bicubic"
        else F.InterpolationMode.BILINEAR
    )
    resized = F.resize(
        image, [spec.input_size, spec.input_size], interpolation=mode, antialias=True
    )
    pixels: torch.Tensor = F.normalize(
        F.pil_to_tensor(resized).float().div_(255), spec.mean, spec.std
    )
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
