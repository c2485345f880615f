"""Re-wrap comments and docstrings whose lines run past the line length, or whose last line is a
single word.

`ruff format` breaks code but leaves comments and docstrings as written; this does the rest, and
only that. Conservative on purpose: a paragraph is a run of lines at one indentation, and only a
paragraph with a line past the limit is re-wrapped (greedily, never breaking a word). Left as they
are: lines indented deeper than their paragraph (code examples), doctest lines, `#!` and pragma
comments (`noqa`, `type:`, `fmt:`), string literals that are not docstrings. List items (`-`, `*`,
`1.`) keep their hanging indent. A trailing comment that makes its line too long moves, whole, onto
its own lines above that line; of a noqa comment, only the reason written after its codes moves.

Usage: python tools/rewrap.py [--line-length N] PATH...

PATH: files or folders (migrations are skipped); it prints the files it changed. Running it twice
changes nothing the second time.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import textwrap
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

from source_rewrite import rewrite_main

# A list item's marker: `- `, `* `, `1. `, `1) `; its
# continuation lines hang under the text after it.
LAYOUT = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
LIST_MARKER = re.compile(r"^(?:[-*]|\d+[.)])\s+")
# A section rule: `# --- name -----`. Never joined to other lines; its dashes are shortened to fit.
RULE = re.compile(r"^(\s*#.*?)([-=*~_#])\2{3,}$")
# A noqa comment with codes and a reason: the reason can move above the line, the codes stay.
NOQA_REASON = re.compile(r"^(#\s*noqa:\s*[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)\s+(\S.*)$")
# Comments whose words tools read: moving or re-flowing them would change what the tools see.
PRAGMA = re.compile(r"^#\s*(?:noqa|type:|fmt:|pragma|mypy:|ruff:|isort:|pyright:)|^#!")
# A docstring section heading (`Args:`): a paragraph of its own, never joined to the prose above it.
HEADING = re.compile(r"^\w[\w ]{0,30}:$")
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Paragraph:
    """Lines [start, end) of one text block, re-wrapped as one unit; `hang` indents its
    continuation lines."""

    start: int
    end: int
    hang: str = ""


def wrap_words(text: str, first: str, rest: str, width: int) -> list[str]:
    """Greedy wrap of `text`, a little narrower where that keeps a single word off the last line;
    `first` and `rest` prefix the first and the other lines (their width counts)."""
    narrow = width
    lines = greedy_wrap(text, first, rest, narrow)
    while len(lines) > 1 and len(words_of(lines[-1])) == 1 and narrow > width * 0.8:
        narrow -= 1
        lines = greedy_wrap(text, first, rest, narrow)
    return lines


def words_of(line: str) -> list[str]:
    """A line's words, without a comment's `#`."""
    words = line.split()
    return words[1:] if words[:1] == ["#"] else words


def needs_wrap(lines: list[str], limit: int) -> bool:
    """A paragraph past the limit, or one whose last line is a single word (a widow)."""
    widow = len(lines) > 1 and len(words_of(lines[-1])) == 1
    return widow or any(len(line) > limit for line in lines)


def greedy_wrap(text: str, first: str, rest: str, width: int) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def text_paragraphs(texts: list[str | None], first_extra: int = 0) -> Iterator[Paragraph]:
    """Split lines of prose (None: a line that is not prose, kept as it is) into paragraphs; the
    first line is `first_extra` characters longer than its text (a docstring's opening quotes).

    A paragraph ends at a blank or kept line, at a change of indentation, at a list item, at a
    heading and where the author broke a line early; a list item continues over the lines that hang
    exactly under its text.
    """
    lengths = [len(text.rstrip()) if text else 0 for text in texts]
    if lengths:
        lengths[0] += first_extra
    width = max(lengths, default=0)
    i = 0
    while i < len(texts):
        text = texts[i]
        if text is None or not text.strip() or HEADING.match(text.strip()):
            i += 1
            continue
        indent = len(text) - len(text.lstrip())
        marker = LIST_MARKER.match(text.lstrip())
        hang = " " * (indent + marker.end()) if marker else " " * indent
        j = i + 1
        while j < len(texts):
            nxt = texts[j]
            if nxt is None or not nxt.strip() or HEADING.match(nxt.strip()):
                break
            nxt_text = nxt.lstrip()
            if len(nxt) - len(nxt_text) != len(hang):
                break
            if LIST_MARKER.match(nxt_text) or nxt_text.startswith(">>>"):
                break
            if lengths[j - 1] + 1 + len(nxt_text.split()[0]) <= width:
                # The author ended the line on purpose: the next line's first word would have fit.
                break
            j += 1
        if text.lstrip().startswith(">>>"):
            i = j
            continue
        yield Paragraph(i, j, hang)
        i = j


def rewrap_comment_block(lines: list[str], limit: int) -> list[str]:
    """Re-wrap the over-long paragraphs of consecutive full-line comments at one column."""
    col = len(lines[0]) - len(lines[0].lstrip())
    prefix = " " * col + "#"
    texts: list[str | None] = []
    for line in lines:
        body = line.strip()
        if RULE.match(line) or PRAGMA.match(body) or not (body == "#" or body.startswith("# ")):
            texts.append(None)
        else:
            texts.append(body[2:])
    out = list(lines)
    # From the last paragraph to the first, so that earlier indices stay valid.
    for para in reversed(list(text_paragraphs(texts))):
        if not needs_wrap(lines[para.start : para.end], limit):
            continue
        first_text = texts[para.start] or ""
        lead = first_text[: len(first_text) - len(first_text.lstrip())]
        words = " ".join((texts[k] or "").strip() for k in range(para.start, para.end))
        wrapped = wrap_words(words, f"{prefix} {lead}", f"{prefix} {para.hang}", limit)
        out[para.start : para.end] = wrapped
    return [shorten_rule(line, limit) for line in out]


def shorten_rule(line: str, limit: int) -> str:
    """A section rule past the limit with its trailing run cut to fit (at least
    three characters)."""
    match = RULE.match(line)
    if not match or len(line) <= limit:
        return line
    return match.group(1) + match.group(2) * max(3, limit - len(match.group(1)))


def full_line_comments(tokens: list[tokenize.TokenInfo]) -> dict[int, int]:
    """Row -> column of every comment that stands alone on its line (rows from 1)."""
    found: dict[int, int] = {}
    last_code_row = 0
    for tok in tokens:
        if tok.type == tokenize.COMMENT and tok.start[0] != last_code_row:
            found[tok.start[0]] = tok.start[1]
        elif tok.type not in LAYOUT and tok.type != tokenize.COMMENT:
            last_code_row = tok.end[0]
    return found


def continued_rows(tokens: list[tokenize.TokenInfo]) -> set[int]:
    """Rows a token reaches from an earlier row (the end of a multi-line string): no line fits
    above them."""
    rows: set[int] = set()
    for tok in tokens:
        rows.update(range(tok.start[0] + 1, tok.end[0] + 1))
    return rows


def movable_trailing_comments(
    tokens: list[tokenize.TokenInfo], lines: list[str], limit: int
) -> dict[int, int]:
    """Row -> column of trailing comments on over-long lines whose code alone fits and starts on
    that row (a row continued from an earlier one cannot take a line above)."""
    continued = continued_rows(tokens)
    found: dict[int, int] = {}
    code_rows: set[int] = set()
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            line = lines[row - 1]
            code = line[:col].rstrip()
            if (
                row in code_rows
                and row not in continued
                and len(line.rstrip("\n")) > limit
                and len(code) <= limit
                and (NOQA_REASON.match(tok.string) or not PRAGMA.match(tok.string))
                and not code.endswith("\\")
            ):
                found[row] = col
        elif tok.type not in LAYOUT:
            code_rows.add(tok.start[0])
    return found


def rewrap_comments(source: str, limit: int) -> str:
    """Move over-long trailing comments above their line, then re-wrap full-line comment blocks."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    for row, col in sorted(movable_trailing_comments(tokens, lines, limit).items(), reverse=True):
        line = lines[row - 1]
        indent = line[: len(line) - len(line.lstrip())]
        comment, kept = line[col:].strip(), ""
        noqa = NOQA_REASON.match(comment)
        if noqa:
            kept = "  " + noqa.group(1)
            comment = "# " + noqa.group(2).removeprefix("(").removesuffix(")")
        above = wrap_words(comment[1:].strip(), f"{indent}# ", f"{indent}# ", limit)
        code = line[:col].rstrip() + kept
        lines[row - 1 : row] = [f"{text}\n" for text in above] + [code + "\n"]
    source = "".join(lines)

    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    comments = full_line_comments(tokens)
    lines = source.splitlines()
    out: list[str] = []
    row = 1
    while row <= len(lines):
        if row not in comments:
            out.append(lines[row - 1])
            row += 1
            continue
        col = comments[row]
        end = row
        while end + 1 in comments and comments[end + 1] == col:
            end += 1
        out.extend(rewrap_comment_block(lines[row - 1 : end], limit))
        row = end + 1
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def docstring_nodes(tree: ast.AST) -> Iterator[ast.Constant]:
    """The docstring constants of the module, its classes and functions."""
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    yield first.value


def rewrap_docstring(lines: list[str], node: ast.Constant, limit: int) -> list[str] | None:
    """The docstring's lines re-wrapped, or None where it is left alone (not a plain `\"\"\"` string
    alone on its lines, a line ending in a backslash; paragraphs within the limit and without a
    widow are kept as they are)."""
    assert node.end_lineno is not None and node.end_col_offset is not None
    block = lines[node.lineno - 1 : node.end_lineno]
    indent = block[0][: node.col_offset]
    if indent.strip() or not block[0][node.col_offset :].startswith('"""'):
        return None
    closing = block[-1]
    if closing[node.end_col_offset :].strip() or not closing[: node.end_col_offset].endswith('"""'):
        return None
    if any(line.endswith("\\") for line in block):
        return None
    body = "\n".join(block)[node.col_offset + 3 :]
    body = body[: len(body) - 3]
    if body.endswith(('"', "\\")) or body.startswith('"'):
        return None
    texts: list[str | None] = []
    for k, line in enumerate(body.split("\n")):
        if k == 0:
            texts.append(indent + line)
        elif line.strip() and not line.startswith(indent):
            return None  # text left of the docstring's own indentation: not a layout this can keep
        else:
            texts.append(line)
    closes_alone = not texts[-1].strip()  # `"""` on a line of its own stays there
    out: list[str] = []
    done = 0
    for para in text_paragraphs(texts, first_extra=3):
        out.extend(t or "" for t in texts[done : para.start])
        done = para.end
        first = texts[para.start] or ""
        lead = first[: len(first) - len(first.lstrip())]
        words = " ".join((texts[k] or "").strip() for k in range(para.start, para.end))
        opens = para.start == 0
        closes = para.end == len(texts) and not closes_alone
        prefix = lead + ('"""' if opens else "")
        if closes:
            words += '"""'
        if not needs_wrap(block[para.start : para.end], limit):
            out.extend(t or "" for t in texts[para.start : para.end])
            continue
        wrapped = wrap_words(words, prefix, para.hang, limit)
        if opens:
            wrapped[0] = indent + wrapped[0][len(indent) + 3 :]
        if closes:
            wrapped[-1] = wrapped[-1][:-3]
        out.extend(wrapped)
    out.extend(t or "" for t in texts[done:])
    out[0] = indent + '"""' + out[0][len(indent) :]
    out[-1] += '"""'
    return out


def rewrap_docstrings(source: str, limit: int) -> str:
    """Re-wrap every docstring with a line past the limit, from the end of the file to its start."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in sorted(docstring_nodes(tree), key=lambda n: n.lineno, reverse=True):
        new = rewrap_docstring(lines, node, limit)
        if new is not None:
            assert node.end_lineno is not None
            lines[node.lineno - 1 : node.end_lineno] = new
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def rewrap_source(source: str, limit: int) -> str:
    """Comments then docstrings; refuses a result that no longer parses to the same code."""
    new = rewrap_docstrings(rewrap_comments(source, limit), limit)
    if ast.dump(strip_docstrings(ast.parse(new))) != ast.dump(strip_docstrings(ast.parse(source))):
        raise ValueError("re-wrapping changed the code")
    return new


def strip_docstrings(tree: ast.Module) -> ast.Module:
    """The tree with its docstrings' text blanked (their wrapping is what changes; everything else
    must not)."""
    for node in docstring_nodes(tree):
        node.value = ""
    return tree


if __name__ == "__main__":
    sys.exit(rewrite_main(sys.argv[1:], __doc__.splitlines()[0], rewrap_source))
