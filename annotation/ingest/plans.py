"""What an import will do, whatever the layout it was read from: the files, their labels and
boxes, the cameras and classes it would create. Every layout reader returns one."""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faune_platform.boxes import Box
from faune_platform.errors import InputRefused, Worded


class LayoutError(InputRefused):
    """The folder or its index file cannot be read as the chosen layout."""


def resolved(base: Path, name: str) -> Path | None:
    """The absolute path an index's file name gives under `base`; None for a name no path can
    hold (a NUL byte), which the reader refuses as missing."""
    return None if "\x00" in name else (base / name).resolve()


def present(path: Path) -> bool:
    """Whether the path is a file on disk; False, not an error, for a name over the file system's
    limit (is_file() lets "File name too long" through)."""
    try:
        return path.is_file()
    except OSError:
        return False


@dataclass(frozen=True)
class PlannedLabel:
    class_name: str
    box: Box | None = None
    count: int | None = None


@dataclass
class PlannedFile:
    path: Path | None  # None when an index lists a file that is not on disk
    name: str  # relative to the import root, as shown in reports
    deployment: str
    labels: list[PlannedLabel] = field(default_factory=list)
    taken_at: dt.datetime | None = None  # from the index; overrides EXIF
    sequence_id: str = ""
    rejection: Worded = field(default_factory=Worded)  # why it is left out; empty: imported

    def refuse(self, template: str, **params: str) -> None:
        self.rejection = Worded(template, dict(params))


@dataclass
class ImportPlan:
    format: str
    files: list[PlannedFile]
    # camera name -> metadata for a camera created by it
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # class name -> names of a taxon created for it
    class_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    # what the source says that the pool has no column for
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def class_names(self) -> set[str]:
        return {label.class_name for item in self.files for label in item.labels}

    @property
    def class_counts(self) -> dict[str, int]:
        """Each class name labelling a file that will be imported, with how many such files
        it labels."""
        counts: dict[str, int] = {}
        for item in self.files:
            if not item.rejection:
                for name in {label.class_name for label in item.labels}:
                    counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))
