"""Checks that two parts of one parameter file tell the same story.

The consultant writes the programme's objectives as prose (``context.most.objectives``, the
deck's MOST page: "Lift key-account NPS above 50") and the KPI targets as numbers
(``targets.nps: 40``, the scorecard's RAG status). When a sentence names a KPI with a figure
the targets do not carry, the deck states two goals for one KPI and a reader cannot tell which
one the status is measured against. :func:`objective_target_conflicts` finds them before a
run; ``kam validate`` and ``kam run`` report each as a warning through
:func:`kam_analysis.preflight.params_warnings` (the run goes on: the fix is to make the figure and
the target agree, or to leave the figure out of the objective).
"""
from __future__ import annotations

import re

from ..exceptions import Problem
from .definitions import KPI_DEFINITIONS

__all__ = ["OBJECTIVE_WORDS", "objective_target_conflicts"]

#: KPI -> the words by which an objective sentence names it (lower case, matched as words)
OBJECTIVE_WORDS: dict[str, tuple[str, ...]] = {
    "nps": ("nps", "net promoter"),
    "retention_rate": ("retention", "retain"),
    "revenue_growth_yoy": ("revenue growth", "grow revenue", "grow key-account revenue", "revenue by",
                           "grow key account revenue", "revenue up"),
    "average_order_value": ("order value", "aov", "basket"),
    "repeat_purchase_rate": ("repeat purchase", "repeat rate", "reorder"),
}

_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:[.,]\d+)?)\s*(%|pts|points)?")


def _figures(text: str) -> list[tuple[float, bool]]:
    """Every figure in a sentence: (value, written as a percentage)."""
    return [(float(m.group(1).replace(",", ".")), m.group(2) == "%") for m in _NUMBER.finditer(text)]


def objective_target_conflicts(params) -> list[Problem]:
    """One warning per objective sentence that names a KPI with a figure other than its target.

    A sentence is matched to a KPI by :data:`OBJECTIVE_WORDS`; its figures are compared with
    ``targets[kpi]`` in the KPI's unit (a share written as a percentage: "8%" is 0.08; a
    score or money as written). A sentence that carries the target among its figures agrees;
    a KPI without a target, or a sentence without a figure, is not compared.
    """
    from .definitions import KPI_DEFINITIONS

    most = getattr(getattr(params, "context", None), "most", None)
    objectives = list(getattr(most, "objectives", None) or [])
    targets = dict(params.targets or {})
    out: list[Problem] = []
    for i, sentence in enumerate(objectives):
        low = f" {str(sentence).lower()} "
        figures = _figures(low)
        if not figures:
            continue
        for kpi, words in OBJECTIVE_WORDS.items():
            if kpi not in targets or targets[kpi] is None or not any(w in low for w in words):
                continue
            unit = KPI_DEFINITIONS[kpi].unit if kpi in KPI_DEFINITIONS else ""
            target = float(targets[kpi])
            said = [v / 100.0 if pct else v for v, pct in figures if pct or unit != "share"]
            if not said or any(abs(v - target) < 1e-9 for v in said):
                continue
            shown = f"{target:.0%}" if unit == "share" else f"{target:g}"
            label = KPI_DEFINITIONS[kpi].label if kpi in KPI_DEFINITIONS else kpi
            key = "key account" in low or "key-account" in low
            out.append(Problem(
                rule="objective_vs_target", severity="warning", setting=f"context.most.objectives[{i}]",
                message=(f"The objective '{sentence}' gives {label} a figure other than its target ({shown}, "
                         f"targets.{kpi})" + (": the scorecard rates every segment, the key accounts included, "
                                              "against the target, so the deck would state two goals for them"
                                              if key else ": the deck would state two goals for one KPI")),
                fix="make the objective's figure and the target agree, or leave the figure out of the objective"))
    return out
