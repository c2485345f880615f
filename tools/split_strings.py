"""Split string literals that make a line too long into implicitly concatenated pieces.

The pieces hold exactly the literal's text, cut after a space, so the value is unchanged: a message
marked `_("...")` keeps its msgid, because the pieces stay inside the call and gettext joins
adjacent literals. A literal that is not a whole argument or element gets parentheses around its
pieces; `ruff format` then puts one piece a line. Left as they are: triple-quoted strings, strings
spanning lines, bytes, `\\N{...}` escapes, spaces inside an f-string's `{...}`, and text without a
space to cut at.

Usage: python tools/split_strings.py [--line-length N] PATH...

PATH: files or folders (migrations are skipped); it prints the files it changed. Run `ruff format`
after it; on a formatted tree with no long literal left it changes nothing.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator

from source_rewrite import rewrite_main

PREFIX = re.compile(r"^([rRuUfF]{0,2})(['\"])")
# The literal is a whole element or argument when it sits between these: pieces need no
# parentheses there.
OPENERS = {"(", "[", "{", ","}
CLOSERS = {")", "]", "}", ","}
# Room for a piece's indentation after `ruff format` when the literal does not start its line:
# a statement's continuation (4) plus an argument's parentheses (4). Too much only makes
# pieces shorter.
NESTED_INDENT = 8


def split_points(body: str, is_f: bool) -> list[int]:
    """Offsets just after each space of `body` where a cut keeps the text intact (outside `{...}`,
    no escape)."""
    points = []
    depth = 0
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 2  # an escape stays whole, whatever follows the backslash
            continue
        if is_f and char in "{}":
            if depth == 0 and body[i : i + 2] in ("{{", "}}"):
                i += 2
                continue
            depth += 1 if char == "{" else -1
        elif char == " " and depth == 0:
            points.append(i + 1)
        i += 1
    return points


def has_placeholder(text: str) -> bool:
    """Whether an f-string's text holds a `{...}` field (not only escaped braces)."""
    return "{" in text.replace("{{", "").replace("}}", "")


def piece_literal(prefix: str, quote: str, text: str) -> str:
    """One piece as a literal: an f-string piece without a field becomes a plain string
    (braces unescaped)."""
    if "f" in prefix.lower() and not has_placeholder(text):
        prefix = prefix.replace("f", "").replace("F", "")
        text = text.replace("{{", "{").replace("}}", "}")
    return f"{prefix}{quote}{text}{quote}"


def literal_parts(token: str) -> tuple[str, str, str] | None:
    """(prefix, quote, body) of a one-line literal this can cut, or None (triple quotes,
    bytes, `\\N{...}`)."""
    match = PREFIX.match(token)
    if not match:
        return None
    prefix, quote = match.group(1), match.group(2)
    if token.startswith(match.group(0) + quote * 2) or "\\N{" in token:
        return None
    return prefix, quote, token[len(prefix) + 1 : -1]


def joined_literal(tokens: list[str]) -> tuple[str, str, str] | None:
    """Adjacent literals as one (prefix, quote, body): an f-string when any piece is one, its
    other pieces' braces escaped. None when they differ in quotes or in raw-ness (they are left as
    they are)."""
    parts = [literal_parts(token) for token in tokens]
    if any(part is None for part in parts):
        return None
    prefixes = {part[0].lower().replace("f", "") for part in parts if part}
    if len(prefixes) != 1:
        return None
    # Pieces written with different quotes take the one none of their texts holds.
    quotes = {part[1] for part in parts if part}
    if len(quotes) > 1:
        quotes = {q for q in ('"', "'") if all(q not in part[2] for part in parts if part)}
        if not quotes:
            return None
    is_f = any("f" in part[0].lower() for part in parts if part)
    bodies = []
    for part in parts:
        assert part is not None
        body = part[2]
        if is_f and "f" not in part[0].lower():
            body = body.replace("{", "{{").replace("}", "}}")
        bodies.append(body)
    prefix = prefixes.pop() + ("f" if is_f else "")
    return prefix, min(quotes), "".join(bodies)


def split_literal(tokens: list[str], width: int) -> list[str] | None:
    """Adjacent literals re-cut into pieces of at most `width` characters each (quotes included),
    or None."""
    joined = joined_literal(tokens)
    if joined is None:
        return None
    prefix, quote, body = joined
    overhead = len(prefix) + 2
    pieces: list[str] = []
    start = 0
    last_fit = None
    for point in split_points(body, "f" in prefix) + [len(body)]:
        if point - start + overhead <= width:
            last_fit = point
            continue
        if last_fit is None or last_fit == start:
            return None  # a word longer than a line: nothing to cut at
        pieces.append(body[start:last_fit])
        start = last_fit
        last_fit = point if point - start + overhead <= width else None
        if last_fit is None:
            return None
    pieces.append(body[start:])
    return [piece_literal(prefix, quote, piece) for piece in pieces]


def significant(
    tokens: list[tokenize.TokenInfo], index: int, step: int
) -> tokenize.TokenInfo | None:
    """The nearest token before (step -1) or after (step 1) `index`, not layout nor a comment."""
    skipped = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    index += step
    while 0 <= index < len(tokens):
        if tokens[index].type not in skipped:
            return tokens[index]
        index += step
    return None


def stands_alone(tokens: list[tokenize.TokenInfo], first: int, last: int) -> bool:
    """Whether the literals first..last are a whole argument or element (their pieces need
    no parentheses)."""
    before, after = significant(tokens, first, -1), significant(tokens, last, 1)
    if before is None or after is None:
        return False
    return before.string in OPENERS and after.string in CLOSERS


def literal_runs(tokens: list[tokenize.TokenInfo]) -> Iterator[tuple[int, int]]:
    """Index ranges [first, last] of adjacent string tokens (one implicit concatenation, no
    comment inside)."""
    index = 0
    while index < len(tokens):
        if tokens[index].type != tokenize.STRING:
            index += 1
            continue
        last = index
        while True:
            nxt = last + 1
            while nxt < len(tokens) and tokens[nxt].type == tokenize.NL:
                nxt += 1
            if nxt < len(tokens) and tokens[nxt].type == tokenize.STRING:
                last = nxt
            else:
                break
        yield index, last
        index = last + 1


def split_source(source: str, limit: int) -> str:
    """Each implicit concatenation (or lone literal) on a too-long line re-cut to fit, from the
    end back."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for first, last in literal_runs(tokens):
        run = [tokens[k] for k in range(first, last + 1) if tokens[k].type == tokenize.STRING]
        rows = range(run[0].start[0], run[-1].end[0] + 1)
        if any(tok.start[0] != tok.end[0] for tok in run):
            continue
        if all(len(lines[row - 1].rstrip("\n")) <= limit for row in rows):
            continue
        line = lines[run[0].start[0] - 1]
        if line.lstrip().startswith("case "):
            continue
        col = run[0].start[1]
        first_on_line = not line[:col].strip()
        indent = col if first_on_line else len(line) - len(line.lstrip()) + NESTED_INDENT
        pieces = split_literal([tok.string for tok in run], limit - indent - 1)
        if pieces is None or len(pieces) < 2 and len(run) < 2:
            continue
        text = " ".join(pieces)
        if not stands_alone(tokens, first, last):
            text = f"({text})"
        start = offsets[run[0].start[0] - 1] + run[0].start[1]
        end = offsets[run[-1].end[0] - 1] + run[-1].end[1]
        if text != source[start:end]:
            edits.append((start, end, text))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def split_checked(source: str, limit: int) -> str:
    """`split_source`, refused (ValueError) if the parsed code differs: adjacent literals are joined
    by the parser, so a correct split leaves the tree as it was."""
    new = split_source(source, limit)
    if ast.dump(ast.parse(new)) != ast.dump(ast.parse(source)):
        raise ValueError("splitting changed a value")
    return new


if __name__ == "__main__":
    sys.exit(rewrite_main(sys.argv[1:], __doc__.splitlines()[0], split_checked))
