"""French as well as English: every visible string of every template is marked for translation,
every marked string has its French translation, and the compiled catalogues say what the
sources say."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(path for path in ROOT.glob("*/templates/**/*.html") if ".venv" not in path.parts)
CATALOGUES = sorted(
    path for path in ROOT.glob("*/locale/fr/LC_MESSAGES/django.po") if ".venv" not in path.parts
)

# Django's template syntax, comments, scripts and styles: what remains between tags is what a
# person reads.
_CODE = re.compile(
    r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}|<script\b.*?</script>|<style\b.*?</style>"
    r"|<!--.*?-->",
    re.S,
)
_TRANSLATED = re.compile(
    r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}|{%\s*translate\b.*?%}", re.S
)
_TAG_OR_VARIABLE = re.compile(r"{%.*?%}|{{.*?}}|<[^>]*>", re.S)
_ATTRIBUTE = re.compile(r'\b(?:title|placeholder|aria-label|alt)="([^"{]*[A-Za-z][^"]*)"')
# Words that read the same in both languages, names and units.
SAME_IN_BOTH = {
    "Faune",
    "API",
    "JSON",
    "CSV",
    "XLSX",
    "COCO",
    "Camtrap",
    "DP",
    "MegaDetector",
    "DeepFaune",
    "ms",
    "px",
    "F1",
    "macro",
    "SHA",
    "OK",
    "ID",
    "id",
    "x",
    "s",
    "GB",
    "MB",
    "kB",
    "Zoom",
    "Date",
    "Score",
    "Organisations",
    "Version",
    "Description",
    "Total",
    "Images",
    "Image",
    "Sequences",
    "Sequence",
    "Novelty",
    "Taxon",
    "Taxa",
    "Expert",
    "Experts",
    "Partners",
    "Partner",
    "Confirmation",
    "Source",
    "Classes",
    "Actions",
    "Public",
    "Mode",
    "Options",
    "Page",
    "Message",
    "Notes",
    "Latitude",
    "Longitude",
    "Habitat",
    "Type",
    "Format",
    "Rang",
}


def _unmarked(template: Path) -> list[str]:
    text = _TRANSLATED.sub(" ", _CODE.sub(" ", template.read_text()))
    found = [f"attribute {value!r}" for value in _ATTRIBUTE.findall(text)]
    for chunk in _TAG_OR_VARIABLE.sub("\n", text).splitlines():
        words = re.findall(r"[A-Za-zÀ-ÿ]{2,}", chunk.replace("&nbsp;", " "))
        if [word for word in words if word not in SAME_IN_BOTH]:
            found.append(chunk.strip())
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_visible_string_of_a_template_is_marked_for_translation(template):
    assert _unmarked(template) == []


def _entries(po: Path) -> list[tuple[str, str, bool, str]]:
    """(msgid, msgstr, fuzzy, msgctxt) of the singular entries of a catalogue; msgctxt "" when it
    has none."""
    entries = []
    for block in po.read_text().split("\n\n"):
        if "msgid_plural" in block or "msgid " not in block:
            continue
        msgid = _joined(re.search(r'^msgid ((?:".*"\n?)+)', block, re.M))
        msgstr = _joined(re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M))
        context = _joined(re.search(r'^msgctxt ((?:".*"\n?)+)', block, re.M))
        if msgid:
            entries.append(
                (msgid, msgstr, bool(re.search(r"^#,.*\bfuzzy\b", block, re.M)), context)
            )
    return entries


def _joined(match) -> str:
    if match is None:
        return ""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
    return "".join(parts).encode().decode("unicode_escape").encode("latin-1").decode()


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_marked_string_has_a_french_translation_that_the_platform_uses(po):
    entries = _entries(po)
    assert entries
    missing = [msgid for msgid, msgstr, fuzzy, _ in entries if not msgstr or fuzzy]
    assert missing + _untranslated_plurals(po) == []
    with translation.override("fr"):
        stale = [
            msgid
            for msgid, msgstr, _, context in entries
            if "%" not in msgid and _french(msgid, context) != msgstr
        ]
    assert stale == [], (
        "the .mo files are older than the .po files: run `manage.py compilemessages`"
    )


def _untranslated_plurals(po: Path) -> list[str]:
    """The plural entries with a form left empty or marked fuzzy."""
    blocks = [block + "\n" for block in po.read_text().split("\n\n") if "msgid_plural" in block]
    return [
        _joined(re.search(r'^msgid ((?:".*"\n?)+)', block, re.M))
        for block in blocks
        if re.search(r'^msgstr\[\d\] ""\n(?!")', block, re.M)
        or re.search(r"^#,.*\bfuzzy\b", block, re.M)
    ]


def _french(msgid: str, context: str) -> str:
    return translation.pgettext(context, msgid) if context else translation.gettext(msgid)


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext's xgettext")
@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_catalogue_holds_every_marked_string(po, tmp_path):
    """makemessages run again over a copy of the app finds nothing the committed catalogue lacks."""
    app = po.parents[3]
    copy = tmp_path / app.name
    shutil.copytree(app, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "makemessages",
            "-l",
            "fr",
            "--no-obsolete",
            "--no-location",
        ],
        cwd=copy,
        env=_settings_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    fresh = {
        (context, msgid)
        for msgid, _, _, context in _entries(copy / "locale/fr/LC_MESSAGES/django.po")
    }
    committed = {(context, msgid) for msgid, _, _, context in _entries(po)}
    assert fresh - committed == set(), f"{app.name}: run makemessages -l fr and translate"


def _settings_env() -> dict[str, str]:
    """The environment of this test process plus what its settings need, so that makemessages loads
    the test settings and their secret key however pytest was started (`make test`, an IDE, a bare
    command line). pytest-django puts the settings module in the environment;
    `settings.SETTINGS_MODULE` is None under override_settings, so it is not read from there."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "faune_platform.settings.test")
    return {**os.environ, "DJANGO_SETTINGS_MODULE": module, "FAUNE_SECRET_KEY": settings.SECRET_KEY}


@pytest.mark.parametrize(
    "method, path, french",
    [
        ("get", "/api/selection/batches/", "Seuls les coordinateurs peuvent voir les lots d'"),
        ("post", "/api/rounds/", "Seuls les coordinateurs peuvent lancer des cycles de réentr"),
    ],
)
def test_a_refusal_to_a_partner_reads_whole_in_french(partner, method, path, french):
    """A coordinator-only refusal is one sentence: its end is translated with its start."""
    refused = getattr(client_for(partner), method)(path, HTTP_ACCEPT_LANGUAGE="fr")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(french)
