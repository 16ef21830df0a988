"""The sandboxed Jinja environment templates render in, and the docxtpl `Template` override:
docxtpl's output for less work on long documents.
"""

from __future__ import annotations

import copy
import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from docx.oxml.parser import element_class_lookup
from docxtpl import DocxTemplate
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree


class SourceCache:
    """A small LRU keyed by template source text (a batch repeats the same source)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict()

    def get(self, source: str, make: Callable[[str], Any]) -> Any:
        value = self.items.get(source)
        if value is None:
            value = self.items[source] = make(source)
            if len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


class DocumentEnvironment(SandboxedEnvironment):
    """Sandboxed and autoescaping; `None` prints blank; compiled sources are reused.

    docxtpl compiles the document's XML on every render; a batch renders the same XML
    hundreds of times, so the compiled template is cached by its source text.
    """

    def __init__(self) -> None:
        super().__init__(autoescape=True, finalize=lambda v: "" if v is None else v)
        self.compiled = SourceCache()

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        return self.compiled.get(source, super().from_string)


ENV = DocumentEnvironment()
PATCHED = SourceCache()


# What docxtpl's post-processing looks for (see `Template`).
_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>.*?</w:p>", re.DOTALL)  # docxtpl's own pattern
_BODY_START = re.compile(r'<w:body((?: xmlns:[\w.-]+="[^"]*")*)>')
_XMLNS = re.compile(r' xmlns:([\w.-]+)="([^"]*)"')
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCPR = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"


class Template(DocxTemplate):
    """docxtpl 0.20's rendering, with the same output for less work on long documents.

    docxtpl post-processes the rendered XML at a cost per paragraph and per table row: a
    year's work report (≈5,000 table rows, ≈21,000 paragraphs) spent several times as long
    there as in Jinja. Each override below gives exactly what docxtpl's method gives
    (requirements.txt pins docxtpl; tests/test_documents.py compares document.xml with
    plain `DocxTemplate`'s, byte for byte, for long tables, merged cells, column loops,
    line breaks and pictures, so a docxtpl upgrade that changes its output is caught):
    - `patch_xml`, a pure function of the template's XML, is done once per template;
    - line breaks (`\\a` `\\t` `\\n` `\\f`) are resolved only in the paragraphs that hold one;
    - the table grid check sums cells one by one only in rows with merged cells;
    - the rendered body is parsed inside the document's own root (`parse_in_document`),
      so it is not moved between lxml documents afterwards (a walk over every node);
    - picture ids are renumbered walking the tree instead of through XPath.
    """

    new_root: Any = None  # the document parsed around the rendered body, when that worked

    def patch_xml(self, src_xml: str) -> str:
        return PATCHED.get(src_xml, super().patch_xml)

    def render_xml_part(self, src_xml: str, part: Any, context: Any, jinja_env: Any = None) -> str:
        """docxtpl's `render_xml_part` with `str.replace` for its line-break regexes."""
        src_xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", src_xml)
        try:
            self.current_rendering_part = part
            env = jinja_env or ENV
            dst_xml = env.from_string(src_xml).render(context)
        except TemplateError as exc:
            lineno: int | None = getattr(exc, "lineno", None)
            if lineno is not None:
                first = max(lineno - 4, 0)
                lines = src_xml.splitlines()[first : first + 7]
                exc.docx_context = [re.sub(r"<[^>]+>", "", line) for line in lines]  # type: ignore[attr-defined]  # the message's context rides on jinja's exception
            raise
        dst_xml = dst_xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
        for escaped, tag in (("{_{", "{{"), ("}_}", "}}"), ("{_%", "{%"), ("%_}", "%}")):
            dst_xml = dst_xml.replace(escaped, tag)
        return self.resolve_listing(dst_xml)

    def resolve_listing(self, xml: str) -> str:
        """docxtpl's, applied only to the paragraphs that hold a break to resolve.

        docxtpl runs its regexes over every paragraph (`_PARAGRAPH` matches, left to right).
        The end of any `</w:p>` is never inside such a match (a match ends at the first
        `</w:p>` after its start), so searching from the last one before a break finds the
        very match docxtpl resolves that break in.
        """
        hits = sorted(at for char in "\t\a\n\f" for at in occurrences(xml, char))
        if not hits:
            return xml
        resolve = super().resolve_listing  # on one paragraph: exactly its own match
        pieces: list[Any] = []
        done = 0
        for hit in hits:
            if hit < done:  # in the paragraph just resolved
                continue
            close = xml.rfind("</w:p>", done, hit)
            paragraph = _PARAGRAPH.search(xml, done if close < 0 else close + len("</w:p>"))
            if paragraph is None or paragraph.start() > hit:  # outside any paragraph
                continue
            pieces += (xml[done : paragraph.start()], resolve(paragraph[0]))
            done = paragraph.end()
        pieces.append(xml[done:])
        return "".join(pieces)

    def parse_in_document(self, xml: str) -> Any:
        """The document's root with the rendered body in place, parsed as docxtpl parses the
        body (`recover=True`); None when that is not certain to give the same tree (then
        docxtpl's way is taken)."""
        root = self.docx.element
        start = _BODY_START.match(xml)
        if start is None or any(root.nsmap.get(p) != uri for p, uri in _XMLNS.findall(start[1])):
            return None
        shell = etree.tostring(root, encoding="unicode")  # the template: small
        head, tail = shell.find("<w:body>"), shell.rfind("</w:body>")
        if head < 0 or tail < 0:
            return None
        parser = etree.XMLParser(recover=True)
        parser.set_element_class_lookup(element_class_lookup)  # python-docx's classes
        whole = shell[:head] + "<w:body>" + xml[start.end() :] + shell[tail + len("</w:body>") :]
        try:
            new = etree.fromstring(whole, parser=parser)
        except etree.XMLSyntaxError:
            return None
        return None if len(parser.error_log) else new

    def fix_tables(self, xml: str) -> Any:
        self.new_root = self.parse_in_document(xml)
        if self.new_root is None:
            tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
        else:
            tree = self.new_root.find(f"{_W}body")
        fix_table_grids(tree)
        return tree

    def fix_docpr_ids(self, tree: Any) -> None:
        pictures = list(tree.iter(_DOCPR))
        for elt in pictures:
            self.docx_ids_index += 1
            elt.attrib["id"] = str(self.docx_ids_index)
        if self.new_root is not None:
            drop_redundant_namespaces([elt.getparent() for elt in pictures])

    def map_tree(self, tree: Any) -> None:
        if self.new_root is None:
            super().map_tree(tree)
        else:
            self.docx.part._element = self.docx._element = self.new_root


def occurrences(text: str, char: str) -> Iterable[int]:
    """Every index of `char` in `text` (str.find: far quicker than a regex on megabytes)."""
    at = text.find(char)
    while at >= 0:
        yield at
        at = text.find(char, at + 1)


def drop_redundant_namespaces(pictures: list[Any]) -> None:
    """Pictures (`wp:inline`, `wp:anchor`) without the namespace declarations their document
    already makes, as docxtpl's move of the whole body leaves them.

    A picture's XML (docxtpl's InlineImage) declares its namespaces again; lxml drops such
    declarations from what it moves into a document, so moving in a copy of each picture
    does it. A picture inside an earlier one (a text box) moved in with it.
    """
    if not pictures:
        return
    root = pictures[0].getroottree().getroot()
    for picture in pictures:
        parent = picture.getparent()
        if parent is not None and picture.getroottree().getroot() is root:
            parent.replace(picture, copy.deepcopy(picture))


def fix_table_grids(tree: Any) -> None:
    """docxtpl's `fix_tables` on a parsed body: each table's grid made to fit its widest row.

    The same arithmetic; a row's cells are summed one by one (for `gridSpan`) only in the
    rows that have a merged cell, the other rows count their cells.
    """
    ns = "{" + tree.nsmap["w"] + "}"
    tr, tc, tc_pr, grid_span = ns + "tr", ns + "tc", ns + "tcPr", ns + "gridSpan"

    def cell_len(total: int, cell: Any) -> int:
        props = cell.find(tc_pr)
        span = None if props is None else props.find(grid_span)
        return total + (int(span.get(ns + "val")) if span is not None else 1)

    for table in tree.iter(ns + "tbl"):
        grid = table.find(ns + "tblGrid")
        columns = grid.findall(ns + "gridCol")
        rows, merged = [], set()
        for element in table.iter(tr, grid_span):  # one walk for both
            if element.tag == tr:
                rows.append(element)
            else:  # gridSpan → tcPr → tc → tr
                merged.add(element.getparent().getparent().getparent())
        counts = [len(list(row.iterchildren(tc))) for row in rows]
        to_add = max(max(counts, default=0) - len(columns), 0)
        if to_add > 0:
            width = sum(float(c.get(ns + "w")) for c in columns if c.get(ns + "w") is not None)
            if width > 0:
                old_average = width / len(columns)
                new_average = width / (len(columns) + to_add)
                for c in columns:
                    c.set(ns + "w", str(int(float(c.get(ns + "w")) * new_average / old_average)))
                for _ in range(to_add):
                    etree.SubElement(grid, ns + "gridCol", {ns + "w": str(int(new_average))})
        columns = grid.findall(ns + "gridCol")
        widest = 0
        for row, count in zip(rows, counts, strict=True):
            if row in merged:
                count = functools.reduce(cell_len, row.findall(tc), 0)
            widest = max(widest, count)
        to_remove = len(columns) - widest
        if to_remove > 0:
            removed_width = 0.0
            for c in columns[-to_remove:]:
                removed_width += float(c.get(ns + "w"))
                grid.remove(c)
            left = grid.findall(ns + "gridCol")
            extra = int(removed_width / len(left)) if left else 0
            for c in left:
                c.set(ns + "w", str(int(float(c.get(ns + "w")) + extra)))
