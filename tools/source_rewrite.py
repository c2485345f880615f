"""What rewrap.py and split_strings.py share: which files they read and how they rewrite them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# Migrations are generated and excused from the line length (pyproject.toml): left as they are.
SKIPPED_DIRS = {".git", ".venv", "var", "__pycache__", "node_modules", "build", "migrations"}


def python_files(paths: list[str]) -> Iterator[Path]:
    """The files named, and the .py files under the folders named."""
    for name in paths:
        path = Path(name)
        if path.is_file():
            yield path
            continue
        for found in sorted(path.rglob("*.py")):
            if not SKIPPED_DIRS.intersection(found.parts):
                yield found


def rewrite_main(argv: list[str], description: str, transform: Callable[[str, int], str]) -> int:
    """Apply `transform(source, line_length)` to every file; one it refuses (ValueError) or cannot
    parse is left as it is, saying why. Prints the files it changed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--line-length", type=int, default=100)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    for path in python_files(args.paths):
        source = path.read_text(encoding="utf-8")
        try:
            new = transform(source, args.line_length)
        except (SyntaxError, ValueError) as error:
            print(f"{path}: left as it is ({error})", file=sys.stderr)
            continue
        if new != source:
            path.write_text(new, encoding="utf-8")
            print(path)
    return 0
