"""HTML to PDF with WeasyPrint (offline: it reads no URL; fonts come from the system).

Many PDFs at once (``many_pdfs``) are laid out as one WeasyPrint document and split back into one
PDF per part: most of WeasyPrint's cost per document is fixed (parsing the stylesheet, matching it
to every element, loading the fonts, setting up the layout), so laying out 25 letters together
costs little more than the letters' own text. Each part still becomes a PDF of its own, with only
its own pages.
"""

import itertools
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import weasyprint

# Parts laid out together: large enough that the fixed cost of a document is spread thin, small
# enough that a progress bar moves and memory stays small (a letter's boxes are about 1 MB).
BATCH = 25
# The anchor each part's <main> gets, so that its first page can be found after layout.
_PART = "surveil-pdf-part-"


def html_to_pdf(html: str) -> bytes:
    """One PDF from one HTML document (its print stylesheet inline)."""
    document = weasyprint.HTML(string=html, url_fetcher=_refuse)
    return bytes(document.write_pdf())


def many_pdfs(
    documents: Sequence[str],
    *,
    jobs: int = 1,
    on_done: Callable[[int], None] | None = None,
) -> list[bytes]:
    """One PDF per HTML document, in order, as ``html_to_pdf`` would make each.

    Documents that share everything before their one ``<main>`` (the same template) are laid out
    in batches; any other document is laid out alone. ``jobs`` > 1 lays batches out in that many
    worker processes (the CLI's bulk letters; not for the web server, whose workers should not
    fork). ``on_done(n)`` is told each time n more PDFs are ready.
    """
    batches = _batches(documents)
    pdfs: list[bytes] = [b""] * len(documents)
    if jobs <= 1 or len(batches) <= 1:
        for places, batch in batches:
            _place(pdfs, places, _render_batch(batch))
            if on_done:
                on_done(len(batch))
        return pdfs
    # fork: the workers inherit the loaded WeasyPrint, Pango and fonts instead of importing them
    # again (a second or more each); the CLI that asks for workers runs no threads of its own.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        done = pool.map(_render_batch, [batch for _places, batch in batches])
        for (places, batch), made in zip(batches, done, strict=True):
            _place(pdfs, places, made)
            if on_done:
                on_done(len(batch))
    return pdfs


def _batches(documents: Sequence[str]) -> list[tuple[list[int], list[str]]]:
    """The documents (with their places in the list) in batches of up to ``BATCH`` that share
    everything before their one ``<main>``. Letters in several languages differ there (``<html
    lang>``, ``<title>``), so documents are grouped by head wherever they stand in the list, not
    only when they are neighbours: a mixed list is laid out in as few documents as a uniform one."""
    batches: list[tuple[list[int], list[str]]] = []
    open_batch: dict[str, tuple[list[int], list[str]]] = {}
    for place, html in enumerate(documents):
        if html.count("<main") != 1:
            batches.append(([place], [html]))
            continue
        head = html.partition("<main")[0]
        batch = open_batch.get(head)
        if batch is None or len(batch[1]) >= BATCH:
            batch = open_batch[head] = ([], [])
            batches.append(batch)
        batch[0].append(place)
        batch[1].append(html)
    return batches


def _place(pdfs: list[bytes], places: list[int], made: list[bytes]) -> None:
    for place, pdf in zip(places, made, strict=True):
        pdfs[place] = pdf


def _render_batch(batch: list[str]) -> list[bytes]:
    """The batch's documents laid out as one, split back into a PDF each by the pages on which
    each part's anchor falls (a part runs until the next part's first page)."""
    if len(batch) == 1:
        return [html_to_pdf(batch[0])]
    head = batch[0].partition("<main")[0]
    parts = []
    for n, html in enumerate(batch):
        body = html.partition("<main")[2].partition("</main>")[0]
        # Each part starts a page of its own, whatever the template's stylesheet says.
        parts.append(f'<main id="{_PART}{n}" style="break-before: page"{body}</main>')
    document = weasyprint.HTML(
        string=head + "".join(parts) + "</body></html>", url_fetcher=_refuse
    ).render()
    starts: dict[int, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor.startswith(_PART):
                starts.setdefault(int(anchor.removeprefix(_PART)), number)
    first = [starts.get(n, -1) for n in range(len(batch))]
    if first[0] != 0 or any(a >= b for a, b in itertools.pairwise(first)):
        # A part without a first page of its own (cannot happen with one <main> each; a wrong
        # split would hand one patient another's plan): lay each out alone instead.
        return [html_to_pdf(html) for html in batch]
    ends = [*first[1:], len(document.pages)]
    return [
        bytes(document.copy(document.pages[a:b]).write_pdf())
        for a, b in zip(first, ends, strict=True)
    ]


def _refuse(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
    """A letter fetches nothing: no image, stylesheet or font from anywhere."""
    raise ValueError(f"a letter may not load {url[:60]!r}")
