"""Validation rules: one test per rule, asserting the message a consultant reads."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from data_helpers import ACCOUNTS, CAPABILITY, SURVEYS, TRANSACTIONS, messages, validate
from kam_analysis.cli import main
from kam_analysis.config import load_params
from kam_analysis.data.validate import validate_data
from kam_analysis.exceptions import DataValidationError


def _raise(report):
    report.raise_for_errors()


# --------------------------------------------------------------------------- clean data
def test_clean_data_has_no_problems(tmp_path):
    rep = validate(tmp_path, accounts=ACCOUNTS, surveys=SURVEYS, capability=CAPABILITY)
    assert rep.ok, rep.summary()
    assert rep.stats["transactions"] == {"rows_read": 4, "rows_kept": 4, "orders": 4, "accounts": 3,
                                         "order_id_given": 1, "repeat_lines": 0, "copies_dropped": 0}
    got = rep.con.execute("SELECT account_id, order_id, order_date::VARCHAR, net_revenue FROM v_transactions "
                          "ORDER BY order_id").fetchall()
    assert got[1] == ("A1", "O2", "2024-03-10", 250.5)
    assert rep.con.execute("SELECT strategic_importance FROM v_accounts WHERE account_id='A3'").fetchone()[0] == 5


# --------------------------------------------------------------------------- files
def test_missing_file(tmp_path):
    rep = validate(tmp_path, transactions={"path": tmp_path / "nowhere.csv"})
    with pytest.raises(DataValidationError, match=r"The transactions file does not exist \(file .*nowhere\.csv\)"):
        _raise(rep)
    assert "fix: check data.transactions.path" in messages(rep)


def test_empty_file_zero_bytes(tmp_path):
    rep = validate(tmp_path, transactions=b"")
    with pytest.raises(DataValidationError, match=r"The transactions file is empty \(0 bytes\)"):
        _raise(rep)


def test_header_but_no_rows(tmp_path):
    rep = validate(tmp_path, transactions="account_id,order_id,order_date,net_revenue\n")
    with pytest.raises(DataValidationError, match="The transactions file has a header but no rows"):
        _raise(rep)


def test_unsupported_file_type(tmp_path):
    rep = validate(tmp_path, transactions={"content": "x", "file": "orders.json"})
    with pytest.raises(DataValidationError, match=r"File type '\.json' is not supported"):
        _raise(rep)


# --------------------------------------------------------------------------- columns
def test_missing_required_column_names_the_file_columns(tmp_path):
    rep = validate(tmp_path, transactions={"content": TRANSACTIONS.replace("net_revenue", "Amount EUR"),
                                           "columns": {"net_revenue": "Net Amount"}})
    with pytest.raises(DataValidationError,
                       match=r"Required transactions column 'net_revenue' not found \(looked for 'Net Amount'\)"):
        _raise(rep)
    text = messages(rep)
    assert "data.transactions.columns.net_revenue: \"Amount EUR\"" in text  # nearest client column suggested
    assert "'account_id', 'order_id', 'order_date', 'Amount EUR'" in text


def test_missing_mapped_optional_column(tmp_path):
    rep = validate(tmp_path, accounts={"content": ACCOUNTS, "columns": {"region": "Country"}})
    with pytest.raises(DataValidationError, match=r"Mapped accounts column 'region' not found \(looked for 'Country'\)"):
        _raise(rep)


def test_unknown_mapping_key_suggests_contract_column(tmp_path):
    rep = validate(tmp_path, transactions={"content": TRANSACTIONS, "columns": {"revenue": "net_revenue"}})
    with pytest.raises(DataValidationError, match="maps 'revenue', which is not a transactions contract column"):
        _raise(rep)
    assert "did you mean 'net_revenue'?" in messages(rep)


def test_column_names_match_case_insensitively(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("account_id", "ACCOUNT_ID "))
    assert rep.ok, rep.summary()


def test_surveys_without_nps_or_csat(tmp_path):
    rep = validate(tmp_path, surveys="account_id,survey_date,comment\nA1,2024-06-01,fine\n")
    with pytest.raises(DataValidationError, match="The surveys file has neither an NPS nor a CSAT column"):
        _raise(rep)


# --------------------------------------------------------------------------- values
def test_unparseable_dates(tmp_path):
    bad = TRANSACTIONS.replace("2024-01-15", "2024-13-45").replace("2024-02-01", "yesterday")
    rep = validate(tmp_path, transactions=bad)
    with pytest.raises(DataValidationError, match="2 values in order_date cannot be read as dates"):
        _raise(rep)
    assert "examples: 'row 2: 2024-13-45', 'row 4: yesterday'" in messages(rep)  # the header is row 1


def test_unparseable_numbers(tmp_path):
    bad = TRANSACTIONS.replace("250.50", "circa 250").replace(",80\n", ",about 80\n")
    rep = validate(tmp_path, transactions=bad)
    with pytest.raises(DataValidationError, match="2 values in net_revenue cannot be read as numbers"):
        _raise(rep)
    assert "examples: 'row 3: circa 250', 'row 4: about 80'" in messages(rep)


def test_decimal_comma_with_default_decimal_is_an_error_not_a_guess(tmp_path):
    bad = TRANSACTIONS.replace("250.50", '"250,5"')
    rep = validate(tmp_path, transactions=bad)
    with pytest.raises(DataValidationError, match="1 value in net_revenue cannot be read as numbers"):
        _raise(rep)
    assert "set data.transactions.decimal: ','" in messages(rep)


def test_missing_required_values_name_rows(tmp_path):
    bad = TRANSACTIONS.replace("A2,O3", ",O3")
    rep = validate(tmp_path, transactions=bad)
    with pytest.raises(DataValidationError, match="1 rows have no account_id"):
        _raise(rep)
    assert "examples: 'row 4'" in messages(rep)  # header is row 1


def test_implausible_number(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("1200", "1e20"))
    with pytest.raises(DataValidationError, match="1 values of net_revenue are infinite, not a number, or larger"):
        _raise(rep)


# --------------------------------------------------------------------------- ids
def test_order_id_shared_by_two_accounts(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("A2,O3", "A2,O1"))
    with pytest.raises(DataValidationError, match="1 order ids belong to more than one account"):
        _raise(rep)
    assert "examples: 'O1 (rows 2, 4)'" in messages(rep)


def test_order_lines_sharing_an_order_id_are_fine(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS + "A1,O1,2024-01-15,-20.00\n")
    assert rep.ok, rep.summary()


def test_duplicate_account_ids(tmp_path):
    rep = validate(tmp_path, accounts=ACCOUNTS + "A2,Beta again,3\n")
    with pytest.raises(DataValidationError, match="1 account ids appear more than once"):
        _raise(rep)
    assert "examples: 'A2 (rows 3, 5)'" in messages(rep)


def test_orphan_accounts(tmp_path):
    rep = validate(tmp_path, accounts=ACCOUNTS.replace("A3,Gamma SA,5\n", ""))
    with pytest.raises(DataValidationError, match=r"1 account ids in transactions are not in the accounts file \(accounts\.csv\)"):
        _raise(rep)
    assert "examples: 'A3 (row 5)'" in messages(rep)


def test_duplicate_capability_dimension(tmp_path):
    rep = validate(tmp_path, capability=CAPABILITY + "Governance,2,4\n")
    with pytest.raises(DataValidationError, match="1 capability dimensions appear more than once"):
        _raise(rep)


def test_exact_duplicate_rows_are_kept_as_lines_of_their_order(tmp_path):
    """Two identical lines are two of one item: kept (their revenue counts twice), with a note."""
    rep = validate(tmp_path, transactions=TRANSACTIONS + "A3,O4,2024-05-20,1200\n")
    assert rep.ok
    assert re.search("1 transaction rows repeat another row exactly .* they are kept as further lines of the "
                     "same order", messages(rep, "warning"))
    assert rep.stats["transactions"]["rows_kept"] == 5 and rep.stats["transactions"]["orders"] == 4
    assert rep.con.execute("SELECT sum(net_revenue) FROM v_transactions WHERE order_id = 'O4'").fetchone()[0] == 2400


def test_a_line_id_says_which_identical_rows_are_copies(tmp_path):
    body = ("account_id,order_id,line_id,order_date,net_revenue\n"
            "A1,O1,1,2024-01-15,100\nA1,O1,2,2024-01-15,100\nA1,O1,2,2024-01-15,100\nA2,O2,1,2024-02-01,80\n")
    rep = validate(tmp_path, transactions=body)
    assert rep.ok, rep.summary()
    assert "1 transaction rows repeat a line id of their order with identical values: copies of one line, " \
           "dropped" in messages(rep, "warning")
    assert rep.con.execute("SELECT sum(net_revenue) FROM v_transactions WHERE order_id = 'O1'").fetchone()[0] == 200
    rep = validate(tmp_path, transactions=body.replace("A1,O1,2,2024-01-15,100\nA1", "A1,O1,2,2024-01-15,90\nA1"))
    assert "1 line ids repeat within an order with different values" in messages(rep)


# --------------------------------------------------------------------------- what an order is
NO_ID = """customer,day,amount
A1,2024-01-15,100
A1,2024-01-15,100
A1,2024-01-15,-30
A1,2024-03-10,250.50
A2,2024-02-01,80
A2,2024-02-02,20
"""


def test_without_an_order_id_an_order_is_an_accounts_lines_on_one_date(tmp_path):
    cols = {"account_id": "customer", "order_date": "day", "net_revenue": "amount"}
    rep = validate(tmp_path, transactions={"content": NO_ID, "columns": cols})
    assert rep.ok, rep.summary()
    orders = rep.con.execute("SELECT account_id, order_date::VARCHAR, sum(net_revenue), count(*) FROM v_transactions "
                             "GROUP BY account_id, order_id, order_date ORDER BY 1, 2").fetchall()
    assert orders == [("A1", "2024-01-15", 170.0, 3), ("A1", "2024-03-10", 250.5, 1),
                      ("A2", "2024-02-01", 80.0, 1), ("A2", "2024-02-02", 20.0, 1)]
    s = rep.stats["transactions"]
    assert s["orders"] == 4 and s["order_id_given"] == 0 and s["repeat_lines"] == 1 and s["rows_kept"] == 6
    from kam_analysis.data.orders import order_rule

    assert order_rule(s) == ("4 orders of 2 accounts (no order id in the data: an order is an account's lines on "
                             "one date)")


def test_validate_summary_says_what_an_order_is(tmp_path, capsys):
    from data_helpers import write_params

    cols = {"account_id": "customer", "order_date": "day", "net_revenue": "amount"}
    assert main(["validate", str(write_params(tmp_path, transactions={"content": NO_ID, "columns": cols}))]) == 0
    assert "4 orders of 2 accounts (no order id in the data: an order is an account's lines on one date)" \
        in capsys.readouterr().out


def test_compact_dates_are_read(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("2024-01-15", "20240115").replace("2024-03-10", "20240310"))
    assert rep.ok, rep.summary()
    got = dict(rep.con.execute("SELECT order_id, order_date::VARCHAR FROM v_transactions").fetchall())
    assert got["O1"] == "2024-01-15" and got["O2"] == "2024-03-10"


def test_order_id_mapped_to_the_account_column_is_refused(tmp_path):
    cols = {"account_id": "customer", "order_id": "customer", "order_date": "day", "net_revenue": "amount"}
    rep = validate(tmp_path, transactions={"content": NO_ID, "columns": cols})
    text = messages(rep)
    assert "The order id ('customer') is the account id ('customer'): every account's purchases would count as " \
           "one single order" in text
    assert "fix: remove data.transactions.columns.order_id from the params" in text


def test_an_order_id_copying_the_account_id_is_refused(tmp_path):
    body = "account_id,order_id,order_date,net_revenue\nA1,A1,2024-01-15,100\nA2,A2,2024-02-01,80\n"
    rep = validate(tmp_path, transactions=body)
    assert "The order id ('order_id') is the account id ('account_id') on 2 of 2 rows" in messages(rep)


def test_an_order_id_spanning_months_is_refused(tmp_path):
    body = ("account_id,order_id,order_date,net_revenue\n"
            "A1,C-1,2024-01-15,100\nA1,C-1,2024-03-10,50\nA1,C-1,2024-06-10,50\nA2,C-2,2024-02-01,80\n")
    rep = validate(tmp_path, transactions=body)
    text = messages(rep)
    assert "1 order ids ('order_id') have lines more than 31 days apart (3 of 4 rows): this is not an order " \
           "number" in text
    assert "examples: 'C-1: 3 dates from 2024-01-15 to 2024-06-10 (row 2)'" in text
    assert "fix: remove data.transactions.columns.order_id" in text


def test_an_order_over_a_few_days_is_dated_by_its_first_line(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS + "A1,O1,2024-01-17,40\n")
    assert rep.ok, rep.summary()
    assert "1 order ids have lines on more than one date; each such order is dated by its first line" \
        in messages(rep, "warning")


def test_empty_order_ids_are_an_error_naming_the_alternative(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("A2,O3", "A2,"))
    text = messages(rep)
    assert "1 rows have no order_id" in text and "examples: 'row 4'" in text
    assert "remove data.transactions.columns.order_id" in text


# --------------------------------------------------------------------------- ranges
@pytest.mark.parametrize("column,value,expected", [
    ("nps", "11", "1 values of nps are outside 0 to 10"),
    ("nps", "-1", "1 values of nps are outside 0 to 10"),
    ("csat", "0", "1 values of csat are outside 1 to 5"),
    ("csat", "6", "1 values of csat are outside 1 to 5"),
])
def test_survey_scores_out_of_range(tmp_path, column, value, expected):
    rows = SURVEYS.replace("A1,2024-06-01,9,5", "A1,2024-06-01," + ("%s,5" % value if column == "nps" else "9,%s" % value))
    rep = validate(tmp_path, surveys=rows)
    with pytest.raises(DataValidationError, match=expected):
        _raise(rep)
    assert f"examples: 'row 2: {value}'" in messages(rep)


def test_strategic_importance_out_of_range(tmp_path):
    rep = validate(tmp_path, accounts=ACCOUNTS.replace("Gamma SA,5", "Gamma SA,7"))
    with pytest.raises(DataValidationError, match="1 values of strategic_importance are outside 1 to 5"):
        _raise(rep)


def test_capability_score_out_of_range(tmp_path):
    rep = validate(tmp_path, capability=CAPABILITY.replace("Governance,3,4", "Governance,30,4"))
    with pytest.raises(DataValidationError, match="1 values of score are outside 1 to 5"):
        _raise(rep)


# --------------------------------------------------------------------------- dates
def test_future_dates(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS + "A1,O9,2999-01-01,10\n")
    with pytest.raises(DataValidationError, match=r"1 transactions rows are dated in the future \(after today"):
        _raise(rep)
    assert "examples: 'row 6: 2999-01-01'" in messages(rep)


def test_rows_after_as_of_are_a_warning_and_excluded(tmp_path):
    rep = validate(tmp_path, as_of="2024-04-30")
    assert rep.ok
    assert "1 transactions rows are after the as-of date 2024-04-30 and are excluded" in messages(rep, "warning")
    assert rep.stats["transactions"]["rows_kept"] == 3


def test_nothing_left_before_as_of(tmp_path):
    rep = validate(tmp_path, as_of="2023-01-31")
    with pytest.raises(DataValidationError, match="No transactions remain on or before the as-of date 2023-01-31"):
        _raise(rep)


def test_mixed_day_first_and_month_first(tmp_path):
    bad = TRANSACTIONS.replace("2024-01-15", "15/01/2024").replace("2024-03-10", "03/25/2024")
    rep = validate(tmp_path, transactions=bad)
    with pytest.raises(DataValidationError, match="Dates mix day-first and month-first formats"):
        _raise(rep)
    assert "examples: 'row 2: 15/01/2024', 'row 3: 03/25/2024'" in messages(rep)


def test_ambiguous_slash_dates_read_day_first_with_warning(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("2024-03-10", "03/05/2024"))
    assert rep.ok
    assert "No date in the column shows whether it is day-first or month-first; read as day-first" \
        in messages(rep, "warning")
    assert "examples: 'row 3: 03/05/2024'" in messages(rep, "warning")
    d = rep.con.execute("SELECT order_date::VARCHAR FROM v_transactions WHERE order_id='O2'").fetchone()[0]
    assert d == "2024-05-03"


def test_month_first_detected_from_the_data(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("2024-01-15", "01/15/2024")
                   .replace("2024-03-10", "03/10/2024"))
    assert rep.ok, rep.summary()
    got = dict(rep.con.execute("SELECT order_id, order_date::VARCHAR FROM v_transactions").fetchall())
    assert got["O1"] == "2024-01-15" and got["O2"] == "2024-03-10"


# --------------------------------------------------------------------------- surveys
def test_low_survey_coverage_is_a_warning(tmp_path):
    rep = validate(tmp_path, surveys="account_id,survey_date,nps\nA1,2024-06-01,9\n",
                   extra={"thresholds": {"survey_coverage_min": 0.5}})
    assert rep.ok
    assert re.search(r"Only 33% of accounts have a survey response \(threshold 50%\)", messages(rep, "warning"))


def test_surveys_for_unknown_accounts_are_ignored_with_a_warning(tmp_path):
    rep = validate(tmp_path, surveys=SURVEYS + "ZZ9,2024-06-03,7,4\n")
    assert rep.ok
    assert "1 survey responses are for accounts not in the data; they are ignored" in messages(rep, "warning")
    assert rep.con.execute("SELECT count(*) FROM v_surveys").fetchone()[0] == 2


def test_many_problems_all_reported_at_once(tmp_path):
    rep = validate(tmp_path,
                   transactions=TRANSACTIONS.replace("2024-02-01", "someday"),
                   accounts=ACCOUNTS.replace("A3,Gamma SA,5\n", ""),
                   surveys=SURVEYS.replace(",9,5", ",11,5"))
    rules = sorted(p.rule for p in rep.errors)
    assert rules == ["orphan_account", "out_of_range", "unparseable"]


# --------------------------------------------------------------------------- kam validate
@pytest.fixture()
def broken_demo(tmp_path):
    """A copy of the demo data with a missing column, bad dates, orphan accounts and an NPS of 11."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import write_demo_params
    from kam_analysis.data.prepare import ensure_demo_data

    params_path = write_demo_params(tmp_path, n_accounts=120, seed=3)
    ensure_demo_data(load_params(params_path))
    d = tmp_path / "data"
    orders = pd.read_csv(d / "orders.csv", dtype=str, keep_default_na=False)
    orders.loc[[3, 10], "Order Date"] = ["2024-13-45", "yesterday"]
    orders.to_csv(d / "orders.csv", index=False)
    customers = pd.read_csv(d / "customers.csv", dtype=str, keep_default_na=False)
    customers.drop(columns=["Region"]).iloc[2:].to_csv(d / "customers.csv", index=False)
    surveys = pd.read_csv(d / "nps_survey.csv", dtype=str, keep_default_na=False)
    surveys.loc[0, "Likelihood to Recommend (0-10)"] = "11"
    surveys.to_csv(d / "nps_survey.csv", index=False)
    return params_path


def test_kam_validate_on_broken_demo_prints_one_message_per_problem(broken_demo, capsys):
    code = main(["validate", str(broken_demo)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 2
    assert "Traceback" not in text
    assert text.count("[ERROR]") == 4
    assert re.search(r"\[ERROR\] 2 values in order_date cannot be read as dates \(file .*orders\.csv, "
                     r"column 'Order Date'\)", text)
    assert re.search(r"\[ERROR\] Mapped accounts column 'region' not found \(looked for 'Region'\)", text)
    assert re.search(r"\[ERROR\] 2 account ids in transactions are not in the accounts file \(customers\.csv\)", text)
    assert re.search(r"\[ERROR\] 1 values of nps are outside 0 to 10 \(file .*nps_survey\.csv, "
                     r"column 'Likelihood to Recommend \(0-10\)'\)", text)
    assert "4 error(s)" in text


def test_kam_validate_clean_demo_exits_zero(tmp_path, capsys):
    from conftest import write_demo_params

    params_path = write_demo_params(tmp_path, n_accounts=60, seed=5)
    assert main(["validate", str(params_path)]) == 0
    assert "Data OK" in capsys.readouterr().out


def test_kam_run_on_broken_data_leaves_no_run_folder(broken_demo, capsys):
    code = main(["run", str(broken_demo), "--no-deliverables", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Client data failed validation: 4 problems must be fixed." in err
    assert "Traceback" not in err
    out_root = broken_demo.parent / "outputs"
    leftovers = [p for p in out_root.rglob("*") if p.is_dir() and p.parent != out_root] if out_root.exists() else []
    assert leftovers == []


def test_validation_is_repeatable(tmp_path):
    """Same files give the same problems, examples in the same order."""
    kw = dict(transactions=TRANSACTIONS.replace("2024-02-01", "someday") + "B7,O8,2024-01-01,1\nB5,O9,2024-01-01,1\n",
              accounts=ACCOUNTS)
    first = validate(tmp_path / "a", **kw).summary()
    second = validate(tmp_path / "b", **kw).summary().replace(str(tmp_path / "b"), str(tmp_path / "a"))
    assert first == second
    assert "examples: 'B5 (row 7)', 'B7 (row 6)'" in first


def test_an_impossible_date_is_unparseable_not_a_second_date_format(tmp_path):
    """31-31-2024 is valid under neither reading: one unparseable value, not 'mixed formats'."""
    from kam_analysis.config import load_params

    (tmp_path / "o.csv").write_text("account_id,order_id,order_date,net_revenue\n"
                                    "a,1,13/01/2024,10\na,2,14/02/2024,5\nb,3,31-31-2024,7\n")
    (tmp_path / "p.yaml").write_text("client: {name: X}\ndata: {transactions: {path: o.csv}}\n"
                                     "analysis: {as_of_date: 2024-12-31}\n")
    report = validate_data(load_params(tmp_path / "p.yaml"))
    assert [p.rule for p in report.errors] == ["unparseable"]
    assert re.search(r"1 value in order_date cannot be read as dates", report.errors[0].message)


def test_missing_column_suggests_the_abbreviated_client_column():
    from kam_analysis.data.validate import _guess_column

    cols = ["Cust", "Customer Name", "Customer Type", "Region"]
    assert _guess_column("Customer ID", cols) == ["Cust"]
    assert _guess_column("Regoin", cols) == ["Region"]


# --------------------------------------------------------------------------- rows named in every value message
@pytest.mark.parametrize("parallel", [False, True])
def test_a_bad_value_near_the_end_of_a_large_file_names_its_row(tmp_path, monkeypatch, parallel):
    from kam_analysis.data import readers

    if parallel:  # the reading path of files above readers._SMALL_CSV bytes (read in parallel)
        monkeypatch.setattr(readers, "_SMALL_CSV", 0)
    n = 100_000
    lines = [f"A{i % 97},O{i},2024-01-{i % 28 + 1:02d},{i % 500}.25" for i in range(n)]
    lines[n - 7] = lines[n - 7].rsplit(",", 1)[0] + ",12 euros"
    rep = validate(tmp_path, transactions="account_id,order_id,order_date,net_revenue\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataValidationError, match=r"1 value in net_revenue cannot be read as numbers[\s\S]*"
                                                  rf"examples: 'row {n - 7 + 2}: 12 euros'"):
        _raise(rep)


def test_placeholders_in_an_optional_number_column_are_missing_not_errors(tmp_path):
    rep = validate(tmp_path, surveys="account_id,survey_date,nps,csat\nA1,2024-06-01,N/A,5\nA2,2024-06-02,-,#N/A\n"
                                     "A3,2024-06-03,8,null\n")
    assert rep.ok, rep.summary()
    got = rep.con.execute("SELECT account_id, nps, csat FROM v_surveys ORDER BY account_id").fetchall()
    assert got == [("A1", None, 5.0), ("A2", None, None), ("A3", 8.0, None)]


def test_placeholder_in_a_required_column_is_a_missing_value_with_its_row(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("A2,O3", "N/A,O3"))
    with pytest.raises(DataValidationError, match=r"1 rows have no account_id[\s\S]*examples: 'row 4'[\s\S]*"
                                                  r"\(empty, 'n/a', 'na', '#n/a', '-' \.\.\. count as no value\)"):
        _raise(rep)


def test_totals_rule_ignores_a_large_order_that_is_not_the_sum(tmp_path):
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("1200", "330.49"))  # 100+250.5+80 = 430.5
    assert rep.ok, rep.summary()
    rep = validate(tmp_path, transactions=TRANSACTIONS.replace("1200", "430.5"))
    with pytest.raises(DataValidationError, match=r"Row 5 of the transactions file is a totals row"):
        _raise(rep)


def test_duplicated_header_found_with_an_explicit_header_row(tmp_path):
    rep = validate(tmp_path, transactions={"content": "Orders export\naccount_id;order_id;order_date;Amount;AMOUNT\n"
                                                      "A1;O1;2024-01-15;119;100\n",
                                           "header_row": 2, "columns": {"net_revenue": "Amount"}})
    with pytest.raises(DataValidationError, match=r"The transactions file has 2 columns named 'Amount' and 'AMOUNT'"):
        _raise(rep)


def test_duplicated_header_in_a_workbook(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["account_id", "order_id", "order_date", "Net Amount", "net amount"])
    wb.active.append(["A1", "O1", "2024-01-15", 119, 100])
    wb.save(tmp_path / "orders.xlsx")
    rep = validate(tmp_path, transactions={"path": tmp_path / "orders.xlsx", "columns": {"net_revenue": "Net Amount"}})
    with pytest.raises(DataValidationError, match=r"2 columns named 'Net Amount' and 'net amount' \(the same name up "
                                                  r"to case and spaces\), so which one is net_revenue is ambiguous"):
        _raise(rep)


def test_a_text_file_named_xlsx(tmp_path):
    rep = validate(tmp_path, transactions={"content": TRANSACTIONS, "file": "orders.xlsx"})
    with pytest.raises(DataValidationError, match=r"The transactions file is not an Excel workbook: it looks like a "
                                                  r"text \(CSV\) file[\s\S]*give the file its real extension"):
        _raise(rep)


@pytest.mark.parametrize("body,line", [
    ("A1,O1,2024-01-15,100\n\n\nA2,O2,2024-02-01,oops\n", 5),  # blank lines (which the reader skips)
    ('A1,O1,2024-01-15,100,"Home\ndecor"\nA2,O2,2024-02-01,oops,Apparel\n', 4),  # a line break inside quotes
    ("A1,O1,2024-01-15,100\r\n\r\nA2,O2,2024-02-01,oops\r\n", 4),  # Windows line endings
])
def test_rows_are_the_file_lines_despite_blank_lines_and_quoted_line_breaks(tmp_path, body, line):
    header = "account_id,order_id,order_date,net_revenue" + (",category" if "decor" in body else "")
    rep = validate(tmp_path, transactions=header + ("\r\n" if "\r" in body else "\n") + body)
    assert f"examples: 'row {line}: oops'" in messages(rep)


def test_readme_data_contract_is_generated_from_the_contract():
    from kam_analysis.data.contract import contract_markdown

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert contract_markdown().rstrip("\n") in readme, "regenerate: python -m kam_analysis.data.contract"


def test_the_order_rule_in_client_words():
    from kam_analysis.data.orders import order_rule_client

    assert order_rule_client({"orders": 53603, "order_id_given": 0}) == (
        "Orders: 53,603, each an account's purchases on one day (the data has no order number)")
    assert order_rule_client({"orders": 12, "order_id_given": 1}) == "Orders: 12, one per order number"
    assert order_rule_client({}) is None


def test_no_live_account_names_the_last_order_and_the_as_of_fix(tmp_path):
    # last order 2024-05-20; as-of 2024-12-31 with churn_days 180: nobody ordered in the window
    rep = validate(tmp_path, as_of="2024-12-31")
    (p,) = [x for x in rep.errors if x.rule == "no_live_account"]
    assert "2024-12-31" in p.message and "2024-05-20" in p.message
    assert "analysis.as_of_date" in p.fix and "2024-05-20" in p.fix and "above 225" in p.fix
    assert len(rep.errors) == 1
    # one day inside the window: the same data is fine
    assert validate(tmp_path / "b", as_of="2024-11-15").ok  # 2024-05-20 is 179 days before


def test_a_refund_inside_the_window_does_not_make_an_account_live(tmp_path):
    tx = "account_id,order_id,order_date,net_revenue\nA1,O1,2024-01-15,100\nA1,R1,2024-06-20,-40\n"
    rep = validate(tmp_path, transactions=tx, as_of="2024-07-31")  # the counted order is 198 days back
    assert [x.rule for x in rep.errors] == ["no_live_account"]


def test_an_order_dated_before_the_window_is_not_live_for_its_later_line(tmp_path):
    # O1's lines straddle the window's start (2024-02-02 for as-of 2024-07-31): the order is dated by its
    # first line, before the window, so no account is live (only orders with a line inside are summed)
    tx = "account_id,order_id,order_date,net_revenue\nA1,O1,2024-01-20,100\nA1,O1,2024-02-10,50\n"
    rep = validate(tmp_path, transactions=tx, as_of="2024-07-31")
    assert "no_live_account" in [x.rule for x in rep.errors]
    tx_live = tx + "A2,O2,2024-07-01,30\nA2,O2,2024-07-02,-10\n"  # a positive order inside: live
    assert "no_live_account" not in [x.rule for x in validate(tmp_path / "b", transactions=tx_live,
                                                              as_of="2024-07-31").errors]


def test_order_rule_line_says_one_order_of_one_account_in_the_singular():
    from kam_analysis.data.orders import order_rule

    assert order_rule({"orders": 1, "accounts": 1, "order_id_given": True}) == "1 order of 1 account (lines sharing an order id)"
    assert order_rule({"orders": 1_200, "accounts": 3, "order_id_given": False}).startswith("1,200 orders of 3 accounts (")
