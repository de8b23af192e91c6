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


def event_reasons(describe_text):
    """The Reason column of `kubectl describe`'s Events table, in the order shown (oldest first)."""
    _, _, events = describe_text.partition("\nEvents:")
    reasons = []
    for line in events.splitlines()[3:]:  # header, dashes
        cells = line.split()
        if len(cells) >= 2 and cells[0] in ("Normal", "Warning"):
            reasons.append(cells[1])
    return reasons
