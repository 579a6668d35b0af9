"""Import-ready CSV files for the client's CRM: segments, coverage and account-plan actions.

Three files in ``deliverables/`` (field mapping for Salesforce, HubSpot and Dynamics 365 in
``docs/crm_mapping.md``):

* ``segment_assignments.csv`` — one row per account: its segment, key-account flag and
  coverage tier;
* ``coverage_assignments.csv`` — one row per account: the manager assigned, the engagement
  model and the manager hours a year;
* ``account_plan_actions.csv`` — one row per account-plan action with its stable
  ``action_id``, then one per recommendation (its ``REC-`` id, no account), and the empty
  ``status``, ``status_date`` and ``comment`` columns the client fills in and returns as
  ``review.actions_file`` for the follow-up review.

Format (one decision for all three, for Excel and the CRMs' import tools alike): UTF-8 with
a byte-order mark (Excel on Windows reads accents correctly only with it; Salesforce Data
Import Wizard and Data Loader, HubSpot and Dynamics 365 accept it), comma-separated, a header
row of the field names below, CRLF line ends, quotes only where needed, ISO dates
(``YYYY-MM-DD``), flags ``true``/``false``, empty cells for missing values. Client text is
neutralised (:func:`kam_analysis.safety.neutralise_frame_for_csv`): a name beginning with
``= + - @`` gets a leading ``'`` so a spreadsheet cannot run it as a formula.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..present.formats import fmt_money
from ..present.labels import labels
from ..safety import neutralise_frame_for_csv

__all__ = ["EXPORTS", "EXPORT_ENCODING", "build_crm_exports", "export_frames", "write_export"]

#: file -> its columns, in order (the CRM field mapping in docs/crm_mapping.md names each)
EXPORTS: dict[str, tuple[str, ...]] = {
    "segment_assignments.csv": ("account_id", "account_name", "segment", "key_account", "coverage_tier",
                                "as_of_date"),
    "coverage_assignments.csv": ("account_id", "account_name", "assigned_manager", "engagement_model",
                                 "hours_per_year", "covered", "segment", "as_of_date"),
    "account_plan_actions.csv": ("action_id", "account_id", "account_name", "action", "owner", "due_date", "kpi",
                                 "target", "status", "status_date", "comment"),
}

#: the encoding of every export: UTF-8 with a byte-order mark (see the module docstring)
EXPORT_ENCODING = "utf-8-sig"


def _flag(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if pd.isna(v) else ("true" if bool(v) else "false"))


def _iso(s: pd.Series) -> pd.Series:
    t = pd.to_datetime(s, errors="coerce")
    return t.dt.strftime("%Y-%m-%d").where(t.notna(), "")


def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str)


def _names(run, ids: pd.Series, fallback: pd.Series | None = None) -> pd.Series:
    """The account's display name (pseudonym under ``output.pseudonymise``), else the table's, else the id."""
    ids = ids.astype(str)
    names = ids.map(run.account_display_names()) if run.has_data("accounts") else pd.Series(pd.NA, index=ids.index)
    if fallback is not None:
        names = names.fillna(fallback)
    return _text(names.fillna(ids))


def export_frames(run) -> dict[str, pd.DataFrame]:
    """The three export tables (before neutralising), columns as :data:`EXPORTS`."""
    from ..metrics.capability import Capability

    as_of = pd.Timestamp(run.params.analysis.as_of_date).strftime("%Y-%m-%d")
    # a base too small for the portfolio matrix has no quadrant to send to the CRM: the segment is empty
    # (the inactive accounts keep their own group)
    no_matrix = set(run.params.segmentation.quadrant_names.ordered()) \
        if not Capability.of(run).supported("portfolio_matrix") else set()

    def _segment(s: pd.Series) -> pd.Series:
        t = _text(s)
        return t.where(~t.isin(no_matrix), "")

    seg = run.read_table("segments", columns=["account_id", "is_key", "quadrant"])
    seg = seg.assign(account_id=seg["account_id"].astype(str)).sort_values("account_id", kind="stable")
    segments = pd.DataFrame({
        "account_id": seg["account_id"], "account_name": _names(run, seg["account_id"]),
        "segment": _segment(seg["quadrant"]), "key_account": _flag(seg["is_key"]),
        "coverage_tier": _text(seg["coverage_tier"]) if "coverage_tier" in seg else "", "as_of_date": as_of})
    cov = run.read_table("coverage_plan", columns=["account_id", "segment", "engagement_model", "covered",
                                                   "hours_allocated", "assigned_manager"])
    cov = cov.assign(account_id=cov["account_id"].astype(str)).sort_values("account_id", kind="stable")
    coverage = pd.DataFrame({
        "account_id": cov["account_id"], "account_name": _names(run, cov["account_id"]),
        "assigned_manager": _text(cov["assigned_manager"]), "engagement_model": _text(cov["engagement_model"]),
        "hours_per_year": pd.to_numeric(cov["hours_allocated"], errors="coerce").round(1),
        "covered": _flag(cov["covered"]), "segment": _segment(cov["segment"]), "as_of_date": as_of})
    acts = run.read_table("account_plan_actions", columns=["action_id", "account_id", "account_name", "action",
                                                           "owner", "due_date", "kpi"])
    actions = pd.DataFrame({
        "action_id": _text(acts["action_id"]), "account_id": acts["account_id"].astype(str),
        "account_name": _names(run, acts["account_id"], acts["account_name"]), "action": _text(acts["action"]),
        "owner": _text(acts["owner"]), "due_date": _iso(acts["due_date"]),
        "kpi": _text(acts["kpi"]).map(labels), "target": _text(acts["target"]) if "target" in acts else "",
        "status": "", "status_date": "", "comment": ""})
    recs = run.read_table("recommendations", columns=["rank", "recommendation", "value"])
    if "recommendation_id" in recs and len(recs):  # reported on in the same returned file, by their REC- id
        recs = recs.sort_values("rank", kind="stable")
        cur = run.params.client.currency
        basis = recs["value_basis"] if "value_basis" in recs else pd.Series("at stake", index=recs.index)
        actions = pd.concat([actions, pd.DataFrame({
            "action_id": _text(recs["recommendation_id"]), "account_id": "", "account_name": "",
            "action": _text(recs["recommendation"]), "owner": _text(recs["owner"]) if "owner" in recs else "",
            "due_date": _iso(recs["due_date"]) if "due_date" in recs else "", "kpi": "",
            "target": [f"{fmt_money(v, cur)} {b}" if pd.notna(v) else "" for v, b in zip(recs["value"], basis)],
            "status": "", "status_date": "", "comment": ""})], ignore_index=True)
    frames = {"segment_assignments.csv": segments, "coverage_assignments.csv": coverage,
              "account_plan_actions.csv": actions}
    return {name: frames[name][list(cols)].reset_index(drop=True) for name, cols in EXPORTS.items()}


def write_export(frame: pd.DataFrame, path: Path) -> Path:
    """Write one export: neutralised text, UTF-8 with BOM, CRLF, ISO dates (already text), atomically."""
    from ..data.runfolder import _atomic_write_bytes

    text = neutralise_frame_for_csv(frame).to_csv(index=False, lineterminator="\r\n", float_format="%.10g")
    _atomic_write_bytes(path, text.encode(EXPORT_ENCODING))
    return path


def build_crm_exports(run) -> list[Path]:
    """Write the three CSV exports into ``deliverables/``; return their paths, the account-plan
    actions file (the one the client fills in and sends back) first."""
    paths = {name: write_export(frame, run.deliverable_path(name)) for name, frame in export_frames(run).items()}
    first = "account_plan_actions.csv"
    return [paths[first], *(p for n, p in paths.items() if n != first)]
