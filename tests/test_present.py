"""The presentation layer: one format per kind of figure, one theme."""
from __future__ import annotations

import math

import pytest

from kam_analysis.present.formats import (excel_number_format, fmt_change, fmt_count, fmt_date, fmt_money,
                                          fmt_period, fmt_points, fmt_share, fmt_value)
from kam_analysis.present.theme import MATRIX, Theme, active_theme, theme_for, tint, use_theme


@pytest.mark.parametrize("value, text", [
    (641.4, "€641"), (999.4, "€999"), (999.5, "€1.0k"), (6641, "€6.6k"), (9_713, "€9.7k"), (9_949, "€9.9k"),
    (9_999.4, "€10k"), (10_000, "€10k"), (-3_000, "-€3.0k"), (452_300, "€452k"), (999_499, "€999k"),
    (999_500, "€1.0m"), (2_510_000, "€2.5m"), (1.2e9, "€1.2bn"), (-3_000_000, "-€3.0m"), (-0.2, "€0"),
    (None, "n/a"), (math.nan, "n/a"), (math.inf, "n/a"), ("x", "n/a"), (True, "n/a"),
])
def test_money(value, text):
    assert fmt_money(value, "EUR") == text


def test_money_in_the_clients_currency():
    assert fmt_money(1_070_000, "USD") == "$1.1m"
    assert fmt_money(1234, "GBP") == "£1.2k"
    assert fmt_money(1234, "SEK", style="full") == "SEK 1,234"  # an unknown code is written out
    assert fmt_money(5_000_000, "USD", signed=True) == "+$5.0m"


@pytest.mark.parametrize("value, text", [
    (641.4, "€641"), (9_713, "€9,713"), (23_412.4, "€23,412"), (1_204_566, "€1,204,566"), (-3_000, "-€3,000"),
    (5e6, "+€5,000,000"),
])
def test_money_in_full(value, text):
    assert fmt_money(value, "EUR", style="full", signed=value == 5e6) == text


def test_one_money_style_per_deliverable():
    from kam_analysis.present.formats import DELIVERABLE_MONEY_STYLE, money_style

    assert money_style("deck") == money_style("html_dashboard") == "compact"
    assert money_style("kpi_dashboard") == money_style("segmentation_workbook") == "full"
    assert set(DELIVERABLE_MONEY_STYLE.values()) <= {"compact", "full"}
    with pytest.raises(ValueError):
        fmt_money(1, style="short")


def test_full_figures_in_a_sentence_read_compact_on_a_compact_page():
    from kam_analysis.present.formats import compact_money

    text = "Oak B.V.: €20,123; Hygge Ltd: €5,078, range €857–€1,204, loss -€9,713, €1,031.50; €23k and €1.2m stay"
    assert compact_money(text, "EUR") == ("Oak B.V.: €20k; Hygge Ltd: €5.1k, range €857–€1.2k, loss -€9.7k, €1.0k; "
                                          "€23k and €1.2m stay")
    assert compact_money("$12,345 but €12,345", "USD") == "$12k but €12,345"  # only the client's currency
    assert compact_money("CHF 2,500,000", "CHF") == "CHF 2.5m"
    assert compact_money(None) is None and compact_money("12,345 accounts") == "12,345 accounts"


def test_shares_points_counts():
    assert fmt_share(0.2534) == "25.3%"
    assert fmt_share(0.05, signed=True, decimals=0) == "+5%"
    assert fmt_points(0.887 - 0.795) == "+9.2 pts"
    assert fmt_count(1071) == "1,071"
    assert fmt_count(-12, signed=True) == "-12"


def test_value_dispatch_and_change():
    assert fmt_value(0.93, "share") == "93.0%"
    assert fmt_value(-51.24, "score") == "-51.2"
    assert fmt_value(2.345, "ratio") == "2.35"
    assert fmt_value(1200.0, "hours") == "1,200 h"
    assert fmt_change(0.012, "share") == "+1.2 pts"
    assert fmt_change(3.0, "score") == "+3.0 pts"
    assert fmt_change(-1500, "currency", "EUR") == "-€1.5k"


def test_dates_and_periods():
    import datetime as dt

    assert fmt_date(dt.date(2025, 12, 31)) == "31 Dec 2025"
    assert fmt_date("2024-03-05") == "5 Mar 2024"
    assert fmt_period("2025-10-01", "quarter") == "Q4 2025"
    assert fmt_period("2025-10-01", "month") == "Oct 2025"


def test_excel_formats_follow_the_text_formats():
    assert excel_number_format("currency", "USD", compact=False) == '"$"#,##0;[Red]-"$"#,##0'
    assert excel_number_format("currency", "EUR", max_abs=2e6) == '"€"#,##0.0,,"m";-"€"#,##0.0,,"m";"€"0'
    # one compact scale per chart, never a full figure: €9,713 on a chart of tens of thousands reads €10k
    assert excel_number_format("currency", "EUR", max_abs=45_000) == '"€"#,##0,"k";-"€"#,##0,"k";"€"0'
    assert excel_number_format("currency", "EUR", max_abs=9_713) == '"€"#,##0.0,"k";-"€"#,##0.0,"k";"€"0'
    assert excel_number_format("currency", "EUR", max_abs=641) == '"€"#,##0;-"€"#,##0;"€"0'
    assert excel_number_format("share") == "0%"
    assert excel_number_format("count") == "#,##0"


def test_theme_carries_the_clients_brand():
    class B:
        primary_color, accent_color = "#112233", "#AABBCC"

    class P:
        branding = B()

    th = theme_for(P())
    assert th.primary == "112233" and th.accent == "AABBCC"
    assert th.series[:2] == ["112233", "AABBCC"]
    # the quadrants keep their positions' colours whatever they are called
    names = ["Partner", "Grow", "Keep", "Serve"]
    assert list(th.quadrant_colors(names).values())[:2] == ["112233", "AABBCC"]
    assert th.quadrant_fills(names)["Partner"] == tint("112233", 0.75)


def test_rag_palette_is_one():
    th = Theme()
    assert th.rag("GREEN") == th.green and th.rag("unknown") == th.na
    assert th.rag_fill("red") == th.red_fill
    assert set(th.css()) >= {"primary", "accent", "green", "amber", "red", "green-fill"}


def test_active_theme_is_scoped():
    brand = Theme(primary="000000")
    assert active_theme() == Theme()
    with use_theme(brand):
        assert active_theme().primary == "000000"
    assert active_theme() == Theme()


def test_matrix_axes_are_one_convention():
    assert (MATRIX.x, MATRIX.y) == ("relative_strength", "attractiveness")
    # first quadrant (high attractiveness, high strength) sits top right
    assert MATRIX.corners[0] == (True, True)


def test_fmt_list_reads_as_a_sentence():
    from kam_analysis.present.formats import fmt_list
    assert fmt_list([]) == ""
    assert fmt_list(["Strategic"]) == "Strategic"
    assert fmt_list(["Strategic", "", "Star"]) == "Strategic and Star"
    assert fmt_list(["A", "B", "C"]) == "A, B and C"


def test_fmt_n_counts_in_the_right_number():
    from kam_analysis.present.formats import fmt_n
    assert fmt_n(1, "period") == "1 period"
    assert fmt_n(3, "period") == "3 periods" and fmt_n(0, "period") == "0 periods"
    assert fmt_n(14_196, "account") == "14,196 accounts"
    assert fmt_n(2, "analysis", "analyses") == "2 analyses"


def test_a_share_rounds_its_halves_as_excel_shows_the_cell():
    """345 of 2,000 accounts is 0.1725: Excel's 0.0% shows 17.3%, so the deck's text must too
    (Python's own {:.1%} gives 17.2% from the binary 0.17249999...)."""
    from kam_analysis.present.formats import fmt_share

    assert 345 / 2000 == 0.1725 and f"{345 / 2000:.1%}" == "17.2%"
    assert fmt_share(345 / 2000) == "17.3%" and fmt_share(-345 / 2000) == "-17.3%"
    assert fmt_share(0.125, decimals=0) == "13%" and fmt_share(0.135, decimals=0) == "14%"
    assert fmt_share(0.6938) == "69.4%" and fmt_share(0.0, signed=True) == "+0.0%"
    assert fmt_share(0.253, signed=True) == "+25.3%" and fmt_share(float("nan")) == "n/a"
