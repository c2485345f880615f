#!/usr/bin/env bash
# Lines a person reads at once (issue 14, item 5): ruff's line length at 100, and every line that tools can
# shorten without changing what the code does. Idempotent: on a tree it has already done, it changes nothing.
#
#   tools/lines_100.sh [STEP...]    steps, in this order when none is named:
#     format    line-length = 100 in pyproject.toml, then `ruff format`
#     rewrap    comments and docstrings past 100 re-wrapped (tools/rewrap.py)
#     split     long string literals cut into implicitly concatenated pieces (tools/split_strings.py)
#     residue   what is left for a person: `ruff check` (lines past 100 that no tool could shorten, and
#               any `# noqa` the formatter moved off the line it excuses)
#
# PY names the Python with ruff (default: .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=100
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(format rewrap split residue)

ruff_format() { "$PY" -m ruff format --quiet .; }

for step in "${steps[@]}"; do
  case "$step" in
    format)
      sed -i -E "s/^line-length = [0-9]+$/line-length = $LIMIT/" pyproject.toml
      ruff_format
      ;;
    rewrap)
      "$PY" tools/rewrap.py --line-length "$LIMIT" .
      # The formatter re-indents a comment moved above a closing bracket; re-wrap what that made too long.
      ruff_format
      "$PY" tools/rewrap.py --line-length "$LIMIT" .
      ;;
    split)
      "$PY" tools/split_strings.py --line-length "$LIMIT" .
      ruff_format
      "$PY" tools/rewrap.py --line-length "$LIMIT" .
      ;;
    residue)
      echo "Left to fix by hand (E501: lines past $LIMIT; other codes: a # noqa the formatter moved):"
      "$PY" -m ruff check --output-format concise . || true
      echo "Every line past $LIMIT, those ruff excuses too (a line ending in # noqa, one long word):"
      git ls-files '*.py' | grep -v '/migrations/' | xargs grep -n ".\{$((LIMIT + 1)),\}" || true
      ;;
    *)
      echo "unknown step: $step (format, rewrap, split, residue)" >&2
      exit 2
      ;;
  esac
done
