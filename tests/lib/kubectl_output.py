"""Parsing kubectl's human-readable output in tests."""

import re


def table(text):
    """Rows of kubectl's column output as dicts, cut at the header's column offsets."""
    lines = text.splitlines()
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S+( \S+)*", header)]
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    return [{n: line[a:b].strip() if b else line[a:].strip() for n, a, b in zip(names, starts, starts[1:] + [None])}
            for line in lines[1:]]
