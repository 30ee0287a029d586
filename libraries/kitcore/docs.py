"""Keyword documentation for every library of the kit: ``python -m kitcore.docs [OUTDIR]``.

Writes one libdoc HTML page per library (default ``docs/libraries/``) and an index page.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

from robot.libdoc import libdoc

LIBRARIES = ("KubeKit", "DockerKit", "RedisKit", "DatabaseKit", "VncKit", "PlatformKit",
             "EnvironmentKit", "ChaosKit", "ProbesKit", "LoadKit", "kitreport.recording.FigureKeywords")
DEFAULT_OUTDIR = Path(__file__).resolve().parents[2] / "docs" / "libraries"


def generate(outdir: Path = DEFAULT_OUTDIR) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    pages = []
    for name in LIBRARIES:
        page = outdir / f"{name.rsplit('.', 1)[-1]}.html"
        status = libdoc(name, str(page), quiet=True)
        if status != 0 or not page.is_file():
            raise SystemExit(f"libdoc could not document {name} (exit {status}); run `libdoc {name} x.html` to see why")
        pages.append(page)
    links = "".join(f'<li><a href="{p.name}">{html.escape(p.stem)}</a></li>' for p in pages)
    index = outdir / "index.html"
    index.write_text(f"<!doctype html><title>Keyword libraries</title><h1>Keyword libraries</h1><ul>{links}</ul>\n")
    return [index, *pages]


def main() -> int:
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTDIR
    pages = generate(outdir)
    print(f"keyword documentation: {len(pages) - 1} libraries in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
