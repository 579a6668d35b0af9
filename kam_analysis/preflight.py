"""Check everything about a client's parameters that can be checked before a run.

The schema (:mod:`kam_analysis.config`) checks each value on its own. This module checks
the parameters against the resources they name, which the phases would otherwise only
read minutes into a run: the industry's benchmark set and the benchmark file, the
playbooks file against the portfolio quadrant names, the RFM segment file, the deck
template and logo, the overrides file and inline overrides, and the KPI names of the
targets and benchmark overrides.

:func:`check_params` returns one :class:`~kam_analysis.exceptions.Problem` per issue,
naming the file, the parameter key and the fix; ``kam validate`` prints them with the
data problems and ``kam run`` stops on them (exit status 2) before anything is written.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from .config import Params
from .exceptions import KAMError, ParameterError, Problem

__all__ = ["check_params", "params_warnings", "raise_for_params"]


def _problem(rule: str, message: str, fix: str = "", *, file=None, key: str | None = None) -> Problem:
    return Problem(rule=rule, message=message, fix=fix, file=str(file) if file else None, setting=key)


def _split_fix(text: str) -> tuple[str, str]:
    """A resource loader's message 'what is wrong; fix: what to do' as (message, fix)."""
    for sep in ("; fix: ", ". fix: ", " fix: "):
        if sep in text:
            head, fix = text.split(sep, 1)
            return head.rstrip("."), fix
    return text, ""


def _from_error(rule: str, exc: Exception, *, file, key: str, fix: str) -> Problem:
    message, own_fix = _split_fix(str(exc))
    return _problem(rule, message, own_fix or fix, file=file, key=key)


def _kpi_names(where: str, names, *, key: str) -> list[Problem]:
    from .metrics.definitions import KPI_DEFINITIONS

    out = []
    for name in names:
        if name not in KPI_DEFINITIONS:
            guess = difflib.get_close_matches(name, list(KPI_DEFINITIONS), n=1, cutoff=0.6)
            out.append(_problem(
                "unknown_kpi", f"{where} names '{name}', which is not a KPI",
                (f"did you mean '{guess[0]}'? " if guess else "")
                + "use a KPI name from docs/kpi_dictionary.md (e.g. retention_rate, average_order_value, nps)",
                key=f"{key}.{name}"))
    return out


def check_params(params: Params) -> list[Problem]:
    """Every problem of ``params`` against the files and names it refers to (empty: all good)."""
    problems: list[Problem] = []

    # ---- benchmarks: the file, the industry's set, the overrides' KPI names
    from .metrics.benchmarks import load_benchmarks

    bm_file = params.benchmarks.file
    try:
        load_benchmarks(bm_file, industry=params.client.industry, overrides=params.benchmarks.overrides,
                        client_currency=params.client.currency)
    except (ParameterError, ValueError, TypeError) as exc:
        key = "client.industry" if "client.industry" in str(exc) else "benchmarks.file"
        problems.append(_from_error("benchmarks", exc, file=bm_file, key=key,
                                    fix="fix the benchmark file or client.industry"))
    problems += _kpi_names("benchmarks.overrides", params.benchmarks.overrides, key="benchmarks.overrides")
    problems += _kpi_names("targets", params.targets, key="targets")

    # ---- playbooks against the quadrant names
    from .phases.playbooks import load_playbooks

    st = params.strategy
    try:
        load_playbooks(st.playbooks, segments=params.segmentation.quadrant_names.ordered(),
                       overrides=st.playbook_overrides, engagement_hours=st.engagement_hours)
    except (ParameterError, ValueError, TypeError, KeyError) as exc:
        problems.append(_from_error(
            "playbooks", exc, file=st.playbooks, key="strategy.playbooks",
            fix="give the playbooks file one playbook per quadrant name of segmentation.quadrant_names"))

    # ---- RFM segment names
    from .phases.rfm import load_rfm_segments
    from .phases.segmentation import rfm_segments_path

    rfm_file = rfm_segments_path(params)
    try:
        load_rfm_segments(rfm_file)
    except (ParameterError, ValueError, TypeError, KeyError) as exc:
        problems.append(_from_error("rfm_segments", exc, file=rfm_file, key="segmentation.rfm.segments_file",
                                    fix="correct the RFM segments file, or remove the setting to use the default"))

    # ---- consultant overrides: the file, and every quadrant named
    names = params.segmentation.quadrant_names.ordered()
    ov_file = params.segmentation.overrides_file
    quadrants = [(o.quadrant, f"segmentation.overrides (account {o.account_id})") for o in params.segmentation.overrides]
    if ov_file is not None:
        from .phases.overrides import load_overrides

        try:
            df = load_overrides(ov_file)
            quadrants += [(q, f"{src}") for q, src in zip(df["quadrant"], df["source"]) if q]
        except (ParameterError, ValueError, OSError) as exc:
            problems.append(_from_error("overrides", exc, file=ov_file, key="segmentation.overrides_file",
                                        fix="check the path, or remove the setting"))
    bad = [(q, where) for q, where in quadrants if q not in names]
    if bad:
        problems.append(_problem(
            "overrides", f"{len(bad)} override(s) name a quadrant that does not exist: "
            + "; ".join(f"'{q}' ({where})" for q, where in bad[:5]),
            f"use one of the quadrant names {', '.join(names)} (segmentation.quadrant_names)",
            file=ov_file, key="segmentation.overrides"))

    # ---- the deck template and the logo
    from .deliverables._pptx import DeckTemplate
    from .present.theme import theme_for

    tpl = params.branding.template
    try:
        DeckTemplate(tpl, style=theme_for(params), apply_colors=False)
    except (KAMError, OSError, ValueError) as exc:
        problems.append(_from_error("template", exc, file=tpl, key="branding.template",
                                    fix="point branding.template at a PowerPoint template, or remove the setting"))
    logo = params.branding.logo
    if logo is not None:
        problems += _logo(Path(logo))

    # ---- a follow-up review: the plan run (same client, earlier, finished) and the returned actions file
    if params.review.plan_run:
        from .exceptions import DataValidationError
        from .phases.followup import load_plan

        try:
            load_plan(params.review.plan_run, params)
        except ParameterError as exc:
            message, fix = _split_fix(str(exc))
            problems.append(_problem("plan_run", message, fix, key="review.plan_run"))
        except DataValidationError as exc:
            problems += [p for p in exc.problems if p.severity == "error"]
    return problems


def _logo(path: Path) -> list[Problem]:
    if not path.is_file():
        return [_problem("logo", f"The logo {path} does not exist", "check branding.logo (relative paths are read "
                         "from the params file's folder), or remove it", file=path, key="branding.logo")]
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
    except Exception:  # noqa: BLE001 - Pillow raises several types for a file that is not an image
        return [_problem("logo", f"The logo {path} is not a readable image", "give a PNG or JPEG file",
                         file=path, key="branding.logo")]
    return []


def params_warnings(params: Params) -> list[Problem]:
    """What in the parameters is consistent enough to run but would make the deck disagree with
    itself (warnings; the run goes on): an objective that gives a KPI another figure than its
    target (:func:`kam_analysis.metrics.objectives.objective_target_conflicts`)."""
    from .metrics.objectives import objective_target_conflicts

    return objective_target_conflicts(params)


def raise_for_params(params: Params) -> None:
    """Raise :class:`ParameterError` listing every problem :func:`check_params` finds."""
    problems = check_params(params)
    if problems:
        src = f" in {params.source_path}" if params.source_path else ""
        raise ParameterError(f"{len(problems)} parameter problem(s){src}; nothing was run:\n"
                             + "\n".join(str(p) for p in problems))
