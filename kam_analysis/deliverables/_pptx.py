"""Low-level PowerPoint helpers for the framework deck (python-pptx).

The deck builder never positions anything by hard-coded coordinates of a particular
template: it asks the template for a layout BY NAME and for a placeholder's rectangle
BY NAME, and draws charts, tables and tiles inside that rectangle. A firm's own template
with the same layout and placeholder names therefore gives the same storyline.

Conventions
-----------
* Every text written from data goes through :func:`clean_text` (control characters
  removed, length-limited) — client strings are data.
* Chart data never contains NaN: :func:`finite` maps NaN/inf to ``None`` and callers drop
  rows without a value before building chart data.
* A chart's embedded data workbook (PowerPoint's *Edit Data*) holds client text as text:
  the chart data classes here write it with XlsxWriter's string conversions off, so a
  category or series name such as ``=HYPERLINK(...)`` or ``@SUM(...)`` never becomes a
  formula, a link or a number.
* Font sizes are chosen so text fits its box (:func:`fit_font_size`, a conservative
  character-width estimate for the template's sans-serif fonts).
"""
from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree
from pptx import Presentation
from pptx.chart.data import BubbleChartData as _BubbleChartData
from pptx.chart.data import CategoryChartData as _CategoryChartData
from pptx.chart.data import XyChartData as _XyChartData
from pptx.chart.xlsx import BubbleWorkbookWriter, CategoryWorkbookWriter, XyWorkbookWriter
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION, XL_TICK_LABEL_POSITION
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from ..exceptions import ParameterError
from ..present.theme import Theme
from ..safety import clean_text

__all__ = [
    "Box", "DeckTemplate", "SlideCanvas", "LAYOUTS", "bar_axis_bounds", "finite", "fit_font_size", "rgb",
]

#: XlsxWriter options of the charts' data workbooks: client text is written as text, never
#: as a formula ("=", "+", "-", "@"), a hyperlink or a number
SAFE_XLSXWRITER_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                           "strings_to_numbers": False}


def bar_axis_bounds(values: Sequence, minimum: float | None = None, maximum: float | None = None
                    ) -> tuple[float | None, float | None]:
    """The value-axis bounds of a bar chart so that every bar starts at 0: all values >= 0 pins
    the minimum at 0 (a positive ``minimum`` is lowered to 0), all values <= 0 pins the maximum
    at 0; mixed signs leave the automatic axis, which then spans 0."""
    vals = [float(v) for v in values if finite(v) is not None]
    if not vals:
        return minimum, maximum
    if min(vals) >= 0:
        minimum = 0.0 if minimum is None else min(float(minimum), 0.0)
    elif max(vals) <= 0:
        maximum = 0.0 if maximum is None else max(float(maximum), 0.0)
    return minimum, maximum


class _TextSafeWorkbook:
    """Mixin for python-pptx's workbook writers: open the workbook with the safe options."""

    def _open_worksheet(self, xlsx_file):
        import contextlib

        from xlsxwriter import Workbook

        @contextlib.contextmanager
        def opened():
            workbook = Workbook(xlsx_file, SAFE_XLSXWRITER_OPTIONS)
            worksheet = workbook.add_worksheet()
            yield workbook, worksheet
            workbook.close()

        return opened()


class _CategoryWriter(_TextSafeWorkbook, CategoryWorkbookWriter):
    pass


class _XyWriter(_TextSafeWorkbook, XyWorkbookWriter):
    pass


class _BubbleWriter(_TextSafeWorkbook, BubbleWorkbookWriter):
    pass


class CategoryChartData(_CategoryChartData):
    """python-pptx's category chart data, whose embedded workbook keeps client text as text."""

    @property
    def _workbook_writer(self):
        return _CategoryWriter(self)


class XyChartData(_XyChartData):
    """python-pptx's XY chart data, whose embedded workbook keeps client text as text."""

    @property
    def _workbook_writer(self):
        return _XyWriter(self)


class BubbleChartData(_BubbleChartData):
    """python-pptx's bubble chart data, whose embedded workbook keeps client text as text."""

    @property
    def _workbook_writer(self):
        return _BubbleWriter(self)


EMU_PER_IN = 914400
EMU_PER_PT = 12700
#: the longest category or series name a chart axis or legend shows whole (longer ones end in "…")
CHART_LABEL_MAX = 40

# canonical layout name -> names accepted in a firm's template (compared case/space/punctuation-insensitively)
LAYOUTS: dict[str, tuple[str, ...]] = {
    "Title": ("Title", "Title Slide"),
    "Section": ("Section", "Section Header", "Divider"),
    "Title and Content": ("Title and Content", "Title+Content", "Content"),
    "Two Content": ("Two Content", "Two Columns"),
    "Chart": ("Chart", "Title and Chart"),
    "Table": ("Table", "Title and Table"),
    "Key Numbers": ("Key Numbers", "KPI", "Numbers"),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("+", "and"))


def finite(v) -> float | None:
    """A float, or None for NaN/inf/None/non-numbers (so NaN never reaches a chart)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def fit_font_size(paragraphs: Sequence[str], width_emu: int, height_emu: int, *, max_pt: float = 18,
                  min_pt: float = 9, line_spacing: float = 1.22, para_gap_pt: float = 6,
                  char_w: float = 0.52, indent_emu: int = 0) -> float:
    """Largest font size (pt) at which ``paragraphs`` fit a box, by a character-width estimate.

    A line holds ``usable_width / (char_w * size)`` characters (``char_w`` is the average
    glyph width in ems; 0.52 is conservative for Calibri/Carlito and Arial); words wrap.
    Height = lines * size * line_spacing + gaps between paragraphs.
    """
    usable_w = max(width_emu - indent_emu, EMU_PER_IN // 2) / EMU_PER_PT
    usable_h = height_emu / EMU_PER_PT
    size = max_pt
    while size >= min_pt:
        per_line = max(int(usable_w / (char_w * size)), 4)
        lines = sum(_wrapped_lines(p, per_line) for p in paragraphs)
        total = lines * size * line_spacing + max(len(paragraphs) - 1, 0) * para_gap_pt
        if total <= usable_h:
            return size
        size -= 0.5
    return min_pt


def _wrapped_lines(text: str, per_line: int) -> int:
    n = 0
    for raw in str(text).split("\n"):
        words, cur = raw.split(), 0
        lines = 1
        for w in words:
            add = len(w) + (1 if cur else 0)
            if cur + add > per_line and cur:
                lines += 1
                cur = len(w)
            else:
                cur += add
        n += lines
    return n


def _drop_theme_style(shape) -> None:
    """Remove the theme style reference python-pptx gives new shapes (it brings shadows and outlines)."""
    st = shape._element.find(qn("p:style"))
    if st is not None:
        shape._element.remove(st)


@dataclass
class Box:
    """A rectangle in EMU."""

    x: int
    y: int
    w: int
    h: int

    def inset(self, dx: int = 0, dy: int = 0) -> "Box":
        return Box(self.x + dx, self.y + dy, max(self.w - 2 * dx, 1), max(self.h - 2 * dy, 1))

    def split_h(self, fractions: Sequence[float], gap: int = 0) -> list["Box"]:
        """Split left-to-right into boxes of the given width fractions."""
        total = self.w - gap * (len(fractions) - 1)
        out, x = [], self.x
        s = sum(fractions)
        for f in fractions:
            w = int(total * f / s)
            out.append(Box(x, self.y, w, self.h))
            x += w + gap
        return out

    def split_v(self, fractions: Sequence[float], gap: int = 0) -> list["Box"]:
        total = self.h - gap * (len(fractions) - 1)
        out, y = [], self.y
        s = sum(fractions)
        for f in fractions:
            h = int(total * f / s)
            out.append(Box(self.x, y, self.w, h))
            y += h + gap
        return out


class DeckTemplate:
    """A template .pptx whose layouts are found by name.

    Raises
    ------
    ParameterError
        The file is missing or not a .pptx, or lacks one of the required layouts.
    """

    def __init__(self, path, *, style: Theme, apply_colors: bool = True):
        from pathlib import Path

        path = Path(path)
        if not path.is_file():
            raise ParameterError(f"deck template {path} not found; fix: set branding.template to a .pptx file "
                                 "(default: templates/kam_template.pptx)")
        try:
            self.prs = Presentation(str(path))
        except Exception as exc:  # noqa: BLE001 - python-pptx raises several types for a bad file
            raise ParameterError(f"deck template {path} is not a readable .pptx ({type(exc).__name__}); "
                                 "fix: point branding.template at a PowerPoint template") from None
        self.path = path
        self.style = style
        self._layouts = {_norm(layout.name): layout for layout in self.prs.slide_layouts}
        missing = [name for name in LAYOUTS if self._find(name) is None]
        if missing:
            have = ", ".join(repr(layout.name) for layout in self.prs.slide_layouts)
            raise ParameterError(
                f"deck template {path} has no layout named {', '.join(repr(m) for m in missing)}; it has {have}. "
                "fix: rename the template's layouts (View > Slide Master) to Title, Section, Title and Content, "
                "Two Content, Chart, Table, Key Numbers")
        # drop any slides the template itself carries (a firm's example slides)
        sld_ids = self.prs.slides._sldIdLst
        for sld in list(sld_ids):
            self.prs.part.drop_rel(sld.rId)
            sld_ids.remove(sld)
        if apply_colors:
            self._recolour_theme()

    def _find(self, name: str):
        for alias in LAYOUTS.get(name, (name,)):
            layout = self._layouts.get(_norm(alias))
            if layout is not None:
                return layout
        return None

    def layout(self, name: str):
        layout = self._find(name)
        if layout is None:
            raise ParameterError(f"deck template {self.path} has no layout named {name!r}")
        return layout

    def _recolour_theme(self) -> None:
        """Write the brand colours into the theme (dk2/accent1 = primary, accent2 = accent)."""
        master = self.prs.slide_master
        for rel in master.part.rels.values():
            if rel.reltype.endswith("/theme"):
                part = rel.target_part
                root = etree.fromstring(part.blob)
                ns = {"a": "http://schemas.openxmlformats.org/drawingml/2006/main"}
                cs = root.find(".//a:clrScheme", ns)
                if cs is None:
                    return
                for tag, val in (("dk2", self.style.primary), ("accent1", self.style.primary),
                                 ("accent2", self.style.accent)):
                    el = cs.find(f"a:{tag}", ns)
                    if el is None:
                        continue
                    for child in list(el):
                        el.remove(child)
                    etree.SubElement(el, qn("a:srgbClr"), val=val)
                part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
                return

    @property
    def width(self) -> int:
        return int(self.prs.slide_width)

    @property
    def height(self) -> int:
        return int(self.prs.slide_height)

    def new_slide(self, layout_name: str) -> "SlideCanvas":
        layout = self.layout(layout_name)
        slide = self.prs.slides.add_slide(layout)
        return SlideCanvas(self, slide, layout)


class SlideCanvas:
    """One slide: placeholders by (layout) name, regions to draw in, and the drawing helpers."""

    def __init__(self, deck: DeckTemplate, slide, layout):
        self.deck = deck
        self.slide = slide
        self.layout = layout
        self.style = deck.style
        self._names: dict[str, object] = {}
        by_idx = {ph.placeholder_format.idx: ph for ph in layout.placeholders}
        for ph in slide.placeholders:
            lp = by_idx.get(ph.placeholder_format.idx)
            name = _norm(lp.name if lp is not None else ph.name)
            self._names[name] = ph
        self._layout_ph = {_norm(ph.name): ph for ph in layout.placeholders}

    # ---------------------------------------------------------------- placeholders
    def placeholder(self, name: str):
        return self._names.get(_norm(name))

    def _title_box(self) -> Box:
        ph = self._layout_ph.get("title")
        if ph is None:
            return Box(int(0.6 * EMU_PER_IN), int(0.3 * EMU_PER_IN), self.deck.width - int(1.2 * EMU_PER_IN),
                       int(EMU_PER_IN))
        return Box(int(ph.left), int(ph.top), int(ph.width), int(ph.height))

    def region(self, name: str, *, remove: bool = True) -> Box:
        """The rectangle of the layout placeholder ``name``; its slide copy is removed.

        Without such a placeholder: the area under the title down to 0.95 in above the bottom.
        """
        lp = self._layout_ph.get(_norm(name))
        if remove:
            ph = self._names.pop(_norm(name), None)
            if ph is not None:
                ph._element.getparent().remove(ph._element)
        if lp is not None:
            return Box(int(lp.left), int(lp.top), int(lp.width), int(lp.height))
        t = self._title_box()
        top = t.y + t.h + int(0.3 * EMU_PER_IN)
        return Box(t.x, top, t.w, self.deck.height - int(0.95 * EMU_PER_IN) - top)

    def set_text(self, name: str, paragraphs: str | Sequence, *, max_pt: float | None = None, min_pt: float = 9,
                 bold_first: bool = False, max_len: int = 600) -> bool:
        """Fill a text placeholder; a paragraph may be a str or a list of (text, bold) runs.

        Returns False when the template has no such placeholder.
        """
        ph = self.placeholder(name)
        if ph is None:
            return False
        paras = [paragraphs] if isinstance(paragraphs, str) else list(paragraphs)
        paras = [p if isinstance(p, list) else [(str(p), False)] for p in paras]
        paras = [[(clean_text(t, max_len=max_len), b) for t, b in p] for p in paras]
        tf = ph.text_frame
        tf.word_wrap = True
        plain = ["".join(t for t, _ in p) for p in paras]
        size = None
        if max_pt is not None:
            lp = self._layout_ph.get(_norm(name))
            box = lp if lp is not None else ph
            size = fit_font_size(plain, int(box.width) - int(0.2 * EMU_PER_IN), int(box.height) - int(0.1 * EMU_PER_IN),
                                 max_pt=max_pt, min_pt=min_pt, indent_emu=int(0.25 * EMU_PER_IN))
        for i, runs in enumerate(paras):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            for t, b in runs:
                r = p.add_run()
                r.text = t
                if b or (bold_first and i == 0):
                    r.font.bold = True
                if size:
                    r.font.size = Pt(size)
        return True

    def title(self, text: str) -> None:
        """The action title: the slide's message as one sentence."""
        text = clean_text(text, max_len=160)
        ph = self.placeholder("Title")
        if ph is None:
            t = self._title_box()
            self.text_box(t, [text], size=22, bold=False, color=self.style.primary)
            return
        lp = self._layout_ph.get("title")
        box = lp if lp is not None else ph
        size = fit_font_size([text], int(box.width), int(box.height) - int(0.1 * EMU_PER_IN),
                             max_pt=self._title_pt(lp), min_pt=16, line_spacing=1.15, char_w=0.5)
        ph.text_frame.text = text
        ph.text_frame.word_wrap = True
        for r in ph.text_frame.paragraphs[0].runs:
            r.font.size = Pt(size)

    @staticmethod
    def _title_pt(lp) -> float:
        try:
            sz = lp._element.xpath(".//a:lstStyle/a:lvl1pPr/a:defRPr/@sz")
            return int(sz[0]) / 100 if sz else 24
        except Exception:  # noqa: BLE001
            return 24

    def source(self, text: str, footnote: str = "") -> None:
        """The source line (and footnote) at the bottom of an analytic slide."""
        lines = []
        if footnote:
            lines.append(clean_text("Note: " + footnote, max_len=260))
        if text:
            lines.append(clean_text("Source: " + text, max_len=220))
        if not lines:
            return
        if not self.set_text("Source", lines, max_pt=9, min_pt=7):
            b = self.region("Source", remove=False)
            self.text_box(Box(b.x, self.deck.height - int(0.75 * EMU_PER_IN), b.w - int(1.2 * EMU_PER_IN),
                              int(0.5 * EMU_PER_IN)), lines, size=8, color=self.style.muted, anchor="b")

    def notes(self, text: str) -> None:
        self.slide.notes_slide.notes_text_frame.text = clean_text(text, max_len=4000)

    def finish(self) -> None:
        """Remove placeholders left empty and add the slide number from the layout."""
        for ph in list(self.slide.placeholders):
            if not ph.has_text_frame or not ph.text_frame.text.strip():
                ph._element.getparent().remove(ph._element)
        for lp in self.layout.placeholders:
            if "SLIDE_NUMBER" in str(lp.placeholder_format.type):
                el = copy.deepcopy(lp._element)
                # keep position/format from the layout; the slide copy inherits them
                sppr = el.find(qn("p:spPr"))
                for child in list(sppr):
                    sppr.remove(child)
                self.slide.shapes._spTree.append(el)
                break

    # ---------------------------------------------------------------- drawing
    def text_box(self, box: Box, paragraphs: Sequence, *, size: float = 12, bold: bool = False,
                 color: str | None = None, align: str = "l", anchor: str = "t", fill: str | None = None,
                 line: str | None = None, inset: float = 0.05, fit: bool = True, min_pt: float = 8,
                 font_color_runs: bool = True, shape=MSO_SHAPE.RECTANGLE, max_len: int = 600):
        """A text box (or shape) with paragraphs of str or [(text, bold[, colour])] runs."""
        shp = self.slide.shapes.add_shape(shape, Emu(box.x), Emu(box.y), Emu(box.w), Emu(box.h))
        _drop_theme_style(shp)
        if fill:
            shp.fill.solid()
            shp.fill.fore_color.rgb = rgb(fill)
        else:
            shp.fill.background()
        if line:
            shp.line.color.rgb = rgb(line)
            shp.line.width = Pt(0.75)
        else:
            shp.line.fill.background()
        tf = shp.text_frame
        tf.word_wrap = True
        ins = int(inset * EMU_PER_IN)
        tf.margin_left = tf.margin_right = Emu(ins)
        tf.margin_top = tf.margin_bottom = Emu(int(ins * 0.6))
        tf.vertical_anchor = {"t": MSO_ANCHOR.TOP, "m": MSO_ANCHOR.MIDDLE, "b": MSO_ANCHOR.BOTTOM}[anchor]
        paras = [p if isinstance(p, list) else [(str(p), bold)] for p in paragraphs]
        paras = [[(clean_text(r[0], max_len=max_len), *r[1:]) for r in p] for p in paras]
        if fit:
            plain = ["".join(r[0] for r in p) for p in paras]
            size = fit_font_size(plain, box.w - 2 * ins, box.h - int(1.2 * ins), max_pt=size, min_pt=min_pt,
                                 para_gap_pt=size * 0.3)
        for i, runs in enumerate(paras):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            p.alignment = {"l": PP_ALIGN.LEFT, "c": PP_ALIGN.CENTER, "r": PP_ALIGN.RIGHT}[align]
            if i:
                p.space_before = Pt(size * 0.3)
            for r in runs:
                run = p.add_run()
                run.text = r[0]
                run.font.size = Pt(size)
                run.font.bold = bool(r[1]) if len(r) > 1 else bold
                c = r[2] if len(r) > 2 and r[2] else color
                if c:
                    run.font.color.rgb = rgb(c)
        return shp

    def rule(self, x: int, y: int, w: int, color: str, weight_pt: float = 1.0):
        ln = self.slide.shapes.add_connector(1, Emu(x), Emu(y), Emu(x + w), Emu(y))
        _drop_theme_style(ln)
        ln.line.color.rgb = rgb(color)
        ln.line.width = Pt(weight_pt)
        return ln

    def picture(self, path, box: Box):
        """A picture scaled to fit ``box`` (aspect kept, centred)."""
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
        scale = min(box.w / w, box.h / h)
        pw, ph = int(w * scale), int(h * scale)
        return self.slide.shapes.add_picture(str(path), Emu(box.x + (box.w - pw) // 2),
                                             Emu(box.y + (box.h - ph) // 2), Emu(pw), Emu(ph))

    # ---------------------------------------------------------------- tables
    def table(self, box: Box, header: Sequence[str], rows: Sequence[Sequence[str]], *,
              widths: Sequence[float] | None = None, align: Sequence[str] | None = None,
              fills: dict[tuple[int, int], str] | None = None, font_colors: dict[tuple[int, int], str] | None = None,
              max_pt: float = 12, min_pt: float = 8, bold_cols: Iterable[int] = (), header_fill: str | None = None,
              max_len: int = 220):
        """A native table sized to ``box``; the font shrinks until every row's wrapped text fits.

        ``rows`` are display strings (the caller formats numbers), each cut at ``max_len``
        characters. Row heights follow the wrapped line count, so the table's height never
        exceeds ``box.h``.
        """
        ncol = len(header)
        widths = widths or [1] * ncol
        tot = sum(widths)
        col_w = [int(box.w * w / tot) for w in widths]
        align = align or ["l"] * ncol
        rows = [[clean_text(str(c), max_len=max_len) for c in r] for r in rows]
        header = [clean_text(str(h), max_len=60) for h in header]
        size = max_pt
        pad_h = 0.10 * EMU_PER_IN

        def heights(sz: float) -> list[int]:
            out = []
            for r in [header, *rows]:
                n = 1
                for c, w in zip(r, col_w):
                    per = max(int((w - 0.16 * EMU_PER_IN) / EMU_PER_PT / (0.52 * sz)), 3)
                    n = max(n, _wrapped_lines(c, per))
                out.append(int(n * sz * 1.2 * EMU_PER_PT + pad_h))
            return out

        while size > min_pt and sum(heights(size)) > box.h:
            size -= 0.5
        hs = heights(size)
        # generous rows when there is room: up to 0.45 in, never beyond the box
        room = min(box.h // max(len(hs), 1), int(0.45 * EMU_PER_IN))
        hs = [max(h, room) for h in hs]
        if sum(hs) > box.h:
            hs = heights(size)
        gf = self.slide.shapes.add_table(len(rows) + 1, ncol, Emu(box.x), Emu(box.y), Emu(box.w), Emu(sum(hs)))
        tbl = gf.table
        # plain style: no banding from the theme's table style; we colour it ourselves
        tbl.first_row = True
        tbl.horz_banding = False
        tblpr = tbl._tbl.tblPr
        style_id = tblpr.find(qn("a:tableStyleId"))
        if style_id is None:
            style_id = etree.SubElement(tblpr, qn("a:tableStyleId"))
        style_id.text = "{2D5ABB26-0587-4C30-8999-92F81FD0307C}"  # "No Style, No Grid"
        for j, w in enumerate(col_w):
            tbl.columns[j].width = Emu(w)
        for i, h in enumerate(hs):
            tbl.rows[i].height = Emu(h)
        fills = fills or {}
        font_colors = font_colors or {}
        bold_cols = set(bold_cols)
        for i, r in enumerate([header, *rows]):
            for j, val in enumerate(r):
                cell = tbl.cell(i, j)
                cell.margin_left = cell.margin_right = Emu(int(0.08 * EMU_PER_IN))
                cell.margin_top = cell.margin_bottom = Emu(int(0.04 * EMU_PER_IN))
                cell.vertical_anchor = MSO_ANCHOR.MIDDLE
                tf = cell.text_frame
                tf.word_wrap = True
                tf.text = val
                p = tf.paragraphs[0]
                p.alignment = {"l": PP_ALIGN.LEFT, "c": PP_ALIGN.CENTER, "r": PP_ALIGN.RIGHT}[align[j]]
                for run in p.runs:
                    run.font.size = Pt(size)
                    if i == 0:
                        run.font.bold = True
                        run.font.color.rgb = rgb("FFFFFF")
                    else:
                        run.font.bold = j in bold_cols
                        run.font.color.rgb = rgb(font_colors.get((i - 1, j), self.style.text))
                fill = (header_fill or self.style.primary) if i == 0 else fills.get((i - 1, j))
                if fill:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = rgb(fill)
                else:
                    cell.fill.background()
                self._cell_border(cell, bottom=self.style.grid if i else None)
        return gf

    @staticmethod
    def _cell_border(cell, bottom: str | None) -> None:
        tcpr = cell._tc.get_or_add_tcPr()
        for tag in ("a:lnL", "a:lnR", "a:lnT", "a:lnB"):
            ln = etree.SubElement(tcpr, qn(tag), w="0" if (tag != "a:lnB" or not bottom) else "6350")
            if tag == "a:lnB" and bottom:
                sf = etree.SubElement(ln, qn("a:solidFill"))
                etree.SubElement(sf, qn("a:srgbClr"), val=bottom)
            else:
                etree.SubElement(ln, qn("a:noFill"))
        # schema order: borders must precede the cell fill
        fill = [c for c in tcpr if c.tag in (qn("a:solidFill"), qn("a:noFill"))]
        for c in fill:
            tcpr.remove(c)
            tcpr.append(c)

    # ---------------------------------------------------------------- charts
    def _style_chart(self, chart, *, legend: bool, font_pt: float = 11) -> None:
        chart.has_title = False  # the slide's action title says what the chart shows
        chart.font.size = Pt(font_pt)
        chart.font.color.rgb = rgb(self.style.text)
        chart.has_legend = legend
        if legend:
            chart.legend.position = XL_LEGEND_POSITION.TOP
            chart.legend.include_in_layout = False
            chart.legend.font.size = Pt(font_pt)

    def _value_axis(self, axis, number_format: str, *, title: str = "", gridlines: bool = True,
                    minimum: float | None = None, maximum: float | None = None) -> None:
        axis.has_major_gridlines = gridlines
        if gridlines:
            axis.major_gridlines.format.line.color.rgb = rgb(self.style.grid)
            axis.major_gridlines.format.line.width = Pt(0.5)
        axis.format.line.fill.background()
        axis.tick_labels.number_format = number_format
        axis.tick_labels.number_format_is_linked = False
        axis.tick_labels.font.size = Pt(10)
        axis.tick_labels.font.color.rgb = rgb(self.style.muted)
        if minimum is not None:
            axis.minimum_scale = minimum
        if maximum is not None:
            axis.maximum_scale = maximum
        if title:
            self._axis_title(axis, title)

    def _axis_title(self, axis, title: str) -> None:
        axis.has_title = True
        axis.axis_title.text_frame.text = clean_text(title, max_len=60)
        r = axis.axis_title.text_frame.paragraphs[0].runs[0]
        r.font.size = Pt(10)
        r.font.bold = False
        r.font.color.rgb = rgb(self.style.muted)

    def _category_axis(self, axis, *, title: str = "") -> None:
        axis.format.line.color.rgb = rgb(self.style.grid)
        axis.tick_labels.font.size = Pt(10)
        axis.tick_labels.font.color.rgb = rgb(self.style.text)
        axis.has_major_gridlines = False
        if title:
            self._axis_title(axis, title)

    def bar_chart(self, box: Box, categories: Sequence[str], series: dict[str, Sequence], *, number_format: str,
                  horizontal: bool = False, stacked: bool = False, labels: bool = True, axis_title: str = "",
                  colors: Sequence[str] | None = None, point_colors: Sequence[str] | None = None,
                  gap_width: int = 60, minimum: float | None = None, maximum: float | None = None,
                  label_format: str | None = None):
        """A native clustered/stacked bar or column chart; ``None`` values stay empty (never NaN).

        A bar's length is its value, so the value axis always includes 0 (PowerPoint's automatic
        axis would start near the smallest bar and draw $133k as a third of $156k): ``minimum``
        is at most 0, and ``maximum`` at least 0."""
        minimum, maximum = bar_axis_bounds([v for vals in series.values() for v in vals], minimum, maximum)
        cd = CategoryChartData(number_format=number_format)
        cd.categories = [clean_text(str(c), max_len=CHART_LABEL_MAX) for c in categories]
        for name, vals in series.items():
            cd.add_series(clean_text(str(name), max_len=CHART_LABEL_MAX), [finite(v) for v in vals])
        if horizontal:
            kind = XL_CHART_TYPE.BAR_STACKED if stacked else XL_CHART_TYPE.BAR_CLUSTERED
        else:
            kind = XL_CHART_TYPE.COLUMN_STACKED if stacked else XL_CHART_TYPE.COLUMN_CLUSTERED
        gf = self.slide.shapes.add_chart(kind, Emu(box.x), Emu(box.y), Emu(box.w), Emu(box.h), cd)
        chart = gf.chart
        self._style_chart(chart, legend=len(series) > 1)
        colors = list(colors or self.style.series)
        plot = chart.plots[0]
        plot.gap_width = gap_width
        if not stacked:
            plot.overlap = -10 if len(series) > 1 else 0
        else:
            plot.overlap = 100
        for i, s in enumerate(plot.series):
            s.format.fill.solid()
            s.format.fill.fore_color.rgb = rgb(colors[i % len(colors)])
            s.invert_if_negative = False
            if point_colors and len(series) == 1:
                for k, c in enumerate(point_colors):
                    pt = s.points[k]
                    pt.format.fill.solid()
                    pt.format.fill.fore_color.rgb = rgb(c)
        if labels:
            plot.has_data_labels = True
            dl = plot.data_labels
            dl.number_format = label_format or number_format
            dl.number_format_is_linked = False
            dl.font.size = Pt(10)
            dl.font.color.rgb = rgb("FFFFFF" if stacked else self.style.text)
            dl.position = XL_LABEL_POSITION.CENTER if stacked else XL_LABEL_POSITION.OUTSIDE_END
        self._value_axis(chart.value_axis, number_format, title=axis_title, gridlines=not labels,
                         minimum=minimum, maximum=maximum)
        if labels:  # the labels carry the numbers; an axis would repeat them
            chart.value_axis.visible = False
        self._category_axis(chart.category_axis)
        if horizontal:
            chart.category_axis.reverse_order = True
            chart.value_axis.tick_label_position = XL_TICK_LABEL_POSITION.LOW
        return chart

    def line_chart(self, box: Box, categories: Sequence[str], series: dict[str, Sequence], *, number_format: str,
                   axis_title: str = "", colors: Sequence[str] | None = None, labels_last: bool = True,
                   area: bool = False, minimum: float | None = None, maximum: float | None = None):
        """A native line (or area) chart by category; missing values are gaps, never NaN."""
        cd = CategoryChartData(number_format=number_format)
        cd.categories = [clean_text(str(c), max_len=CHART_LABEL_MAX) for c in categories]
        for name, vals in series.items():
            cd.add_series(clean_text(str(name), max_len=CHART_LABEL_MAX), [finite(v) for v in vals])
        kind = XL_CHART_TYPE.AREA if area else XL_CHART_TYPE.LINE_MARKERS
        gf = self.slide.shapes.add_chart(kind, Emu(box.x), Emu(box.y), Emu(box.w), Emu(box.h), cd)
        chart = gf.chart
        self._style_chart(chart, legend=len(series) > 1)
        colors = list(colors or self.style.series)
        for i, s in enumerate(chart.plots[0].series):
            c = rgb(colors[i % len(colors)])
            if area:
                s.format.fill.solid()
                s.format.fill.fore_color.rgb = c
            else:
                s.format.line.color.rgb = c
                s.format.line.width = Pt(2.25)
                s.smooth = False
                s.marker.size = 6
                s.marker.format.fill.solid()
                s.marker.format.fill.fore_color.rgb = c
                s.marker.format.line.color.rgb = c
            if labels_last:
                vals = list(series.values())[i]
                last = max((k for k, v in enumerate(vals) if finite(v) is not None), default=None)
                if last is not None:
                    dl = s.points[last].data_label
                    dl.has_text_frame = False
                    dl.position = XL_LABEL_POSITION.ABOVE if not area else XL_LABEL_POSITION.CENTER
                    dl.number_format = number_format
                    dl.number_format_is_linked = False
                    dl.font.size = Pt(10)
                    dl.font.bold = True
                    dl.show_value = True
        self._value_axis(chart.value_axis, number_format, title=axis_title, minimum=minimum, maximum=maximum)
        self._category_axis(chart.category_axis)
        return chart

    def xy_chart(self, box: Box, series: dict[str, tuple[Sequence, Sequence]], *, x_format: str, y_format: str,
                 x_title: str = "", y_title: str = "", colors: Sequence[str] | None = None, lines: bool = True,
                 x_min: float | None = None, x_max: float | None = None, y_min: float | None = None,
                 y_max: float | None = None):
        """A native XY scatter (with straight lines when ``lines``); points with a missing value are dropped."""
        cd = XyChartData()
        for name, (xs, ys) in series.items():
            s = cd.add_series(clean_text(str(name), max_len=40), number_format=y_format)
            for x, y in zip(xs, ys):
                fx, fy = finite(x), finite(y)
                if fx is not None and fy is not None:
                    s.add_data_point(fx, fy)
        kind = XL_CHART_TYPE.XY_SCATTER_LINES_NO_MARKERS if lines else XL_CHART_TYPE.XY_SCATTER
        gf = self.slide.shapes.add_chart(kind, Emu(box.x), Emu(box.y), Emu(box.w), Emu(box.h), cd)
        chart = gf.chart
        self._style_chart(chart, legend=len(series) > 1)
        colors = list(colors or self.style.series)
        for i, s in enumerate(chart.plots[0].series):
            c = rgb(colors[i % len(colors)])
            if lines:
                s.format.line.color.rgb = c
                s.format.line.width = Pt(2.25)
                s.smooth = False
            else:
                s.format.line.fill.background()
                s.marker.format.fill.solid()
                s.marker.format.fill.fore_color.rgb = c
        self._value_axis(chart.value_axis, y_format, title=y_title, minimum=y_min, maximum=y_max)
        self._value_axis(chart.category_axis, x_format, title=x_title, gridlines=False, minimum=x_min, maximum=x_max)
        return chart

    def bubble_chart(self, box: Box, series: dict[str, tuple[Sequence, Sequence, Sequence]], *, x_format: str,
                     y_format: str, x_title: str, y_title: str, colors: Sequence[str] | None = None,
                     cross: tuple[float, float] | None = None, bounds: tuple[float, float, float, float] | None = None,
                     scale: int = 35):
        """A native bubble chart; ``cross`` = (x, y) where the axes cross (quadrant lines)."""
        cd = BubbleChartData()
        for name, (xs, ys, ss) in series.items():
            s = cd.add_series(clean_text(str(name), max_len=40))
            for x, y, z in zip(xs, ys, ss):
                fx, fy, fz = finite(x), finite(y), finite(z)
                if fx is not None and fy is not None and fz is not None and fz > 0:
                    s.add_data_point(fx, fy, fz)
        gf = self.slide.shapes.add_chart(XL_CHART_TYPE.BUBBLE, Emu(box.x), Emu(box.y), Emu(box.w), Emu(box.h), cd)
        chart = gf.chart
        self._style_chart(chart, legend=True)
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        colors = list(colors or self.style.series)
        plot = chart.plots[0]
        plot.bubble_scale = scale
        for i, s in enumerate(plot.series):
            s.format.fill.solid()
            s.format.fill.fore_color.rgb = rgb(colors[i % len(colors)])
            s.format.fill.fore_color.brightness = 0.0
            s.format.line.color.rgb = rgb("FFFFFF")
            s.format.line.width = Pt(0.5)
        x0, x1, y0, y1 = bounds or (None, None, None, None)
        self._value_axis(chart.value_axis, y_format, title=y_title, minimum=y0, maximum=y1, gridlines=False)
        self._value_axis(chart.category_axis, x_format, title=x_title, gridlines=False, minimum=x0, maximum=x1)
        if cross is not None:
            chart.value_axis.crosses_at = cross[0]  # noqa: the y axis sits at x = cross[0]
            chart.category_axis.crosses_at = cross[1]
            for ax in (chart.value_axis, chart.category_axis):
                ax.tick_label_position = XL_TICK_LABEL_POSITION.LOW
                ax.format.line.color.rgb = rgb(self.style.muted)
                ax.format.line.width = Pt(1)
        # transparency so overlapping bubbles stay readable
        for s in plot.series:
            fill = s.format.fill._xPr.find(qn("a:solidFill"))
            clr = fill[0] if fill is not None and len(fill) else None
            if clr is not None:
                etree.SubElement(clr, qn("a:alpha"), val="70000")
        return chart

    def radar_chart(self, box: Box, categories: Sequence[str], series: dict[str, Sequence], *, number_format: str,
                    maximum: float | None = None, colors: Sequence[str] | None = None):
        cd = CategoryChartData(number_format=number_format)
        cd.categories = [clean_text(str(c), max_len=CHART_LABEL_MAX) for c in categories]
        for name, vals in series.items():
            cd.add_series(clean_text(str(name), max_len=40), [finite(v) or 0.0 for v in vals])
        gf = self.slide.shapes.add_chart(XL_CHART_TYPE.RADAR_MARKERS, Emu(box.x), Emu(box.y), Emu(box.w),
                                         Emu(box.h), cd)
        chart = gf.chart
        self._style_chart(chart, legend=True, font_pt=10)
        colors = list(colors or self.style.series)
        for i, s in enumerate(chart.plots[0].series):
            c = rgb(colors[i % len(colors)])
            s.format.line.color.rgb = c
            s.format.line.width = Pt(2.25)
            s.marker.format.fill.solid()
            s.marker.format.fill.fore_color.rgb = c
        va = chart.value_axis
        va.tick_labels.number_format = number_format
        va.tick_labels.number_format_is_linked = False
        va.tick_labels.font.size = Pt(9)
        va.minimum_scale = 0
        if maximum is not None:
            va.maximum_scale = maximum
        va.major_gridlines.format.line.color.rgb = rgb(self.style.grid)
        return chart
