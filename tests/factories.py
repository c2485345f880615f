"""Builders for test data: generated images with real EXIF, organisations and users in each role."""

import datetime as dt
import io
import random
import zipfile
from collections.abc import Iterable
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from annotation.models import Image as ImageModel
from annotation.models import Organisation, Role, Taxon, UploadBatch
from annotation.services.ingest import image_ingest
from annotation.services.organisations import membership_set, user_create

_EXIF_IFD, _DATETIME_ORIGINAL, _MAKE, _MODEL, _ORIENTATION = 0x8769, 0x9003, 0x010F, 0x0110, 0x0112


def jpeg_bytes(
    *,
    size: tuple[int, int] = (64, 48),
    taken: dt.datetime | str | None = None,
    orientation: int | None = None,
    mode: str = "RGB",
    seed: int = 0,
    make: str = "TrapCam",
    model: str = "TC-1",
    fmt: str = "JPEG",
) -> bytes:
    """A small image whose pixels depend on `seed`, so two seeds never share bytes."""
    rng = random.Random(seed)
    color = tuple(rng.randrange(256) for _ in range(4 if mode == "CMYK" else 3))
    image = Image.new("RGB" if mode == "CMYK" else "RGB", size, color[:3])
    image.putpixel((rng.randrange(size[0]), rng.randrange(size[1])), (255 - color[0], 0, 0))
    if mode != "RGB":
        image = image.convert(mode)
    exif = Image.Exif()
    exif[_MAKE], exif[_MODEL] = make, model
    if orientation is not None:
        exif[_ORIENTATION] = orientation
    if taken is not None:
        text = taken if isinstance(taken, str) else taken.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = text
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes()) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()


def write_jpeg(path: Path, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(**options))
    return path


def photos_ingested(batch: UploadBatch, folder: Path, seeds: Iterable[int]) -> list[ImageModel]:
    """One stored photo per seed, `<seed>.jpg`, through the real ingest, with no camera."""
    return [
        image_ingest(
            path=write_jpeg(folder / f"{seed}.jpg", seed=seed),
            name=f"{seed}.jpg",
            batch=batch,
            deployment=None,
        ).image
        for seed in seeds
    ]


def upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as bundle:
        for name, content in entries.items():
            bundle.writestr(name, content)
    return out.getvalue()


def bomb_png_bytes(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that declares a huge canvas: decoding it would take gigabytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def video_bytes(tmp: Path, frames: int = 6) -> bytes:
    import cv2
    import numpy as np

    path = tmp / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 6.0, (64, 48))
    for index in range(frames):
        writer.write(np.full((48, 64, 3), (index * 30) % 256, dtype=np.uint8))
    writer.release()
    return path.read_bytes()


def organisation(name: str = "Parc des Écrins") -> Organisation:
    return Organisation.objects.get_or_create(name=name)[0]


def member(
    username: str, org: Organisation, role: str = Role.PARTNER, taxa: list[Taxon] | None = None
):
    user = user_create(username=username, password="pw-" + username)
    membership_set(user=user, organisation=org, role=role, review_taxa=taxa)
    return user


def taxon(slug: str) -> Taxon:
    return Taxon.objects.get(slug=slug)


def png_pixels(
    data: bytes,
    *,
    least_side: int = 200,
    most_side: int = 4000,
    least_colours: int = 32,
    least_ink: int = 30,
):
    """Decode PNG bytes and check that they hold a drawn picture, not just a valid header: a
    plausible size, more than a handful of colours, and some coloured ink (axes and text alone are
    grey). RGB pixels as ints."""
    import numpy as np

    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert least_side <= min(image.size) and max(image.size) <= most_side, image.size
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > least_colours, f"{len(colours or [])} colours"
    pixels = np.asarray(rgb).astype(int)
    # A count, not a share: a coverage plot of a perfect model is one marker in a corner, and
    # still drawn.
    coloured = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 40).sum())
    assert coloured >= least_ink, f"only {coloured} coloured pixels"
    return pixels


def _colour_bar_columns(green):
    """The columns of the colour bar right of the matrix: the last run of green columns, when it is
    narrow and apart from the others (a matrix column of zeros is white, so the matrix may itself be
    cut in runs)."""
    import numpy as np

    columns = np.flatnonzero(green.any(axis=0))
    if not columns.size:
        return slice(0, 0)
    starts = np.flatnonzero(np.diff(columns) > 1) + 1
    runs = np.split(columns, starts)
    span = columns[-1] - columns[0] + 1
    if len(runs) > 1 and len(runs[-1]) < 0.15 * span:
        return slice(int(runs[-1][0]), int(runs[-1][-1]) + 1)
    return slice(0, 0)


def colour_bar_present(data: bytes) -> bool:
    """A narrow strip of greens right of the matrix, darkening upwards (1.0 on top) from white at
    the bottom."""
    import numpy as np

    pixels = png_pixels(data)
    green = pixels[..., 1] - pixels[..., 0] > 15
    columns = _colour_bar_columns(green)
    if columns.stop == 0:
        return False
    rows = np.flatnonzero(green[:, columns].any(axis=1))
    strip = pixels[rows.min() : rows.max() + 1, columns].mean(axis=(1, 2))
    return bool(strip[: len(strip) // 4].mean() < strip[-len(strip) // 4 :].mean() - 60)


def confusion_cell_brightness(data: bytes, size: int):
    """The mean brightness of each cell of a confusion-matrix PNG drawn in greens: the cells are
    found as the bounding box of the green-tinted pixels (text and frame are grey), cut into `size`
    x `size`."""
    import numpy as np

    pixels = png_pixels(data)
    green = pixels[..., 1] - pixels[..., 0] > 15
    green[:, _colour_bar_columns(green)] = False
    rows, columns = np.nonzero(green)
    assert rows.size, "no green cell drawn"
    grid = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1].mean(axis=2)
    height, width = grid.shape
    return np.array(
        [
            [
                grid[
                    i * height // size : (i + 1) * height // size,
                    j * width // size : (j + 1) * width // size,
                ].mean()
                for j in range(size)
            ]
            for i in range(size)
        ]
    )


def assert_cells_follow(matrix: list[list[int]], data: bytes) -> None:
    """Each cell of the drawn matrix is darker than every cell with a clearly lower
    row-normalised value."""
    import numpy as np

    values = np.array(matrix, dtype=float)
    values = (values / np.clip(values.sum(axis=1, keepdims=True), 1, None)).ravel()
    brightness = confusion_cell_brightness(data, len(matrix)).ravel()
    for a in range(len(values)):
        for b in range(len(values)):
            if values[a] > values[b] + 0.1:
                assert brightness[a] < brightness[b] - 10, (matrix, brightness.round(1).tolist())


MATPLOTLIB_LINE_COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
]  # its default cycle


def line_colours_drawn(pixels, *, least: int = 100) -> int:
    """How many of matplotlib's default line colours, taken in cycle order, each cover `least`
    pixels or more: one per curve drawn."""
    import numpy as np

    drawn = 0
    for colour in MATPLOTLIB_LINE_COLOURS:
        if (np.abs(pixels - np.array(colour)).sum(axis=2) < 30).sum() < least:
            break
        drawn += 1
    return drawn
