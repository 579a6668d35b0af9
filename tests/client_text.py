"""What a client reads in the deliverables, and the internal names that must not be in it.

:func:`client_texts` collects every client-facing text of a run's deliverables — the deck's
slide text and tables (never its speaker notes), every cell and sheet name of both
workbooks (their chart data sheet included: a client can open it), and the HTML
dashboard's visible text and the strings its script shows — as ``(where, text)`` pairs.
:func:`internal_names` finds the names a client must never read in them: table names of
the catalogue, parameter keys and their dotted paths, snake_case identifiers, file
names, run ids, and unexplained statistics (P(alive), p-values).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from openpyxl import load_workbook
from pptx import Presentation
from pydantic import BaseModel

RUN_ID = re.compile(r"\b\d{8}T\d{6}Z(?:-[0-9a-f]{4,})?\b")
FILE_NAME = re.compile(r"\b[\w.-]+\.(?:csv|ya?ml|parquet|json|py|ipynb|pptx|xlsx|xls|png|md|html?)\b", re.I)
SNAKE = re.compile(r"(?<![\w.@/-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/])")
STATS = re.compile(r"P\(alive\)|\b[Pp]-value|(?<![\w-])p ?[<>=]=? ?0?\.\d|\bAUC\b|\bOLS\b|\bDiD\b")


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[frozenset[str], frozenset[str]]:
    """(table names, dotted parameter paths) from the catalogue and the parameter schema."""
    from kam_analysis.config import Params
    from kam_analysis.data.tables import TABLES

    paths: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            paths.add(path)
            ann = field.annotation
            for t in (ann, *getattr(ann, "__args__", ())):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    walk(t, path)

    walk(Params, "")
    return frozenset(TABLES), frozenset(p for p in paths if "." in p)


def internal_names(text: str) -> list[str]:
    """The internal names in ``text``: what a client page must not show."""
    tables, params = _vocabulary()
    hits = []
    for rx in (RUN_ID, FILE_NAME, SNAKE, STATS):
        hits += [m.group(0) for m in rx.finditer(text)]
    hits += [p for p in params if re.search(rf"(?<![\w.]){re.escape(p)}(?![\w])", text, re.I)]
    hits += [t for t in tables if re.search(rf"\btables?:? {re.escape(t)}\b", text)]
    return sorted(set(hits))


def deck_texts(path: Path) -> list[tuple[str, str]]:
    out = []
    for i, slide in enumerate(Presentation(path).slides, start=1):
        for sh in slide.shapes:
            if sh.has_text_frame and sh.text_frame.text.strip():
                out.append((f"slide {i}", sh.text_frame.text))
            if getattr(sh, "has_table", False) and sh.has_table:
                out += [(f"slide {i} table", c.text) for row in sh.table.rows for c in row.cells if c.text.strip()]
            if getattr(sh, "has_chart", False) and sh.has_chart:
                ch = sh.chart
                if ch.has_title:
                    out.append((f"slide {i} chart title", ch.chart_title.text_frame.text))
                for plot in ch.plots:
                    out += [(f"slide {i} chart series", str(s.name)) for s in plot.series]
                    try:
                        out += [(f"slide {i} chart category", str(c)) for c in plot.categories]
                    except (AttributeError, ValueError, TypeError):
                        pass
    return out


def workbook_texts(path: Path) -> list[tuple[str, str]]:
    out = []
    wb = load_workbook(path)
    for ws in wb.worksheets:
        out.append((f"{path.name} sheet name", ws.title))
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.strip():
                    out.append((f"{path.name}!{ws.title}!{c.coordinate}", c.value))
        for ch in getattr(ws, "_charts", []):
            t = ch.title
            if t is not None and t.tx is not None and t.tx.rich is not None:
                txt = " ".join(r.t for p in t.tx.rich.p for r in (p.r or []))
                out.append((f"{path.name}!{ws.title} chart title", txt))
    return out


def _json_strings(v, where: str, out: list) -> None:
    """Every string value of the dashboard's data island (keys are code, values are shown)."""
    if isinstance(v, str):
        out.append((where, v))
    elif isinstance(v, dict):
        for k, x in v.items():
            _json_strings(x, f"{where}.{k}", out)
    elif isinstance(v, list):
        for x in v:
            _json_strings(x, where, out)


# values of the data island that the script uses as keys, never shows
HTML_KEYS = {"kpi", "unit", "status", "fmt", "key", "band", "id", "account_id", "period", "all_accounts_only_kpis"}


def html_texts(path: Path) -> list[tuple[str, str]]:
    import html

    page = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    out: list[tuple[str, str]] = []
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    for txt in re.split(r"<[^>]+>", body):
        txt = html.unescape(txt).strip()
        if txt:
            out.append(("html text", txt))
    for attr in re.findall(r'(?:title|aria-label|placeholder|alt)="([^"]*)"', body):
        out.append(("html attribute", html.unescape(attr)))
    if m:
        data: list[tuple[str, str]] = []
        _json_strings(json.loads(m.group(1)), "html data", data)
        out += [(w, t) for w, t in data if w.rsplit(".", 1)[-1] not in HTML_KEYS]
    return out


def client_texts(deliverables: dict[str, Path]) -> list[tuple[str, str]]:
    """Every client-facing text of the four deliverables (``name -> path`` as in the manifest)."""
    out = []
    for name, path in deliverables.items():
        if path.suffix == ".pptx":
            out += deck_texts(path)
        elif path.suffix == ".xlsx":
            out += workbook_texts(path)
        elif path.suffix == ".html":
            out += html_texts(path)
    return out


def scan(deliverables: dict[str, Path]) -> list[tuple[str, str, list[str]]]:
    """(where, text, internal names) for every client text that shows one."""
    return [(w, t, hits) for w, t in client_texts(deliverables) if (hits := internal_names(t))]


# ---------------------------------------------------------------------------------- money style
MONEY = re.compile(r"(?:€|\$|£|¥|CHF |SEK )(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:bn|k|m)?(?![\w])")


def money_kind(token: str) -> str | None:
    """``compact`` (€23k, €1.2m, €9.7k), ``full`` (€9,713) or None (€641 reads the same in both)."""
    if token.endswith(("k", "m", "bn")):
        return "compact"
    return "full" if "," in token or len(re.sub(r"\D", "", token.split(".")[0])) >= 4 else None


def _excel_money_kinds(path: Path) -> list[tuple[str, str]]:
    """(where, kind) of every money number format of a workbook's cells: scaled (k/m) or full."""
    out = []
    for ws in load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for c in row:
                f = c.number_format or ""
                if isinstance(c.value, (int, float)) and re.search(r'"(?:€|\$|£|¥|CHF |SEK )"', f):
                    out.append((f"{path.name}!{ws.title}!{c.coordinate} format",
                                "compact" if re.search(r',"k"|,,"m"', f) else "full"))
    return out


def money_styles(deliverables: dict[str, Path]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Per deliverable: ``{"compact": [(where, token or format)...], "full": [...]}`` of every money
    figure a client reads in its text (and, in a workbook, in its cells' number formats)."""
    out: dict[str, dict[str, list]] = {}
    for name, path in deliverables.items():
        if path.suffix not in (".pptx", ".xlsx", ".html"):  # the CRM export CSVs: data for an import, not pages
            continue
        kinds: dict[str, list] = {"compact": [], "full": []}
        for where, text in client_texts({name: path}):
            for token in MONEY.findall(text):
                if (k := money_kind(token)) is not None:
                    kinds[k].append((where, token))
        if path.suffix == ".xlsx":
            for where, k in _excel_money_kinds(path):
                kinds[k].append((where, "number format"))
        out[name] = kinds
    return out


if __name__ == "__main__":  # python tests/client_text.py RUN_DIR: list what a client would read
    import sys
    from collections import Counter

    run = Path(sys.argv[1])
    d = {p.stem: p for p in (run / "deliverables").iterdir()}
    found = scan(d)
    for w, t, h in found:
        print(f"{w}: {h} :: {t[:160]!r}")
    print(len(found), "texts;", Counter(x for _, _, h in found for x in h).most_common(40))
