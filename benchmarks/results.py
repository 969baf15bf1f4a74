"""A driver's printed tables, and the same rows as JSON (`--json FILE`), so that a figure can be
read back by a program as well as by eye. Standard library only: drivers that keep their heavy
imports for later (bench_kb, bench_ocr) import it first.

    tables = Tables("benchmarks.bench_inference")
    tables.start(["pipeline", "view", "docs/s"])      # prints the header
    tables.row("ita", "text-only", "34.0")             # prints a row as soon as it is measured
    tables.write(args.json)                            # {"command", "tables": [{"title", "header", "rows"}]}

Each row is written as {column: cell}, the cells as printed (strings: the table's rounding).
"""

import json
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence


def add_json_option(parser) -> None:
    """`--json FILE` on a driver's argparse parser (args.json: a Path or None)."""
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the printed tables' rows to FILE")


class Tables:
    """The Markdown tables a driver prints, kept for `write`. `module`: the driver's module name,
    for the command recorded (`python -m MODULE` and this process's arguments)."""

    def __init__(self, module: str, argv: Optional[Sequence[str]] = None):
        self.command = "python -m " + shlex.join([module, *(sys.argv[1:] if argv is None else argv)])
        self.tables: List[Dict[str, Any]] = []

    def start(self, header: Sequence[str], title: str = "") -> None:
        """Print a table's header (and its title line, if any); its rows follow with `row`."""
        if title:
            print(title)
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|", flush=True)
        self.tables.append({"title": title, "header": list(header), "rows": []})

    def row(self, *cells: Any) -> None:
        """Print one row of the table `start` began; ValueError if its width is not the header's."""
        if not self.tables:
            raise ValueError("row() before start(): no table to add to")
        table = self.tables[-1]
        if len(cells) != len(table["header"]):
            raise ValueError(f"{len(cells)} cells for {len(table['header'])} columns: {cells}")
        print("| " + " | ".join(str(cell) for cell in cells) + " |", flush=True)
        table["rows"].append(dict(zip(table["header"], (str(cell) for cell in cells))))

    def print(self, header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
        """A whole table at once."""
        self.start(header, title)
        for cells in rows:
            self.row(*cells)

    def write(self, path: Optional[Path], **extra: Any) -> None:
        """Write {"command", **extra, "tables"} to `path` as JSON (nothing when `path` is None)."""
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"command": self.command, **extra, "tables": self.tables}
        path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf8")
        print(f"Rows written to {path}")
