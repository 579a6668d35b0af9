"""The hostile-input corpus (tests/corpus/): every file loads correctly or fails clearly.

Each case names a corpus file, which client table it stands for, the FileSpec settings
the consultant would give, and the expected outcome: loads (with the values the rule in
docs/data_rules.md says) or fails (with the message asserted). A failing file never
leaves a run folder behind and never shows a traceback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from data_helpers import TRANSACTIONS, write_params
from kam_analysis.cli import main
from kam_analysis.config import load_params
from kam_analysis.data.prepare import prepare_run_data
from kam_analysis.data.validate import validate_data
from kam_analysis.data.runfolder import Run

CORPUS = Path(__file__).parent / "corpus"


@dataclass
class Case:
    file: str
    table: str = "transactions"
    spec: dict = field(default_factory=dict)
    error: str | None = None  # regex of the one error message expected
    warning: str | None = None  # regex of a warning expected
    as_of: str = "2024-12-31"


ERRORS = [
    Case("comma_file_said_semicolon.csv", spec={"delimiter": ";"},
         error=r"The transactions file was read as a single column, so none of its columns were found"
               r"[\s\S]*it looks delimited by ',': set data\.transactions\.delimiter to ','"),
    Case("bom_only.csv", error=r"The transactions file has no header and no rows \(only blank space\)"),
    Case("empty.csv", error=r"The transactions file is empty \(0 bytes\)"),
    Case("blank_lines.csv", error=r"The transactions file has no header and no rows \(only blank space\)"),
    Case("header_only.csv", error=r"The transactions file has a header but no rows"),
    Case("excel_two_sheets.xlsx", spec={"sheet": "Order"},
         error=r"Sheet 'Order' not found in the transactions workbook[\s\S]*fix: set data\.transactions\.sheet to "
               r"one of: Notes, Orders"),
    Case("excel_total_row.xlsx",
         error=r"Row 9 of the transactions file is a totals row, not a transaction \(file .*excel_total_row\.xlsx, "
               r"column 'account_id'\)[\s\S]*examples: \"row 9: account_id is 'Total'\"[\s\S]*"
               r"fix: delete the totals and subtotal rows"),
    Case("european_amounts_without_decimal_setting.csv",
         error=r"2 values in net_revenue cannot be read as numbers[\s\S]*examples: 'row 2: 1\.234,50', 'row 3: 80,5'[\s\S]*"
               r"set data\.transactions\.decimal: ','"),
    Case("conflicting_date_formats.csv",
         error=r"Dates mix day-first and month-first formats[\s\S]*examples: 'row 2: 25/03/2024', 'row 3: 03/25/2024'"),
    Case("excel_serial_dates.csv",
         error=r"2 values in order_date cannot be read as dates[\s\S]*examples: 'row 2: 45306', 'row 3: 45323'"),
    # "25.000" in a semicolon file: twenty-five thousand or 25.0? Refused, never read as 25.0
    Case("european_thousands_no_decimals.csv",
         error=r"2 values of net_revenue have a dot before exactly three digits \(e\.g\. 25\.000\)[\s\S]*"
               r"examples: 'row 2: 25\.000', 'row 3: 1\.500'[\s\S]*fix: set data\.transactions\.decimal: ',' if the "
               r"dot separates thousands[\s\S]*or data\.transactions\.decimal: '\.' if it is a decimal point"),
    Case("semicolon_comma_thousands.csv",
         error=r"2 values of net_revenue have a comma before exactly three digits \(e\.g\. 25,000\) in a "
               r"semicolon-separated file[\s\S]*examples: 'row 2: 25,000', 'row 3: 1,500'[\s\S]*"
               r"fix: set data\.transactions\.decimal: '\.' if the comma separates thousands"),
    Case("totals_row_labelled.csv",
         error=r"Row 5 of the transactions file is a totals row, not a transaction[\s\S]*"
               r"examples: \"row 5: account_id is 'Grand Total:'\""),
    Case("totals_row_unlabelled.csv",
         error=r"Row 6 of the transactions file is a totals row, not a transaction[\s\S]*"
               r"examples: 'row 6: net_revenue 1,400\.00 is the sum of all other rows'"),
    Case("duplicate_headers.csv", spec={"columns": {"net_revenue": "Net Amount"}},
         error=r"The transactions file has 2 columns named 'Net Amount' and 'Net Amount' \(the same name up to case "
               r"and spaces\), so which one is net_revenue is ambiguous[\s\S]*fix: rename all but one of them"),
    Case("headers_case_and_spaces.csv", spec={"columns": {"net_revenue": "Net Revenue"}},
         error=r"The transactions file has 2 columns named 'Net Revenue' and 'net  revenue' \(the same name up to "
               r"case and spaces\)"),
    Case("surveys_nps_fraction.csv", table="surveys",
         error=r"1 values of nps are not whole numbers \(file .*surveys_nps_fraction\.csv, column 'nps'\)[\s\S]*"
               r"examples: 'row 3: 9\.5'[\s\S]*a value such as 9\.5 is an average or a typing error"),
    Case("zero_dates.csv",
         error=r"4 values of order_date are before 1990-01-01[\s\S]*examples: 'row 3: 1899-12-30', "
               r"'row 4: 1899-12-31', 'row 5: 1900-01-00', 'row 6: 1985-06-01'[\s\S]*how a spreadsheet shows an "
               r"empty date"),
    Case("image_renamed.csv", error=r"The transactions file is not a text file: it looks like a PNG image"),
    Case("excel_two_sheets.xlsx",
         error=r"The transactions columns are not on the workbook's first sheet 'Notes'; sheet 'Orders' holds them"
               r"[\s\S]*fix: set data\.transactions\.sheet: \"Orders\""),
    Case("excel_uncalculated_formulas.xlsx",
         error=r"2 formula cells in the transactions sheet 'Orders' have no calculated value[\s\S]*"
               r"examples: 'D3', 'D4'[\s\S]*fix: open the workbook in Excel \(or LibreOffice\), let it calculate, "
               r"save it"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c.file for c in ERRORS])
def test_corpus_file_fails_with_one_clear_message(case, tmp_path):
    params_path = write_params(tmp_path, **{case.table: {"path": CORPUS / case.file, **case.spec}},
                               as_of=case.as_of)
    report = validate_data(load_params(params_path))
    assert len(report.errors) == 1, report.summary()
    assert re.search(case.error, str(report.errors[0])), str(report.errors[0])


@pytest.mark.parametrize("case", ERRORS, ids=[c.file for c in ERRORS])
def test_corpus_error_in_kam_run_leaves_no_run_folder(case, tmp_path, capsys):
    params_path = write_params(tmp_path, **{case.table: {"path": CORPUS / case.file, **case.spec}})
    code = main(["run", str(params_path), "--quiet", "--no-deliverables"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert re.search(case.error, err)
    client_dir = tmp_path / "outputs" / "test-client"
    assert not client_dir.exists() or list(client_dir.iterdir()) == []


# --------------------------------------------------------------------------- files that load
def _prepare(tmp_path: Path, **tables) -> tuple[Run, object]:
    params = load_params(write_params(tmp_path, **tables))
    run_dir = tmp_path / "run"
    report = prepare_run_data(params, run_dir)
    return Run(run_dir, params), report


def _revenue(run: Run) -> dict[str, float]:
    s = run.read_table("account_summary")
    return dict(zip(s["account_id"], s["revenue"].round(2)))


def test_semicolon_delimiter_and_decimal_comma(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "semicolon_decimal_comma.csv", "decimal": ","})
    assert _revenue(run) == {"A1": 1234.5, "A2": 80.0, "A3": -12.5}
    t = run.read_data("transactions")
    assert str(pd.Timestamp(t.loc[t["order_id"] == "O1", "order_date"].iloc[0]).date()) == "2024-01-15"  # 15.01.2024


def test_tab_delimited(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "tab_delimited.tsv"})
    assert _revenue(run) == {"A1": 100.0, "A2": 80.0}


def test_windows_line_endings(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "windows_line_endings.csv"})
    assert _revenue(run) == {"A1": 100.0, "A2": 80.0}


@pytest.mark.parametrize("file", ["accounts_latin1.csv", "accounts_utf8_bom.csv", "accounts_utf16.csv",
                                  "accounts_utf16_no_bom.csv"])
def test_encodings_give_the_same_names(file, tmp_path):
    run, _ = _prepare(tmp_path, transactions=TRANSACTIONS, accounts={"path": CORPUS / file})
    acc = run.read_data("accounts").set_index("account_id")
    assert list(acc.columns[:1]) == ["account_name"]  # no BOM glued to the first column name
    assert acc.loc["A1", "account_name"] == "Société Générale"
    assert acc.loc["A2", "account_name"] == "Müller & Söhne"
    assert acc.loc["A1", "region"] == "Île-de-France"


def test_european_thousands_proven_by_a_value_with_two_dots(tmp_path):
    run, rep = _prepare(tmp_path, transactions={"path": CORPUS / "european_thousands_proven.csv"})
    assert _revenue(run) == {"A1": 25000.0, "A2": 1234567.0, "A3": 800.0}
    assert re.search(r"The dots in net_revenue separate thousands[\s\S]*examples: 'row 2: 25\.000', "
                     r"'row 3: 1\.234\.567'", "\n".join(map(str, rep.warnings)))


def test_european_thousands_with_the_decimal_setting(tmp_path):
    run, rep = _prepare(tmp_path, transactions={"path": CORPUS / "european_thousands_no_decimals.csv",
                                                "decimal": ","})
    assert _revenue(run) == {"A1": 25000.0, "A2": 1500.0, "A3": 800.0}
    assert rep.warnings == []


def test_semicolon_file_with_commas_as_thousands_when_said_so(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "semicolon_comma_thousands.csv", "decimal": "."})
    assert _revenue(run) == {"A1": 25000.0, "A2": 1500.0, "A3": 800.0}


def test_dots_as_decimal_points_when_said_so(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "european_thousands_no_decimals.csv",
                                              "decimal": "."})
    assert _revenue(run) == {"A1": 25.0, "A2": 1.5, "A3": 800.0}


def test_placeholders_are_missing_values_in_text_columns(tmp_path):
    run, _ = _prepare(tmp_path, transactions=TRANSACTIONS, accounts={"path": CORPUS / "accounts_placeholders.csv"})
    acc = run.read_data("accounts").set_index("account_id")
    assert acc["region"].isna().tolist() == [True, True, True, True, False]
    assert acc["account_manager"].isna().tolist() == [True, True, True, True, False]
    assert acc.loc["A5", "region"] == "Nord" and acc.loc["A5", "account_manager"] == "Ana"


@pytest.mark.parametrize("machine_zone", ["Pacific/Kiritimati", "America/Los_Angeles", "UTC"])
@pytest.mark.parametrize("file,dates", [
    ("orders_tz_paris.parquet", ["2024-03-31", "2024-06-30"]),  # the date on the clock in Paris
    ("orders_tz_utc.parquet", ["2024-03-31", "2024-06-30"]),  # the date in UTC
])
def test_time_zone_aware_timestamps_dated_in_their_own_zone(file, dates, machine_zone, tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("TZ", machine_zone)
    time.tzset()
    try:
        run, _ = _prepare(tmp_path, transactions={"path": CORPUS / file})
        t = run.read_data("transactions").sort_values("order_id")
        assert [str(pd.Timestamp(d).date()) for d in t["order_date"]] == dates
    finally:
        monkeypatch.undo()
        time.tzset()


def test_excel_header_rows_above_the_table(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "excel_title_rows.xlsx"})
    assert _revenue(run) == {"A1": 100.0, "A2": 80.0, "A3": 1200.0}
    t = run.read_data("transactions").set_index("order_id")
    assert str(pd.Timestamp(t.loc["O1", "order_date"]).date()) == "2024-01-15"  # a real Excel date cell


def test_excel_merged_id_cells_fill_their_rows(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "excel_merged_cells.xlsx"})
    s = run.read_table("account_summary").set_index("account_id")
    assert s.loc["A1", "n_orders"] == 3 and s.loc["A1", "revenue"] == pytest.approx(370.5)
    assert s.loc["A2", "n_orders"] == 1


def test_excel_sheet_by_name(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "excel_two_sheets.xlsx", "sheet": "Orders"})
    assert _revenue(run) == {"A1": 100.0}


def test_thousands_separators_currency_and_signs(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "thousands_and_currency.csv"})
    t = run.read_data("transactions").set_index("order_id")["net_revenue"].to_dict()
    assert t == {"O1": 1234.5, "O2": 2000.0, "O3": -45.0, "O4": 12.0, "O5": 1234.0, "O6": -12.5,
                 "O7": 1500.0, "O8": -7.0}


def test_mixed_but_unambiguous_date_formats(tmp_path):
    run, rep = _prepare(tmp_path, transactions={"path": CORPUS / "mixed_date_formats.csv"})
    t = pd.to_datetime(run.read_data("transactions").set_index("order_id")["order_date"]).dt.strftime("%Y-%m-%d")
    t = t.to_dict()
    assert t == {"O1": "2024-01-15", "O2": "2024-03-25", "O3": "2024-03-05", "O4": "2024-04-02",
                 "O5": "2024-04-30", "O6": "2024-06-07"}
    assert rep.warnings == []


def test_negative_and_zero_amounts(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "negative_and_zero_amounts.csv"})
    s = run.read_table("account_summary").set_index("account_id")
    # returns net off inside an order; a zero or negative order is not a purchase
    assert s.loc["A1", "revenue"] == 70.0 and s.loc["A1", "n_orders"] == 1
    assert s.loc["A2", "revenue"] == 0.0 and s.loc["A2", "n_orders"] == 1
    assert s.loc["A3", "revenue"] == -15.0 and s.loc["A3", "n_orders"] == 0


def test_single_account(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "single_account.csv"}, as_of="2024-12-31")
    s = run.read_table("account_summary")
    assert len(s) == 1 and s.loc[0, "n_orders"] == 12 and s.loc[0, "revenue"] == sum(range(101, 113))
    assert len(run.read_table("account_period")) == 4  # quarters


def test_all_orders_on_one_day(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "all_orders_one_day.csv"})
    s = run.read_table("account_summary")
    assert (s["tenure_days"] == s["recency_days"]).all() and (s["recency_days"] == 0).all()
    assert run.read_table("account_period")["period_start"].nunique() == 1


def test_duplicated_lines_kept_as_lines_of_their_order_with_a_warning(tmp_path):
    run, rep = _prepare(tmp_path, transactions={"path": CORPUS / "duplicated_orders.csv"})
    assert _revenue(run) == {"A1": 200.0, "A2": 240.0, "A3": 1200.0}
    assert run.read_table("account_summary").set_index("account_id")["n_orders"].to_dict() == {"A1": 1, "A2": 1, "A3": 1}
    assert re.search("3 transaction rows repeat another row exactly .* kept as further lines of the same order",
                     "\n".join(map(str, rep.warnings)))


def test_quoted_newlines_inside_a_field(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "orders_quoted_newlines.csv"})
    cats = run.read_table("account_category").set_index("account_id")["category"].to_dict()
    assert cats == {"A1": "Home\ndecor", "A2": "Apparel"}


def test_surveys_for_unknown_accounts(tmp_path):
    run, rep = _prepare(tmp_path, transactions=TRANSACTIONS,
                        surveys={"path": CORPUS / "surveys_unknown_accounts.csv"})
    assert re.search(r"2 survey responses are for accounts not in the data; they are ignored[\s\S]*"
                     r"examples: 'X8 \(row 4\)', 'X9 \(row 3\)'", "\n".join(map(str, rep.warnings)))
    s = run.read_table("account_summary").set_index("account_id")
    assert s.loc["A1", "nps_mean"] == 9 and s["n_responses"].sum() == 1


def test_extremely_long_names(tmp_path):
    run, _ = _prepare(tmp_path, transactions=TRANSACTIONS, accounts={"path": CORPUS / "accounts_long_names.csv"})
    names = run.account_display_names()
    assert len(names["A3"]) == 40000 and names["A2"] == "Beta"  # kept whole in the data ...
    import openpyxl

    from kam_analysis.deliverables._xlsx import write_cell

    ws = openpyxl.Workbook().active
    assert len(write_cell(ws, 1, 1, names["A3"]).value) == 32767  # ... cut to Excel's cell limit on output


def test_formula_like_names_load_as_text_and_are_neutralised_in_csv(tmp_path):
    run, _ = _prepare(tmp_path, transactions=TRANSACTIONS, accounts={"path": CORPUS / "accounts_formula_names.csv"})
    acc = run.read_data("accounts").set_index("account_id")
    assert acc.loc["A1", "account_name"] == '=HYPERLINK("http://evil.example","click")'
    assert acc.loc["A3", "region"] == "=1+1"
    csv_text = (run.tables_dir / "account_summary.csv").read_text(encoding="utf-8")
    cells = pd.read_csv(run.tables_dir / "account_summary.csv", dtype=str, keep_default_na=False)
    for col in ("account_name", "region"):
        for v in cells[col]:
            assert not v.startswith(("=", "+", "-", "@")), v
    assert "'=HYPERLINK" in csv_text and "'@SUM(A1:A9)" in csv_text and "'-cmd|calc" in csv_text


def test_control_characters_removed(tmp_path):
    run, _ = _prepare(tmp_path, transactions=TRANSACTIONS, accounts={"path": CORPUS / "accounts_control_chars.csv"})
    acc = run.read_data("accounts").set_index("account_id")["account_name"].to_dict()
    assert acc == {"A1": "Alpha Ltd", "A2": "Be[31mta[0m", "A3": "Gamma SA"}


def test_formula_like_account_ids_are_neutralised_in_csv(tmp_path):
    run, _ = _prepare(tmp_path, transactions={"path": CORPUS / "ids_formula_like.csv"})
    assert sorted(run.read_table("account_summary")["account_id"]) == ["+A2", "=A1"]
    for name in run.tables():
        text = (run.tables_dir / f"{name}.csv").read_text(encoding="utf-8")
        assert not re.search(r"(^|,)[=+]A", text, flags=re.M), name


def test_every_corpus_file_has_a_test():
    tested = {c.file for c in ERRORS} | set(re.findall(r'"([\w.-]+\.(?:csv|tsv|xlsx|parquet))"',
                                                        Path(__file__).read_text()))
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in {".csv", ".tsv", ".xlsx", ".parquet"}}
    assert on_disk - tested == set()


# --------------------------------------------------------------------------- whole engagement
def _run_all(params_path: Path, capsys) -> tuple[int, str]:
    code = main(["run", str(params_path), "--quiet", "--no-deliverables"])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.slow
@pytest.mark.parametrize("file", ["single_account.csv", "all_orders_one_day.csv", "negative_and_zero_amounts.csv"])
def test_engagement_survives_degenerate_data(file, tmp_path, capsys):
    params_path = write_params(tmp_path, transactions={"path": CORPUS / file})
    code, text = _run_all(params_path, capsys)
    assert "Traceback (most recent call last)" not in text.split("Notebook")[0]
    assert code == 0, text


@pytest.mark.parametrize("delimiter,values,expected", [
    # a value with two commas proves the commas separate thousands: read so, nothing to say
    (";", ("25,000", "1,234,567", "800"), (25000.0, 1234567.0, 800.0)),
    # a decimal point elsewhere in the column decides: the commas separate thousands
    (";", ("25,000", "1,500", "12.50"), (25000.0, 1500.0, 12.5)),
    # a dot before other than three digits decides: the dots are decimal points
    (",", ("25.000", "1.500", "1.5"), (25.0, 1.5, 1.5)),
])
def test_thousands_groups_decided_by_another_value_in_the_column(delimiter, values, expected, tmp_path):
    header = delimiter.join(("account_id", "order_id", "order_date", "net_revenue"))
    rows = "".join(delimiter.join((f"A{i}", f"O{i}", "2024-01-15", v)) + "\n" for i, v in enumerate(values, 1))
    run, rep = _prepare(tmp_path, transactions={"content": header + "\n" + rows})
    assert _revenue(run) == {f"A{i}": v for i, v in enumerate(expected, 1)}
    assert not [w for w in rep.warnings if "thousand" in str(w) or "decimal" in str(w)]
