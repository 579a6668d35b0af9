"""The presentation layer: one format per kind of figure, one theme."""
from __future__ import annotations

import math

import pytest

from kam_analysis.present.formats import (excel_number_format, fmt_change, fmt_count, fmt_date, fmt_money,
                                          fmt_period, fmt_points, fmt_share, fmt_value)
from kam_analysis.present.theme import MATRIX, Theme, active_theme, theme_for, tint, use_theme


@pytest.mark.parametrize("value, text", [
    (6641, "€6,641"), (9_999.4, "€9,999"), (10_000, "€10k"), (452_300, "€452k"), (999_499, "€999k"),
    (999_500, "€1.0m"), (2_510_000, "€2.5m"), (1.2e9, "€1.2bn"), (-3_000_000, "-€3.0m"), (-0.2, "€0"),
    (None, "n/a"), (math.nan, "n/a"), (math.inf, "n/a"), ("x", "n/a"), (True, "n/a"),
])
def test_money(value, text):
    assert fmt_money(value, "EUR") == text


def test_money_in_the_clients_currency():
    assert fmt_money(1_070_000, "USD") == "$1.1m"
    assert fmt_money(1234, "GBP") == "£1,234"
    assert fmt_money(1234, "SEK") == "SEK 1,234"  # an unknown code is written out
    assert fmt_money(5_000_000, "USD", signed=True) == "+$5.0m"


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
    assert fmt_change(-1500, "currency", "EUR") == "-€1,500"


def test_dates_and_periods():
    import datetime as dt

    assert fmt_date(dt.date(2025, 12, 31)) == "31 Dec 2025"
    assert fmt_date("2024-03-05") == "5 Mar 2024"
    assert fmt_period("2025-10-01", "quarter") == "Q4 2025"
    assert fmt_period("2025-10-01", "month") == "Oct 2025"


def test_excel_formats_follow_the_text_formats():
    assert excel_number_format("currency", "USD", compact=False) == '"$"#,##0;[Red]-"$"#,##0'
    assert '"€"#,##0.0,,"m"' in excel_number_format("currency", "EUR", max_abs=2e6)
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
