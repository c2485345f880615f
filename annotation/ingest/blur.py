"""Hiding people in a photograph: the boxes where a person was found are pixelated and blurred so
that neither a face nor a silhouette can be recognised; the rest of the frame keeps its exact
pixels. No Django here.

Boxes are the pool's `Box`es: normalised, in the frame as it is displayed (after its EXIF
orientation). No box means the person's place is unknown: the whole frame is hidden.
"""

import io
from collections.abc import Sequence
from typing import IO

from PIL import Image, ImageFilter, ImageOps

from faune_platform.boxes import WHOLE_FRAME, Box

# of the box's size, on each side: detector boxes hug the body and may clip hair or a raised hand
MARGIN = 0.1
BLOCKS = 12  # a box's shorter side is reduced to this many blocks: too few to recognise a face


def _obscure(region: Image.Image) -> Image.Image:
    """Pixelate, then blur the blocks' edges away: strong enough for a face that fills
    the region."""
    width, height = region.size
    block = max(1, min(width, height) // BLOCKS)
    small = region.resize((max(1, width // block), max(1, height // block)), Image.Resampling.BOX)
    coarse = small.resize((width, height), Image.Resampling.NEAREST)
    return coarse.filter(ImageFilter.GaussianBlur(radius=max(1.0, block / 2)))


def blur_people(image: Image.Image, boxes: Sequence[Box]) -> Image.Image:
    """A copy of `image` (RGB, already in display orientation) with every box hidden; the whole
    frame when `boxes` is empty."""
    result = image.convert("RGB").copy()
    width, height = result.size
    for box in boxes or (WHOLE_FRAME,):
        area = box.widened_pixels(MARGIN, width, height)
        if area is not None:
            result.paste(_obscure(result.crop(area)), area[:2])
    return result


def blurred_jpeg(source: IO[bytes] | bytes, boxes: Sequence[Box], *, quality: int = 95) -> bytes:
    """The photograph in `source` (any format Pillow reads), turned upright, with its people hidden,
    as JPEG."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(stream) as opened:
        upright = ImageOps.exif_transpose(opened)
        hidden = blur_people(upright, boxes)
    out = io.BytesIO()
    hidden.save(
        out, "JPEG", quality=quality, subsampling=0
    )  # full colour: the rest of the frame stays as it was
    return out.getvalue()
