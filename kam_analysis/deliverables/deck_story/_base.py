"""What every slide builder shares: the run's tables (:class:`DeckData`), the slide spec, and the
text and drawing helpers used by more than one section."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data.tables import table_spec
from ...exceptions import RunError
from ...safety import clean_text
from .._pptx import EMU_PER_IN, Box, SlideCanvas
from ...present.formats import fmt_money, fmt_share, fmt_value, is_num
from ...metrics import KPI_DEFINITIONS, NO_ORDERS_TIER, kpi_label


IN = EMU_PER_IN


SECTIONS: dict[str, tuple[str, str]] = {
    "summary": ("Executive summary", ""),
    "since": ("Since the last review", "What the last review committed to, what happened, and what changes now"),
    "framework": ("The KAM framework", "Five phases from diagnosis to review, and where this engagement stands"),
    "context": ("Market and organisational context", "The consultant's qualitative assessment: market forces, "
                "external factors, programme goals, gaps and strengths"),
    "assessment": ("Assessment & benchmarking", "Where the business stands today: KPIs against benchmark and "
                   "target, concentration, retention, capability and data readiness"),
    "segmentation": ("Segmentation", "Which accounts are key, and how robust that choice is"),
    "strategy": ("Strategy & operating model", "What each segment gets, who covers it, and what it is worth"),
    "review": ("Review & optimisation", "Is the programme on track, and what should change"),
    "next": ("Next steps", "What happens next"),
    "appendix": ("Appendix", "Method notes and data sources"),
}


@dataclass
class SlideSpec:
    """One slide to draw: layout, action title, what to draw, and its source/notes."""

    section: str
    layout: str
    title: str
    draw: Callable[[SlideCanvas], None]
    source: str = ""
    footnote: str = ""
    notes: str = ""
    topic: str = ""


class Source(str):
    """A slide's source line (what the client reads) that also carries the run tables it came
    from; the deck writes those into the speaker notes, never on the slide."""

    tables: tuple[str, ...]

    def __new__(cls, text: str, tables=()):
        obj = super().__new__(cls, text)
        obj.tables = tuple(tables)
        return obj

    def __add__(self, other):  # "source + '; figure x'" keeps the tables
        return Source(str.__add__(self, other), self.tables)


@dataclass
class Finding:
    """An executive-summary finding: the number and the sentence around it."""

    number: str
    text: str
    short: str = ""  # a clause for the slide's action title


class DeckData:
    """Read access to the run's tables for the slide builders, recording what was skipped.

    A column the deck needs and the table lacks, or a table name the catalogue does not
    declare, raises the run's RunError (naming the table, the column and the phase), which
    fails the run; so does any error in a slide builder. A slide is left out, and listed on
    the appendix slide, only when the run has no such table (its phase wrote it on a
    condition the data did not meet, or the phase did not run: the runner itself fails a
    phase that skips a table it always writes) or the table has no rows.
    """

    def __init__(self, run):
        self.run = run
        self.params = run.params
        self.cur = run.params.client.currency
        self.client = clean_text(run.params.client.name, max_len=120)
        self.skipped: list[tuple[str, str]] = []  # (analysis, why in the client's words) for the appendix
        self.skip_notes: list[str] = []  # the technical detail of a skip (parameter, column) for its speaker notes
        self.limits: list[tuple[str, str]] = []  # (analysis, why the data could not support it)
        self._cache: dict[str, pd.DataFrame] = {}
        self._names: pd.Series | None = None

    # ------------------------------------------------------------------ tables
    def _read(self, name: str, cols: tuple[str, ...]) -> pd.DataFrame | None:
        table_spec(name)  # a name the catalogue does not declare is a bug, not a missing slide
        if not self.run.has_table(name) or self._capability_of().refuses_table(name):
            return None  # a table of an analysis the run does not support (minimum size) is never shown
        if name not in self._cache or cols:  # the run checks the columns on every read
            self._cache.setdefault(name, self.run.read_table(name, columns=cols))
        return self._cache[name]

    def table(self, name: str, cols: tuple[str, ...] = (), *, topic: str) -> pd.DataFrame | None:
        """The table, checked for ``cols``, if it has at least one row; else None (and the skip is recorded).

        Raises
        ------
        RunError
            The table is not declared, or one of ``cols`` is missing.
        """
        df = self._read(name, cols)
        if df is None and self.refused(self._capability_of().refuses_table(name) or "", topic=topic):
            return None
        if df is None:
            when = table_spec(name).written_when
            self.skipped.append((topic, "not produced in this run" + (f": only when {when}" if when else "")))
            return None
        if df.empty:
            self.skipped.append((topic, "the data gave no result for it"))
            return None
        return df

    def skip(self, topic: str, why: str, *, detail: str = "") -> None:
        """Leave a slide out: ``why`` in the client's words goes on the appendix page, ``detail``
        (a parameter key or a column name) only into that page's speaker notes."""
        self.skipped.append((topic, why))
        if detail:
            self.skip_notes.append(f"{topic}: {detail}")

    def peek(self, name: str, cols: tuple[str, ...] = ()) -> pd.DataFrame | None:
        """The table checked for ``cols``, or None when the run has none, without recording a skip."""
        return self._read(name, cols)

    def names(self) -> pd.Series:
        """account_id -> display name (pseudonymised when the params say so)."""
        if self._names is None:
            try:
                self._names = self.run.account_display_names()
            except RunError:  # no accounts data: show the ids
                summ = self.peek("account_summary")
                ids = summ["account_id"].astype(str) if summ is not None else pd.Series([], dtype=str)
                self._names = pd.Series(ids.to_numpy(), index=ids.to_numpy())
        return self._names

    def name_of(self, account_id) -> str:
        n = self.names()
        return clean_text(str(n.get(str(account_id), account_id)), max_len=40)

    # ------------------------------------------------------------------ text helpers
    @property
    def as_of(self) -> dt.date:
        return self.params.analysis.as_of_date

    def source(self, *tables: str, data: str = "order data") -> "Source":
        """The slide's source line in client words; the run tables behind it go to the speaker notes."""
        when = self.as_of.strftime("%d %b %Y")
        return Source(f"{self.client} {data} to {when}; KAM analysis", tables)

    def money(self, v) -> str:
        return fmt_money(v, self.cur)

    def unit_of(self, kpi: str) -> str | None:
        """The KPI's unit, from the KPI registry (None for a name the registry does not know)."""
        d = KPI_DEFINITIONS.get(kpi)
        return d.unit if d else None

    def label_of(self, kpi: str) -> str:
        """The KPI's label, from the KPI registry."""
        return kpi_label(kpi)

    # ------------------------------------------------------------------ what the data supports
    def _capability_of(self):
        from ...metrics.capability import Capability

        if "_capability" not in self.__dict__:
            t = self.run.read_table("analysis_support") if self.run.has_table("analysis_support") else None
            self._capability = Capability(t)
        return self._capability

    def support(self, analysis: str) -> str:
        """The run's support status of ``analysis`` (table ``analysis_support``: supported,
        supported_with_caveat or not_supported; supported for a run without the table)."""
        return self._capability_of().status(analysis)

    def refused(self, analysis: str, *, topic: str) -> bool:
        """True when the run does not support ``analysis`` (e.g. below its minimum size): the page
        is left out, listed on the appendix with the reason in client words; the data-request page
        lists the analysis from ``analysis_support``. False for "" or a supported analysis."""
        if not analysis or self.supports(analysis):
            return False
        why = self._capability_of().caveat(analysis) or "the data cannot support it yet"
        if (topic, why) not in self.skipped:
            self.skipped.append((topic, why))
        return True

    def refusal(self, analysis: str, what: str = "Not shown") -> str:
        """``"<what>: <why in client words>."`` when the run does not support ``analysis``, else ""
        (:meth:`kam_analysis.metrics.capability.Capability.refusal`)."""
        return self._capability_of().refusal(analysis, what)

    def brief_refusal(self, analysis: str) -> str:
        """The refusal in a few words ("" when supported; :meth:`Capability.brief`)."""
        return self._capability_of().brief(analysis)

    def supports(self, analysis: str) -> bool:
        """Whether the run supports ``analysis`` (with or without a caveat)."""
        return self.support(analysis) != "not_supported"

    def has_input(self, item: str) -> bool:
        """Whether the data-capability profile (``data_profile``) records input ``item`` as present
        (True for a run without the table)."""
        p = self.peek("data_profile")
        if p is None or item not in set(p["item"]):
            return True
        return bool(p.loc[p["item"] == item, "present"].iloc[0])

    def headline(self, kpi: str) -> float | None:
        t = self.peek("kpi_headline")
        if t is None or "kpi" not in t.columns or "value" not in t.columns:
            return None
        hit = t.loc[t["kpi"] == kpi, "value"]
        return float(hit.iloc[0]) if len(hit) and is_num(hit.iloc[0]) else None


def _text(v, n: int = 120) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return clean_text(str(v), max_len=n)


def default_floor_rule(params, sizing: pd.DataFrame | None = None) -> str | None:
    """The words of the key-account threshold's rule when it is the engagement's default, not
    the client's (no ``strategy.cost_per_hour``): None when the client gave the cost.

    The default is the stricter of two rules (:func:`kam_analysis.metrics.key_accounts.
    value_per_hour_floor`): a share of the live accounts' revenue, or manager time at the assumed
    cost of an hour costing at most a share of the account's revenue. ``sizing`` (the
    ``key_account_sizing`` table) says which one set the threshold; without it the first is named."""
    cph = params.strategy.cost_per_hour
    if cph is not None and cph > 0:
        return None
    ka = params.segmentation.key_accounts
    note = ""
    if sizing is not None and {"metric", "note"} <= set(sizing.columns):
        n = sizing.loc[sizing["metric"] == "key_floor", "note"]
        note = str(n.iloc[0]) if len(n) and isinstance(n.iloc[0], str) else ""
    if "at an assumed" in note:  # the assumed cost of an hour binds: say so, not the revenue-share rule
        from ...config import ASSUMED_PROGRAMME_COSTS
        from ...present.formats import fmt_money

        return (f"manager time at an assumed {fmt_money(ASSUMED_PROGRAMME_COSTS['cost_per_hour'], params.client.currency)}"
                f" an hour may cost at most {fmt_share(ka.max_cost_share, decimals=0)} of an account's revenue")
    return f"{fmt_share(ka.min_revenue_share, decimals=0)} of the live accounts' revenue"


def floor_rule(d: "DeckData") -> str | None:
    """:func:`default_floor_rule` of a deck's run (its sizing table says which rule set the threshold)."""
    return default_floor_rule(d.params, d.peek("key_account_sizing"))


def selects_no_key_account(d: "DeckData") -> bool:
    """Whether the run's segmentation selected no key account (False without a segments table)."""
    segs = d.peek("segments")
    return segs is not None and "is_key" in segs and not segs["is_key"].fillna(False).astype(bool).any()


def no_key_account_reason(d: "DeckData") -> tuple[str, bool]:
    """Why a run selected no key account, in the client's words, and whether an input the client
    has not given would change it: under the default key-account threshold (no cost of a manager
    hour) the account plans and the business case wait for that input; under the client's own
    cost, no key account is a finding, not a gap."""
    rule = floor_rule(d)
    if rule:
        return (f"no account reaches the default key-account threshold ({rule}); the client's cost of a manager "
                "hour would set it", True)
    return "no account brings enough revenue to carry a dedicated manager", False


def buying_tiers(ts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The value tiers of ``tier_summary`` without the no-orders group, and that group's
    account count (tiers rank only the accounts that bought in the last 12 months)."""
    idle = ts["tier"].astype(str) == NO_ORDERS_TIER
    rest = ts[~idle & ts["revenue_share"].map(is_num)]
    return rest.reset_index(drop=True), int(ts.loc[idle, "accounts"].sum())


def _lc_first(text: str) -> str:
    """Lower-case a label for use mid-sentence, keeping acronyms (NPS, YoY) and names inside it.

    The first word is lower-cased unless it is an acronym; a Title Case label
    ("Net Promoter Score") is lower-cased word by word, acronyms kept.
    """
    def acronym(w: str) -> bool:
        return sum(ch.isupper() for ch in w) > 1

    words = text.split(" ")
    caps = [w for w in words if w[:1].isalpha()]
    title_case = len(caps) > 1 and all(w[:1].isupper() for w in caps)
    out = []
    for i, w in enumerate(words):
        if (i == 0 or title_case) and w[:1].isupper() and not acronym(w):
            w = w[:1].lower() + w[1:]
        out.append(w)
    return " ".join(out)


def _q(d: DeckData) -> list[str]:
    return d.params.segmentation.quadrant_names.ordered()


def _rows_per_page(n: int, per: int) -> list[slice]:
    pages = max(1, int(np.ceil(n / per)))
    size = int(np.ceil(n / pages))
    return [slice(i * size, min((i + 1) * size, n)) for i in range(pages)]


def _bullets(c: SlideCanvas, box: Box, items: list, *, size: float = 16, color: str | None = None,
             marker: str = "•"):
    """Bulleted paragraphs (str or runs) drawn as a text box with a coloured marker run."""
    paras = []
    for it in items:
        runs = it if isinstance(it, list) else [(str(it), False)]
        paras.append([(marker + "  ", True, c.style.accent), *runs])
    return c.text_box(box, paras, size=size, color=color or c.style.text)


def _takeaway(c: SlideCanvas, items: list, *, heading: str = "Key takeaways") -> None:
    box = c.region("Takeaway", remove=False)
    ph = c.placeholder("Takeaway")
    paras = [[(heading, True, c.style.primary)], *[it if isinstance(it, list) else [(str(it), False)] for it in items]]
    if ph is not None:
        c.region("Takeaway")  # draw our own box in its place, with bullets and fitted text
    fill = None if ph is None else c.style.light
    c.text_box(box, paras, size=14, fill=fill, inset=0.18, color=c.style.text, min_pt=9)


def _first_clause(text, n: int = 90) -> str:
    """The leading clause of a sentence (up to the first ": " or "; "), never cut mid-word with an
    ellipsis: when even the clause is longer than ``n``, the clause before the first ", "."""
    t = _text(text, 10_000).strip()
    for sep in (": ", "; "):
        t = t.split(sep)[0]
    if len(t) > n and ", " in t:
        t = t.split(", ")[0]
    return t.rstrip(".")


def _churn_unsupported(d: DeckData) -> str | None:
    """Why the data could not support the churn model, in client words, or None when it did.

    Whether: the table churn_model_status. Why: the run's analysis support (its caveat for the
    churn model, e.g. "12 months of history are too few for a 12-month churn horizon") when it
    has one; the model's own reason (cut-off dates, the parameter to change) goes to the
    speaker notes of the not-included page, never onto the page."""
    from ...metrics.capability import Capability

    st = d.peek("churn_model_status")
    if st is None or not {"supported", "reason"} <= set(st.columns) or st.empty or bool(st["supported"].iloc[0]):
        return None
    why = st["reason"].iloc[0]
    why = why if isinstance(why, str) and why.strip() else "the data could not support the churn model"
    why = why.removeprefix("churn model not supported: ")
    caveat = Capability.of(d.run).caveat("churn_model").strip()
    if caveat and caveat != "nan":
        note = f"Churn model: {why}"
        if note not in d.skip_notes:
            d.skip_notes.append(note)
        return caveat
    return why.split("; fix:")[0]


def _churn_backtested(d: DeckData) -> bool:
    """Whether the churn model was back-tested in this run (table churn_backtest has a finite AUC)."""
    bt = d.peek("churn_backtest")
    if bt is None or bt.empty or not {"metric", "value"} <= set(bt.columns) or _churn_unsupported(d):
        return False
    auc = bt.loc[bt["metric"] == "auc", "value"]
    return bool(len(auc)) and is_num(auc.iloc[0])


def _tiles(c: SlideCanvas, box: Box, tiles: list[tuple[str, str, str | None]], *, sub: list[str] | None = None):
    """KPI tiles: big number, label, optional coloured status bar."""
    n = len(tiles)
    boxes = box.split_h([1] * n, gap=int(0.25 * IN))
    for k, ((value, label, status), b) in enumerate(zip(tiles, boxes)):
        bar = c.style.rag(status) if status else c.style.accent
        c.text_box(Box(b.x, b.y, b.w, int(0.07 * IN)), [""], fill=bar, fit=False)
        c.text_box(Box(b.x, b.y + int(0.07 * IN), b.w, b.h - int(0.07 * IN)), [""], fill=c.style.light, fit=False)
        c.text_box(Box(b.x + int(0.1 * IN), b.y + int(0.25 * IN), b.w - int(0.2 * IN), int(0.9 * IN)), [value],
                   size=32, bold=True, color=c.style.primary, align="c", anchor="m", min_pt=16)
        lines = [label] + ([sub[k]] if sub and sub[k] else [])
        paras = [[(lines[0], True, c.style.text)]] + [[(x, False, c.style.muted)] for x in lines[1:]]
        c.text_box(Box(b.x + int(0.1 * IN), b.y + int(1.2 * IN), b.w - int(0.2 * IN), b.h - int(1.3 * IN)), paras,
                   size=13, align="c", min_pt=9)


def _impact_values(r) -> tuple[float | None, float | None, float | None, str]:
    """(effect, low, high, unit): the uplift as a share when the table gives it, else the raw estimate.

    The review phase estimates on log revenue and reports ``uplift = exp(beta) - 1``;
    a table with only ``estimate`` and no ``unit`` is shown as a plain number, never
    re-interpreted as a percentage.
    """
    if is_num(r.get("uplift")):
        return (float(r["uplift"]), r.get("uplift_ci_low"), r.get("uplift_ci_high"), "share")
    unit = r.get("unit") if isinstance(r.get("unit"), str) else "ratio"
    return (float(r["estimate"]) if is_num(r.get("estimate")) else None, r.get("ci_low"), r.get("ci_high"), unit)


def impact_diverged(r) -> bool:
    """Whether the programme comparison failed its own pre-programme check (``parallel_trends``
    False): the groups were already drifting apart, so no effect (measured or null) is claimed."""
    v = r.get("parallel_trends") if hasattr(r, "get") else None
    return v is not None and not pd.isna(v) and not bool(v)


def _impact_text(r) -> str:
    val, _, _, unit = _impact_values(r)
    return fmt_value(val, unit, signed=True)

