"""The deck's storyline: one builder per slide type, each reading run-folder tables.

A builder takes :class:`DeckData` and returns a list of :class:`SlideSpec` (empty when
its table or a needed column is absent — the slide is skipped and the reason recorded,
never drawn empty, never filled with a made-up number). To add a slide for a new table,
write one builder in the module of its section and list it in :data:`STORY`.
"""
from __future__ import annotations

from collections.abc import Callable

from .._pptx import Box, SlideCanvas
from ._base import DeckData, IN, SECTIONS, SlideSpec
from .summary import s_exec_summary, s_key_numbers, s_title
from .decisions import s_business_case, s_decisions
from .computed import s_control_charts, s_manager_coverage, s_maturity, s_sensitivity
from .context import s_five_forces, s_framework, s_gaps, s_most, s_pest, s_strengths
from .assessment import (s_activity, s_capability, s_cohorts, s_concentration, s_data_limits, s_revenue_trend,
                         s_scorecard, s_whale)
from .segmentation import (s_clv, s_key_accounts, s_portfolio_matrix, s_programme_size, s_rfm, s_segment_profiles,
                           s_stability)
from .strategy import (s_account_plans, s_churn_drivers, s_churn_risk, s_coverage, s_impact, s_playbooks,
                       s_revenue_lost, s_whitespace, s_whitespace_map)
from .review import s_kpi_dashboard, s_migration, s_programme_impact, s_recommendations, s_review_baseline
from .followup import FOLLOWUP_STORY
from .closing import s_data_sources, s_method_notes, s_next_steps, s_not_included

__all__ = ["DeckData", "SlideSpec", "SECTIONS", "STORY", "plan_deck"]


STORY: list[tuple[str, Callable[[DeckData], list[SlideSpec]]]] = [
    ("summary", s_key_numbers),
    *(("since", b) for b in FOLLOWUP_STORY),  # a follow-up review only: what the last review committed to
    ("framework", s_framework),
    ("context", s_five_forces), ("context", s_pest), ("context", s_most), ("context", s_gaps),
    ("context", s_strengths),
    ("assessment", s_revenue_trend), ("assessment", s_activity), ("assessment", s_scorecard), ("assessment", s_concentration),
    ("assessment", s_whale), ("assessment", s_cohorts), ("assessment", s_capability),
    ("assessment", s_maturity),
    ("segmentation", s_programme_size), ("segmentation", s_portfolio_matrix), ("segmentation", s_segment_profiles), ("segmentation", s_key_accounts),
    ("segmentation", s_rfm), ("segmentation", s_clv), ("segmentation", s_stability),
    ("strategy", s_playbooks), ("strategy", s_coverage), ("strategy", s_manager_coverage),
    ("strategy", s_churn_drivers), ("strategy", s_churn_risk), ("strategy", s_revenue_lost),
    ("strategy", s_whitespace), ("strategy", s_whitespace_map), ("strategy", s_impact), ("strategy", s_business_case),
    ("strategy", s_sensitivity),
    ("strategy", s_account_plans),
    ("review", s_kpi_dashboard), ("review", s_control_charts), ("review", s_review_baseline),
    ("review", s_programme_impact), ("review", s_migration),
    ("review", s_recommendations),
]


def _section_slide(key: str, number: int) -> SlideSpec:
    name, blurb = SECTIONS[key]

    def draw(c: SlideCanvas):
        c.set_text("Kicker", f"{number:02d}" if key != "appendix" else "A", max_pt=66, min_pt=30)
        c.set_text("Body", blurb, max_pt=16, min_pt=11)

    return SlideSpec(key, "Section", name, draw, topic=f"section:{key}")


def _agenda(sections: list[str]) -> SlideSpec:
    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1] * len(sections), gap=int(0.06 * IN))
        for i, (key, r) in enumerate(zip(sections, rows)):
            name, blurb = SECTIONS[key]
            num = f"{i + 1:02d}" if key != "appendix" else "A"
            c.text_box(Box(r.x, r.y, int(0.9 * IN), r.h), [num], size=22, bold=True, color=c.style.accent,
                       anchor="m", fit=False)
            c.text_box(Box(r.x + int(0.95 * IN), r.y, int(4.2 * IN), r.h), [name], size=18, bold=True,
                       color=c.style.primary, anchor="m", min_pt=11)
            c.text_box(Box(r.x + int(5.3 * IN), r.y, r.w - int(5.3 * IN), r.h), [blurb], size=14,
                       color=c.style.muted, anchor="m", min_pt=9)
            c.rule(r.x, r.y + r.h + int(0.03 * IN), r.w, c.style.grid, 0.5)

    return SlideSpec("summary", "Title and Content", "Agenda", draw, topic="Agenda")


def plan_deck(d: DeckData) -> list[SlideSpec]:
    """Every slide of the deck in order, with section dividers and an agenda for the sections present."""
    body: list[SlideSpec] = []
    for _section, builder in STORY:
        body.extend(builder(d))
    body.extend(s_data_limits(d))
    nxt = s_next_steps(d)
    appendix = s_method_notes(d, body) + s_data_sources(d) + s_not_included(d)
    order = ["since", "framework", "context", "assessment", "segmentation", "strategy", "review"]
    # the data-limits slide closes the assessment section even though it is planned last
    by_sec: dict[str, list[SlideSpec]] = {k: [s for s in body if s.section == k] for k in ["summary", *order]}
    sections = [k for k in order if by_sec[k]] + ["next"] + (["appendix"] if appendix else [])
    slides = s_title(d)
    exec_sum = s_decisions(d) + s_exec_summary(d)  # the summary opens with the decisions
    slides += [_agenda(sections)] + exec_sum + by_sec["summary"]
    for i, key in enumerate(sections, start=1):
        slides.append(_section_slide(key, i))
        slides.extend(nxt if key == "next" else appendix if key == "appendix" else by_sec[key])
    return slides

