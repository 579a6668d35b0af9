"""Sections 2 and 3 of the deck: the KAM framework and the market and organisational context."""
from __future__ import annotations


from ...present.theme import tint
from .._pptx import Box, SlideCanvas
from ._base import (_bullets, _churn_unsupported, DeckData, IN, _lc_first, _rows_per_page, SlideSpec, _text,
                    no_key_account_reason, selects_no_key_account)


PHASES = [
    ("1", "Assessment & benchmarking", ["kpi_headline", "benchmark_gaps", "cohort_retention", "capability_maturity"]),
    ("2", "Segmentation", ["segments", "segment_profiles", "clv_params"]),
    ("3", "Strategy", ["segment_playbook", "churn_drivers", "whitespace", "impact_scenarios"]),
    ("4", "Operational planning", ["coverage_by_segment", "account_plans"]),
    ("5", "Monitoring, review & optimisation", ["kpi_vs_target", "programme_impact", "segment_migration",
                                               "recommendations"]),
]


_PHASE_OUTPUTS = {"kpi_headline": "KPI baseline", "benchmark_gaps": "KPIs rated", "cohort_retention": "Cohorts",
                  "capability_maturity": "Capability maturity", "segments": "Account segments",
                  "segment_profiles": "Segment profiles", "clv_params": "Predictive CLV",
                  "segment_playbook": "Playbooks", "churn_drivers": "Churn drivers", "whitespace": "Whitespace",
                  "impact_scenarios": "Impact scenarios", "coverage_by_segment": "Coverage plan",
                  "account_plans": "Account plans", "kpi_vs_target": "KPIs vs target",
                  "programme_impact": "Programme impact", "segment_migration": "Migration",
                  "recommendations": "Recommendations"}


def produced(d: DeckData, table: str) -> bool:
    """Whether the run produced the result the phase-status slide ticks for ``table``: the table
    has rows, and holds a result rather than the record of why there is none (a programme impact
    the data did not support, a churn model it could not fit, a CLV blank for every account, KPI
    gaps that rate nothing because the only benchmarks are illustrative)."""
    t = d.peek(table)
    if t is None or t.empty:
        return False
    if table == "churn_drivers":
        return not _churn_unsupported(d)
    if table == "programme_impact":
        return "supported" in t.columns and bool(t["supported"].iloc[0])
    if table == "clv_params":
        s = d.peek("segments")
        return s is not None and "clv" in s.columns and bool(s["clv"].notna().any())
    if table == "benchmark_gaps":
        return "status" in t.columns and bool(t["status"].isin(["green", "amber", "red"]).any())
    if table == "segment_migration":
        return d.supports("migration")
    return True


#: results refused with an analysis that is not in ANALYSIS_TABLES (its own page decides)
_RESULT_ANALYSIS = {"churn_drivers": "churn_model"}


def _too_small_for(d: DeckData, table: str) -> bool:
    """Whether ``table``'s result is missing because the base is below its analysis's minimum size."""
    cap = d._capability_of()
    analysis = cap.refuses_table(table) or _RESULT_ANALYSIS.get(table)
    return bool(analysis) and cap.too_small(analysis)


def phase_status_title(*, done: int, wait: int, n_small: int, n_all: int) -> str:
    """The phase-status slide's title: how many results wait for data and how many need a larger base."""
    def verb(n: int, one: str, many: str) -> str:
        return one if n == 1 else many

    if done == 5:
        return "All five KAM phases have run; this deck reports each of them"
    if not n_small:
        return (f"All five KAM phases have run; {wait} of their {n_all} results "
                f"{verb(wait, 'waits', 'wait')} for data the client has not sent")
    if not wait:
        return (f"All five KAM phases have run; {n_small} of their {n_all} results "
                f"{verb(n_small, 'needs', 'need')} a larger customer base")
    return (f"All five KAM phases have run; of their {n_all} results, {wait} {verb(wait, 'waits', 'wait')} for data "
            f"the client has not sent and {n_small} {verb(n_small, 'needs', 'need')} a larger customer base")


def s_framework(d: DeckData) -> list[SlideSpec]:
    # every phase has run by the time the deck is built; a result it does not show is one the
    # client's data does not support yet (the data request page says what unlocks it)
    # no key account under the client's own cost of a manager hour is a finding: its account plans are
    # not waiting for anything (under the default threshold they wait for that cost: the data request says so)
    not_applicable = ({"account_plans"} if selects_no_key_account(d) and not no_key_account_reason(d)[1]
                      else set())
    status = []
    for num, name, tables in PHASES:
        have = [t for t in tables if produced(d, t) or t in not_applicable]
        state = "Complete" if len(have) == len(tables) else "Partly: needs data" if have else "Needs data"
        status.append((num, name, tables, have, state))
    done = sum(s[4] == "Complete" for s in status)
    not_made = [t for _, _, tables, have, _ in status for t in tables if t not in have]
    small = [t for t in not_made if _too_small_for(d, t)]  # refused for the size of the base, not a missing input
    wait, n_small = len(not_made) - len(small), len(small)
    n_all = sum(len(s[2]) for s in status)
    waits = f"{wait} result{'s' if wait != 1 else ''} need{'s' if wait == 1 else ''} data the client has not sent yet"
    smalls = f"{n_small} need{'s' if n_small == 1 else ''} a larger customer base than the data holds"
    stands = (f"Results as of {d.as_of:%d %B %Y}. " +
              ("All phases have results; the next step is the periodic review against target." if done == 5 else
               "; ".join(x for x in (waits if wait else "", smalls if n_small else "") if x) +
               ": the data request in the assessment section lists what would unlock each."))
    title = phase_status_title(done=done, wait=wait, n_small=n_small, n_all=n_all)

    def draw(c: SlideCanvas):
        from pptx.enum.shapes import MSO_SHAPE

        box = c.region("Body")
        cols = box.split_h([1] * 5, gap=int(0.08 * IN))
        for k, ((num, name, tables, have, state), b) in enumerate(zip(status, cols)):
            fill = c.style.primary if state == "Complete" else c.style.accent if state.startswith("Partly") else c.style.na
            c.text_box(Box(b.x, b.y, b.w + (int(0.05 * IN) if k < 4 else 0), int(0.75 * IN)), [f"Phase {num}"], size=16, bold=True,
                       color="FFFFFF", fill=fill, align="c", anchor="m", fit=False,
                       shape=MSO_SHAPE.CHEVRON if k else MSO_SHAPE.PENTAGON, inset=0.3)
            c.text_box(Box(b.x, b.y + int(0.9 * IN), b.w - int(0.1 * IN), int(0.75 * IN)), [name], size=16, bold=True,
                       color=c.style.primary, min_pt=11)
            c.text_box(Box(b.x, b.y + int(1.65 * IN), b.w - int(0.1 * IN), int(0.4 * IN)), [state], size=13,
                       bold=True, color=fill if state != "Needs data" else c.style.muted, fit=False)
            items = [[("–  ", True, c.style.muted), (_PHASE_OUTPUTS.get(t, t) + " (no key account)", False,
                                                      c.style.muted)] if t in not_applicable else
                     [("✓ " if t in have else "–  ", True, c.style.accent if t in have else c.style.muted),
                      (_PHASE_OUTPUTS.get(t, t), False, c.style.text if t in have else c.style.muted)]
                     for t in tables]
            c.text_box(Box(b.x, b.y + int(2.15 * IN), b.w - int(0.1 * IN), int(1.6 * IN)),
                       items, size=14, min_pt=9)
        band = Box(box.x, box.y + box.h - int(1.0 * IN), box.w, int(1.0 * IN))
        c.text_box(band, [[("Where the engagement stands  ", True, c.style.primary), (stands, False, c.style.text)]],
                   size=15, fill=c.style.light, anchor="m", inset=0.2, min_pt=10)

    return [SlideSpec("framework", "Title and Content", title, draw, topic="KAM framework",
                      source="KAM engagement status",
                      notes="The five-phase KAM framework (assessment, segmentation, strategy, operational planning, "
                            "review). A result is ticked only when this run produced it; a phase is complete when it "
                            "produced all of them. Not produced: " + (", ".join(
                                _PHASE_OUTPUTS[t] for _, _, ts in PHASES for t in ts if not produced(d, t)) or "none")
                            + ".")]


_FORCE_NAMES = {"rivalry": "Competitive rivalry", "new_entrants": "Threat of new entrants",
                "substitutes": "Threat of substitutes", "buyer_power": "Buyer power",
                "supplier_power": "Supplier power"}


def s_five_forces(d: DeckData) -> list[SlideSpec]:
    ff = d.params.context.five_forces
    if ff is None or not any(getattr(ff, k) for k in _FORCE_NAMES):
        d.skip("Five Forces", "no ratings given for this engagement", detail="parameter context.five_forces")
        return []
    forces = {k: getattr(ff, k) for k in _FORCE_NAMES if getattr(ff, k) is not None}
    high = [_FORCE_NAMES[k].lower() for k, f in forces.items() if f.level == "high"]
    title = (f"{high[0][0].upper() + high[0][1:]}" + (f" and {high[1]}" if len(high) > 1 else "") +
             (" are" if len(high) > 1 else " is") + " the strongest force" + ("s" if len(high) > 1 else "") +
             " on the market" if high else "No market force is rated high; competition is moderate")

    def draw(c: SlideCanvas):
        box = c.region("Body")
        w, h = int(box.w * 0.31), int(box.h * 0.31)
        cx, cy = box.x + (box.w - w) // 2, box.y + (box.h - h) // 2
        pos = {"rivalry": (cx, cy), "new_entrants": (cx, box.y), "substitutes": (cx, box.y + box.h - h),
               "supplier_power": (box.x, cy), "buyer_power": (box.x + box.w - w, cy)}
        for k, f in forces.items():
            x, y = pos[k]
            lvl = f.level
            fill = {"high": c.style.primary, "medium": tint(c.style.primary, 0.45), "low": tint(c.style.primary, 0.85)}[lvl]
            fg = "FFFFFF" if lvl != "low" else c.style.text
            rating = lvl.capitalize() + (f" ({f.rating}/5)" if isinstance(f.rating, int) else "")
            paras = [[(_FORCE_NAMES[k], True, fg)], [(rating, False, fg)]]
            if f.note:
                paras.append([(_text(f.note, 200), False, fg)])
            c.text_box(Box(x, y, w, h), paras, size=13, fill=fill, align="c", anchor="m", inset=0.12, min_pt=8)

    return [SlideSpec("context", "Title and Content", title, draw, topic="Five Forces",
                      source=f"Consultant assessment ({d.params.engagement.consultant}), engagement parameters",
                      footnote="Force strength as rated by the engagement team; darker = stronger force.",
                      notes="Porter's Five Forces, rated by the consultant. Parameters: context.five_forces.")]


def s_pest(d: DeckData) -> list[SlideSpec]:
    p = d.params.context.pest
    parts = {k: getattr(p, k) for k in ("political", "economic", "social", "technological")} if p else {}
    if not any(parts.values()):
        d.skip("PEST analysis", "no factors given for this engagement", detail="parameter context.pest")
        return []
    most = max(parts, key=lambda k: len(parts[k]))
    title = f"External environment: {most} factors weigh most on the KAM agenda"

    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1, 1], gap=int(0.2 * IN))
        quads = [b for r in rows for b in r.split_h([1, 1], gap=int(0.25 * IN))]
        for (k, items), b in zip(parts.items(), quads):
            c.text_box(Box(b.x, b.y, int(0.45 * IN), b.h), [k[0].upper()], size=28, bold=True, fill=c.style.primary,
                       color="FFFFFF", align="c", anchor="m", fit=False)
            paras = [[(k.capitalize(), True, c.style.primary)]] + [[("•  ", True, c.style.accent),
                                                                   (_text(x, 160), False)] for x in items]
            if not items:
                paras.append([("No factor noted", False, c.style.muted)])
            c.text_box(Box(b.x + int(0.55 * IN), b.y, b.w - int(0.55 * IN), b.h), paras, size=14,
                       color=c.style.text, fill=c.style.light, inset=0.12, min_pt=8)

    return [SlideSpec("context", "Title and Content", title, draw, topic="PEST",
                      source="Consultant assessment",
                      notes="PEST: political, economic, social and technological factors noted by the consultant. Parameters: context.pest.")]


def s_most(d: DeckData) -> list[SlideSpec]:
    m = d.params.context.most
    if m is None or not (m.mission or m.objectives or m.strategies or m.tactics):
        d.skip("MOST analysis", "no mission/objectives given for this engagement", detail="parameter context.most")
        return []
    rows = [("Mission", [m.mission] if m.mission else []), ("Objectives", m.objectives),
            ("Strategies", m.strategies), ("Tactics", m.tactics)]
    rows = [r for r in rows if r[1]]
    goals = [_lc_first(_text(x, 80).rstrip(".")) for x in m.objectives[:2]]
    title = (f"The programme aims to {' and '.join(goals)}" if goals
             else f"Mission: {_text(m.mission, 110).rstrip('.')}" if m.mission
             else "The KAM programme's strategies and tactics set the direction")

    def draw(c: SlideCanvas):
        box = c.region("Body")
        bands = box.split_v([1] * len(rows), gap=int(0.12 * IN))
        for (label, items), b in zip(rows, bands):
            c.text_box(Box(b.x, b.y, int(2.2 * IN), b.h), [label], size=16, bold=True, fill=c.style.primary,
                       color="FFFFFF", anchor="m", inset=0.15, fit=False)
            paras = [[("•  ", True, c.style.accent), (_text(x, 200), False)] for x in items]
            c.text_box(Box(b.x + int(2.3 * IN), b.y, b.w - int(2.3 * IN), b.h), paras, size=14, color=c.style.text,
                       anchor="m", fill=c.style.light, inset=0.12, min_pt=8)

    return [SlideSpec("context", "Title and Content", title, draw, topic="MOST",
                      source="Consultant assessment",
                      notes="MOST: mission, objectives, strategies and tactics of the KAM programme.")]


def s_gaps(d: DeckData) -> list[SlideSpec]:
    g = d.params.context.gaps
    if not g:
        d.skip("Gap analysis", "no gaps given for this engagement", detail="parameter context.gaps")
        return []
    # the gap the capability self-assessment scores weakest comes first; else the consultant's first
    ms = d.peek("maturity_stage")
    weakest = str(ms["weakest_dimension"].iloc[0]).lower() if ms is not None and len(ms) and \
        "weakest_dimension" in ms.columns and isinstance(ms["weakest_dimension"].iloc[0], str) else ""
    g = sorted(g, key=lambda x: x.area.strip().lower() != weakest)
    first = g[0]
    lead = (f"{_text(first.area, 60)} is the gap to close first: "
            + (f"{_lc_first(_text(first.current, 70))} today, " if first.current else "")
            + (f"{_lc_first(_text(first.desired, 70))} as the target" if first.desired else "the target state"))
    rows = [[_text(x.area, 60), _text(x.current, 160), _text(x.desired, 160), _text(x.action, 160)] for x in g]
    specs = []
    pages = _rows_per_page(len(rows), 6)
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Area", "Today", "Target state", "How to close the gap"], rows[sl],
                    widths=[1.3, 2, 2, 2.2], bold_cols=[0], max_pt=13)
        title = lead + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else "")
        specs.append(SlideSpec("context", "Table", title, draw, topic="Gap analysis",
                               source="Consultant assessment",
                               notes="Gap analysis: current state, desired state and closing action per area."))
    return specs


def s_strengths(d: DeckData) -> list[SlideSpec]:
    s = d.params.context.strengths
    if not s:
        d.skip("Strengths", "no strengths given for this engagement", detail="parameter context.strengths")
        return []

    def draw(c: SlideCanvas):
        _bullets(c, c.region("Body"), [_text(x, 220) for x in s], size=18)

    lead = " and ".join(_lc_first(_text(x, 70).rstrip(".")) for x in s[:2])
    return [SlideSpec("context", "Title and Content", f"The programme can build on {lead}", draw,
                      topic="Strengths", source="Consultant assessment",
                      notes="Strengths recorded by the engagement team.")]

