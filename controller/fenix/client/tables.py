"""Plain tables for the `fenix session` commands: columns as wide as their widest cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO


def table(out: IO[str], header: tuple[str, ...], rows: Sequence[Sequence[object]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        line = "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip(), file=out)
