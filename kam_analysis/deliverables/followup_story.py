"""The follow-up review's story — what was committed, what happened, what changes now — told
once for the deck's "Since the last review" section and the HTML dashboard's block.

A follow-up run (``review.plan_run`` set) holds the ``plan_*`` tables of the review phase
(docs/tables.md): the plan run's key accounts, KPI targets, segmentation, coverage and
actions, each measured on the new data. :func:`load_followup` reads them into a
:class:`FollowUp`; its methods word the figures (counts, money, percentage points) the same
way on both deliverables. Nothing is invented: without the returned actions file the
actions have no status, and the story says so and what the file would unlock; a run without
the tables (a first review) has no follow-up at all (``load_followup`` returns None).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ..metrics import KPI_DEFINITIONS, kpi_label
from ..present.formats import fmt_change, fmt_count, fmt_date, fmt_money, fmt_n, fmt_share, fmt_value, is_num
from ..safety import clean_text

__all__ = ["ACTION_BUCKETS", "COLUMNS", "FollowUp", "OUTCOMES", "PLAN_TABLES", "STATUS_RAG", "load_followup"]

#: the review phase's follow-up tables; the story needs the key accounts, the rest add to it
PLAN_TABLES = ("plan_summary", "plan_kpis", "plan_key_accounts", "plan_segments", "plan_migration",
               "plan_coverage", "plan_actions", "plan_recommendations")
#: the most changes the deck's What-changes-now page lists (more: it says "top 7 of N")
CHANGES_SHOWN = 7
#: a committed key account's outcome (review.followup_* thresholds), best first
OUTCOMES = ("grown", "stable", "declined", "lost")
#: where a committed action stands, as the client reads it; "not reported" when the returned file
#: does not mention it (an unreported action is never called overdue: its status is unknown)
ACTION_BUCKETS = ("done", "in progress", "not started", "overdue", "dropped", "not reported")
_KPI_STATUS = ("met", "on track", "off track", "no target", "no data")
#: rows of the KPI table on a page; the KPIs without a target shown first when there is room
KPI_ROWS = 8
MAIN_KPIS = ["revenue_12m", "active_accounts", "retention_rate", "average_order_value", "repeat_purchase_rate", "nps"]
#: the status colour (present.theme RAG) of each outcome, action bucket and KPI status, on every deliverable
STATUS_RAG: dict[str, str] = {"grown": "green", "stable": "n/a", "declined": "amber", "lost": "red",
                              "done": "green", "in progress": "amber", "not started": "n/a", "overdue": "red",
                              "dropped": "n/a", "not reported": "n/a",
                              "met": "green", "on track": "green", "off track": "red", "no target": "n/a",
                              "no data": "n/a"}


def _s(v, n: int = 80) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return clean_text(str(v), max_len=n)


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _join(items: list[str]) -> str:
    items = [x for x in items if x]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


@dataclass
class FollowUp:
    """The follow-up tables of a run, with the sentences both deliverables show."""

    key_accounts: pd.DataFrame
    currency: str
    as_of: dt.date
    actions_returned: bool
    summary: pd.DataFrame | None = None
    kpis: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None
    migration: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    recommendations: pd.DataFrame | None = None
    names: dict = field(default_factory=dict)
    inactive: str = "Inactive accounts"  # the group of accounts not buying at the plan: not counted as moving
    grown: float = 0.10  # review.followup_grown / followup_declined / analysis.churn_days: the outcome rules
    declined: float = 0.10
    churn_days: int = 180

    # ------------------------------------------------------------------ figures
    def money(self, v) -> str:
        return fmt_money(v, self.currency)

    def summary_value(self, *metrics: str):
        """The figure of the first of ``metrics`` the summary table has: its ``value``, or its ``text``
        (dates and names) when the value is empty; None when the table has none of them."""
        s = self.summary
        if s is None or s.empty:
            return None
        for m in metrics:
            hit = s[s["metric"] == m]
            if hit.empty:
                continue
            for col in ("value", "text"):
                v = hit[col].iloc[0] if col in hit.columns else None
                if v is not None and not (isinstance(v, float) and v != v) and str(v).strip():
                    return v
        return None

    def left_out(self) -> list[str]:
        """What the follow-up leaves out because the plan run has no record of it (the summary's
        ``left_out_*`` rows, in client words: "the recommendations and their status")."""
        s = self.summary
        if s is None or s.empty or "text" not in s.columns:
            return []
        rows = s[s["metric"].astype(str).str.startswith("left_out_")]
        return [t for t in (_s(x, 160) for x in rows["text"]) if t]

    @property
    def plan_as_of(self) -> dt.date | None:
        """The as-of date of the plan run (its data's end), from the summary table."""
        v = self.summary_value("plan_as_of")
        try:
            return pd.Timestamp(v).date() if v is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def since(self) -> str:
        """"since the review of 30 Jun 2026" or "since the last review"."""
        return f"since the review of {fmt_date(self.plan_as_of)}" if self.plan_as_of else "since the last review"

    def account_names(self, t: pd.DataFrame) -> pd.Series:
        """Each account's name as the client reads it, with its id where two accounts share a name."""
        ids = t["account_id"].astype(str)
        own = t["account_name"] if "account_name" in t.columns else pd.Series([None] * len(t), index=t.index)
        names = pd.Series([_s(self.names.get(i)) or _s(n, 60) or i for i, n in zip(ids, own)], index=t.index)
        dup = names.duplicated(keep=False) & (names != ids) & ~names.str.endswith(")")
        return names.where(~dup, names + " (" + ids + ")")

    # ------------------------------------------------------------------ key accounts
    def outcome_counts(self) -> dict[str, int]:
        oc = self.key_accounts["outcome"].astype(str).str.lower().value_counts()
        return {o: int(oc.get(o, 0)) for o in OUTCOMES}

    def outcome_revenue(self, outcome: str, column: str = "revenue_plan") -> float:
        t = self.key_accounts
        return float(pd.to_numeric(t.loc[t["outcome"].astype(str).str.lower() == outcome, column],
                                   errors="coerce").fillna(0).sum())

    def headline(self) -> str:
        """"7 of 10 key accounts grew; 2 were lost, with €412k of revenue a year at the plan"; without
        committed key accounts, the KPIs' or the actions' headline."""
        n, c = len(self.key_accounts), self.outcome_counts()
        if not n:
            return _cap(self.kpi_headline() or self.actions_headline() or "The last review committed no key account")
        grew = (f"{fmt_count(c['grown'])} of {fmt_n(n, 'key account')} grew" if c["grown"]
                else f"none of the {fmt_n(n, 'key account')} grew")
        if c["lost"]:
            grew += (f"; {fmt_count(c['lost'])} {_was(c['lost'])} lost, with {self.money(self.outcome_revenue('lost'))} "
                     "of revenue a year at the plan")
        elif c["declined"]:
            grew += f"; {fmt_count(c['declined'])} declined and none was lost"
        else:
            grew += "; none was lost"
        return grew[:1].upper() + grew[1:]

    def revenue_sentence(self) -> str:
        """"Key-account revenue rose 7% to €1.8m (from €1.7m)"; "held at €1.3m" when it moved by less
        than half a percent; no "from" when both amounts read the same ("rose 1% to €1.7m")."""
        then, now = self.revenue_then_now()
        if not then or abs(now / then - 1) < 0.005:
            return f"Key-account revenue held at {self.money(now)}"
        ch = now / then - 1
        frm = f" (from {self.money(then)})" if self.money(then) != self.money(now) else ""
        return (f"Key-account revenue {'rose' if ch > 0 else 'fell'} {fmt_share(abs(ch), decimals=0)} to "
                f"{self.money(now)}{frm}")

    def revenue_then_now(self) -> tuple[float, float]:
        t = self.key_accounts
        return (float(pd.to_numeric(t["revenue_plan"], errors="coerce").fillna(0).sum()),
                float(pd.to_numeric(t["revenue_now"], errors="coerce").fillna(0).sum()))

    def key_account_rows(self) -> pd.DataFrame:
        """The committed key accounts, largest revenue at the plan first: name (with id where names
        repeat), segment then and now, revenue then and now, change and outcome."""
        t = self.key_accounts.copy()
        if t.empty:
            return t.assign(name=pd.Series(dtype=object), _o=pd.Series(dtype=float))
        t["name"] = self.account_names(t)
        t["outcome"] = t["outcome"].astype(str).str.lower()
        t["_o"] = t["outcome"].map({o: i for i, o in enumerate(OUTCOMES)}).fillna(len(OUTCOMES))
        return t.sort_values(["revenue_plan", "account_id"], ascending=[False, True], kind="stable")

    @staticmethod
    def last_order_text(row) -> str:
        """"last order 14 Feb 2026" for a lost key account, "" for the others or without the date.

        A lost account (no order within the churn window) can still have revenue in the last 12
        months; its last order date, shown beside it on every page, says why both are true."""
        d = row.get("last_order_date") if hasattr(row, "get") else None
        if str(row.get("outcome", "")).lower() != "lost" or d is None or pd.isna(d):
            return ""
        return f"last order {fmt_date(pd.Timestamp(d).date())}"

    def still_key_text(self) -> str | None:
        """"7 of the 10 are key accounts by today's selection too" (None without the column)."""
        t = self.key_accounts
        if "still_key" not in t.columns:
            return None
        k = int(t["still_key"].fillna(False).astype(bool).sum())
        return f"{fmt_count(k)} of the {fmt_count(len(t))} are key accounts by today's selection too"

    def whitespace_text(self) -> str | None:
        """"4 of the 23 cross-sell categories the plan named were bought since" (None without the columns)."""
        t = self.key_accounts
        if not {"whitespace_plan", "whitespace_converted"} <= set(t.columns):
            return None
        named = int(pd.to_numeric(t["whitespace_plan"], errors="coerce").fillna(0).sum())
        if not named:
            return None
        conv = int(pd.to_numeric(t["whitespace_converted"], errors="coerce").fillna(0).sum())
        return (f"{fmt_count(conv)} of the {fmt_n(named, 'cross-sell category', 'cross-sell categories')} the plan "
                f"named for these accounts {_was(conv)} bought since")

    def coverage_text(self) -> str | None:
        """Coverage delivered against the plan, or why it cannot be measured (None without the table)."""
        cov = self.coverage
        if cov is None or cov.empty:
            return None
        planned = int(pd.to_numeric(cov["accounts_planned"], errors="coerce").fillna(0).sum())
        done = pd.to_numeric(cov["accounts_delivered"], errors="coerce")
        if done.notna().any():
            return (f"{fmt_count(done.sum())} of the {fmt_n(planned, 'account')} the coverage plan gave "
                    f"{fmt_n(len(cov), 'manager')} have that manager today")
        why = _s(cov["status"].iloc[0], 200) if "status" in cov.columns else ""
        return "not measurable" + (": " + why.removeprefix("not measurable: ") if why else "")

    # ------------------------------------------------------------------ KPIs
    def kpi_rows(self) -> pd.DataFrame | None:
        """Per KPI: label, unit, the values at the plan, target and now in one format, the change since
        the plan (points for rates and scores), the trajectory and the status; worst first."""
        k = self.kpis
        if k is None or k.empty:
            return None
        rows = []
        for _, r in k.iterrows():
            kpi = str(r["kpi"])
            unit = _s(r.get("unit")) or (KPI_DEFINITIONS[kpi].unit if kpi in KPI_DEFINITIONS else None)
            label = _s(r.get("label")) if "label" in k.columns and _s(r.get("label")) else kpi_label(kpi)
            status = _s(r["status"]).lower() or "no target"
            rows.append({"kpi": kpi, "label": label, "unit": unit, "status": status,
                         "plan": fmt_value(r["plan_value"], unit, self.currency),
                         "target": fmt_value(r["target"], unit, self.currency) if is_num(r["target"]) else "none set",
                         "actual": fmt_value(r["actual"], unit, self.currency),
                         "change": _kpi_change(r, unit, self.currency), "_change": r.get("change"),
                         "trajectory": self._trajectory(r),
                         "_o": _KPI_STATUS.index(status) if status in _KPI_STATUS else len(_KPI_STATUS)})
        order = {"off track": 0, "on track": 1, "met": 2, "no target": 3, "no data": 4}
        out = pd.DataFrame(rows)
        return out.assign(_o=out["status"].map(order).fillna(5)).sort_values("_o", kind="stable")

    def kpi_rows_shown(self, limit: int = KPI_ROWS) -> tuple[pd.DataFrame | None, int]:
        """(rows, how many KPIs are left out): every KPI with a committed target, then the main
        KPIs without one, at most ``limit`` rows (the full list is the KPI dashboard's)."""
        rows = self.kpi_rows()
        if rows is None:
            return None, 0
        rated = rows[~rows["status"].isin(["no target", "no data"])]
        rest = rows[rows["status"].isin(["no target", "no data"])]
        main = rest[rest["kpi"].isin(MAIN_KPIS)].assign(_m=lambda t: t["kpi"].map(MAIN_KPIS.index)).sort_values("_m")
        shown = pd.concat([rated, main.drop(columns="_m")]).head(max(limit, len(rated)))
        return shown, len(rows) - len(shown)

    @staticmethod
    def _trajectory(r) -> str:
        """"60% of the gap closed in 50% of the time" when the table gives both shares."""
        g, e = r.get("gap_closed"), r.get("time_elapsed")
        if is_num(g) and is_num(e):
            return f"{fmt_share(g, decimals=0)} of the gap closed in {fmt_share(e, decimals=0)} of the time"
        return _s(r.get("trajectory"), 80)

    def kpi_headline(self) -> str | None:
        """"2 of 4 KPI targets met, 1 on track; retention is off track at 71.0% against 80.0%"."""
        rows = self.kpi_rows()
        if rows is None:
            return None
        rated = rows[rows["status"].isin(["met", "on track", "off track"])]
        if rated.empty:
            return None
        n_met, n_on = int((rated["status"] == "met").sum()), int((rated["status"] == "on track").sum())
        text = f"{fmt_count(n_met)} of {fmt_n(len(rated), 'KPI target')} met"
        if n_on:
            text += f", {fmt_count(n_on)} on track"
        off = rated[rated["status"] == "off track"]
        if len(off):
            w = off.iloc[0]
            text += f"; {_lc(_head(w['label']))} is off track at {w['actual']} against {w['target']}"
        return text

    # ------------------------------------------------------------------ actions
    def action_rows(self) -> pd.DataFrame | None:
        """Committed actions with their bucket (:data:`ACTION_BUCKETS`)."""
        a = self.actions
        if a is None or a.empty:
            return None
        st = a["status"].astype(str).str.strip().str.lower()
        overdue = a["overdue"].fillna(False).astype(bool)
        bucket = st.where(st.isin(["done", "in progress", "not started", "dropped"]), "not reported")
        bucket = bucket.where(~(overdue & bucket.isin(["in progress", "not started"])), "overdue")
        out = a.assign(bucket=bucket, owner=a["owner"].map(lambda v: _s(v, 50) or "No owner named"))
        out["name"] = self.account_names(out) if "account_id" in out.columns else ""
        return out

    def actions_due(self) -> int:
        a = self.actions
        if a is None or a.empty:
            return 0
        due = pd.to_datetime(a["due_date"], errors="coerce")
        return int((due.dt.date <= self.as_of).sum())

    def actions_by_owner(self) -> pd.DataFrame | None:
        """Owner x bucket counts, owners with the most actions first."""
        a = self.action_rows()
        if a is None:
            return None
        g = a.groupby(["owner", "bucket"]).size().unstack(fill_value=0)
        g = g.reindex(columns=[b for b in ACTION_BUCKETS if b in g.columns])
        return g.assign(_n=g.sum(axis=1)).sort_values("_n", ascending=False, kind="stable").drop(columns="_n")

    def actions_headline(self) -> str | None:
        a = self.action_rows()
        if a is None:
            return None
        n = len(a)
        owners = a["owner"].nunique()
        if not self.actions_returned:
            due = self.actions_due()
            return (f"No status has come back for the {fmt_n(n, 'committed action')} of {fmt_n(owners, 'owner')}"
                    + (f"; {fmt_count(due)} {_was(due)} due by now" if due else ""))
        c = a["bucket"].value_counts()
        text = f"{fmt_count(c.get('done', 0))} of {fmt_n(n, 'committed action')} are done"
        if c.get("overdue", 0):
            text += f"; {fmt_count(c['overdue'])} {'is' if c['overdue'] == 1 else 'are'} overdue"
        if c.get("not reported", 0):
            text += f"; {fmt_count(c['not reported'])} not reported"
        return text

    # ------------------------------------------------------------------ migration
    def migration_matrix(self) -> pd.DataFrame | None:
        m = self.migration
        if m is None or m.empty:
            return None
        m = m.assign(current_segment=m["current_segment"].map(lambda v: _s(v, 30) or "Not in the new data"),
                     plan_segment=m["plan_segment"].map(lambda v: _s(v, 30) or "No segment"))
        return m.pivot_table(index="plan_segment", columns="current_segment", values="accounts", aggfunc="sum",
                             fill_value=0)

    def largest_move(self) -> tuple[str, str, int] | None:
        piv = self.migration_matrix()
        if piv is None:
            return None
        best = None
        for a in piv.index:
            for b in piv.columns:
                if a == b or self.inactive in (a, b) or piv.loc[a, b] <= 0:
                    continue
                if best is None or piv.loc[a, b] > best[2]:
                    best = (str(a), str(b), int(piv.loc[a, b]))
        return best

    def migration_headline(self) -> str | None:
        piv = self.migration_matrix()
        if piv is None:
            return None
        live = piv.loc[[a for a in piv.index if a != self.inactive]]  # not buying at the plan: nothing to move from
        base = int(live.to_numpy().sum())
        stay = int(sum(live.loc[a, a] for a in live.index if a in live.columns))
        moved = base - stay
        if not base:
            return None
        if len(live) < len(piv):  # "223 of the 1,069 accounts buying at the plan moved segment and 99 stopped buying"
            stopped = int(live[self.inactive].sum()) if self.inactive in live.columns else 0
            text = (f"{fmt_count(moved - stopped)} of the {fmt_n(base, 'account')} buying at the plan moved segment"
                    + (f" and {fmt_count(stopped)} stopped buying" if stopped else ""))
        else:
            text = (f"{fmt_count(moved)} of the {fmt_n(base, 'account')} ({fmt_share(moved / base, decimals=0)}) "
                    "have left their committed segment")
        if (mv := self.largest_move()) is not None:
            text += f"; the largest move: {fmt_count(mv[2])} from {mv[0]} to {mv[1]}"
        return text

    # ------------------------------------------------------------------ what changes now
    def _replanned_kpi_rows(self) -> pd.DataFrame | None:
        """The KPIs "What changes now" re-plans: the two worst off track."""
        rows = self.kpi_rows()
        return None if rows is None else rows[rows["status"] == "off track"].head(2)

    def replanned_kpis(self) -> set[str]:
        """The KPI keys a change re-plans (the deck's next steps do not ask to close their gap again)."""
        rows = self._replanned_kpi_rows()
        return set() if rows is None else set(rows["kpi"].astype(str))

    def next_steps(self) -> list[str]:
        """Each change in its short form, most urgent first ("replace 2 lost key accounts"): the deck's
        Next steps lead with them, without repeating the sentences of the What-changes-now page."""
        return [_short(h, self) for h, _ in self.changes()]

    def changes_shown(self, limit: int = CHANGES_SHOWN) -> tuple[list[tuple[str, str]], int]:
        """(the first ``limit`` changes, how many there are): a page that lists fewer says "top N of M"."""
        ch = self.changes()
        return ch[:limit], len(ch)

    def changes(self) -> list[tuple[str, str]]:
        """(heading, sentence) per change, derived from the figures above, most urgent first."""
        out: list[tuple[str, str]] = []
        ka = self.key_account_rows()
        lost = ka[ka["outcome"] == "lost"]
        if len(lost):
            out.append(("Replace lost key accounts",
                        f"{_join(lost['name'].head(4).tolist())}{' and others' if len(lost) > 4 else ''} stopped "
                        f"buying ({self.money(self.outcome_revenue('lost'))} a year at the plan): replace "
                        f"{'it' if len(lost) == 1 else 'them'} from today's key-account selection"))
        dec = ka[ka["outcome"] == "declined"]
        if len(dec):
            drop = self.outcome_revenue("declined") - self.outcome_revenue("declined", "revenue_now")
            out.append(("Re-plan declining key accounts",
                        f"{fmt_n(len(dec), 'key account')} bought {self.money(drop)} less than at the plan: "
                        f"{_join(dec['name'].head(3).tolist())}{' and others' if len(dec) > 3 else ''}"))
        a = self.action_rows()
        if a is not None:
            if not self.actions_returned:
                out.append(("Return the action statuses",
                            f"the status of the {fmt_n(len(a), 'committed action')} was not returned; with it, this "
                            "review would show which were done, which are overdue and whom to reassign them to"))
            else:
                over = a[a["bucket"] == "overdue"]
                if len(over):
                    per = over["owner"].map(person).value_counts()
                    out.append(("Reassign overdue actions",
                                f"{fmt_n(len(over), 'action')} past due and not done: " +
                                ", ".join(f"{o} ({fmt_count(k)})" for o, k in per.head(4).items()) +
                                ("; and others" if len(per) > 4 else "")))
                nr = a[a["bucket"] == "not reported"]
                if len(nr):
                    out.append(("Ask for the missing statuses",
                                f"the returned file does not mention {fmt_n(len(nr), 'committed action')}"))
        if (mv := self.largest_move()) is not None:
            out.append(("Adjust the service of accounts that moved",
                        f"{fmt_n(mv[2], 'account')} moved from {mv[0]} to {mv[1]}: their playbook follows their "
                        "new segment"))
        rows = self._replanned_kpi_rows()
        if rows is not None:
            for _, r in rows.iterrows():
                since = ("unchanged since the plan" if is_num(r["_change"]) and float(r["_change"]) == 0
                         else f"{r['change']} since the plan")
                out.append((f"Re-plan {_lc(_head(r['label']))}",
                            f"off track at {r['actual']} against a target of {r['target']} ({since})"))
        cov = self.coverage
        if cov is not None and not cov.empty:
            planned = pd.to_numeric(cov["accounts_planned"], errors="coerce").fillna(0).sum()
            done = pd.to_numeric(cov["accounts_delivered"], errors="coerce")
            if planned and done.notna().any() and done.sum() < planned:
                out.append(("Close the coverage gap",
                            f"{fmt_count(done.sum())} of the {fmt_n(int(planned), 'account')} the coverage plan "
                            "assigned are served by the manager it named"))
        return out

    def tiles(self) -> list[dict]:
        """The follow-up's key figures as tiles: value, label, a line below, status colour."""
        n, c = len(self.key_accounts), self.outcome_counts()
        then, _ = self.revenue_then_now()
        out = [{"value": fmt_count(n), "label": "Key accounts committed", "sub": f"{self.money(then)} a year at the plan",
                "status": "n/a"},
               {"value": fmt_count(c["grown"]), "label": "Grew", "sub": f"of {fmt_count(n)}", "status": "green"},
               {"value": fmt_count(c["lost"]), "label": "Lost", "status": "red" if c["lost"] else "n/a",
                "sub": f"{self.money(self.outcome_revenue('lost'))} a year at the plan" if c["lost"]
                else "none stopped buying"}] if n else []
        kr = self.kpi_rows()
        if kr is not None and kr["status"].isin(["met", "on track", "off track"]).any():
            rated = kr[kr["status"].isin(["met", "on track", "off track"])]
            met = int((rated["status"] == "met").sum())
            out.append({"value": f"{met} of {len(rated)}", "label": "KPI targets met", "sub": _kpi_sub(rated),
                        "status": "green" if met == len(rated) else "amber"})
        a = self.action_rows()
        if a is not None:
            if self.actions_returned:
                out.append({"value": f"{int((a['bucket'] == 'done').sum())} of {len(a)}", "label": "Actions done",
                            "sub": f"{fmt_count((a['bucket'] == 'overdue').sum())} overdue", "status": "n/a"})
            else:
                out.append({"value": fmt_count(len(a)), "label": "Actions committed", "sub": "no status returned yet",
                            "status": "n/a"})
        return out

    def as_dict(self) -> dict:
        """Everything the HTML dashboard's block shows, formatted (JSON-ready)."""
        ka = self.key_account_rows()
        kr, kpis_left = self.kpi_rows_shown(limit=12)
        owners = self.actions_by_owner()
        return {
            "title": "Since the last review" + (f" ({fmt_date(self.plan_as_of)})" if self.plan_as_of else ""),
            "headline": self.headline() + ".",
            "tiles": self.tiles(),
            "kpi_headline": _cap(self.kpi_headline() or "") or None,
            "kpis_note": (f"The KPIs with a committed target and the main others; {fmt_n(kpis_left, 'more KPI')} "
                          "without a target are in the KPI dashboard." if kpis_left else ""),
            "outcome_note": ("Grown or declined: revenue over the last 12 months moved by more than " + (
                f"{fmt_share(self.grown, decimals=0)} either way" if self.grown == self.declined else
                f"{fmt_share(self.grown, decimals=0)} up or {fmt_share(self.declined, decimals=0)} down") +
                f" since the plan; lost: no order in the last {fmt_count(self.churn_days)} days."),
            "kpis": [] if kr is None else [
                {k: r[k] for k in ("label", "plan", "target", "actual", "change", "trajectory", "status")}
                | {"rag": STATUS_RAG.get(r["status"], "n/a")} for _, r in kr.iterrows()],
            "key_accounts": [{"name": r["name"], "plan_segment": _s(r["plan_segment"], 30),
                              "current_segment": _s(r["current_segment"], 30) or "Not in the new data",
                              "revenue_plan": self.money(r["revenue_plan"]), "revenue_now": self.money(r["revenue_now"]),
                              "outcome": r["outcome"], "rag": STATUS_RAG.get(r["outcome"], "n/a"),
                              "last_order": self.last_order_text(r)}
                             for _, r in ka.iterrows()],
            "actions_headline": _cap(self.actions_headline() or "") or None,
            "actions_returned": self.actions_returned,
            "action_buckets": [] if owners is None else [b for b in owners.columns],
            "actions_by_owner": [] if owners is None else [
                {"owner": o, "counts": [int(v) for v in row]} for o, row in owners.iterrows()],
            "migration_headline": _cap(self.migration_headline() or "") or None,
            "notes": [_cap(t) + "." for t in (self.still_key_text(), self.whitespace_text()) if t] + (
                [f"Coverage delivered: {c}."] if (c := self.coverage_text()) else []) + (
                [f"Left out, as the last review has no record of them: {'; '.join(lo)}."] if (lo := self.left_out())
                else []),
            "changes_title": self.changes_headline(),
            "changes": [{"head": h, "text": t} for h, t in self.changes()],
        }

    def changes_headline(self) -> str:
        ch = self.changes()
        shorts = []
        for head, _ in ch[:3]:
            shorts.append(_short(head, self))
        return "What changes now: " + _join(shorts) if shorts else "Nothing in the plan needs to change now"


def _kpi_sub(rated: pd.DataFrame) -> str:
    """"1 more on track, 2 off track" under the KPI-targets tile."""
    on, off = int((rated["status"] == "on track").sum()), int((rated["status"] == "off track").sum())
    return ", ".join([x for x in (f"{fmt_count(on)} more on track" if on else "",
                                  f"{fmt_count(off)} off track" if off else "") if x]) or "all met"


def person(owner: str) -> str:
    """An owner as a sentence names them: "Luca Romano (Key account manager)" -> "Luca Romano"."""
    o = str(owner)
    return o.split(" (")[0] if o.endswith(")") and " (" in o else o


def short_name(name: str, n: int = 38) -> str:
    """An account name cut to ``n`` characters, keeping the id a repeated name carries:
    "Kensington Department Store … (C100290)"."""
    name = str(name)
    if len(name) <= n:
        return name
    if name.endswith(")") and " (" in name:
        base, tag = name.rsplit(" (", 1)
        keep = max(n - len(tag) - 4, 8)
        return base[:keep].rstrip() + "… (" + tag
    return name[: n - 1].rstrip() + "…"


def _kpi_change(r, unit: str | None, currency: str) -> str:
    """A KPI's change since the plan: points for rates and scores, relative ("+6.0%") when the table
    says the change is relative (money and counts), else in the KPI's unit."""
    v = r.get("change")
    if not is_num(v):
        return "n/a"
    if str(r.get("change_kind") or "") == "relative":
        return fmt_share(round(float(v), 3) + 0.0, signed=True)  # no "-0.0%" for a change that rounds to nothing
    return fmt_change(v, unit, currency)


def _head(label: str) -> str:
    """A KPI label for a sentence: "Account retention, 12 months" -> "Account retention"."""
    return label.split(",")[0]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lc(text: str) -> str:
    """A label mid-sentence, as the deck lower-cases one (acronyms kept: "net promoter score", "NPS")."""
    from .deck_story._base import _lc_first  # at call time: the deck's story package imports this module

    return _lc_first(text)


def _short(head: str, f: FollowUp) -> str:
    """A change's heading with its count, for a title: "replace 2 lost key accounts"."""
    c = f.outcome_counts()
    a = f.action_rows()
    n_over = int((a["bucket"] == "overdue").sum()) if a is not None else 0
    n_nr = int((a["bucket"] == "not reported").sum()) if a is not None else 0
    return {
        "Replace lost key accounts": f"replace {fmt_n(c['lost'], 'lost key account')}",
        "Re-plan declining key accounts": f"re-plan {fmt_n(c['declined'], 'declining key account')}",
        "Return the action statuses": "return the action statuses",
        "Reassign overdue actions": f"reassign {fmt_n(n_over, 'overdue action')}",
        "Ask for the missing statuses": f"collect {fmt_n(n_nr, 'missing action status', 'missing action statuses')}",
        "Adjust the service of accounts that moved": "adjust the service of the accounts that moved segment",
    }.get(head, _lc(head))


#: the columns the story reads from each follow-up table (checked by the run on reading)
COLUMNS: dict[str, tuple[str, ...]] = {
    "plan_summary": ("metric", "label", "value", "unit", "note"),
    "plan_kpis": ("kpi", "plan_value", "target", "actual", "change", "status"),
    "plan_key_accounts": ("account_id", "account_name", "plan_segment", "current_segment", "revenue_plan",
                          "revenue_now", "change", "outcome"),
    "plan_segments": ("segment", "accounts", "accounts_active", "revenue_plan", "revenue_now", "retention"),
    "plan_migration": ("plan_segment", "current_segment", "accounts", "revenue_now"),
    "plan_coverage": ("manager", "accounts_planned", "accounts_delivered", "hours_planned"),
    "plan_actions": ("action_id", "account_id", "account_name", "action", "owner", "due_date", "status",
                     "status_date", "comment", "overdue"),
    "plan_recommendations": ("recommendation_id", "title", "status"),
}


def load_followup(read: Callable[[str, tuple[str, ...]], pd.DataFrame | None], params,
                  names: dict | None = None) -> FollowUp | None:
    """The follow-up of a run, or None on a first review (no committed key accounts to follow).

    ``read(name, columns)`` returns a table of the run, checked for ``columns``, or None when
    the run has none (a first review writes none of them)."""
    def get(name: str) -> pd.DataFrame | None:
        t = read(name, COLUMNS[name])
        return None if t is None or t.empty else t

    ka = get("plan_key_accounts")
    kpis, actions = get("plan_kpis"), get("plan_actions")
    if ka is None:
        if kpis is None and actions is None:
            return None  # a first review, or a plan with nothing to follow
        ka = pd.DataFrame(columns=list(COLUMNS["plan_key_accounts"]))  # a plan without key accounts
    # returned: the engagement names the file, or some action carries a status from it
    returned = getattr(params.review, "actions_file", None) is not None or (
        actions is not None and bool((actions["status"].astype(str).str.strip().str.lower() != "not reported").any()))
    return FollowUp(key_accounts=ka, currency=params.client.currency, as_of=params.analysis.as_of_date,
                    inactive=params.segmentation.key_accounts.tier_names.inactive,
                    grown=params.review.followup_grown, declined=params.review.followup_declined,
                    churn_days=params.analysis.churn_days,
                    actions_returned=returned, summary=get("plan_summary"), kpis=kpis,
                    segments=get("plan_segments"),
                    migration=get("plan_migration"), coverage=get("plan_coverage"), actions=actions,
                    recommendations=get("plan_recommendations"), names=dict(names or {}))
