"""The framework deck: a client-ready PowerPoint built from the run folder's tables.

:func:`build_deck` opens the template named in ``params.branding.template`` (layouts and
placeholders looked up by name, see ``scripts/build_deck_template.py``), plans the
storyline from the tables present (:mod:`.deck_story`), and draws each slide with native
charts and tables (:mod:`._pptx`). A section appears only when its phase's tables exist;
a slide whose table or column is absent is skipped and listed in the appendix.
"""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from ..present.formats import compact_money, money_style
from ..safety import clean_text
from ..present.theme import Theme, theme_for
from ._pptx import DeckTemplate
from .deck_story import DeckData, SlideSpec, plan_deck

__all__ = ["build_deck", "DECK_FILENAME"]

DECK_FILENAME = "framework_deck.pptx"


def _style(params) -> Theme:
    return theme_for(params)


def _render(deck: DeckTemplate, spec: SlideSpec) -> None:
    c = deck.new_slide(spec.layout)
    if spec.layout != "Title":
        c.title(spec.title.rstrip("."))
    spec.draw(c)
    if spec.source or spec.footnote:
        c.source(spec.source, spec.footnote)
    notes = spec.notes
    tables = getattr(spec.source, "tables", ())
    if tables:  # method detail for the consultant: which run tables the slide shows
        notes = (notes + "\n\n" if notes else "") + f"Run tables: {', '.join(tables)}."
    if notes:
        c.notes(notes)
    c.finish()


def _text_frames(prs):
    """Every text frame of the deck: shapes (in groups too), table cells, chart titles, notes."""
    def shapes(coll):
        for sh in coll:
            if sh.shape_type == 6:  # a group
                yield from shapes(sh.shapes)
            else:
                yield sh

    for slide in prs.slides:
        for sh in shapes(slide.shapes):
            if sh.has_text_frame:
                yield sh.text_frame
            if getattr(sh, "has_table", False) and sh.has_table:
                yield from (c.text_frame for row in sh.table.rows for c in row.cells)
            if getattr(sh, "has_chart", False) and sh.has_chart and sh.chart.has_title:
                yield sh.chart.chart_title.text_frame
        if slide.has_notes_slide:
            yield slide.notes_slide.notes_text_frame


def _money_in_style(prs, currency: str) -> None:
    """Write every money figure of the deck in its style (compact): the phases' sentences carry
    full figures (``€9,713``), the deck writes ``€9.7k`` beside ``€23k``."""
    if money_style("deck") != "compact":
        return
    for tf in _text_frames(prs):
        for para in tf.paragraphs:
            for r in para.runs:
                new = compact_money(r.text, currency)
                if new != r.text:
                    r.text = new


def _stamp_embedded_workbooks(prs, when: dt.datetime) -> None:
    """Give each chart's embedded workbook the run's date, so the same run gives the same bytes.

    python-pptx writes the chart data workbooks with the wall-clock time in their
    ``docProps/core.xml`` and zip entries; both are rewritten here.
    """
    import re
    import zipfile

    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    for part in prs.part.package.iter_parts():
        if not str(part.partname).startswith("/ppt/embeddings/") or not str(part.partname).endswith(".xlsx"):
            continue
        src = zipfile.ZipFile(io.BytesIO(part.blob))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    text = data.decode("utf-8")
                    text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rf"\g<1>{iso}\g<2>", text)
                    data = text.encode("utf-8")
                zi = zipfile.ZipInfo(info.filename, date_time=(max(when.year, 1980), when.month, when.day, 0, 0, 0))
                zi.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(zi, data)
        part._blob = out.getvalue()


def _pinned_zip_times(blob: bytes, when: dt.datetime) -> bytes:
    """The same zip with every entry dated ``when`` (python-pptx dates them with the wall clock)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(max(when.year, 1980), when.month, when.day, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def build_deck(run, *, template: str | Path | None = None, filename: str = DECK_FILENAME) -> Path:
    """Build the framework deck into ``deliverables/`` of the run folder.

    Parameters
    ----------
    run : Run
        The run folder (tables, params).
    template : path, optional
        A template .pptx; default ``params.branding.template``.
    filename : str
        The deck's file name in ``deliverables/``.

    Returns
    -------
    Path
        The written .pptx.

    Raises
    ------
    ParameterError
        The template is missing, unreadable or lacks a required layout.
    RunError
        A table or column a slide needs is not in the run (the error names both); the
        deck is not written.
    """
    params = run.params
    path = Path(template or params.branding.template)
    deck = DeckTemplate(path, style=_style(params), apply_colors=params.branding.apply_colors_to_template)
    data = DeckData(run)
    for spec in plan_deck(data):
        _render(deck, spec)
    _money_in_style(deck.prs, params.client.currency)
    when = params.engagement.date or params.analysis.as_of_date
    stamp = dt.datetime.combine(when, dt.time(0, 0))
    cp = deck.prs.core_properties
    cp.title = clean_text(f"{params.engagement.title} — {params.client.name}", max_len=250)
    cp.subject = clean_text(params.client.name, max_len=250)
    cp.author = cp.last_modified_by = clean_text(params.engagement.consultant, max_len=250)
    cp.created = cp.modified = stamp
    cp.last_printed = stamp
    cp.revision = 1
    cp.keywords = "KAM; framework deck"
    cp.comments = "Built by kam_analysis from the engagement run's tables"
    _stamp_embedded_workbooks(deck.prs, stamp)
    out = run.deliverable_path(filename)
    buf = io.BytesIO()
    deck.prs.save(buf)
    tmp = out.with_name("." + out.name + ".tmp")
    tmp.write_bytes(_pinned_zip_times(buf.getvalue(), stamp))
    tmp.replace(out)
    return out
