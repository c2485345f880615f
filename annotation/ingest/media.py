"""Decide what a file is and read what the pool needs from it, refusing anything unsafe with a
plain reason.

A file is identified by its bytes, never by its name: a text file called `.jpg` is refused, and an
image is decoded once, at reduced scale where the format allows (JPEG draft mode), which still reads
the whole stream so that truncation is caught.
"""

import datetime as dt
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from annotation.ingest.exif import ExifFacts, read_exif
from faune_platform.errors import InputRefused, gettext_noop

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".m4v"}
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
# The formats of IMAGE_EXTENSIONS (the JPEG reader also opens MPO, a JPEG with further pictures
# after the first). Pillow opens many more, and some act before any limit is read: an ICO decodes
# its embedded PNG while opening, an EPS runs Ghostscript.
READABLE_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")
_STORED_AS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "TIFF": ".tiff",
    "WEBP": ".webp",
    "BMP": ".bmp",
}
# How to turn the pixels upright for each EXIF orientation, from the orientation already read:
# Pillow's exif_transpose would rewrite the EXIF block as well, and fail on a damaged one.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class MediaRejected(InputRefused):
    """The file cannot enter the pool; the message (a catalogue message and its values) says why,
    for a person."""


@dataclass(frozen=True)
class MediaLimits:
    max_pixels: int
    thumbnail_size: int
    earliest_year: int
    now: dt.datetime


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image" or "video"
    extension: str  # normalised, with the dot, used to name the stored file
    width: int
    height: int
    exif: ExifFacts
    thumbnail_jpeg: bytes
    duration_s: float | None = None
    frame_count: int | None = None
    fps: float | None = None


def sniff_video(head: bytes) -> str | None:
    """Return the container's extension when the first bytes say it is a video we accept."""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:10] == b"qt" else ".mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    return None


def probe(path: Path, limits: MediaLimits) -> MediaInfo:
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected(gettext_noop("the file is empty (0 bytes)"))
    with path.open("rb") as handle:
        head = handle.read(16)
    video_extension = sniff_video(head)
    if video_extension:
        return _probe_video(path, video_extension, limits)
    return _probe_image(path, limits)


def _open_image(path: Path, limits: MediaLimits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=READABLE_FORMATS)
    except Image.DecompressionBombError:
        raise MediaRejected(
            gettext_noop("the image declares an absurd pixel count (a decompression bomb); refused")
        ) from None
    except UnidentifiedImageError:
        raise MediaRejected(
            gettext_noop("the file is not an image or video this platform can read")
        ) from None
    # Pillow raises ValueError for some damaged headers (a TIFF declaring no width: "Invalid
    # dimensions"): the file's fault, as an OSError is.
    except (OSError, ValueError) as error:
        raise MediaRejected(
            gettext_noop("the image cannot be read: %(detail)s"), detail=str(error)
        ) from None
    # Only the header is read so far. The pixel count is judged here, before anything decodes:
    # reading a PNG's EXIF loads the whole image, so read_exif must come after this check.
    width, height = image.size
    if width * height > limits.max_pixels:
        image.close()
        raise MediaRejected(
            gettext_noop(
                "the image declares %(width)sx%(height)s pixels, over the limit of %(limit)s "
                "(a decompression bomb or a panorama); refused"
            ),
            width=width,
            height=height,
            limit=f"{limits.max_pixels:,}",
        )
    return image


def _probe_image(path: Path, limits: MediaLimits) -> MediaInfo:
    # Closed however the probe ends: an upload of many damaged files must not hold one open
    # file each.
    with _open_image(path, limits) as image:
        return _probe_open_image(image, limits)


def _probe_open_image(image: Image.Image, limits: MediaLimits) -> MediaInfo:
    width, height = image.size
    exif = read_exif(image, earliest_year=limits.earliest_year, now=limits.now)
    if exif.orientation in _SWAPS_AXES:
        width, height = height, width
    extension = _STORED_AS[image.format or "JPEG"]
    if image.format == "JPEG":
        image.draft("RGB", (limits.thumbnail_size, limits.thumbnail_size))
    try:
        image.load()
    # TypeError: a TIFF whose strip offsets are stored as fractions (found by the ingest fuzzer)
    except (OSError, SyntaxError, ValueError, TypeError) as error:
        raise MediaRejected(
            gettext_noop("the image is damaged or truncated (%(detail)s)"), detail=str(error)
        ) from None
    thumbnail = _thumbnail(image, exif.orientation, limits.thumbnail_size)
    return MediaInfo(
        kind="image",
        extension=extension,
        width=width,
        height=height,
        exif=exif,
        thumbnail_jpeg=thumbnail,
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")  # CMYK, grayscale, YCbCr


def _thumbnail(image: Image.Image, orientation: int, size: int) -> bytes:
    if orientation in _UPRIGHT:
        image = image.transpose(_UPRIGHT[orientation])
    try:
        rgb = _to_rgb(image)
    except (OSError, ValueError) as error:
        raise MediaRejected(
            gettext_noop("the image uses a pixel format that cannot be displayed (%(detail)s)"),
            detail=str(error),
        ) from None
    rgb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=82, optimize=False)
    return out.getvalue()


def _probe_video(path: Path, extension: str, limits: MediaLimits) -> MediaInfo:
    import cv2  # heavy; only videos need it

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise MediaRejected(
                gettext_noop(
                    "the file looks like a video but cannot be opened (damaged or unknown codec)"
                )
            )
        ok, frame = capture.read()
        if not ok or frame is None:
            raise MediaRejected(
                gettext_noop("the video has no readable frame (damaged or truncated)")
            )
        fps = capture.get(cv2.CAP_PROP_FPS) or None
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    finally:
        capture.release()
    height, width = frame.shape[:2]
    if width * height > limits.max_pixels:
        raise MediaRejected(
            gettext_noop(
                "the video frame size %(width)sx%(height)s is over the pixel limit; refused"
            ),
            width=width,
            height=height,
        )
    first = Image.fromarray(frame[:, :, ::-1])
    return MediaInfo(
        kind="video",
        extension=extension,
        width=width,
        height=height,
        exif=ExifFacts(),
        thumbnail_jpeg=_thumbnail(first, 1, limits.thumbnail_size),
        duration_s=round(frames / fps, 3) if frames and fps else None,
        frame_count=frames,
        fps=fps,
    )
