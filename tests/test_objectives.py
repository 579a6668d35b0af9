"""The deck's objectives and the targets it rates against tell one story (metrics.objectives)."""
from __future__ import annotations

from types import SimpleNamespace

from kam_analysis.metrics.objectives import objective_target_conflicts


def _params(objectives, targets):
    return SimpleNamespace(context=SimpleNamespace(most=SimpleNamespace(objectives=objectives)), targets=targets)


def test_an_objective_with_another_figure_than_its_target_is_a_warning():
    got = objective_target_conflicts(_params(
        ["Grow key-account revenue 15% a year", "Lift key-account NPS above 50", "Retain 85% of accounts",
         "Be the preferred partner of boutiques", "Lift order value to 450"],
        {"revenue_growth_yoy": 0.08, "nps": 40, "retention_rate": 0.85, "average_order_value": 450}))
    assert [p.setting for p in got] == ["context.most.objectives[0]", "context.most.objectives[1]"]
    assert all(p.severity == "warning" and p.rule == "objective_vs_target" for p in got)
    assert "(8%, targets.revenue_growth_yoy)" in got[0].message and "key accounts included" in got[0].message
    assert "(40, targets.nps)" in got[1].message


def test_agreeing_or_untargeted_objectives_are_not_flagged():
    assert objective_target_conflicts(_params(
        ["Grow revenue 8% a year with the key accounts leading", "Lift NPS to 40 across the portfolio",
         "Lift repeat purchase to 70%"], {"revenue_growth_yoy": 0.08, "nps": 40})) == []
    # a share's figure must be written as a percentage to be compared: '3 new markets' is not 300%
    assert objective_target_conflicts(_params(["Open 3 new markets for revenue growth"],
                                               {"revenue_growth_yoy": 0.08})) == []
    assert objective_target_conflicts(_params([], {"nps": 40})) == []


def test_kam_validate_reports_the_warning_and_still_passes(tmp_path, capsys):
    """The wiring: `kam validate` prints the objective's warning, counts it, and exits 0 (a warning)."""
    from pathlib import Path

    import yaml

    from kam_analysis.cli import main

    repo = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((repo / "params" / "demo.yaml").read_text())
    for spec in raw["data"].values():  # the demo's files, from wherever the copy is
        if isinstance(spec, dict) and "path" in spec:
            spec["path"] = str((repo / "params" / spec["path"]).resolve())
    raw["context"]["most"]["objectives"] = ["Lift key-account NPS above 50"]
    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[WARNING] The objective 'Lift key-account NPS above 50' gives Net Promoter Score" in out
    assert "(parameter context.most.objectives[0])" in out and "1 warning(s)" in out
