"""Generated text inside a hand-written document, between two HTML-comment markers (the README's support
matrix, its upstream-docs summary): regenerated in place, never edited by hand."""

import re
from pathlib import Path


class MarkedRegionError(Exception):
    pass


def update(document: Path, start: str, end: str, text: str) -> bool:
    """Replace what stands between the markers with `text`; returns whether the document changed."""
    try:
        old = document.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MarkedRegionError(f"cannot update {document}: {exc}") from None
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(old):
        raise MarkedRegionError(f"{document} has no {start} ... {end} markers: add them where the text belongs")
    new = pattern.sub(lambda _: f"{start}\n{text}\n{end}", old)
    document.write_text(new, encoding="utf-8")
    return new != old
