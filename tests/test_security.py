"""Client strings are data, never code: CSV/XLSX formula neutralisation, HTML escaping,
path containment of the client slug and output paths, pseudonymisation, and parameter
values reaching notebooks as data.

The generic checks (``check_outputs_are_inert``) walk whatever files a run wrote —
tables, deliverables of any kind — so deliverables added later are covered too.
"""
from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from data_helpers import write_params
from kam_analysis.config import client_slug, load_params
from kam_analysis.data.prepare import prepare_run_data
from kam_analysis.deliverables._xlsx import write_cell, write_frame
from kam_analysis.exceptions import ParameterError
from kam_analysis.data.runfolder import Run
from kam_analysis.safety import is_formula_like, neutralise_formula, neutralise_frame_for_csv

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C notepad'!'A1'",
]
HTML_HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
REGION_MARKUP = "<script>alert(1)</script><b onmouseover=alert(2)>R</b>"
#: markup that would act in a browser: a script with client code, an event handler in a tag
LIVE_MARKUP = re.compile(r"<script>alert\(|<[a-z]+[^<>]*\son(error|mouseover)=", re.I)


# --------------------------------------------------------------------------- helpers used on any run
def _csv_cells(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            yield from row


def _xlsx_problems(path: Path, client_strings: list[str]) -> list[str]:
    """Formula cells that carry client text, or client text stored other than as a string."""
    problems = []
    wb = openpyxl.load_workbook(path)  # formulas kept as formulas
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if cell.data_type == "f" and any(s.strip()[:12] in str(v) for s in client_strings):
                    problems.append(f"{ws.title}!{cell.coordinate}: formula built from client text {v!r}")
    # belt and braces: the sheet XML must not hold a client string inside an <f> element
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8", "replace")
                for f in re.findall(r"<f>(.*?)</f>", xml):
                    if any(tok in f for tok in ("HYPERLINK", "cmd|", "SUM(A1:A9)")):
                        problems.append(f"{name}: <f>{f}</f>")
    return problems


def _pptx_chart_problems(path: Path, client_strings: list[str]) -> list[str]:
    """Formula cells in the deck charts' embedded data workbooks (PowerPoint's Edit Data)."""
    import io
    import tempfile

    problems = []
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("ppt/embeddings/") and name.endswith(".xlsx"):
                with tempfile.NamedTemporaryFile(suffix=".xlsx") as fh:
                    fh.write(io.BytesIO(z.read(name)).getvalue())
                    fh.flush()
                    problems += [f"{name}: {p}" for p in _xlsx_problems(Path(fh.name), client_strings)]
                with zipfile.ZipFile(io.BytesIO(z.read(name))) as inner:
                    for sheet in inner.namelist():
                        if sheet.startswith("xl/worksheets/") and "<f>" in inner.read(sheet).decode("utf-8", "replace"):
                            problems.append(f"{name}:{sheet}: a formula in a chart's data workbook")
    return problems


def check_outputs_are_inert(run_dir: Path, client_strings: list[str]) -> list[str]:
    """Every CSV cell, XLSX cell and HTML text in a run folder that could run client text as code."""
    problems = []
    for path in sorted(run_dir.rglob("*")):
        if path.suffix == ".csv":
            for cell in _csv_cells(path):
                if is_formula_like(cell):
                    problems.append(f"{path.relative_to(run_dir)}: formula-like cell {cell!r}")
        elif path.suffix == ".xlsx":
            problems += [f"{path.relative_to(run_dir)}: {p}" for p in _xlsx_problems(path, client_strings)]
        elif path.suffix == ".pptx":
            problems += [f"{path.relative_to(run_dir)}: {p}" for p in _pptx_chart_problems(path, client_strings)]
        elif path.suffix in {".html", ".htm"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            if "<script>alert(" in text or "onerror=alert" in text:
                problems.append(f"{path.relative_to(run_dir)}: client markup reached the HTML unescaped")
    return problems


# --------------------------------------------------------------------------- CSV
def test_write_table_csv_neutralises_every_text_column(tmp_path, monkeypatch):
    from kam_analysis.data.tables import TABLES, TableSpec

    params = load_params(write_params(tmp_path))
    run = Run(tmp_path / "run", params)
    df = pd.DataFrame({
        "obj": pd.Series(HOSTILE, dtype=object),
        "str": pd.Series(HOSTILE, dtype="str"),
        "cat": pd.Categorical(HOSTILE),
        "num_text": ["-12.5", "+3", "-0.5", "1e3", "-7", "+1.0", "-1"],
        "num": range(7),
    })
    df["=evil_header"] = "x"
    monkeypatch.setitem(TABLES, "hostile", TableSpec("hostile", "assessment", "value", "client text", ("obj",),
                                                     tuple(df.columns[1:])))
    run.write_table("hostile", df)
    cells = list(_csv_cells(run.tables_dir / "hostile.csv"))
    assert [c for c in cells if is_formula_like(c)] == []
    back = pd.read_csv(run.tables_dir / "hostile.csv", dtype=str, keep_default_na=False)
    assert back.columns[-1] == "'=evil_header"
    assert back["obj"][0] == "'" + HOSTILE[0] and back["str"][3] == "'@SUM(A1:A9)" and back["cat"][2] == "'-2+3"
    assert list(back["num_text"]) == ["-12.5", "+3", "-0.5", "1e3", "-7", "+1.0", "-1"]  # numbers stay numbers
    # the Parquet copy keeps the exact text for the analysis
    assert list(run.read_table("hostile")["obj"]) == HOSTILE


@pytest.mark.parametrize("value", HOSTILE)
def test_neutralise_formula(value):
    assert neutralise_formula(value).startswith("'")
    assert not is_formula_like(neutralise_formula(value))


def test_neutralise_frame_leaves_input_untouched():
    df = pd.DataFrame({"a": ["=1"]})
    out = neutralise_frame_for_csv(df)
    assert df["a"][0] == "=1" and out["a"][0] == "'=1"


# --------------------------------------------------------------------------- XLSX
def test_xlsx_write_cell_never_writes_a_formula(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for i, v in enumerate(HOSTILE + ["=1+1"], 1):
        cell = write_cell(ws, i, 1, v)
        assert cell.data_type == "s"
    write_frame(ws, pd.DataFrame({"=name": HOSTILE}), start_row=20, table="t")
    path = tmp_path / "w.xlsx"
    wb.save(path)
    again = openpyxl.load_workbook(path)
    values = [c.value for c in again.active["A"] if c.value is not None]
    assert HOSTILE[0] in values and "=1+1" in values
    assert all(c.data_type != "f" for row in again.active.iter_rows() for c in row)
    assert _xlsx_problems(path, HOSTILE) == []
    with zipfile.ZipFile(path) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_write_cell_strips_control_characters_and_nan():
    ws = openpyxl.Workbook().active
    assert write_cell(ws, 1, 1, "Alpha\x07 Ltd").value == "Alpha Ltd"
    assert write_cell(ws, 2, 1, float("nan")).value is None
    assert write_cell(ws, 3, 1, float("inf")).value is None


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize("name,slug", [
    ("../../etc", "etc"),
    ("../../../root/.ssh", "root-ssh"),
    ("Acme/../../x", "acme-x"),
    ("C:\\Windows\\System32", "c-windows-system32"),
    ("Ünïcödé Retail", "unicode-retail"),
    ("  Maison   Demo  ", "maison-demo"),
    ("a" * 200, "a" * 60),
])
def test_client_slug_stays_a_plain_folder_name(name, slug):
    s = client_slug(name)
    assert s == slug
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s) and len(s) <= 60


@pytest.mark.parametrize("name", ["名前", "Ünïcödé ∞ 名前"])
def test_non_latin_client_name_gets_a_safe_hashed_folder(name):
    s = client_slug(name)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s) and len(s) <= 60
    assert client_slug(name) == s


@pytest.mark.parametrize("name", ["..", "/", "...", "\u202e", "   "])
def test_client_name_without_letters_is_refused(name, tmp_path):
    with pytest.raises(ParameterError, match="has no letters or digits to build a folder name from"):
        client_slug(name)


def test_hostile_client_name_runs_inside_output_root(tmp_path, capsys):
    from kam_analysis.cli import main

    params_path = write_params(tmp_path, name="../../../etc/passwd")
    # a data error stops before notebooks, but after the client folder is chosen
    (tmp_path / "client" / "transactions.csv").write_text("account_id\n")
    assert main(["run", str(params_path), "--quiet"]) == 2
    capsys.readouterr()
    created = [p for p in tmp_path.rglob("*") if p.is_dir()]
    assert all(str(p).startswith(str(tmp_path)) for p in created)
    from kam_analysis.runner import _client_dir

    assert _client_dir(load_params(params_path)) == (tmp_path / "outputs" / "etc-passwd").resolve()
    assert not (tmp_path / "outputs" / "etc-passwd").exists()  # a data error leaves no empty client folder


@pytest.mark.parametrize("bad", ["../x.xlsx", "/etc/passwd", "a/b.pptx", "..\\x.html", ".hidden"])
def test_deliverable_and_table_names_cannot_leave_the_run(bad, tmp_path):
    run = Run(tmp_path / "run", load_params(write_params(tmp_path)))
    with pytest.raises(ValueError, match="must be a plain file name"):
        run.deliverable_path(bad)
    with pytest.raises(ValueError, match="must be lower_snake_case"):
        run.table_path(bad)


# --------------------------------------------------------------------------- pseudonymisation
ACCOUNTS_NAMED = """account_id,account_name
A3,Gamma SA
A1,Alpha Ltd
A2,=Beta
"""


def _prepared(tmp_path, pseudonymise: bool) -> Run:
    params = load_params(write_params(tmp_path, accounts=ACCOUNTS_NAMED,
                                      extra={"output": {"root": str(tmp_path / "out"), "pseudonymise": pseudonymise}}))
    prepare_run_data(params, tmp_path / "run")
    return Run(tmp_path / "run", params)


def test_pseudonymise_replaces_names_and_keeps_mapping_private(tmp_path):
    run = _prepared(tmp_path, True)
    names = run.account_display_names()
    assert names.to_dict() == {"A1": "Account 0001", "A2": "Account 0002", "A3": "Account 0003"}
    mapping = pd.read_csv(run.dir / "private" / "pseudonyms.csv", dtype=str)
    assert mapping.to_dict("records") == [
        {"account_id": "A1", "pseudonym": "Account 0001", "account_name": "Alpha Ltd"},
        {"account_id": "A2", "pseudonym": "Account 0002", "account_name": "'=Beta"},
        {"account_id": "A3", "pseudonym": "Account 0003", "account_name": "Gamma SA"},
    ]
    # the mapping is never among the client deliverables
    assert not (run.deliverables_dir.exists() and any("pseudonym" in p.name for p in run.deliverables_dir.iterdir()))


def test_without_pseudonymise_real_names_and_no_private_folder(tmp_path):
    run = _prepared(tmp_path, False)
    assert run.account_display_names().to_dict() == {"A1": "Alpha Ltd", "A2": "=Beta", "A3": "Gamma SA"}
    assert not (run.dir / "private").exists()


def test_pseudonyms_are_stable_across_calls(tmp_path):
    run = _prepared(tmp_path, True)
    assert run.account_display_names().equals(run.account_display_names())


# --------------------------------------------------------------------------- deck chart data workbooks
def test_deck_chart_data_workbooks_hold_client_text_as_text(tmp_path):
    """python-pptx writes a chart's data into an embedded workbook with XlsxWriter, whose
    write() turns "=..." into a formula; the deck's chart data classes switch that off."""
    from pptx import Presentation
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    from kam_analysis.deliverables._pptx import BubbleChartData, CategoryChartData, XyChartData

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    cd = CategoryChartData()
    cd.categories = HOSTILE[:4] + ["http://evil.example", "12"]
    cd.add_series("@SUM(A1:A9)", [1, 2, 3, 4, 5, 6])
    xy, bubble = XyChartData(), BubbleChartData()
    xy.add_series("=cmd|' /C notepad'!'A1'").add_data_point(1, 2)
    bubble.add_series("+1+cmd|' /C calc'!A0").add_data_point(1, 2, 3)
    for kind, data in ((XL_CHART_TYPE.COLUMN_CLUSTERED, cd), (XL_CHART_TYPE.XY_SCATTER, xy),
                       (XL_CHART_TYPE.BUBBLE, bubble)):
        slide.shapes.add_chart(kind, Inches(1), Inches(1), Inches(4), Inches(3), data)
    path = tmp_path / "deck.pptx"
    prs.save(path)
    assert _pptx_chart_problems(path, HOSTILE) == []
    # the text is there, as text, for the consultant who opens Edit Data
    with zipfile.ZipFile(path) as z:
        [first] = [n for n in z.namelist() if n.startswith("ppt/embeddings/")][:1]
        wb = openpyxl.load_workbook(io_bytes(z.read(first)))
    cells = [c.value for row in wb.active.iter_rows() for c in row]
    assert HOSTILE[0] in cells and "@SUM(A1:A9)" in cells and "http://evil.example" in cells
    assert "12" in cells  # a category that looks like a number stays the label it was
    assert not wb.active._hyperlinks


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)


# --------------------------------------------------------------------------- whole engagement
# Short enough to fit the deck's length limits on titles (engagement.title <= 120 characters)
CODE = "__import__('os').mkdir(r'PWNED_PATH')"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A full `kam run` of a small demo client whose names are formulas and markup, with
    pseudonymisation on and parameter values that look like Python code."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import write_demo_params
    from kam_analysis.cli import main
    from kam_analysis.data.prepare import ensure_demo_data

    import tempfile

    tmp = tmp_path_factory.mktemp("hostile_run")
    pwned = Path(tempfile.mkdtemp(prefix="k")) / "P"  # a short path keeps the payload short
    code = CODE.replace("PWNED_PATH", str(pwned))
    params_path = write_demo_params(tmp, n_accounts=120, seed=11, name=f'Evil "Co"; {code} #',
                                    extra={"output": {"root": str(tmp / "outputs"), "pseudonymise": True}})
    ensure_demo_data(load_params(params_path))
    customers = pd.read_csv(tmp / "data" / "customers.csv", dtype=str, keep_default_na=False)
    bad = HOSTILE + [HTML_HOSTILE]
    customers.loc[: len(bad) - 1, "Customer Name"] = bad
    # regions are shown (only names are pseudonymised): hostile too, but distinct from any name
    customers.loc[: len(bad) - 1, "Region"] = [f"{'=+-@'[i % 4]}Region {i}" for i in range(len(bad))]
    customers.loc[len(bad) - 1, "Region"] = REGION_MARKUP
    # capability dimensions are shown in the notebooks' tables and the deck's charts
    capability = tmp / "data" / "kam_capability.csv"
    capability.write_text(capability.read_text().replace("Account planning", f'"{REGION_MARKUP}"')
                          .replace("Customer insight", "=1+2 insight"))
    customers.to_csv(tmp / "data" / "customers.csv", index=False, quoting=csv.QUOTE_ALL)  # as Excel would
    title = f'Title """ \n{code}\n\'\'\' "; {code}'
    argv = ["run", str(params_path), "--quiet", "--set", f"engagement.consultant={code}",
            "--set", f"engagement.title={title}"]  # text: kept as written
    exit_code = main(argv)
    runs = [p for p in (tmp / "outputs").glob("*/*") if p.is_dir()]
    return {"code": exit_code, "pwned": pwned, "runs": runs, "names": list(customers["Customer Name"]),
            "hostile": bad, "title": title}


@pytest.mark.slow
def test_parameter_values_reach_notebooks_as_data(hostile_run):
    assert hostile_run["code"] == 0
    assert not hostile_run["pwned"].exists(), "a parameter value was executed as code"
    (run_dir,) = hostile_run["runs"]
    params = json.loads((run_dir / "params.json").read_text())
    assert params["engagement"]["title"] == hostile_run["title"]
    assert params["client"]["name"].startswith('Evil "Co"; __import__')


@pytest.mark.slow
def test_no_output_of_a_hostile_run_runs_client_text(hostile_run):
    (run_dir,) = hostile_run["runs"]
    assert check_outputs_are_inert(run_dir, hostile_run["hostile"]) == []


@pytest.mark.slow
def test_executed_notebooks_exported_to_html_run_no_client_markup(hostile_run):
    """`jupyter nbconvert --to html` of the executed notebooks: client markup is shown as text."""
    import nbformat
    from nbconvert import HTMLExporter

    (run_dir,) = hostile_run["runs"]
    shown = []
    for nb_path in sorted((run_dir / "notebooks").glob("*.ipynb")):
        body, _ = HTMLExporter().from_notebook_node(nbformat.read(nb_path, as_version=4))
        assert not LIVE_MARKUP.search(body), f"{nb_path.name}: {LIVE_MARKUP.search(body).group(0)}"
        shown += [nb_path.name] if "&lt;script&gt;alert(1)" in body else []
    assert shown, "the hostile region reached no notebook output, so the test proves nothing"


def test_notebook_markdown_and_tables_escape_client_text():
    from nbconvert.filters.markdown import markdown2html

    from kam_analysis.phases.assessment import style_display
    from kam_analysis.reporting import Markdown, style_table

    md = Markdown(f"**Region:** {REGION_MARKUP} &nbsp;·&nbsp; p < 0.05")
    rendered = markdown2html(md._repr_markdown_())
    assert not LIVE_MARKUP.search(rendered) and "&lt;script&gt;alert(1)" in rendered
    assert "&amp;nbsp;" not in rendered  # the notebooks' own entities still render
    frame = pd.DataFrame({REGION_MARKUP: [REGION_MARKUP, None], "revenue": [1.5, 2.0]})
    for st in (style_table(frame, money=["revenue"], caption=REGION_MARKUP),
               style_display(frame, caption=REGION_MARKUP).format({"revenue": "{:.1f}"})):
        html_text = st.to_html()
        assert not LIVE_MARKUP.search(html_text), html_text
        assert html_text.count("&lt;script&gt;alert(1)") == 3  # header, cell, caption


@pytest.mark.slow
def test_pseudonymised_deliverables_hold_no_real_account_name(hostile_run):
    (run_dir,) = hostile_run["runs"]
    real = [n for n in hostile_run["names"] if len(n) > 6]
    leaks = []
    for path in sorted((run_dir / "deliverables").glob("*")) if (run_dir / "deliverables").exists() else []:
        text = _document_text(path)
        leaks += [f"{path.name}: {n!r}" for n in real if n in text]
    assert leaks == []
    assert (run_dir / "private" / "pseudonyms.csv").exists() or not (run_dir / "deliverables").exists()


def _document_text(path: Path) -> str:
    """All text of a deliverable (xlsx/pptx/docx are zip files of XML; html and csv are text)."""
    if path.suffix in {".xlsx", ".pptx", ".docx"}:
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    if path.suffix in {".html", ".htm", ".csv", ".txt", ".json", ".md"}:
        import html

        return html.unescape(path.read_text(encoding="utf-8", errors="replace"))
    return ""
