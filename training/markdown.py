"""A small Markdown renderer for what model cards and release instructions are written in: headings,
paragraphs, bullet and numbered lists, pipe tables, fenced code, `code` and **bold**. Everything
else is text.

Safe by construction: every piece of the source is HTML-escaped before it is placed between tags
this module writes itself, so raw HTML in a card (a script, an image with an onerror) is shown as
text and never runs."""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)\s*$")
BOLD = re.compile(r"\*\*(.+?)\*\*")


def render_markdown(text: str, *, heading_offset: int = 1) -> SafeString:
    """HTML for `text`; headings move down `heading_offset` levels (the page has its own h1)."""
    lines, html, at = text.splitlines(), [], 0
    while at < len(lines):
        at = _block(lines, at, html, heading_offset)
    return mark_safe("\n".join(html))  # noqa: S308 every piece of the source went through escape()


def _block(lines: list[str], at: int, html: list[str], offset: int) -> int:
    """Render the block starting at line `at`; return the line after it."""
    line = lines[at]
    if not line.strip():
        return at + 1
    if fence := FENCE.match(line):
        return _fenced(lines, at, html, fence)
    if heading := HEADING.match(line):
        level = min(len(heading.group(1)) + offset, 6)
        html.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        return at + 1
    if _is_table(lines, at):
        return _table(lines, at, html)
    for pattern, tag in ((BULLET, "ul"), (NUMBERED, "ol")):
        if pattern.match(line):
            return _list(lines, at, html, pattern, tag)
    return _paragraph(lines, at, html)


def inline(text: str) -> str:
    """Code spans verbatim (escaped), bold elsewhere; an unpaired backtick stays a backtick."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: the last one opens nothing
        parts[-2:] = ["`".join(parts[-2:])]
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(f"<code>{escape(part)}</code>")
        else:
            out.append(BOLD.sub(r"<strong>\1</strong>", str(escape(part))))
    return "".join(out)


def _fenced(lines: list[str], at: int, html: list[str], fence: re.Match) -> int:
    end = at + 1
    while end < len(lines) and not lines[end].strip().startswith(fence.group(1)):
        end += 1
    language = f' class="language-{escape(fence.group(2))}"' if fence.group(2) else ""
    html.append(f"<pre><code{language}>{escape(chr(10).join(lines[at + 1 : end]))}</code></pre>")
    return end + 1


def _is_table(lines: list[str], at: int) -> bool:
    return "|" in lines[at] and at + 1 < len(lines) and bool(TABLE_RULE.match(lines[at + 1]))


def _cells(line: str) -> list[str]:
    stripped = line.strip()
    stripped = stripped[1:] if stripped.startswith("|") else stripped
    stripped = stripped[:-1] if stripped.endswith("|") else stripped
    return [cell.strip() for cell in stripped.split("|")]


def _table(lines: list[str], at: int, html: list[str]) -> int:
    head = "".join(f"<th>{inline(cell)}</th>" for cell in _cells(lines[at]))
    rows, end = [], at + 2
    while end < len(lines) and "|" in lines[end] and lines[end].strip():
        rows.append(
            "<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in _cells(lines[end])) + "</tr>"
        )
        end += 1
    html.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return end


def _list(lines: list[str], at: int, html: list[str], pattern: re.Pattern, tag: str) -> int:
    items, end = [], at
    while end < len(lines) and (match := pattern.match(lines[end])):
        items.append(match.group(1))
        end += 1
        while (
            end < len(lines)
            and lines[end].startswith("  ")
            and lines[end].strip()
            and not pattern.match(lines[end])
        ):  # a wrapped item continues on indented lines
            items[-1] += " " + lines[end].strip()
            end += 1
    html.append(f"<{tag}>" + "".join(f"<li>{inline(item)}</li>" for item in items) + f"</{tag}>")
    return end


def _starts_block(lines: list[str], at: int) -> bool:
    line = lines[at]
    return bool(
        HEADING.match(line)
        or FENCE.match(line)
        or BULLET.match(line)
        or NUMBERED.match(line)
        or _is_table(lines, at)
    )


def _paragraph(lines: list[str], at: int, html: list[str]) -> int:
    end = at + 1
    while end < len(lines) and lines[end].strip() and not _starts_block(lines, end):
        end += 1
    html.append(f"<p>{inline(' '.join(line.strip() for line in lines[at:end]))}</p>")
    return end
