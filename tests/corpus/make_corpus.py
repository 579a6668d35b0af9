"""Write the hostile-input corpus: small client files as clients really send them.

Run ``python tests/corpus/make_corpus.py`` to regenerate; the files are committed so a
reader can open each one. tests/test_hostile.py holds the expected outcome of each
file (loads, with what values; or fails, with which message). docs/data_rules.md
documents the reading rules.

Transactions files use accounts A1-A3 unless they say otherwise; accounts and
surveys files pair with the standard transactions in tests/data_helpers.py.
"""
from __future__ import annotations

import codecs
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEADER = "account_id,order_id,order_date,net_revenue"


def _w(name: str, content: str | bytes) -> None:
    path = HERE / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def _xlsx(name: str, build) -> None:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    build(wb)
    props = wb.properties
    props.created = props.modified = dt.datetime(2024, 1, 1)
    props.creator = props.lastModifiedBy = "kam corpus"
    wb.save(HERE / name)


def main() -> None:
    # ---- delimiters
    _w("semicolon_decimal_comma.csv",
       "account_id;order_id;order_date;net_revenue\nA1;O1;15.01.2024;1.234,50\nA2;O2;01.02.2024;80,00\n"
       "A3;O3;20.05.2024;-12,5\n")
    _w("tab_delimited.tsv", "account_id\torder_id\torder_date\tnet_revenue\nA1\tO1\t2024-01-15\t100\n"
                            "A2\tO2\t2024-02-01\t80\n")
    _w("comma_file_said_semicolon.csv", HEADER + "\nA1,O1,2024-01-15,100\nA2,O2,2024-02-01,80\n")
    # ---- encodings
    accounts = "account_id,account_name,region\nA1,Société Générale,Île-de-France\nA2,Müller & Söhne,Bayern\nA3,Ørsted,Danmark\n"
    _w("accounts_latin1.csv", accounts.replace("Ø", "O").encode("latin-1"))
    _w("accounts_utf8_bom.csv", codecs.BOM_UTF8 + accounts.encode("utf-8"))
    _w("accounts_utf16.csv", accounts.encode("utf-16"))
    _w("windows_line_endings.csv", (HEADER + "\nA1,O1,2024-01-15,100\nA2,O2,2024-02-01,80\n").replace("\n", "\r\n"))
    _w("bom_only.csv", codecs.BOM_UTF8 + b"\r\n")

    # ---- Excel
    def title_rows(wb):
        ws = wb.active
        ws.title = "Orders"
        ws["A1"] = "Maison Client - order extract"
        ws.merge_cells("A1:D1")
        ws["A2"] = "Exported 2025-01-03 by finance"
        ws.append([])
        ws.append(["account_id", "order_id", "order_date", "net_revenue"])
        import datetime as dt
        ws.append(["A1", "O1", dt.datetime(2024, 1, 15), 100.0])
        ws.append(["A2", "O2", dt.datetime(2024, 2, 1), 80])
        ws.append(["A3", "O3", "2024-05-20", "1,200.00"])

    _xlsx("excel_title_rows.xlsx", title_rows)

    def total_row(wb):
        title_rows(wb)
        ws = wb.active
        ws.append([None, None, None, None])
        ws.append(["Total", None, None, 1380])  # row 9: a footer, not an order

    _xlsx("excel_total_row.xlsx", total_row)

    def merged_ids(wb):
        ws = wb.active
        ws.append(["account_id", "order_id", "order_date", "net_revenue"])
        ws.append(["A1", "O1", "2024-01-15", 100])
        ws.append([None, "O2", "2024-03-10", 250.5])
        ws.append([None, "O3", "2024-04-01", 20])
        ws.append(["A2", "O4", "2024-02-01", 80])
        ws.merge_cells("A2:A4")  # A1's orders: one merged id cell over three rows

    _xlsx("excel_merged_cells.xlsx", merged_ids)

    def two_sheets(wb):
        wb.active.title = "Notes"
        wb.active["A1"] = "see the Orders sheet"
        ws = wb.create_sheet("Orders")
        ws.append(["account_id", "order_id", "order_date", "net_revenue"])
        ws.append(["A1", "O1", "2024-01-15", 100])

    _xlsx("excel_two_sheets.xlsx", two_sheets)

    # ---- numbers
    _w("thousands_and_currency.csv",
       HEADER + '\nA1,O1,2024-01-15,"€1,234.50"\nA1,O2,2024-01-16,EUR 2000\nA2,O3,2024-02-01,(45.00)\n'
                'A2,O4,2024-02-02,$12\nA3,O5,2024-03-01,1 234.00\nA3,O6,2024-03-02,12.50-\n'
                "A3,O7,2024-03-03,1.5E+03\nA3,O8,2024-03-04,£ -7\n")
    _w("european_amounts_without_decimal_setting.csv", HEADER + '\nA1,O1,2024-01-15,"1.234,50"\nA2,O2,2024-02-01,"80,5"\n')
    _w("negative_and_zero_amounts.csv",
       HEADER + "\nA1,O1,2024-01-15,100\nA1,O1,2024-01-15,-30\nA1,O2,2024-02-15,0\nA2,O3,2024-02-01,80\n"
                "A2,O4,2024-03-01,-80\nA3,O5,2024-04-01,-15\n")
    # ---- dates
    _w("mixed_date_formats.csv",
       HEADER + "\nA1,O1,2024-01-15,100\nA1,O2,25/03/2024,100\nA2,O3,5 Mar 2024,80\nA2,O4,2024-04-02 13:45:00,10\n"
                "A3,O5,30.04.2024,5\nA3,O6,Jun 7, 2024,5\n".replace("Jun 7, 2024", '"Jun 7, 2024"'))
    _w("conflicting_date_formats.csv", HEADER + "\nA1,O1,25/03/2024,100\nA2,O2,03/25/2024,80\n")
    _w("excel_serial_dates.csv", HEADER + "\nA1,O1,45306,100\nA2,O2,45323,80\n")
    # ---- empty
    _w("empty.csv", b"")
    _w("blank_lines.csv", "\n\n   \n")
    _w("header_only.csv", HEADER + "\n")
    # ---- shapes
    _w("single_account.csv", HEADER + "\n" + "".join(f"A1,O{i},2024-{m:02d}-10,{100 + i}\n"
                                                       for i, m in enumerate(range(1, 13), 1)))
    _w("all_orders_one_day.csv", HEADER + "\n" + "".join(f"A{i % 3 + 1},O{i},2024-06-30,{50 + i}\n" for i in range(12)))
    _w("duplicated_orders.csv", HEADER + "\nA1,O1,2024-01-15,100\nA1,O1,2024-01-15,100\nA2,O2,2024-02-01,80\n"
                                         "A2,O2,2024-02-01,80\nA2,O2,2024-02-01,80\nA3,O3,2024-05-20,1200\n")
    _w("orders_quoted_newlines.csv", HEADER + ',category\nA1,O1,2024-01-15,100,"Home\ndecor"\nA2,O2,2024-02-01,80,Apparel\n')
    # ---- surveys
    _w("surveys_unknown_accounts.csv", "account_id,survey_date,nps\nA1,2024-06-01,9\nX9,2024-06-01,2\nX8,2024-06-02,3\n")
    # ---- hostile text
    long_name = "Very Long Name Holdings " * 400  # 9,600 characters
    _w("accounts_long_names.csv", f"account_id,account_name\nA1,{long_name.strip()}\nA2,Beta\nA3,{'x' * 40000}\n")
    _w("accounts_formula_names.csv",
       'account_id,account_name,region\nA1,"=HYPERLINK(""http://evil.example"",""click"")",+44 20 7946\n'
       'A2,@SUM(A1:A9),-cmd|calc\nA3,-2+3,=1+1\n')
    _w("accounts_control_chars.csv",
       "account_id,account_name\nA1,Alpha\x07 Ltd\nA2,Be\x1b[31mta\x1b[0m\nA3,\x01Gamma\x0b SA\x7f\n")
    _w("ids_formula_like.csv", HEADER + "\n=A1,O1,2024-01-15,100\n+A2,O2,2024-02-01,80\n")

    # ---- ambiguous numbers: European thousands without decimals ("25.000" is 25,000, not 25.0)
    _w("european_thousands_no_decimals.csv",
       "account_id;order_id;order_date;net_revenue\nA1;O1;15.01.2024;25.000\nA2;O2;01.02.2024;1.500\n"
       "A3;O3;20.05.2024;800\n")
    _w("european_thousands_proven.csv",
       "account_id;order_id;order_date;net_revenue\nA1;O1;15.01.2024;25.000\nA2;O2;01.02.2024;1.234.567\n"
       "A3;O3;20.05.2024;800\n")
    _w("semicolon_comma_thousands.csv",
       "account_id;order_id;order_date;net_revenue\nA1;O1;2024-01-15;25,000\nA2;O2;2024-02-01;1,500\n"
       "A3;O3;2024-05-20;800\n")
    # ---- totals rows: labelled in any column, or unlabelled with the sum of the other rows
    _w("totals_row_labelled.csv",
       HEADER + "\nA1,O1,2024-01-15,100\nA2,O2,2024-02-01,80\nA3,O3,2024-05-20,1200\nGrand Total:,,,1380\n")
    _w("totals_row_unlabelled.csv",
       HEADER + "\nA1,O1,2024-01-15,100\nA2,O2,2024-02-01,80\nA3,O3,2024-05-20,1200\nA3,O4,2024-06-20,20\n"
                "A9,O9,2024-12-31,1400\n")
    # ---- headers: the same name twice, or differing only in case and spaces
    _w("duplicate_headers.csv", "account_id,order_id,order_date,Net Amount,Net Amount\n"
                                "A1,O1,2024-01-15,119,100\nA2,O2,2024-02-01,95.2,80\n")
    _w("headers_case_and_spaces.csv", "account_id,order_id,order_date,Net Revenue,net  revenue \n"
                                      "A1,O1,2024-01-15,119,100\nA2,O2,2024-02-01,95.2,80\n")
    # ---- placeholders for "no value" in text columns
    _w("accounts_placeholders.csv",
       "account_id,account_name,region,account_manager\nA1,Alpha,N/A,-\nA2,Beta,null,#N/A\nA3,Gamma,NA,n/a\n"
       "A4,Delta,,none\nA5,Epsilon,Nord,Ana\n")
    # ---- scores and dates out of range
    _w("surveys_nps_fraction.csv", "account_id,survey_date,nps,csat\nA1,2024-06-01,9,5\nA2,2024-06-02,9.5,4\n"
                                   "A3,2024-06-03,7,4\n")
    _w("zero_dates.csv", HEADER + "\nA1,O1,2024-01-15,100\nA2,O2,1899-12-30,80\nA3,O3,1899-12-31,1200\n"
                                  "A3,O4,1900-01-00,5\nA1,O5,1985-06-01,7\n")
    # ---- encodings and files that are not text
    _w("accounts_utf16_no_bom.csv", accounts.encode("utf-16-le"))
    _w("image_renamed.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))

    def uncalculated(wb):
        ws = wb.active
        ws.title = "Orders"
        ws.append(["account_id", "order_id", "order_date", "net_revenue"])
        ws.append(["A1", "O1", "2024-01-15", 100])
        ws.append(["A2", "O2", "2024-02-01", "=B3*0+80"])  # a formula openpyxl saves without its result
        ws.append(["A3", "O3", "2024-05-20", "=D2*12"])

    _xlsx("excel_uncalculated_formulas.xlsx", uncalculated)
    # ---- Parquet timestamps with a time zone: 23:30 in Paris on 31 March is 31 March
    import pandas as pd

    stamps = pd.to_datetime(["2024-03-31 23:30", "2024-06-30 00:15"])
    pd.DataFrame({"account_id": ["A1", "A2"], "order_id": ["O1", "O2"],
                  "order_date": stamps.tz_localize("Europe/Paris"), "net_revenue": [100.0, 80.0]}
                 ).to_parquet(HERE / "orders_tz_paris.parquet", index=False)
    pd.DataFrame({"account_id": ["A1", "A2"], "order_id": ["O1", "O2"],
                  "order_date": stamps.tz_localize("UTC"), "net_revenue": [100.0, 80.0]}
                 ).to_parquet(HERE / "orders_tz_utc.parquet", index=False)


if __name__ == "__main__":
    main()
