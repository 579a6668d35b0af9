"""Segment playbooks and the operating rhythm they set.

The playbooks file (``templates/playbooks.yaml``, overridable per client) gives each
portfolio segment its objective, engagement model, cadence, investment, hours, expected
uplift, targets and actions; the KPI ownership and the operating calendar phase 5
monitors against come from the same file.
"""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, list_values
from ..metrics import compute_revenue_shares
from .targets import LEVERS

__all__ = [
    "PLAYBOOK_FIELDS",
    "load_playbooks",
    "playbook_text",
    "engagement_tier_models",
    "compute_account_engagement",
    "engagement_tier_hours",
    "compute_segment_playbook",
    "cadence_in_practice",
    "build_kpi_ownership",
    "build_operating_calendar",
]


PLAYBOOK_FIELDS = ("objective", "engagement_model", "service_level", "contact_cadence", "investment_level",
                   "kpi_focus", "raci", "hours_per_account", "expected_uplift", "targets", "actions")



_REQUIRED_FIELDS = ("objective", "engagement_model", "contact_cadence", "investment_level", "expected_uplift")



def load_playbooks(path: str | Path, *, segments: list[str] | None = None,
                   overrides: dict[str, dict[str, Any]] | None = None,
                   engagement_hours: dict[str, float] | None = None, inactive: str | None = None) -> dict:
    """Read and validate the playbooks file, applying the client's overrides.

    Parameters
    ----------
    path : path
        ``templates/playbooks.yaml`` or the client's copy (``strategy.playbooks``).
    segments : list of str, optional
        The portfolio quadrant names (``segmentation.quadrant_names.ordered()``). Every
        playbook must be for one of them and every one of them must have a playbook.
    overrides : dict, optional
        ``segment -> {field: value}`` (``strategy.playbook_overrides``); replaces entries.
    engagement_hours : dict, optional
        ``engagement model -> hours per account per year`` (``strategy.engagement_hours``).
    inactive : str, optional
        The name of the group of accounts that are not live
        (``segmentation.key_accounts.tier_names.inactive``): it gets the file's
        ``inactive_playbook`` (a win-back playbook without manager hours), or the packaged
        template's when the file has none.

    Returns
    -------
    dict
        The file's content with ``playbooks`` resolved: overrides applied and
        ``hours_per_account`` filled from the engagement model where a playbook has none.

    Raises
    ------
    ParameterError
        Missing/unreadable file, a playbook for a segment that does not exist, a segment
        without a playbook, an unknown field or engagement model, or a value out of range.
    """
    from ..config import read_yaml_mapping

    path = Path(path)
    data = read_yaml_mapping(path, what="playbooks file", setting="strategy.playbooks")
    if not isinstance(data, dict) or not isinstance(data.get("playbooks"), dict) or not data["playbooks"]:
        raise ParameterError(f"playbooks file {path} must have a top-level 'playbooks:' mapping of segment -> fields")
    data = copy.deepcopy(data)
    books: dict[str, dict] = {str(k): dict(v or {}) for k, v in data["playbooks"].items()}
    if inactive is not None and inactive not in books:
        from ..config import TEMPLATES_DIR

        spare = data.get("inactive_playbook") or read_yaml_mapping(
            TEMPLATES_DIR / "playbooks.yaml", what="playbooks template", setting="strategy.playbooks"
        ).get("inactive_playbook")
        books[inactive] = dict(spare or {})
    if inactive is not None and segments is not None and inactive not in segments:
        segments = [*segments, inactive]
    models: dict[str, dict] = {str(k): dict(v or {}) for k, v in (data.get("engagement_models") or {}).items()}
    if not models:
        raise ParameterError(f"playbooks file {path} has no 'engagement_models:' section; fix: add one with "
                             "hours_per_account for each model (see templates/playbooks.yaml)")
    for model, hours in (engagement_hours or {}).items():
        if model not in models:
            raise ParameterError(f"strategy.engagement_hours names engagement model {model!r}, which is not in "
                                 f"{path} (models: {', '.join(models)}); fix: use one of those names")
        if hours is None or not hours >= 0:
            raise ParameterError(f"strategy.engagement_hours[{model!r}] = {hours!r}; hours must be >= 0")
        models[model]["hours_per_account"] = float(hours)
    for seg, fields in (overrides or {}).items():
        if seg not in books:
            raise ParameterError(
                f"strategy.playbook_overrides has a playbook for segment {seg!r}, which does not exist "
                f"(playbooks in {path.name}: {', '.join(books)}); fix: use one of those segment names")
        unknown = [f for f in fields if f not in PLAYBOOK_FIELDS]
        if unknown:
            raise ParameterError(f"strategy.playbook_overrides[{seg!r}] has unknown field(s) {list_values(unknown)}; "
                                 f"valid fields: {', '.join(PLAYBOOK_FIELDS)}")
        books[seg].update(copy.deepcopy(fields))
    if segments is not None:
        extra = [s for s in books if s not in segments]
        if extra:
            raise ParameterError(
                f"{path.name} has a playbook for segment(s) {list_values(extra)} that do not exist in the portfolio "
                f"matrix (segments: {', '.join(segments)}); fix: rename the playbook(s) to the quadrant names or "
                "change segmentation.quadrant_names")
        missing = [s for s in segments if s not in books]
        if missing:
            raise ParameterError(f"segment(s) {list_values(missing)} have no playbook in {path.name}; fix: add a "
                                 "playbook for each quadrant (copy one of the existing entries)")
    for seg, pb in books.items():
        where = f"playbook {seg!r} ({path.name})"
        unknown = [f for f in pb if f not in PLAYBOOK_FIELDS]
        if unknown:
            raise ParameterError(f"{where} has unknown field(s) {list_values(unknown)}; valid: {', '.join(PLAYBOOK_FIELDS)}")
        miss = [f for f in _REQUIRED_FIELDS if f not in pb]
        if miss:
            raise ParameterError(f"{where} is missing {', '.join(miss)}; fix: add the field(s)")
        if pb["engagement_model"] not in models:
            raise ParameterError(f"{where} uses engagement model {pb['engagement_model']!r}, which is not in "
                                 f"engagement_models ({', '.join(models)}); fix: use one of those")
        if pb.get("hours_per_account") is None or pb["engagement_model"] in (engagement_hours or {}):
            pb["hours_per_account"] = float(models[pb["engagement_model"]].get("hours_per_account", 0.0))
        for f, lo, hi in (("hours_per_account", 0, 2000), ("expected_uplift", 0, 1)):
            v = pb[f]
            if not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ParameterError(f"{where}: {f} = {v!r} must be a number between {lo} and {hi}")
        for lever, v in (pb.get("targets") or {}).items():
            if lever not in LEVERS:
                raise ParameterError(f"{where}: unknown target lever {lever!r}; valid: {', '.join(LEVERS)}")
            if not isinstance(v, (int, float)) or not -1 <= v <= 1:
                raise ParameterError(f"{where}: targets.{lever} = {v!r} must be a share between -1 and 1")
    data["playbooks"] = books
    data["engagement_models"] = models
    return data



def engagement_tier_models(playbooks: dict) -> dict[str, tuple[str | None, float]]:
    """The engagement model and manager hours a year per account of each coverage tier.

    From the playbooks' engagement models: ``key`` = the model with the most hours (a
    dedicated manager); ``growth`` = the model with the next most, still positive, hours (a
    pooled team; ``(None, 0)`` when there is none); ``core`` and ``inactive`` = the model
    with the fewest hours when it has none (digital and inside sales), else ``(None, 0)``.
    """
    models = sorted(((float(m.get("hours_per_account", 0.0)), k) for k, m in playbooks["engagement_models"].items()),
                    key=lambda x: (-x[0], x[1]))
    key = (models[0][1], models[0][0]) if models and models[0][0] > 0 else (None, 0.0)
    growth = next(((k, h) for h, k in models if 0 < h < key[1]), (None, 0.0))
    digital = next(((k, h) for h, k in reversed(models) if h == 0), (None, 0.0))
    return {"key": key, "growth": growth, "core": digital, "inactive": digital}


def engagement_tier_hours(playbooks: dict) -> dict[str, float]:
    """Manager hours a year per account of each coverage tier (:func:`engagement_tier_models`)."""
    return {t: h for t, (_, h) in engagement_tier_models(playbooks).items()}


def compute_account_engagement(segments: pd.DataFrame, playbooks: dict, *, segment_col: str = "quadrant",
                               account_col: str = "account_id") -> pd.DataFrame:
    """Each account's engagement model, manager hours a year and expected uplift.

    The account's segment playbook gives them; with ``segments.coverage_tier_key`` the
    hours are capped at what the account's coverage tier can carry
    (:func:`engagement_tier_models`): a Strategic account that is not a key account gets a
    pooled team or digital service, not the playbook's dedicated manager. A capped account
    takes its tier's engagement model, and an expected uplift no higher than that of the
    playbooks using that model.

    Returns ``account_id, engagement_model_key, engagement_model`` (label),
    ``hours_per_account, expected_uplift, capped``.
    """
    books, models = playbooks["playbooks"], playbooks["engagement_models"]
    seg = segments[segment_col].astype(str)
    missing = sorted(set(seg) - set(books))
    if missing:
        raise ParameterError(f"segment(s) {list_values(missing)} have no playbook; fix: add them to the playbooks file")
    key = seg.map(lambda s: books[s]["engagement_model"]).to_numpy(dtype=object)
    hours = seg.map(lambda s: float(books[s]["hours_per_account"])).to_numpy(dtype=float)
    uplift = seg.map(lambda s: float(books[s]["expected_uplift"])).to_numpy(dtype=float)
    capped = np.zeros(len(seg), dtype=bool)
    if "coverage_tier_key" in segments:
        tiers = engagement_tier_models(playbooks)
        tier = segments["coverage_tier_key"].fillna("core").astype(str).to_numpy()
        t_model = np.array([tiers.get(t, (None, 0.0))[0] for t in tier], dtype=object)
        t_hours = np.array([tiers.get(t, (None, 0.0))[1] for t in tier], dtype=float)
        capped = t_hours < hours
        best = {m: max((float(b["expected_uplift"]) for b in books.values() if b["engagement_model"] == m),
                       default=None) for m in models}
        hours = np.where(capped, t_hours, hours)
        key = np.where(capped & (t_model != None), t_model, key)  # noqa: E711 (element-wise)
        cap_uplift = np.array([best.get(m) if best.get(m) is not None else u for m, u in zip(key, uplift)])
        uplift = np.where(capped, np.minimum(uplift, cap_uplift), uplift)
    return pd.DataFrame({account_col: segments[account_col].to_numpy(), "engagement_model_key": key,
                         "engagement_model": [models[m].get("label", m) for m in key],
                         "hours_per_account": hours, "expected_uplift": uplift, "capped": capped})


def playbook_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v).replace("_", " ") for v in value)
    return "" if value is None else str(value)



def compute_segment_playbook(segments: pd.DataFrame, account_summary: pd.DataFrame, playbooks: dict, *,
                             segment_col: str = "quadrant", account_col: str = "account_id",
                             revenue_col: str = "revenue_12m", order: list[str] | None = None) -> pd.DataFrame:
    """One row per segment: its size and the playbook that applies.

    Columns: segment, accounts, key_accounts, revenue_12m, revenue_share (the one definition,
    :func:`~kam_analysis.metrics.compute_revenue_shares`: of all accounts' revenue), objective,
    engagement_model (readable label), engagement_model_key, service_level, contact_cadence, investment_level,
    kpi_focus, responsible, accountable, consulted, informed, hours_per_account,
    hours_needed (= accounts x hours_per_account), expected_uplift. With
    ``segments.coverage_tier_key``: hours_needed is the sum of each account's hours capped at
    its tier (:func:`compute_account_engagement`), and ``engagement_mix`` says how many of the
    segment's accounts get each engagement model ("Dedicated key account manager: 12;
    Digital and inside sales: 240") and ``cadence_mix`` the contact cadence they get
    (:func:`cadence_in_practice`).

    ``playbooks`` is the dict :func:`load_playbooks` returns. A segment in the data
    without a playbook raises :class:`ParameterError`.
    """
    books, models = playbooks["playbooks"], playbooks["engagement_models"]
    df = segments[[account_col, segment_col] + (["is_key"] if "is_key" in segments else [])].merge(
        account_summary[[account_col, revenue_col]], on=account_col, how="left")
    df[segment_col] = df[segment_col].astype(str)
    missing = sorted(set(df[segment_col]) - set(books))
    if missing:
        raise ParameterError(f"segment(s) {list_values(missing)} in the segments table have no playbook "
                             f"(playbooks: {', '.join(books)}); fix: add them to the playbooks file")
    order = [s for s in (order or list(books)) if s in books]
    g = compute_revenue_shares(df, segment_col, order=order, revenue_col=revenue_col, account_col=account_col)
    g = g.drop(columns="account_share")
    g.insert(1, "key_accounts", (df.groupby(segment_col)["is_key"].sum().reindex(order).fillna(0).astype(int)
                                 if "is_key" in df else 0))
    rows = []
    for seg in g.index:
        pb = books[seg]
        raci = pb.get("raci") or {}
        rows.append({
            "objective": pb["objective"],
            "engagement_model": models[pb["engagement_model"]].get("label", pb["engagement_model"]),
            "engagement_model_key": pb["engagement_model"],
            "service_level": playbook_text(pb.get("service_level")),
            "contact_cadence": playbook_text(pb["contact_cadence"]),
            "investment_level": playbook_text(pb["investment_level"]),
            "kpi_focus": playbook_text(pb.get("kpi_focus")),
            **{r: playbook_text(raci.get(r)) for r in ("responsible", "accountable", "consulted", "informed")},
            "hours_per_account": float(pb["hours_per_account"]), "expected_uplift": float(pb["expected_uplift"]),
        })
    out = pd.concat([g.reset_index(names="segment"), pd.DataFrame(rows)], axis=1)
    out["accounts"] = out["accounts"].astype(int)
    out["key_accounts"] = out["key_accounts"].astype(int)
    out["hours_needed"] = out["accounts"] * out["hours_per_account"]
    cols = ["segment", "accounts", "key_accounts", "revenue_12m", "revenue_share", "objective", "engagement_model",
            "engagement_model_key", "service_level", "contact_cadence", "investment_level", "kpi_focus", "responsible",
            "accountable", "consulted", "informed", "hours_per_account", "hours_needed", "expected_uplift"]
    if "coverage_tier_key" in segments:
        # what each segment's accounts actually get once their value caps the playbook's hours
        eng = compute_account_engagement(segments, playbooks, segment_col=segment_col, account_col=account_col)
        eng["segment"] = segments[segment_col].astype(str).to_numpy()
        out["hours_needed"] = out["segment"].map(eng.groupby("segment")["hours_per_account"].sum()).fillna(0.0)
        label_order = {m: i for i, m in enumerate(sorted(models, key=lambda m: -float(
            models[m].get("hours_per_account", 0.0))))}

        def mix(s):
            e = eng[eng["segment"] == s]
            c = e.groupby("engagement_model_key").size()
            return "; ".join(f"{models[m].get('label', m)}: {n:,}" for m, n in
                             sorted(c.items(), key=lambda x: label_order.get(x[0], 99)))

        out["engagement_mix"] = out["segment"].map(mix)
        managed = eng[eng["hours_per_account"] > 0].groupby("segment").size()
        out["cadence_mix"] = [cadence_in_practice(c, int(managed.get(s, 0)), int(n), float(h))
                              for s, c, n, h in zip(out["segment"], out["contact_cadence"], out["accounts"],
                                                    out["hours_per_account"])]
        cols += ["engagement_mix", "cadence_mix"]
    return out[cols]


def cadence_in_practice(cadence: str, managed: int, accounts: int, playbook_hours: float) -> str:
    """The playbook's contact cadence as the segment's accounts get it once their value caps the
    playbook's hours: a review cadence needs manager time, so it is promised only to the accounts
    with some ("Quarterly business review (the 91 with manager time; digital for the other 254)");
    a segment none of whose accounts carries manager time gets digital contact. A cadence of a
    playbook without manager hours (automated journeys) is as written."""
    if playbook_hours <= 0 or managed >= accounts:
        return cadence
    if managed <= 0:
        return f"Digital contact; {cadence[:1].lower()}{cadence[1:]} once an account's value carries manager time"
    return f"{cadence} (the {managed:,} with manager time; digital for the other {accounts - managed:,})"



_FREQ_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}



def build_kpi_ownership(playbooks: dict, *, targets: dict[str, float] | None = None,
                        headline: pd.DataFrame | None = None) -> pd.DataFrame:
    """Who owns each programme KPI, how often it is reviewed, its current value and target.

    From ``kpi_ownership`` in the playbooks file; ``current`` from the ``kpi_headline``
    table where it has the KPI, ``target`` from ``params.targets``.

    Returns
    -------
    DataFrame
        kpi, label, owner, review, source_table, current, target.
    """
    items = playbooks.get("kpi_ownership") or []
    df = pd.DataFrame(items, columns=["kpi", "label", "owner", "review", "source_table"])
    bad = sorted(set(df["review"].dropna()) - set(_FREQ_MONTHS))
    if bad:
        raise ParameterError(f"kpi_ownership review cadence {list_values(bad)} unknown; valid: {', '.join(_FREQ_MONTHS)}")
    cur = headline.set_index("kpi")["value"] if headline is not None and "kpi" in headline else pd.Series(dtype=float)
    df["current"] = df["kpi"].map(cur).astype(float)
    df["target"] = df["kpi"].map(targets or {}).astype(float)
    return df



def build_operating_calendar(playbooks: dict, *, start: dt.date, months: int = 12) -> pd.DataFrame:
    """The reporting and review calendar for the ``months`` after ``start``.

    Each ``operating_rhythm`` item of the playbooks file recurs at its frequency
    (monthly, quarterly, semiannual, annual), first in the month after ``start``, dated
    the first working day (Mon-Fri) of its month.

    Returns
    -------
    DataFrame
        date, activity, frequency, owner, audience, kpis, phase (``phase 5 review`` for
        the programme reviews phase 5 runs, otherwise ``operations``), sorted by date.
    """
    rows = []
    first = (pd.Timestamp(start) + pd.offsets.MonthBegin(1)).normalize()
    for item in playbooks.get("operating_rhythm") or []:
        freq = item.get("frequency")
        if freq not in _FREQ_MONTHS:
            raise ParameterError(f"operating_rhythm activity {item.get('activity')!r} has frequency {freq!r}; "
                                 f"valid: {', '.join(_FREQ_MONTHS)}")
        step = _FREQ_MONTHS[freq]
        for m in range(step - 1 if step > 1 else 0, months, step):
            d = first + pd.DateOffset(months=m)
            while d.weekday() >= 5:
                d += pd.Timedelta(days=1)
            rows.append({"date": d, "activity": item["activity"], "frequency": freq, "owner": item.get("owner", ""),
                         "audience": item.get("audience", ""), "kpis": item.get("kpis", ""),
                         "phase": "phase 5 review" if "phase 5" in item["activity"].lower() else "operations"})
    out = pd.DataFrame(rows, columns=["date", "activity", "frequency", "owner", "audience", "kpis", "phase"])
    return out.sort_values(["date", "activity"], kind="stable").reset_index(drop=True)
