"""Compact HTML in log.html: tables of rows and embedded PNG images."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

from robot.api import logger

MAX_ROWS = 50


def log_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Log rows as a small HTML table (at most 50 rows shown)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows[:MAX_ROWS]
    )
    more = f"<div>... {len(rows) - MAX_ROWS} more rows</div>" if len(rows) > MAX_ROWS else ""
    logger.info(
        f"<b>{html.escape(title)}</b> ({len(rows)} rows)"
        f'<table border="1" style="border-collapse:collapse"><tr>{head}</tr>{body}</table>{more}',
        html=True,
    )


def log_png(title: str, png: bytes, width: int | None = None) -> None:
    """Embed a PNG image in log.html."""
    data = base64.b64encode(png).decode("ascii")
    size = f' width="{width}"' if width else ""
    logger.info(f'<b>{html.escape(title)}</b><br><img src="data:image/png;base64,{data}"{size}>', html=True)
