"""The `eport` commands' lists: one JSON object a line with --json (for scripts), else one line of
text a row (for people), and a sentence when there is none (with --json, no line is the empty list)."""
import json


def print_rows(rows, out, as_json, line, empty):
    """`line(row)`: a row's text (it may hold more lines); `empty`: what an empty list prints."""
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if as_json else line(row), file=out)
    if not rows and not as_json:
        print(empty, file=out)
