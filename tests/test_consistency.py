"""Three engagements, four deliverables, one set of numbers.

Runs the real engagement end to end on three clients — a small demo, a transactions-only
client (no accounts, surveys or capability files, no margin) and a degenerate one (eight
accounts, four months of history) — and reads back what each deliverable shows: the
framework deck (slide text, tables and native chart data via python-pptx), the
segmentation workbook and the KPI dashboard (cells via openpyxl) and the HTML dashboard
(its embedded JSON and its text). Every figure below must be the run's table value
wherever it appears; a figure a deliverable leaves out is fine, a figure shown
differently is a failure. Displayed strings are compared with the table values formatted
by the deliverables' own formatters, never with hard-coded numbers.

Figures: revenue 12m, growth, active accounts, retention, NPS, AOV (headline KPIs); the
period retention series; key accounts selected and in the client's programme (and the
programme accounts the impact estimate uses, of how many); quadrant sizes; programme
effect and its interval; revenue at risk; revenue already lost and the number of accounts
lost (table ``revenue_lost``, kept apart from revenue at risk: no lost account is scored;
their dormant/lapsed status is the data profile's lifecycle); whitespace value and count; total profit; number of recommendations (a list that
shows only the top ones says "top N of M"); the portfolio matrix's axes (relative strength
across, attractiveness up) and each quadrant's colour.
"""
from __future__ import annotations

import html
import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook
from pptx import Presentation

from conftest import write_demo_params
from data_helpers import write_params
from kam_analysis.config import load_params
from kam_analysis.data.runfolder import Run
from kam_analysis.metrics import describe_revenue_lost, kpi_label, lifecycle_status
from kam_analysis.metrics.capability import Capability
from kam_analysis.present.formats import excel_number_format, fmt_count, fmt_money, fmt_share, fmt_top, fmt_value
from kam_analysis.runner import run_engagement

pytestmark = pytest.mark.slow

HEADLINE = ("revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate", "nps", "average_order_value")


# --------------------------------------------------------------------------- the three clients
def _demo(tmp: Path) -> Path:
    # 900 accounts: enough programme accounts with pre-programme orders for the impact estimate
    return write_demo_params(tmp, n_accounts=900, seed=5, name="Consistency Co")


def _transactions_only(tmp: Path) -> Path:
    path = write_demo_params(tmp, n_accounts=300, seed=3, name="Bare Client")
    raw = yaml.safe_load(path.read_text())
    for t in ("accounts", "surveys", "capability"):
        raw["data"].pop(t)
    raw["data"]["transactions"]["columns"].pop("gross_margin")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _degenerate(tmp: Path) -> Path:
    """Eight accounts, a few orders each, all in the last four months."""
    rng = random.Random(3)
    cats = ["Apparel", "Footwear", "Home"]
    rows, k = ["account_id,order_id,order_date,net_revenue,category"], 0
    for a in range(1, 9):
        for _ in range(rng.randint(1, 5)):
            k += 1
            rows.append(f"A{a},O{k},2024-{rng.randint(9, 12):02d}-{rng.randint(1, 28):02d},"
                        f"{rng.randint(50, 2000)}.00,{rng.choice(cats[: 1 + a % 3])}")
    return write_params(tmp, transactions="\n".join(rows) + "\n", name="Tiny Client", as_of="2024-12-31")


CLIENTS = {"demo": _demo, "transactions_only": _transactions_only, "degenerate": _degenerate}


# --------------------------------------------------------------------------- what each deliverable shows
@dataclass
class Slide:
    title: str
    texts: list[str]  # every text frame, in shape order (title included)
    tables: list[list[list[str]]]
    charts: list[dict]  # {"type", "categories", "series": {name: (xs | None, ys)}, "x_title", "y_title"}

    @property
    def all_text(self) -> str:
        return "\n".join(self.texts + [c for t in self.tables for row in t for c in row])


@dataclass
class Engagement:
    name: str
    run: Run
    deck: list[Slide] = field(default_factory=list)
    workbook: dict[str, list[list]] = field(default_factory=dict)  # sheet -> rows of values
    kpi_book: dict[str, list[list]] = field(default_factory=dict)
    html_data: dict = field(default_factory=dict)
    html_text: str = ""
    paths: dict[str, Path] = field(default_factory=dict)  # deliverable name -> file

    @property
    def cur(self) -> str:
        return self.run.params.client.currency

    def table(self, name: str) -> pd.DataFrame | None:
        return self.run.read_table(name) if self.run.has_table(name) else None

    def deck_text(self) -> str:
        return "\n".join(s.all_text for s in self.deck)


def _chart_data(chart) -> dict:
    from pptx.oxml.ns import qn

    def axis_title(ax) -> str:
        try:
            return ax.axis_title.text_frame.text if ax.has_title else ""
        except (AttributeError, ValueError):
            return ""

    out = {"type": str(chart.chart_type), "series": {}, "categories": [], "colors": {}}
    plot = chart.plots[0]
    try:
        out["categories"] = [str(c) for c in plot.categories]
    except (AttributeError, ValueError, TypeError):
        out["categories"] = []
    for s in plot.series:
        xv = s._element.find(qn("c:xVal"))
        xs = None
        if xv is not None:
            xs = [float(v.text) for v in xv.iter(qn("c:v"))]
        out["series"][s.name] = (xs, [float(v) if v is not None else math.nan for v in s.values])
        try:
            out["colors"][s.name] = str(s.format.fill.fore_color.rgb).upper()
        except (AttributeError, TypeError):
            pass
    try:
        out["x_title"], out["y_title"] = axis_title(chart.category_axis), axis_title(chart.value_axis)
    except (ValueError, AttributeError):
        out["x_title"] = out["y_title"] = ""
    return out


def read_deck(path: Path) -> list[Slide]:
    slides = []
    for slide in Presentation(path).slides:
        title = slide.shapes.title.text_frame.text if slide.shapes.title is not None else ""
        texts, tables, charts = [], [], []
        for sh in slide.shapes:
            if sh.has_text_frame and sh.text_frame.text.strip():
                texts.append(sh.text_frame.text)
            if getattr(sh, "has_table", False) and sh.has_table:
                tables.append([[c.text for c in row.cells] for row in sh.table.rows])
            if getattr(sh, "has_chart", False) and sh.has_chart:
                charts.append(_chart_data(sh.chart))
        slides.append(Slide(title, texts, tables, charts))
    return slides


def read_workbook(path: Path) -> dict[str, list[list]]:
    wb = load_workbook(path, data_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def read_html(path: Path) -> tuple[dict, str]:
    page = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    assert m, "the dashboard's data island is missing"
    text = html.unescape(re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page, flags=re.S))
    return json.loads(m.group(1)), text


@pytest.fixture(scope="module", params=list(CLIENTS))
def eng(request, tmp_path_factory) -> Engagement:
    params = CLIENTS[request.param](tmp_path_factory.mktemp(request.param))
    res = run_engagement(params, progress=None)
    assert res.ok
    d = {rec["name"]: res.run_dir / rec["path"] for rec in res.manifest["deliverables"]}
    assert set(d) == {"segmentation_workbook", "kpi_dashboard", "html_dashboard", "deck", "crm_exports"}
    # the manifest lists every file handed to the client (the three CRM exports, not only the first)
    listed = {p for rec in res.manifest["deliverables"] for p in rec["paths"]}
    on_disk = {str(f.relative_to(res.run_dir)) for f in (res.run_dir / "deliverables").iterdir() if f.is_file()}
    assert listed == on_disk and len(next(r for r in res.manifest["deliverables"] if r["name"] == "crm_exports")["paths"]) == 3
    e = Engagement(request.param, Run(res.run_dir, load_params(params)), paths=d)
    e.deck = read_deck(d["deck"])
    e.workbook = read_workbook(d["segmentation_workbook"])
    e.kpi_book = read_workbook(d["kpi_dashboard"])
    e.html_data, e.html_text = read_html(d["html_dashboard"])
    return e


# --------------------------------------------------------------------------- helpers
def same(a, b, rel: float = 1e-9) -> bool:
    """Two numbers from a table and a workbook/JSON are the same figure."""
    if a is None or b is None:
        return False
    a, b = float(a), float(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def headline(e: Engagement) -> dict[str, tuple[float, str, str]]:
    """kpi -> (value, unit, label) for the headline KPIs with a value."""
    h = e.table("kpi_headline")
    out = {}
    for _, r in h.iterrows():
        if r["kpi"] in HEADLINE and pd.notna(r["value"]):
            out[r["kpi"]] = (float(r["value"]), r["unit"], r["label"])
    return out


def rows_after_header(rows: list[list], first: str) -> tuple[list, list[list]]:
    """The header row whose first cell is ``first`` and the rows below it, up to the first blank row."""
    for i, r in enumerate(rows):
        if r and r[0] == first:
            body = []
            for r2 in rows[i + 1:]:
                if not r2 or r2[0] is None:
                    break
                body.append(r2)
            return r, body
    return [], []


def deck_label_values(e: Engagement) -> list[tuple[str, str, str]]:
    """(slide title, label, displayed value) pairs the deck shows for a labelled KPI:
    tiles (value box followed by its label box), table rows with a 'Current' column, and
    bullets 'Label: value against a target of ...'."""
    out = []
    for s in e.deck:
        for value, label in zip(s.texts, s.texts[1:]):
            first_line = label.split("\n")[0].split(" | ")[0]
            if re.fullmatch(r"[-+€$£]?[\d.,]+[%kmbn]*|[-+]?[A-Z]{0,3} ?[\d.,]+[kmbn]*", value.strip()):
                out.append((s.title, first_line.strip(), value.strip()))
        for t in s.tables:
            if "Current" in t[0]:
                j = t[0].index("Current")
                out += [(s.title, row[0], row[j]) for row in t[1:]]
        for text in s.texts:
            for m in re.finditer(r"(?:^|\n)•?\s*([^:\n•]+): ([^\s]+) against a target of", text):
                out.append((s.title, m.group(1).strip(), m.group(2)))
    return out


# --------------------------------------------------------------------------- headline KPIs
def test_headline_kpis_in_the_deck_are_the_table_values(eng):
    h = headline(eng)
    pairs = deck_label_values(eng)
    seen = set()
    for kpi, (v, unit, label) in h.items():
        want = fmt_value(v, unit, eng.cur)
        for title, lab, shown in pairs:
            if lab == label:
                assert shown == want, f"{eng.name}: {label} shows {shown} on '{title}', the table says {want}"
                seen.add(kpi)
    assert {"revenue_12m", "active_accounts", "retention_rate"} & set(h) <= seen, f"{eng.name}: deck shows {seen}"


def test_headline_kpis_in_the_kpi_dashboard_are_the_table_values(eng):
    h = headline(eng)
    by_label = {label: (kpi, v) for kpi, (v, _, label) in h.items()}
    seen = set()
    # 'KPI vs target' and the all-accounts rows of 'Scorecard' name each KPI by its label
    _, body = rows_after_header(eng.kpi_book.get("KPI vs target", []), "KPI")
    for r in body:
        if r[0] in by_label:
            kpi, v = by_label[r[0]]
            assert same(r[1], v), f"{eng.name}: KPI vs target shows {r[1]} for {kpi}, the table says {v}"
            seen.add(kpi)
    _, body = rows_after_header(eng.kpi_book.get("Scorecard", []), "Segment")
    for r in body:
        if r[0] == "All accounts" and r[1] in by_label:
            kpi, v = by_label[r[1]]
            assert same(r[2], v), f"{eng.name}: Scorecard shows {r[2]} for {kpi}, the table says {v}"
            seen.add(kpi)
    # the Dashboard sheet's tiles: one per kpi_vs_target row, current value under the label
    kvt = eng.table("kpi_vs_target")
    if kvt is not None and len(kvt) and "Dashboard" in eng.kpi_book:
        rows = eng.kpi_book["Dashboard"]
        tile_row = next(i for i, r in enumerate(rows) if r and any(isinstance(c, str) and c.isupper() for c in r))
        values = [c for c in rows[tile_row + 1] if c is not None]
        assert len(values) == len(kvt)
        for (_, r), shown in zip(kvt.iterrows(), values):
            if pd.isna(r["current"]):
                assert not isinstance(shown, (int, float)), f"{eng.name}: tile {r['kpi']} shows {shown} for no value"
                continue
            assert same(shown, r["current"]), f"{eng.name}: Dashboard tile {r['kpi']} shows {shown}"
            if r["kpi"] in h:
                assert same(shown, h[r["kpi"]][0]), f"{eng.name}: tile {r['kpi']} is not the headline value"
    if eng.name == "demo":
        assert {"revenue_12m", "retention_rate", "active_accounts", "average_order_value", "nps"} <= seen, seen


def test_headline_kpis_in_the_html_dashboard_are_the_table_values(eng):
    h = headline(eng)
    D = eng.html_data
    for t in D["tiles"]:
        if t["kpi"] in h:
            assert same(t["current"], h[t["kpi"]][0]), f"{eng.name}: HTML tile {t['kpi']}"
    for r in D["scorecard"]:
        if r["segment"] == D["all_label"] and r["kpi"] in h:
            assert same(r["value"], h[r["kpi"]][0]), f"{eng.name}: HTML scorecard {r['kpi']}"


def test_revenue_by_quadrant_adds_up_to_the_headline_revenue(eng):
    """The workbook's quadrant revenues are the same revenue as the headline (no second revenue)."""
    h = headline(eng)
    _, body = rows_after_header(eng.workbook.get("Summary", []), "Quadrant")
    if not body or "revenue_12m" not in h:
        pytest.skip("no quadrant summary in this run")
    header, _ = rows_after_header(eng.workbook["Summary"], "Quadrant")
    j = next(i for i, c in enumerate(header) if isinstance(c, str) and c.startswith("Revenue 12m"))
    assert same(sum(float(r[j]) for r in body), h["revenue_12m"][0], rel=1e-6)


def test_period_retention_is_one_series(eng):
    """The period-on-period retention the KPI dashboard and the HTML dashboard draw is the
    table's series, period by period."""
    kbp = eng.table("kpi_by_period")
    if kbp is None or "period_retention_rate" not in kbp:
        pytest.skip("no period KPIs in this run")
    want = {pd.Timestamp(p): v for p, v in zip(kbp["period_start"], kbp["period_retention_rate"]) if pd.notna(v)}
    tr = eng.table("kpi_tracking")
    if tr is not None:
        t = tr[(tr["kpi"] == "period_retention_rate") & (tr["segment"] == eng.html_data["all_label"])]
        for p, v in zip(t["period_start"], t["value"]):
            if pd.notna(v):
                assert same(v, want.get(pd.Timestamp(p))), f"{eng.name}: kpi_tracking retention {p}: {v} vs {want}"
    header, body = rows_after_header(eng.kpi_book.get("Trend data", []), "Period")
    if "Period retention" in header:
        j = header.index("Period retention")
        for r in body:
            if r[j] is not None:
                assert same(r[j], want.get(pd.Timestamp(r[0]))), f"{eng.name}: KPI dashboard retention {r[0]}"
    for r in eng.html_data["trends"]:
        if r["kpi"] == "period_retention_rate" and r["segment"] == eng.html_data["all_label"] \
                and r["value"] is not None:
            assert same(r["value"], want.get(pd.Timestamp(r["period_start"]))), f"{eng.name}: HTML retention {r}"


# --------------------------------------------------------------------------- key accounts and quadrants
def test_no_segment_shows_a_retention_true_by_construction(eng):
    """Today's quadrants hold today's active accounts (the rest are "Inactive accounts"), so a
    quadrant's retention would read 100% and the inactive 0% by construction. No table a client page
    reads, and no client page, shows retention by segment; All accounts keeps it."""
    from kam_analysis.metrics import ALL_ACCOUNTS_ONLY_KPIS, SEGMENT_RETENTION_NOTE

    all_label = eng.html_data["all_label"]
    for table in ("kpi_tracking", "kpi_scorecard"):
        t = eng.table(table)
        ret = t[t["kpi"].isin(ALL_ACCOUNTS_ONLY_KPIS)]
        assert set(ret["segment"].astype(str)) <= {all_label}, (eng.name, table)
        if table == "kpi_scorecard":
            assert all_label in set(ret["segment"].astype(str)), eng.name  # kept for all accounts
    for rows in (eng.html_data["scorecard"], eng.html_data["trends"]):
        assert not [r for r in rows if r["kpi"] in ALL_ACCOUNTS_ONLY_KPIS and r["segment"] != all_label]
    labels = {kpi_label(k) for k in ALL_ACCOUNTS_ONLY_KPIS}
    for sheet in ("KPI tracking", "Scorecard"):
        header, rows = rows_after_header(eng.kpi_book[sheet], "Period" if sheet == "KPI tracking" else "Segment")
        assert header, (eng.name, sheet)
        seg, kpi = header.index("Segment"), header.index("KPI")
        assert {r[seg] for r in rows if r[kpi] in labels} <= {all_label}, (eng.name, sheet)
    if len(eng.html_data["segments"]) > 1:  # a page with segments says once why retention is not by segment
        assert eng.html_data["segment_retention_note"] == SEGMENT_RETENTION_NOTE
        dash = " ".join(str(v) for row in eng.kpi_book["Dashboard"] for v in row if v is not None)
        assert SEGMENT_RETENTION_NOTE in dash, eng.name


def _key_counts(e: Engagement) -> tuple[int | None, int | None]:
    s = e.table("segments")
    if s is None:
        return None, None
    sel = int(s["is_key"].astype(bool).sum())
    prog = int(s["currently_key"].astype(bool).sum()) if "currently_key" in s else None
    return sel, prog


def test_key_accounts_selected_and_in_programme_agree_everywhere(eng):
    sel, prog = _key_counts(eng)
    if sel is None:
        pytest.skip("no segmentation in this run")
    text = eng.deck_text()
    # every "<n> key accounts" in the deck (not "top <n> key accounts") is the selection
    for m in re.finditer(r"(?<!top )(?<![\d,])(\d[\d,]*) (?:key accounts|accounts selected as key)", text):
        assert m.group(1) == fmt_count(sel), f"{eng.name}: deck says '{m.group(0)}', {sel} are selected"
    for m in re.finditer(r"(\d[\d,]*) (?:accounts )?in the client's (?:KAM )?programme", text):
        assert prog is not None and m.group(1) == fmt_count(prog), f"{eng.name}: deck says '{m.group(0)}'"
    # the workbook: README, Accounts sheet flags, Summary column
    readme = {r[0]: r[1] for r in eng.workbook["README"] if r and r[0]}
    assert readme.get("Key accounts selected") == sel
    header, body = rows_after_header(eng.workbook["Accounts"], "Account ID")
    assert sum(r[header.index("Key account")] == "Yes" for r in body) == sel
    if prog is not None:
        assert sum(r[header.index("In client's KAM programme")] == "Yes" for r in body) == prog
    header, body = rows_after_header(eng.workbook["Summary"], "Quadrant")
    if "Key accounts" in header:
        assert sum(r[header.index("Key accounts")] for r in body) == sel
    # the HTML matrix outlines exactly the selected key accounts
    if eng.html_data["matrix"]:
        assert sum(bool(m.get("is_key")) for m in eng.html_data["matrix"]) == sel
    # the programme's own count, where the tables give it: the KPI and the impact estimate's base
    kh = eng.table("kpi_headline").set_index("kpi")["value"]
    if prog is not None and "key_accounts" in kh and pd.notna(kh["key_accounts"]):
        assert int(kh["key_accounts"]) == prog, "kpi_headline and segments count the programme differently"
    pi = eng.table("programme_impact")
    if prog is not None and pi is not None and len(pi) and pd.notna(pi["n_programme"].iloc[0]) \
            and int(pi["n_programme"].iloc[0]) > 0:
        assert int(pi["n_programme"].iloc[0]) == prog, "the impact estimate starts from another programme"
    for r in eng.kpi_book.get("Programme impact", []):
        if r and r[0] == "Accounts in the client's programme":
            assert prog is not None and int(r[1]) == prog, f"{eng.name}: KPI dashboard programme accounts {r[1]}"


def test_quadrant_sizes_agree_everywhere(eng):
    s = eng.table("segments")
    if s is None:
        pytest.skip("no segmentation in this run")
    sizes = s["quadrant"].value_counts().to_dict()
    # deck: "<quadrant>: <n> accounts" takeaways and every table with a Segment/Quadrant and an Accounts column
    for sl in eng.deck:
        for m in re.finditer(r"(?:^|\n|\| )([A-Z][\w ]+): ([\d,]+) accounts", "\n".join(sl.texts)):
            if m.group(1) in sizes:
                assert m.group(2) == fmt_count(sizes[m.group(1)]), f"{eng.name}: '{m.group(0)}' on '{sl.title}'"
        for t in sl.tables:
            if t[0][0] in ("Segment", "Quadrant") and "Accounts" in t[0]:
                j = t[0].index("Accounts")
                for row in t[1:]:
                    if row[0] in sizes:
                        assert row[j] == fmt_count(sizes[row[0]]), f"{eng.name}: {row[0]} on '{sl.title}'"
    # workbook Summary and matrix grid
    _, body = rows_after_header(eng.workbook["Summary"], "Quadrant")
    for r in body:
        assert r[1] == sizes.get(r[0], 0), f"{eng.name}: workbook Summary {r[0]}"
    for r in eng.workbook["Portfolio matrix"]:
        for c in r:
            if isinstance(c, str) and "\n" in c and c.split("\n")[0] in sizes:
                q = c.split("\n")[0]
                assert c.split("\n")[1].startswith(f"{sizes[q]:,} accounts"), f"{eng.name}: matrix cell {q}"
    # KPI dashboard scorecard: the accounts of each segment
    _, body = rows_after_header(eng.kpi_book.get("Scorecard", []), "Segment")
    for r in body:
        if r[0] in sizes:
            assert r[3] == sizes[r[0]], f"{eng.name}: KPI dashboard scorecard {r[0]} has {r[3]} accounts"
    # HTML matrix: every account with both scores, as a bubble or counted in a square (big portfolios)
    if eng.html_data["matrix"]:
        scored = s.dropna(subset=["attractiveness", "relative_strength"])["quadrant"].value_counts().to_dict()
        squares = pd.DataFrame(eng.html_data.get("matrix_density") or [], columns=["segment", "i", "j", "n"])
        shown = (pd.Series([m["segment"] for m in eng.html_data["matrix"]]).value_counts()
                 .add(squares.groupby("segment")["n"].sum(), fill_value=0).astype(int).to_dict())
        assert shown == scored


def _segment_shares(e: Engagement) -> dict[str, str]:
    """segment -> its share of revenue as every page must print it (segment_profiles, fmt_share)."""
    sp = e.table("segment_profiles")
    if sp is None or "revenue_share" not in sp:
        return {}
    return {str(r["segment"]): fmt_share(r["revenue_share"]) for _, r in sp.iterrows()
            if pd.notna(r["revenue_share"])}


def test_a_segments_share_of_revenue_is_one_figure_everywhere(eng):
    """One segment, one share of revenue: the deck's portfolio matrix (title and takeaways), segment
    profiles and playbooks, the workbook's Summary and matrix grid print the segment_profiles value
    with the same rounding (a '73% of live revenue' beside '69.4%' on the next slide fails), and the
    strategy's playbook table carries the same number."""
    want = _segment_shares(eng)
    if not want:
        pytest.skip("no segment profiles in this run")
    sp = eng.table("segment_profiles").set_index("segment")
    pb = eng.table("segment_playbook")
    if pb is not None and "revenue_share" in pb:
        for _, r in pb.iterrows():
            if r["segment"] in sp.index:
                assert same(r["revenue_share"], sp.loc[r["segment"], "revenue_share"], rel=1e-9), \
                    f"{eng.name}: segment_playbook {r['segment']}"
    names = "|".join(re.escape(q) for q in sorted(want, key=len, reverse=True))
    pattern = re.compile(rf"\b({names})\b[^\n•;|]*?(\d[\d.]*%) (?:share )?of (?:live |their )?revenue")
    seen = 0
    for sl in eng.deck:
        for text in [sl.title, *sl.texts]:
            for m in pattern.finditer(text):
                seen += 1
                assert m.group(2) == want[m.group(1)], f"{eng.name}: '{m.group(0)}' on '{sl.title}', table {want}"
        for t in sl.tables:
            share_col = next((t[0].index(h) for h in ("Share of revenue", "Revenue share") if h in t[0]), None)
            if t[0][0] in ("Segment", "Quadrant") and share_col is not None:
                for row in t[1:]:
                    if row[0] in want:
                        seen += 1
                        assert row[share_col] == want[row[0]], f"{eng.name}: {row[0]} in a table on '{sl.title}'"
    if Capability.of(eng.run).refusal("portfolio_matrix"):  # too few accounts: no page names a segment
        assert not seen and not rows_after_header(eng.workbook["Summary"], "Quadrant")[1], eng.name
        return
    assert seen, f"{eng.name}: the deck prints no segment's share of revenue"
    # the workbook: Summary values in the share format, and the matrix grid's text
    header, body = rows_after_header(eng.workbook["Summary"], "Quadrant")
    j = header.index(kpi_label("revenue_share", short=True))
    for r in body:
        assert fmt_share(r[j]) == want[r[0]], f"{eng.name}: workbook Summary {r[0]} {r[j]}"
    wb = load_workbook(eng.paths["segmentation_workbook"])
    fmts = {c.number_format for row in wb["Summary"].iter_rows() for c in row
            if isinstance(c.value, float) and any(same(c.value, v) for v in sp["revenue_share"].dropna() if v)}
    assert fmts == {excel_number_format("share", compact=False)}, f"{eng.name}: Summary share formats {fmts}"
    grid = 0
    for r in eng.workbook["Portfolio matrix"]:
        for c in r:
            if isinstance(c, str) and "\n" in c and c.split("\n")[0] in want:
                grid += 1
                m = re.search(r"(\d[\d.]*%) of revenue", c)
                assert m and m.group(1) == want[c.split("\n")[0]], f"{eng.name}: workbook matrix '{c}'"
    assert grid, f"{eng.name}: the workbook's matrix grid names no segment"


def test_a_value_tier_is_one_definition(eng):
    """An account's value tier is the same in the assessment's breakdowns (account_kpis) and the
    segmentation (segments, tier summary); the deck's concentration page states the top tier's
    share of revenue as the tier summary has it, and of buying accounts."""
    k, s, ts = eng.table("account_kpis"), eng.table("segments"), eng.table("tier_summary")
    if k is None or s is None or "value_tier" not in k:
        pytest.skip("no value tiers in this run")
    both = k[["account_id", "value_tier"]].merge(s[["account_id", "tier"]], on="account_id", validate="1:1")
    assert len(both) == len(s), eng.name
    diff = both[both["value_tier"].astype(str) != both["tier"].astype(str)]
    assert diff.empty, f"{eng.name}: {len(diff)} accounts in two tiers, e.g. {diff.head(3).to_dict('records')}"
    counts = s["tier"].astype(str).value_counts()
    for _, r in ts.iterrows():
        assert r["accounts"] == counts.get(str(r["tier"]), 0), f"{eng.name}: tier_summary {r['tier']}"
    top = ts.iloc[0]
    buyers = ts.loc[ts["tier"].astype(str) != "No orders (12m)", "accounts"].sum()
    want = (f"The {top['tier']} tier — {fmt_share(top['accounts'] / buyers, decimals=0)} of buying accounts — "
            f"generates {fmt_share(top['revenue_share'])} of revenue")
    titles = [sl.title for sl in eng.deck if "tier —" in sl.title]
    assert all(t == want for t in titles), f"{eng.name}: {titles} vs {want}"


def test_the_key_tiers_share_of_revenue_is_one_figure_everywhere(eng):
    """'Key-account management fits N of M live accounts (X of revenue)': the title's X is the
    tier table's key row, on the deck, the KPI dashboard and the HTML dashboard's table."""
    t = eng.table("coverage_tiers")
    if t is None or t.empty or eng.html_data.get("programme") is None:
        pytest.skip("no key-account sizing in this run")
    key = t.set_index("tier")["revenue_share"]
    label = t.set_index("tier")["label"]
    want = {label[k]: fmt_share(key[k]) for k in key.index if pd.notna(key[k])}
    prog = eng.html_data["programme"]
    for r in prog["rows"]:
        assert r["revenue_share_text"] == want[r["tier"]], f"{eng.name}: HTML tier {r['tier']}"
        assert f">{want[r['tier']]}<" in eng.paths["html_dashboard"].read_text(encoding="utf-8")
    titles = [prog["title"], *(s.title for s in eng.deck),
              *(str(v) for row in eng.kpi_book["Dashboard"] for v in row if v is not None)]
    for text in titles:
        for m in re.finditer(r"Key-account management fits [\d,]+ of [\d,]+ live accounts \((\S+) of revenue\)", text):
            assert m.group(1) == want[label["key"]], f"{eng.name}: '{m.group(0)}'"
    for sl in eng.deck:
        for tb in sl.tables:
            if tb[0][0] == "Tier" and "Share of revenue" in tb[0]:
                j = tb[0].index("Share of revenue")
                for row in tb[1:]:
                    assert row[j] == want[row[0]], f"{eng.name}: deck tier {row[0]}"


def test_portfolio_matrix_axes_are_strength_across_and_attractiveness_up(eng):
    s = eng.table("segments")
    if s is None:
        pytest.skip("no segmentation in this run")
    s = s.dropna(subset=["attractiveness", "relative_strength"])
    for sl in eng.deck:
        for ch in sl.charts:
            if "BUBBLE" not in ch["type"]:
                continue
            assert "strength" in ch["x_title"].lower() and "attractiveness" in ch["y_title"].lower(), ch
            for q, (xs, ys) in ch["series"].items():
                g = s[s["quadrant"] == q]
                pts = set(zip(g["relative_strength"].round(6), g["attractiveness"].round(6)))
                assert all((round(x, 6), round(y, 6)) in pts for x, y in zip(xs, ys)), f"{eng.name}: {q}"
    data = eng.workbook.get("Chart data", [])
    if data and len(data) > 1:
        header = data[1]
        assert all(("strength" in str(header[i])) and ("attractiveness" in str(header[i + 1]))
                   for i in range(0, len([h for h in header if h]), 2))


def _workbook_scatter_colors(path: Path) -> dict[str, str]:
    """Quadrant -> marker colour of the workbook's portfolio-matrix scatter (openpyxl does not read charts back)."""
    import zipfile

    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not name.startswith("xl/charts/"):
                continue
            xml = z.read(name).decode("utf-8")
            if "scatterChart" not in xml:
                continue
            for ser in re.findall(r"<(?:c:)?ser>(.*?)</(?:c:)?ser>", xml, re.S):
                t = re.search(r"<(?:c:)?tx>.*?<(?:c:)?v>(.*?)</", ser, re.S)
                c = re.search(r"<(?:c:)?marker>.*?srgbClr val=\"([0-9A-Fa-f]{6})\"", ser, re.S)
                if t and c:
                    out[html.unescape(t.group(1))] = c.group(1).upper()
    return out


def test_each_quadrant_has_one_colour_everywhere(eng):
    deck = {q: c for sl in eng.deck for ch in sl.charts if "BUBBLE" in ch["type"] for q, c in ch["colors"].items()}
    book = _workbook_scatter_colors(eng.paths["segmentation_workbook"])
    page = {q: c.lstrip("#").upper() for q, c in eng.html_data.get("theme", {}).get("quadrant_colors", {}).items()}
    if not (deck or book):
        pytest.skip("no portfolio matrix drawn in this run")
    for q in set(deck) | set(book):
        shown = {src: m[q] for src, m in (("deck", deck), ("workbook", book), ("HTML", page)) if q in m}
        assert len(set(shown.values())) == 1, f"{eng.name}: {q} is drawn in {shown}"


# --------------------------------------------------------------------------- impact, risk, whitespace, profit
def test_programme_effect_and_interval_agree_everywhere(eng):
    p = eng.table("programme_impact")
    if p is None or p.empty or not bool(p["supported"].iloc[0]):
        # not estimated: no deliverable may show an effect
        assert not any("Programme effect (estimate)" in sl.all_text for sl in eng.deck)
        if eng.html_data.get("impact"):
            assert eng.html_data["impact"].get("uplift") is None
        return
    r = p.iloc[0]
    effect, lo, hi = (r["uplift"], r["uplift_ci_low"], r["uplift_ci_high"]) if pd.notna(r.get("uplift")) else \
        (r["estimate"], r["ci_low"], r["ci_high"])
    unit = "share" if pd.notna(r.get("uplift")) else "ratio"
    text = eng.deck_text()
    want = fmt_value(effect, unit, signed=True)
    ci = f"{fmt_value(lo, unit, signed=True)} to {fmt_value(hi, unit, signed=True)}"
    assert want in text and ci in text, f"{eng.name}: deck lacks {want} ({ci})"
    imp = eng.html_data["impact"]
    assert same(imp["uplift"], r["uplift"]) and same(imp["uplift_ci_low"], r["uplift_ci_low"]) \
        and same(imp["uplift_ci_high"], r["uplift_ci_high"])
    assert imp["sentence"] == r["sentence"]
    sheet = eng.kpi_book.get("Programme impact", [])
    nums = [c for row in sheet for c in row if isinstance(c, float)]
    for v in (effect, lo, hi):
        assert any(same(x, v) for x in nums), f"{eng.name}: KPI dashboard lacks the effect or its interval ({v})"


def test_revenue_at_risk_agrees_everywhere(eng):
    cr = eng.table("churn_risk")
    st = eng.table("churn_model_status")
    supported = st is None or st.empty or bool(st["supported"].iloc[0])
    text = eng.deck_text()
    if cr is None or cr.empty or not supported:
        assert "of revenue is at risk" not in text and "of revenue at risk" not in text
        assert not eng.html_data["at_risk"]
        return
    total = fmt_money(cr["revenue_at_risk"].sum(), eng.cur)
    for m in re.finditer(r"([€$£][\d.,]+[kmbn]*) of revenue (?:is )?at risk", text):
        assert m.group(1) == total, f"{eng.name}: deck says '{m.group(0)}', the table totals {total}"
    by_id = cr.set_index(cr["account_id"].astype(str))["revenue_at_risk"]
    names = eng.run.account_display_names()
    shown_name = {a: str(names.get(a, a)) for a in by_id.index}
    unique = pd.Series(list(shown_name.values())).value_counts()
    by_name = {n: by_id[a] for a, n in shown_name.items() if unique[n] == 1}
    n_at_risk = int((cr["revenue_at_risk"].fillna(0) > 0).sum())
    sheet = eng.kpi_book.get("At-risk accounts", [])
    _, body = rows_after_header(sheet, "Account ID")
    for r in body:
        assert same(r[4], by_id[str(r[0])]), f"{eng.name}: KPI dashboard at-risk {r[0]}"
    if body:
        subtitle = str(sheet[1][0])
        want = f"all {fmt_count(n_at_risk)}" if len(body) == n_at_risk else f"top {len(body)} of {fmt_count(n_at_risk)}"
        assert want in subtitle, f"{eng.name}: the at-risk sheet says '{subtitle}', not '{want}'"
    if eng.html_data["at_risk"]:
        assert eng.html_data["at_risk_counts"][eng.html_data["all_label"]] == n_at_risk
    for r in eng.html_data["at_risk"]:
        if r["name"] in by_name:
            assert same(r["revenue_at_risk"], by_name[r["name"]]), f"{eng.name}: HTML at-risk {r['name']}"


def test_revenue_already_lost_agrees_everywhere(eng):
    """'€X already lost to N accounts that stopped buying': one row of revenue_lost, the sum and
    count of lost_accounts, the same figure in the deck, the KPI dashboard and the HTML dashboard;
    none of those accounts has a risk score, and each one's dormant/lapsed status is the one
    lifecycle rule's (metrics.capability.lifecycle_status on the account summary)."""
    rl, la = eng.table("revenue_lost"), eng.table("lost_accounts")
    assert rl is not None and len(rl) == 1 and la is not None, f"{eng.name}: the strategy phase always writes both"
    r = rl.iloc[0]
    n, value = int(r["accounts_lost_12m"]), float(r["revenue_lost_12m"])
    assert n == len(la) and same(value, la["revenue_lost_12m"].sum() if n else 0.0)
    assert (la["days_since_last_order"] >= eng.run.params.analysis.churn_days).all()
    cr = eng.table("churn_risk")
    if cr is not None and len(cr):
        scored = cr[cr["risk_score"].notna()]["account_id"].astype(str)
        assert not set(scored) & set(la["account_id"].astype(str)), f"{eng.name}: a lost account is scored"
    summary = eng.table("account_summary")
    life = lifecycle_status(summary).set_axis(summary["account_id"].astype(str))
    assert la.set_index(la["account_id"].astype(str))["lifecycle"].to_dict() == \
        life.reindex(la["account_id"].astype(str)).to_dict(), f"{eng.name}: two lifecycles"
    assert (int(r["dormant_accounts"]), int(r["lapsed_accounts"])) == (int((la["lifecycle"] == "dormant").sum()),
                                                                      int((la["lifecycle"] == "lapsed").sum()))
    money, count = fmt_money(value, eng.cur), fmt_count(n)
    said = describe_revenue_lost(r, eng.cur)
    # deck: every "<money> already lost to <n> account", the slide's title, the summary finding
    text = eng.deck_text()
    for m in re.finditer(r"([€$£][\d.,]+[kmbn]*) already lost to ([\d,]+) account", text):
        assert (m.group(1), m.group(2)) == (money, count), f"{eng.name}: deck says '{m.group(0)}'"
    for sl in eng.deck:
        for shown, words in zip(sl.texts, sl.texts[1:]):
            if words.startswith("already lost to"):
                assert shown == money and words.startswith(f"already lost to {count} account"), f"{eng.name}: {words}"
    if n:
        assert any(sl.title == said[:1].upper() + said[1:] for sl in eng.deck), f"{eng.name}: no slide says '{said}'"
    else:
        assert "already lost to" not in text
    # KPI dashboard: the two labelled cells and the list's "top N of M"
    sheet = eng.kpi_book["Lost accounts"]
    cells = {row[0]: row[1] for row in sheet if row and isinstance(row[0], str)}
    assert same(cells[kpi_label("revenue_lost_12m")], value) and cells[kpi_label("accounts_lost_12m")] == n
    header, body = rows_after_header(sheet, "Account ID")
    if n:
        assert body and all(same(b[header.index(kpi_label("revenue_lost_12m", short=True))],
                                 la.set_index(la["account_id"].astype(str)).loc[str(b[0]), "revenue_lost_12m"])
                            for b in body)
        assert any(isinstance(row[0], str) and fmt_top(len(body), n) in row[0] for row in sheet)
    # HTML dashboard: the figure and the sentence the page shows
    h = eng.html_data["revenue_lost"]
    assert same(h["revenue_lost_12m"], value) and h["accounts_lost_12m"] == n
    assert h["sentence"] == said[:1].upper() + said[1:] + "."


def test_whitespace_value_and_count_agree_everywhere(eng):
    w = eng.table("whitespace")
    if w is None or w.empty:
        assert "cross-sell opportunities worth" not in eng.deck_text()
        return
    n, value = len(w), w["expected_value"].sum()
    assert (w["expected_value"] > 0).all(), "the whitespace table lists opportunities worth nothing"
    text = eng.deck_text()
    for m in re.finditer(r"([\d,]+) cross-sell opportunities worth ([^\s;,]+)", text):
        assert (m.group(1), m.group(2)) == (fmt_count(n), fmt_money(value, eng.cur)), f"{eng.name}: '{m.group(0)}'"
    recs = eng.table("recommendations")
    evidence = " ".join(recs["evidence"].astype(str)) if recs is not None else ""
    for m in re.finditer(r"[Ww]hitespace: top (\d+) of ([\d,]+) opportunities", evidence + "\n" + text):
        assert m.group(2).replace(",", "") == str(n), f"{eng.name}: '{m.group(0)}', the table has {n}"


def test_total_profit_is_one_figure(eng):
    h = eng.table("kpi_headline").set_index("kpi")["value"]
    profit = h.get("profit_12m")
    text = eng.deck_text()
    if profit is None or pd.isna(profit):
        assert "Total profit" not in text
        return
    for m in re.finditer(r"Total profit ([^\s|]+)", text):
        assert m.group(1) == fmt_money(profit, eng.cur), f"{eng.name}: deck '{m.group(0)}'"
    header, body = rows_after_header(eng.workbook["Summary"], "Quadrant")
    j = next((i for i, c in enumerate(header) if isinstance(c, str) and c.startswith("Profit 12m")), None)
    if j is not None:
        total = sum(float(r[j]) for r in body if r[j] is not None)
        assert same(total, profit, rel=1e-6), f"{eng.name}: workbook profit {total:,.0f}, kpi_headline {profit:,.0f}"


def test_business_case_credits_only_the_accounts_it_costs(eng):
    """Benefit and cost over the same accounts: the benefit a year is at most the costed accounts'
    12-month revenue x the largest segment uplift rate of the scenario, the cost's hours are those
    accounts' hours, and without margin no business-case text on the deck says 'profit' or 'ROI'."""
    bc, plan = eng.table("business_case"), eng.table("coverage_plan")
    il, cost, base = eng.table("impact_by_lever"), eng.table("programme_cost"), eng.table("segment_baseline")
    if bc is None or plan is None or il is None or bc.empty:
        return
    alloc = plan["hours_allocated"].fillna(0)
    hours = alloc if alloc.sum() > 0 else plan["hours_per_account"].fillna(0)
    costed = hours > 0
    assert same(cost.set_index("item").loc["manager_time", "quantity"], float(hours.sum()))
    assert (bc["programme_accounts"] == int(costed.sum())).all()
    rev_costed = float(plan.loc[costed, "revenue_12m"].clip(lower=0).sum())
    seg_rev = base.set_index("segment")["revenue_12m"]
    for _, r in bc.iterrows():
        seg = il[il["scenario"] == r["scenario"]].groupby("segment")["profit_impact"].sum()
        rate = (seg / seg_rev.reindex(seg.index).where(lambda x: x > 0)).fillna(0).clip(lower=0)
        bound = rev_costed * (float(rate.max()) if len(rate) else 0.0)
        assert r["profit_full_year"] <= bound + 1e-6, f"{eng.name}: {r['scenario']} credits {r['profit_full_year']:,.0f} > {bound:,.0f}"
        assert r["profit_full_year"] <= r["whole_base_full_year"] + 1e-6
    if (bc["benefit_basis"] == "revenue").all():
        for s in eng.deck:
            if "programme" in s.title and ("credits" in s.title or "decision" in s.title or "add" in s.title):
                assert "profit" not in s.all_text.lower() and "ROI +" not in s.all_text, f"{eng.name}: {s.title}"


# --------------------------------------------------------------------------- recommendations and top-N lists
def test_number_of_recommendations_agrees_everywhere(eng):
    recs = eng.table("recommendations")
    m_total = 0 if recs is None else len(recs)
    # deck: rows in the recommendations tables, and the title's count
    shown = [row for sl in eng.deck for t in sl.tables if t[0][:2] == ["#", "Recommendation"] for row in t[1:]]
    titles = {sl.title for sl in eng.deck for t in sl.tables if t[0][:2] == ["#", "Recommendation"]}
    if shown:
        for title in titles:
            if len(shown) < m_total:
                assert f"top {len(shown)} of {m_total}" in title, f"{eng.name}: '{title}' hides how many there are"
            else:
                assert title.startswith(f"{m_total} recommendation"), f"{eng.name}: '{title}'"
    # KPI dashboard
    _, body = rows_after_header(eng.kpi_book.get("Recommendations", []), "#")
    body = [r for r in body if r[:1] != ["(none)"]]  # an empty Excel table holds one "(none)" row
    if body:
        sub = " ".join(str(c) for r in eng.kpi_book["Recommendations"][:3] for c in r if c)
        assert len(body) == m_total or f"top {len(body)} of {m_total}" in sub
    # HTML
    # HTML: every recommendation, and the count the page states
    assert eng.html_data["recommendations_total"] == m_total
    assert len(eng.html_data["recommendations"]) == m_total, f"{eng.name}: the HTML dashboard drops some"
    assert not shown or len(shown) <= m_total


def test_every_top_list_on_a_client_page_says_of_how_many(eng):
    """A list that shows only the first few says "top N of M" (the deck's titles and notes)."""
    for sl in eng.deck:
        text = sl.all_text
        for m in re.finditer(r"\b[Tt]op (\d+)\b(?! of )(?!%)", text):
            window = text[m.start():m.start() + 80]
            assert re.match(r"[Tt]op \d+ (?:\w+ ){0,3}of [\d,]+", window) or "%" in window[:12], \
                f"{eng.name}: '{window}' on '{sl.title}' does not say of how many"


def test_recommendations_speak_client_language(eng):
    """What the deck and both dashboards print for each recommendation names no table or column."""
    recs = eng.table("recommendations")
    if recs is None or recs.empty:
        pytest.skip("no recommendation in this run")
    for text in list(recs["recommendation"]) + list(recs["evidence"]):
        assert not re.search(r"\b[a-z]+_[a-z0-9_]+\b", str(text)), f"{eng.name}: '{text}'"


def test_where_key_account_management_fits_is_one_sentence_everywhere(eng):
    """The sizing headline (the capacity gap when it binds) reads the same on the deck and both dashboards."""
    prog = eng.html_data.get("programme")
    if not prog:
        pytest.skip("no key-account sizing in this run")
    sizing = eng.table("key_account_sizing").set_index("metric")["value"]
    assert int(sizing["selected"]) == int(eng.table("segments")["is_key"].sum())
    assert prog["title"] in [s.title for s in eng.deck]
    cells = {c for row in eng.kpi_book["Dashboard"] for c in row if isinstance(c, str)}
    assert prog["title"] in cells
    assert html.unescape(prog["title"]) in eng.html_text


SIZED = ("portfolio_matrix", "key_account_selection", "cohorts", "whitespace", "scenarios", "churn_model")


def test_an_analysis_below_its_minimum_size_is_on_no_client_page(eng):
    """The degenerate client's base is too small for the size-gated analyses: each is refused in
    client words, its tables hold no row (no figure downstream), no deck page, HTML block or workbook
    matrix shows it, and the data request lists it with its minimum. The other clients keep them."""
    sup = eng.table("analysis_support").set_index("analysis")
    if eng.name != "degenerate":
        assert (sup.loc[list(SIZED), "status"] != "not_supported").all(), sup.loc[list(SIZED), ["status", "caveat"]]
        return
    assert (sup.loc[list(SIZED), "status"] == "not_supported").all()
    live = int(eng.table("data_profile").set_index("item").at["accounts_live", "value"])
    for k in ("portfolio_matrix", "key_account_selection", "whitespace", "scenarios", "churn_model"):
        assert sup.at[k, "caveat"].startswith(f"only {live} live accounts: too few to"), sup.at[k, "caveat"]
    for t in ("impact_scenarios", "impact_by_lever", "sensitivity", "business_case", "whitespace"):
        assert eng.table(t).empty, t  # nothing a later phase could count
    titles = " ".join(s.title.lower() for s in eng.deck)
    for word in ("portfolio matrix", "business case", "scenario", "whitespace", "cross-sell", "cohort", "tornado",
                 "at stake", "worth"):
        assert word not in titles, word  # no page of a refused analysis, and no money figure from one
    request = " ".join(s.all_text for s in eng.deck if "need data the client has not sent" in s.title)
    for k in SIZED:
        assert sup.at[k, "label"] in request, k
    assert "(at least 20 live accounts)" in request and f"only {live} live accounts are too few" in request
    assert "quadrant" not in titles
    assert not eng.html_data["matrix"] and eng.html_data["matrix_note"].startswith(f"Not shown: only {live} live")
    assert not eng.html_data.get("tornado")
    assert eng.html_data["segments"] == [] and {r["segment"] for r in eng.html_data["scorecard"]} == {"All accounts"}
    # the review tracks no KPI by quadrants this small: its own tables hold "All accounts" only, so every
    # deliverable (the KPI dashboard's scorecard and tracking sheets too) follows them
    for table in ("kpi_scorecard", "kpi_tracking"):
        assert set(eng.run.read_table(table)["segment"].astype(str)) == {"All accounts"}, table
    assert eng.run.read_table("cohort_retention").empty  # refused cohorts: the assessment keeps no row of them
    matrix_sheet = " ".join(str(v) for row in eng.workbook["Portfolio matrix"] for v in row if v is not None)
    assert "Not shown: only" in matrix_sheet and "accounts (" not in matrix_sheet


def _names_a_quadrant(text: str, quadrants) -> list[str]:
    return [q for q in quadrants if re.search(rf"\b{re.escape(q)}\b", text)]


def test_a_base_too_small_for_the_matrix_names_no_quadrant_on_a_client_page(eng):
    """The quadrants are still computed on a degenerate client (playbooks and coverage use them), but no
    client page names one as if the segmentation existed: the coverage slide shows all accounts and says
    why it is not split, the baseline slide counts no quadrant, the workbook's summary, accounts, CLV and
    overrides sheets name none, and the phase-status slide does not tick the playbooks the deck leaves
    out. The other clients keep their quadrants on the same pages."""
    quadrants = eng.run.params.segmentation.quadrant_names.ordered()
    # the coverage slide: its takeaway 'Coverage 57% of accounts' (a chart of hours, or a statement when none)
    coverage = next(s for s in eng.deck if any(re.match(r"Coverage \d", line) for line in s.all_text.splitlines()))
    summary = " ".join(str(v) for row in eng.workbook["Summary"] for v in row if v is not None)
    if eng.name != "degenerate":
        assert _names_a_quadrant(coverage.all_text, quadrants) and _names_a_quadrant(summary, quadrants)
        return
    why = Capability.of(eng.run).caveat("portfolio_matrix")
    assert why.startswith("only 8 live accounts")
    assert not _names_a_quadrant(coverage.all_text, quadrants), coverage.all_text
    # one 'All accounts' row: its bar, or (no manager hours to chart) its takeaway line
    assert (coverage.charts[0]["categories"] == ["All accounts"] if coverage.charts
            else any(line.startswith("All accounts: ") for line in coverage.all_text.splitlines())), coverage.all_text
    assert f"Not split by portfolio quadrant: {why}." in coverage.all_text  # the whole reason, with what unlocks it
    assert "Not split by portfolio quadrant: only 8 live accounts; at least 20 live accounts are needed" in \
        coverage.all_text.splitlines()  # the takeaway, in a few words
    baseline = next(s for s in eng.deck if s.title.startswith("This review sets the baseline"))
    assert not _names_a_quadrant(baseline.all_text, quadrants) and "no portfolio quadrants, as " + why in baseline.all_text
    assert not _names_a_quadrant(summary, quadrants) and f"Not split by portfolio quadrant: {why}." in summary
    for sheet in ("Accounts", "CLV", "Overrides log", "README"):  # the README says what each sheet shows here
        text = " ".join(str(v) for row in eng.workbook[sheet] for v in row if v is not None)
        assert not _names_a_quadrant(text, quadrants) and not re.search(r"\bQuadrant\b", text), sheet
    for export in ("segment_assignments.csv", "coverage_assignments.csv"):  # nor into the client's CRM
        crm = pd.read_csv(eng.run.dir / "deliverables" / export, dtype=str, keep_default_na=False)
        assert len(crm) == 8 and not set(crm["segment"]) & set(quadrants), (export, set(crm["segment"]))
    calendar = " ".join(str(v) for row in eng.kpi_book.get("Operating calendar", []) for v in row if v is not None)
    assert "business reviews" in calendar and not _names_a_quadrant(calendar, quadrants)  # reviews with key accounts
    status = next(s for s in eng.deck if "KAM phases" in s.title)
    assert "✓ Playbooks" not in status.all_text and "Playbooks" in status.all_text
    assert not any(s.title.startswith(q) for s in eng.deck for q in quadrants)
