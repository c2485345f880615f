"""DeepFaune's result table (what its interface saves: filename, date, seqnum, prediction, score,
top1, count, humancount) and its "sorted into folders by class" layout.

`prediction` is the image's label when someone gave one (no score: a person's word), else the
model's verdict on the sequence, "undefined" under the organisation's threshold (DeepFaune's
`indefini`), with `top1` its best class all the same. `count` and `humancount` are the animals and
people the detector boxed (a label's count wins), empty when no detector looked. Names are in French
(DeepFaune's default, without accents as DeepFaune writes them: "ecureuil") or English; `source`
(extra column) says whose word the prediction is."""

import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any

from faune_platform.boxes import Category, DetectorCategory
from inference.engine.exports.records import UNKNOWN, Classification, Event, Frame

COLUMNS = [
    "filename",
    "date",
    "seqnum",
    "prediction",
    "score",
    "top1",
    "count",
    "humancount",
    "source",
]
WORDS = {
    "fr": {
        "undefined": "indefini",
        "empty": "vide",
        "human": "humain",
        "vehicle": "vehicule",
        "unclassified": "non_classe",
    },
    "en": {
        "undefined": "undefined",
        "empty": "empty",
        "human": "human",
        "vehicle": "vehicle",
        "unclassified": "unclassified",
    },
}
LANGUAGES = tuple(WORDS)


def _name(said: Classification, language: str) -> str:
    if said.kind == UNKNOWN:
        return WORDS[language]["undefined"]
    if said.kind in (Category.EMPTY, Category.HUMAN, Category.VEHICLE) and not (
        said.name_fr or said.name_en
    ):
        return WORDS[language][said.kind]
    if language == "fr" and said.name_fr:
        return _unaccented(said.name_fr)
    return said.name_en or said.kind


def _top1(said: Classification, language: str) -> str:
    top = _unaccented(said.top_name_fr) if language == "fr" else said.top_name_en
    return top or _name(said, language)


def _unaccented(name: str) -> str:
    """DeepFaune's spelling of a French name: 'écureuil' -> 'ecureuil', 'chèvre' -> 'chevre'."""
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _counts(frame: Frame, threshold: float) -> tuple[int | str, int | str]:
    if frame.detections is None:
        return "", ""
    sure = [d for d in frame.detections if d.confidence >= threshold]
    animals = sum(d.category == DetectorCategory.ANIMAL for d in sure)
    return animals, sum(d.category == DetectorCategory.PERSON for d in sure)


def _date(value: dt.datetime | None) -> str:
    return value.strftime("%Y:%m:%d %H:%M:%S") if value else ""


def table_rows(event: Event, *, language: str, threshold: float) -> list[dict[str, Any]]:
    rows = []
    for frame in event.frames:
        said = frame.label or event.verdict or frame.prediction
        animals, people = _counts(frame, threshold)
        row: dict[str, Any] = {
            "filename": frame.name,
            "date": _date(frame.taken_at),
            "seqnum": event.id,
            "count": animals,
            "humancount": people,
        }
        if said is not None:
            row.update(
                prediction=_name(said, language),
                top1=_top1(said, language),
                score="" if said.method == "human" else round(said.probability or 0.0, 4),
                source=said.source,
            )
            if frame.label and frame.label.count:
                row["count"] = frame.label.count
        rows.append(row)
    return rows


def folder_name(prediction: str) -> str:
    """A class folder's name: the prediction, with what a file system refuses replaced."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", prediction).strip(" .")
    return name or "_"


def sorted_path(row: dict[str, Any], frame: Frame, *, unlabelled: str) -> str:
    """Where a frame goes in the class folders; its id keeps names from two cards apart."""
    folder = folder_name(str(row.get("prediction") or unlabelled))
    return f"{folder}/{frame.id}_{folder_name(frame.basename)}"


def csv_to_xlsx(csv_path: str | Path, xlsx_path: str | Path) -> None:
    """The same table as an Excel workbook (written row by row: the table may be large)."""
    import csv

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("deepfaune")
    with open(csv_path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle)):
            sheet.append(
                row if number == 0 else [_cell(value, column) for column, value in enumerate(row)]
            )
    book.save(xlsx_path)


_NUMERIC = {COLUMNS.index(name) for name in ("seqnum", "score", "count", "humancount")}


def _cell(value: str, column: int) -> str | int | float:
    if column in _NUMERIC and value != "":
        try:
            return int(value) if value.isdigit() else float(value)
        except ValueError:
            return value
    return value
