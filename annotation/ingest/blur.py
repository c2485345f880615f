"""Hiding people in a photograph: the boxes where a person was found are pixelated and blurred so that neither a
face nor a silhouette can be recognised; the rest of the frame keeps its exact pixels. No Django here.

Boxes are normalised [x, y, w, h] in the frame as it is displayed (after its EXIF orientation), as every box of
the pool is. No box means the person's place is unknown: the whole frame is hidden.
"""
import io
from collections.abc import Sequence
from typing import IO

from PIL import Image, ImageFilter, ImageOps

Box = tuple[float, float, float, float]
WHOLE_FRAME: Box = (0.0, 0.0, 1.0, 1.0)
MARGIN = 0.1  # of the box's size, on each side: detector boxes hug the body and may clip hair or a raised hand
BLOCKS = 12  # a box's shorter side is reduced to this many blocks: too few to recognise a face


def _pixel_box(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The box widened by MARGIN, in whole pixels inside the frame; None when nothing of it is inside."""
    x, y, w, h = box
    left, top = (x - MARGIN * w) * width, (y - MARGIN * h) * height
    right, bottom = (x + w * (1 + MARGIN)) * width, (y + h * (1 + MARGIN)) * height
    left, top = max(0, int(left)), max(0, int(top))
    right, bottom = min(width, int(right + 0.999)), min(height, int(bottom + 0.999))
    return (left, top, right, bottom) if right > left and bottom > top else None


def _obscure(region: Image.Image) -> Image.Image:
    """Pixelate, then blur the blocks' edges away: strong enough for a face that fills the region."""
    width, height = region.size
    block = max(1, min(width, height) // BLOCKS)
    small = region.resize((max(1, width // block), max(1, height // block)), Image.Resampling.BOX)
    coarse = small.resize((width, height), Image.Resampling.NEAREST)
    return coarse.filter(ImageFilter.GaussianBlur(radius=max(1.0, block / 2)))


def blur_people(image: Image.Image, boxes: Sequence[Box]) -> Image.Image:
    """A copy of `image` (RGB, already in display orientation) with every box hidden; the whole frame when
    `boxes` is empty."""
    result = image.convert("RGB").copy()
    width, height = result.size
    for box in boxes or (WHOLE_FRAME,):
        area = _pixel_box(box, width, height)
        if area is not None:
            result.paste(_obscure(result.crop(area)), area[:2])
    return result


def blurred_jpeg(source: IO[bytes] | bytes, boxes: Sequence[Box], *, quality: int = 95) -> bytes:
    """The photograph in `source` (any format Pillow reads), turned upright, with its people hidden, as JPEG."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(stream) as opened:
        upright = ImageOps.exif_transpose(opened)
        hidden = blur_people(upright, boxes)
    out = io.BytesIO()
    hidden.save(out, "JPEG", quality=quality, subsampling=0)  # full colour: the rest of the frame stays as it was
    return out.getvalue()
