"""Line numbers for messages about a TOML file: tomllib gives none for values, so they are
found in the text (the config file's routes and rules, a rule in the TUI's editor)."""

from __future__ import annotations

import re

_HEADER = re.compile(r"\s*\[")


class Lines:
    """Where each `[[table]]` of one name starts, and where a key is written."""

    def __init__(self, name: str, lines: list[str], table: str = "") -> None:
        """`name` starts every place ("inspector.toml", or "line" for an editor's text);
        `table` the name of the array of tables whose keys are looked up by index."""
        self.name = name
        self.lines = lines
        start = re.compile(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]") if table else None
        self.starts = ([n for n, line in enumerate(lines) if start.match(line)]
                       if start is not None else [])

    def key(self, index: int | None, key: str) -> str:
        """"file:line" of `key` in the index-th table (None: at the top level), or "file"."""
        name = rf"[\"']?{re.escape(key)}[\"']?"
        if index is None:  # a top-level key, or a [table] header of that name
            pattern = re.compile(rf"\s*(\[+\s*{name}\s*\]|{name}\s*=)")
            begin, line, stop = 0, None, False
        elif index < len(self.starts):
            pattern = re.compile(rf"\s*{name}\s*=")
            begin = line = self.starts[index] + 1
            stop = True  # the table's keys end at the next table header
        else:
            return self.name
        for n in range(begin, len(self.lines)):
            if stop and _HEADER.match(self.lines[n]):
                break
            if pattern.match(self.lines[n]):
                line = n + 1
                break
        return self.place(line)

    def place(self, line: int | None) -> str:
        if not line:
            return self.name
        return f"{self.name} {line}" if self.name == "line" else f"{self.name}:{line}"

    def table(self, index: int) -> tuple[int, int]:
        """The index-th table's lines, [start, end) 0-based, header included; trailing blank
        and comment lines are left to what follows."""
        begin = self.starts[index]
        end = begin + 1
        while end < len(self.lines) and not _HEADER.match(self.lines[end]):
            end += 1
        while end > begin + 1 and (not self.lines[end - 1].strip()
                                   or self.lines[end - 1].lstrip().startswith("#")):
            end -= 1
        return begin, end
