"""Text out of uploaded files, keeping page numbers for citations (pure, CPU-bound: the
worker runs it in a thread).

Libraries, measured for issue 12 on a 30-page PDF and a 300-paragraph DOCX:
pypdf + python-docx + python-pptx install in 38 MB, read the PDF in 0.3 s with a page
boundary per page; markitdown[pdf,docx,pptx] needs 241 MB (onnxruntime via magika),
takes 3 s to import and 6 s for the same PDF (pdfminer), and failed on the python-docx
file; docling needs PyTorch. So: pypdf, python-docx, python-pptx; HTML through the
standard library's parser; Markdown and text as they are.

The result is Markdown-ish text with a `<!-- page N -->` marker before each page and an
offset map (`page_starts[i]` = the character offset where page i+1 begins), so a citation
of a character range names its page.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser

KINDS = ("pdf", "docx", "pptx", "html", "markdown", "text")
EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}
CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "text/html": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}
MEDIA_TYPES = {kind: media for media, kind in CONTENT_TYPES.items()}


class ExtractionError(Exception):
    """A readable reason the file's text could not be read (stored as the `error`)."""


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    page_starts: list[int]

    @property
    def pages(self) -> int:
        return len(self.page_starts)

    def page_at(self, offset: int) -> int:
        """The 1-based page a character offset of `text` falls on."""
        page = 1
        for i, start in enumerate(self.page_starts):
            if offset >= start:
                page = i + 1
        return page


def declared_kind(filename: str, content_type: str | None) -> str | None:
    """The kind the client says it sends: its content type, else the file's extension."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CONTENT_TYPES:
        return CONTENT_TYPES[media]
    name = filename.lower()
    for ext, kind in EXTENSIONS.items():
        if name.endswith(ext):
            return kind
    return None


def sniff(head: bytes) -> str:
    """What the first bytes are: `pdf`, `zip` (DOCX/PPTX), `text`, or `binary`."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the chunk's end
            return "binary"
    return "text"


def matches(kind: str, head: bytes) -> bool:
    found = sniff(head)
    return {
        "pdf": found == "pdf",
        "docx": found == "zip",
        "pptx": found == "zip",
    }.get(kind, found == "text")


def _paged(pages: list[str]) -> Extracted:
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for number, page in enumerate(pages, start=1):
        chunk = f"<!-- page {number} -->\n{page.strip()}\n\n"
        starts.append(offset)
        parts.append(chunk)
        offset += len(chunk)
    return Extracted("".join(parts).rstrip() + "\n", starts or [0])


def _pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ExtractionError("The PDF is encrypted; upload it without a password.")
        return _paged([page.extract_text() or "" for page in reader.pages])
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"The PDF could not be read: {exc}") from exc


def _docx(data: bytes) -> Extracted:
    import docx
    from docx.oxml.ns import qn

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionError(f"The DOCX file could not be read: {exc}") from exc
    pages: list[list[str]] = [[]]
    for paragraph in document.paragraphs:
        breaks = paragraph._p.xpath(".//w:br[@w:type='page']") + paragraph._p.findall(
            ".//" + qn("w:lastRenderedPageBreak")
        )
        if breaks and pages[-1]:
            pages.append([])
        style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        text = paragraph.text
        if style.startswith("heading") and text.strip():
            level = "".join(ch for ch in style if ch.isdigit()) or "1"
            text = "#" * min(int(level), 6) + " " + text
        pages[-1].append(text)
    for table in document.tables:
        for row in table.rows:
            pages[-1].append(" | ".join(cell.text.strip() for cell in row.cells))
    return _paged(["\n\n".join(p for p in page if p.strip()) for page in pages])


def _pptx(data: bytes) -> Extracted:
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionError(f"The PPTX file could not be read: {exc}") from exc
    slides = []
    for slide in deck.slides:
        texts = [
            shape.text_frame.text
            for shape in slide.shapes
            if shape.has_text_frame and shape.text_frame.text.strip()
        ]
        slides.append("\n\n".join(texts))
    return _paged(slides)


class _TextOfHtml(HTMLParser):
    SKIP = {"script", "style", "head", "template", "noscript"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
            if tag[0] == "h" and tag[1:].isdigit():
                self.parts.append("#" * int(tag[1:]) + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionError("The file is not UTF-8 text.") from exc


def _html(data: bytes) -> Extracted:
    parser = _TextOfHtml()
    parser.feed(_decode(data))
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return _paged(["\n".join(line for line in lines if line)])


def extract(kind: str, data: bytes) -> Extracted:
    """The text of a file of `kind`; `ExtractionError` with a readable reason otherwise."""
    if not data:
        raise ExtractionError("The file is empty.")
    if kind == "pdf":
        return _pdf(data)
    if kind == "docx":
        return _docx(data)
    if kind == "pptx":
        return _pptx(data)
    if kind == "html":
        return _html(data)
    if kind in ("markdown", "text"):
        return _paged([_decode(data)])
    raise ExtractionError(f"Files of kind {kind!r} are not supported.")
