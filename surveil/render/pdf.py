"""HTML to PDF with WeasyPrint (offline: it reads no URL; fonts come from the system)."""

import weasyprint


def html_to_pdf(html: str) -> bytes:
    """One PDF from one HTML document (its print stylesheet inline)."""
    document = weasyprint.HTML(string=html, url_fetcher=_refuse)
    return bytes(document.write_pdf())


def _refuse(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
    """A letter fetches nothing: no image, stylesheet or font from anywhere."""
    raise ValueError(f"a letter may not load {url[:60]!r}")
