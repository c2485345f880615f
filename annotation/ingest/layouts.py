"""Reading the folder layouts partners already use into one plan: which file, which camera,
which label.

Four layouts: `plain` (media only; sub-folders are cameras), `classes` (a folder per class,
optionally under a folder per camera), `coco` (COCO Camera Traps JSON) and `camtrapdp` (a Camtrap DP
package, read in camtrapdp.py). `auto` picks one from what the folder holds.
Files the layout names no camera for go to the `fallback` deployment: the folder's name on the
command line, the archive's name on the web (where the unpacked folder is named after the batch, a
number nobody chose).
"""

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeGuard

from annotation.ingest.camtrapdp import find_package, plan_camtrapdp
from annotation.ingest.exif import parse_camera_datetime
from annotation.ingest.media import MEDIA_EXTENSIONS
from annotation.ingest.plans import (
    ImportPlan,
    LayoutError,
    PlannedFile,
    PlannedLabel,
    present,
    resolved,
)
from faune_platform.boxes import Box
from faune_platform.errors import Catalogued, gettext_noop

FORMATS = ("auto", "plain", "classes", "coco", "camtrapdp")


def _all_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def _planned(path: Path, name: str, deployment: str) -> PlannedFile:
    """A file of the folder, left out at once when it is no image or video."""
    item = PlannedFile(path, name, deployment)
    if path.suffix.lower() not in MEDIA_EXTENSIONS:
        unsupported = gettext_noop(
            "unsupported file type %(suffix)s: only images and videos are imported"
        )
        item.refuse(unsupported, suffix=repr(path.suffix or "(no extension)"))
    return item


def _relative_name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def plan_plain(root: Path, *, deployment: str | None, fallback: str) -> ImportPlan:
    files = []
    for path in _all_files(root):
        parent = path.parent.relative_to(root).as_posix()
        camera = deployment or (parent if parent != "." else fallback)
        files.append(_planned(path, _relative_name(path, root), camera))
    return ImportPlan("plain", files)


def plan_classes(root: Path, *, deployment: str | None, fallback: str) -> ImportPlan:
    """`root/CLASS/file` or `root/CAMERA/.../CLASS/file`: the innermost folder names the class."""
    files = []
    for path in _all_files(root):
        parts = path.relative_to(root).parts
        item = _planned(path, _relative_name(path, root), deployment or fallback)
        if len(parts) < 2 and not item.rejection:
            item.refuse(gettext_noop("not inside a class folder, so its label is unknown"))
        elif not item.rejection:
            item.labels = [PlannedLabel(parts[-2])]
            if len(parts) > 2 and not deployment:
                item.deployment = "/".join(parts[:-2])
        files.append(item)
    return ImportPlan("classes", files)


def _index_folders(root: Path) -> list[Path]:
    """Where a COCO index may sit: the root, or the one folder it holds (a zip of the
    dataset's folder)."""
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return [root, entries[0]]
    return [root]


def find_coco_index(root: Path) -> Path | None:
    if root.is_file() and root.suffix.lower() == ".json":
        return root
    if not root.is_dir():
        return None
    candidates = [path for folder in _index_folders(root) for path in sorted(folder.glob("*.json"))]
    for candidate in candidates:
        try:
            with candidate.open("rb") as handle:
                head = handle.read(1 << 20)
        except OSError:
            continue
        if b'"images"' in head and (b'"categories"' in head or b'"annotations"' in head):
            return candidate
    return None


def _coco_box(bbox: list[Any] | None, width: float | None, height: float | None) -> Box | None:
    if bbox is None or not (width and height):
        return None
    return Box.from_pixels(bbox, width, height)


def _is_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _is_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_name(value: object) -> bool:
    return isinstance(value, str) and "\x00" not in value


def _is_size(value: object) -> bool:
    return _is_number(value) and value > 0


def _is_bbox(value: object) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_is_number(item) for item in value)


Check = tuple[Callable[[object], bool], str]
_ID: Check = (_is_id, Catalogued(gettext_noop("a number or a text")))
_NAME: Check = (_is_name, Catalogued(gettext_noop("a text")))
_SIZE: Check = (_is_size, Catalogued(gettext_noop("a positive number of pixels")))
# Every field the planner reads, with what it must be. Null counts as absent, except for
# _COCO_REQUIRED fields.
_COCO_FIELDS: dict[str, dict[str, Check]] = {
    "images": {
        "id": _ID,
        "file_name": _NAME,
        "location": _ID,
        "seq_id": _ID,
        "width": _SIZE,
        "height": _SIZE,
        "datetime": (_is_name, Catalogued(gettext_noop("a text such as '2024-05-01 10:00:00'"))),
    },
    "annotations": {
        "image_id": _ID,
        "category_id": _ID,
        "bbox": (
            _is_bbox,
            Catalogued(gettext_noop("a list of 4 numbers (x, y, width, height in pixels)")),
        ),
    },
    "categories": {"id": _ID, "name": _NAME},
}
_COCO_REQUIRED = {"categories": ("id", "name")}


def _coco_list(data: dict[str, Any], key: str, index: Path) -> list[dict[str, Any]]:
    """`data[key]`, checked field by field: LayoutError names the first field the planner could
    not read."""
    entries = data.get(key)
    if entries is None and key != "images":
        return []
    if not isinstance(entries, list):
        raise LayoutError(
            gettext_noop("%(file)s: '%(key)s' must be a list of objects, not %(value)s"),
            file=index.name,
            key=key,
            value=_shown(entries),
        )
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise LayoutError(
                gettext_noop("%(file)s: %(key)s[%(position)s] must be an object, not %(value)s"),
                file=index.name,
                key=key,
                position=position,
                value=_shown(entry),
            )
        for field_name, (valid, expected) in _COCO_FIELDS[key].items():
            value = entry.get(field_name)
            if value is None and field_name not in _COCO_REQUIRED.get(key, ()):
                continue
            if not valid(value):
                raise LayoutError(
                    gettext_noop(
                        "%(file)s: %(key)s[%(position)s].%(field)s must be %(expected)s, "
                        "not %(value)s"
                    ),
                    file=index.name,
                    key=key,
                    position=position,
                    field=field_name,
                    expected=expected,
                    value=_shown(value),
                )
    return entries


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return Catalogued(gettext_noop("an object"))
    text = json.dumps(value, ensure_ascii=False)  # a value json.loads made: always serialisable
    return text if len(text) <= 60 else text[:57] + "..."


def _coco_entries(
    index: Path,
) -> tuple[list[dict[str, Any]], dict[object, list[dict[str, Any]]], dict[object, str]]:
    try:
        data = json.loads(index.read_text(encoding="utf-8-sig"))  # a BOM, as Windows tools write
    except (OSError, ValueError) as error:
        raise LayoutError(
            gettext_noop("%(file)s is not a readable COCO Camera Traps file (%(detail)s)"),
            file=index.name,
            detail=str(error),
        ) from None
    if not isinstance(data, dict):
        raise LayoutError(
            gettext_noop(
                "%(file)s: a COCO Camera Traps file is a JSON object with an 'images' list"
            ),
            file=index.name,
        )
    images = _coco_list(data, "images", index)
    categories = {
        category["id"]: category["name"] for category in _coco_list(data, "categories", index)
    }
    by_image: dict[object, list[dict[str, Any]]] = {}
    for annotation in _coco_list(data, "annotations", index):
        by_image.setdefault(annotation.get("image_id"), []).append(annotation)
    return images, by_image, categories


def plan_coco(root: Path, *, deployment: str | None, fallback: str) -> ImportPlan:
    index = find_coco_index(root)
    if index is None:
        raise LayoutError(
            gettext_noop(
                "no COCO Camera Traps JSON file found (expected a .json with 'images' and "
                "'categories')"
            )
        )
    base = index.parent
    images, by_image, categories = _coco_entries(index)
    files, listed = [], set()
    for entry in images:
        files.append(
            _coco_file(
                entry,
                base,
                by_image.get(entry.get("id"), []),
                categories,
                deployment or _coco_location(entry) or fallback,
            )
        )
        listed.add(entry.get("file_name") or "")
    for path in _all_files(base):
        if path != index and _relative_name(path, base) not in listed:
            unlisted = PlannedFile(path, _relative_name(path, base), deployment or fallback)
            unlisted.refuse(gettext_noop("not listed in %(index)s"), index=index.name)
            files.append(unlisted)
    return ImportPlan("coco", files)


def _coco_location(entry: dict[str, Any]) -> str:
    """The image's `location`, as the deployment's name: exactly as written (0 is a
    location too)."""
    location = entry.get("location")
    return "" if location is None else str(location).strip()


def _coco_file(
    entry: dict[str, Any],
    base: Path,
    annotations: Iterable[dict[str, Any]],
    categories: dict[object, str],
    deployment: str,
) -> PlannedFile:
    name = entry.get("file_name") or ""
    path = resolved(base, name)
    if not name or ".." in Path(name).parts or (path and base.resolve() not in path.parents):
        item = PlannedFile(None, name, deployment)
        item.refuse(gettext_noop("the COCO file names a path outside the dataset folder"))
        return item
    if path is None or not present(path):
        item = PlannedFile(None, name, deployment)
        item.refuse(
            gettext_noop("listed in the COCO file but missing on disk: %(name)s"), name=name
        )
        return item
    item = _planned(path, name, deployment)
    item.taken_at = parse_camera_datetime(entry.get("datetime") or "")
    item.sequence_id = str(entry.get("seq_id") or "")
    width, height = entry.get("width"), entry.get("height")
    for annotation in annotations:
        class_name = categories.get(annotation.get("category_id"))
        if class_name is None:
            item.refuse(
                gettext_noop("annotation refers to category %(category)s, absent from the file"),
                category=repr(annotation.get("category_id")),
            )
            break
        item.labels.append(
            PlannedLabel(class_name, _coco_box(annotation.get("bbox"), width, height))
        )
    return item


class Planner(Protocol):
    """What each layout's planner takes: the folder (or index file), and where its files go."""

    def __call__(self, root: Path, *, deployment: str | None, fallback: str) -> ImportPlan: ...


def detect_format(
    root: Path,
    known_names: set[str],
    normalise: Callable[[str], str],
    resembles: Callable[[str], bool] | None = None,
) -> str:
    """Pick a layout: a Camtrap DP descriptor or a COCO index wins; else `classes` when at least
    half the media folders are named after known taxa (or, with `resembles`, like one:
    "chevreuils", "white_tailed_deer")."""

    if find_package(root) is not None:
        return "camtrapdp"
    if find_coco_index(root) is not None:
        return "coco"
    folders = {
        path.parent.name
        for path in _all_files(root)
        if path.suffix.lower() in MEDIA_EXTENSIONS and path.parent != root
    }
    named = sum(
        normalise(name) in known_names or bool(resembles and resembles(name)) for name in folders
    )
    if folders and named * 2 >= len(folders):
        return "classes"
    return "plain"


def plan_import(
    root: Path,
    fmt: str,
    *,
    deployment: str | None,
    known_names: set[str],
    normalise: Callable[[str], str],
    fallback: str | None = None,
    resembles: Callable[[str], bool] | None = None,
) -> ImportPlan:
    """The plan of `root` in layout `fmt`; every file goes to `deployment` when one is given, else
    to the camera the layout names, else to `fallback` (by default the folder's name)."""
    if not root.exists():
        raise LayoutError(gettext_noop("%(path)s does not exist"), path=str(root))
    if fmt not in FORMATS:
        raise LayoutError(
            gettext_noop("unknown format %(format)s; choose one of %(choices)s"),
            format=repr(fmt),
            choices=", ".join(FORMATS),
        )
    if fmt == "auto":
        fmt = detect_format(root, known_names, normalise, resembles)

    planners: dict[str, Planner] = {
        "plain": plan_plain,
        "classes": plan_classes,
        "coco": plan_coco,
        "camtrapdp": plan_camtrapdp,
    }
    planner = planners[fmt]
    if fmt not in ("coco", "camtrapdp") and not root.is_dir():
        raise LayoutError(gettext_noop("%(path)s is not a folder"), path=str(root))
    folder = root if root.is_dir() else root.parent  # a COCO index may be given as the file itself
    return planner(root, deployment=deployment, fallback=(fallback or "").strip() or folder.name)
