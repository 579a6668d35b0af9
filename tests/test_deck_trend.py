import pandas as pd
from kam_analysis.deliverables.deck_story.assessment import _yoy_takeaways

def test_year_on_year_takeaways_compare_the_same_quarter_a_year_apart():
    # 9 quarters: Q1 2023 .. Q1 2025; Q1 2024 = 135 (+35% on 100), Q1 2025 = 141.21 (+4.6% on 135)
    starts = pd.date_range("2023-01-01", periods=9, freq="QS")
    rev = [100, 50, 50, 50, 135, 60, 60, 60, 141.21]
    got = _yoy_takeaways(pd.DataFrame({"period_start": starts, "revenue": rev}), "quarter")
    assert got[0] == "Year on year: +4.6% on Q1 2024"
    assert got[1] == "Growth slower than a year before (+35.0% in Q1 2024 on Q1 2023)"

def test_no_year_on_year_without_a_year_of_history():
    starts = pd.date_range("2024-01-01", periods=3, freq="QS")
    assert _yoy_takeaways(pd.DataFrame({"period_start": starts, "revenue": [1, 2, 3]}), "quarter") == []
