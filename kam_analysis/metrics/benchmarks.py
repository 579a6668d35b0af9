"""Industry benchmarks: what they are, where they come from, and when one may be compared.

The benchmark file (``templates/benchmarks.yaml`` or ``benchmarks.file``) gives, per
industry, a value per KPI with ``illustrative`` (a plausible placeholder, not a published
figure) and ``source``; an industry may state the ``currency`` its money values are in.
Two rules hold everywhere a benchmark is used (defined here, once):

* an **illustrative** benchmark is shown only as a labelled reference: it never drives a
  RAG status, a target, a scenario lever or a headline (:func:`benchmark_usable`);
* a **money** benchmark (a KPI whose unit is currency) is compared only when it is in the
  client's currency (:func:`benchmark_comparable`); one in another currency, or in an
  unstated one, is not compared at all.

A per-client override (``benchmarks.overrides``) is the client's own figure, in the
client's currency, and never illustrative.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import TEMPLATES_DIR
from ..exceptions import ParameterError
from .definitions import KPI_DEFINITIONS

__all__ = ["DEFAULT_BENCHMARK_FILE", "ILLUSTRATIVE_LABEL", "load_benchmarks", "benchmark_comparable",
           "benchmark_usable", "benchmark_label"]

DEFAULT_BENCHMARK_FILE = TEMPLATES_DIR / "benchmarks.yaml"

#: the word every deliverable puts beside an illustrative benchmark
ILLUSTRATIVE_LABEL = "illustrative"


def _read_yaml(path: str | Path) -> dict:
    from ..config import read_yaml_mapping

    return read_yaml_mapping(path, what="Benchmark file", setting="benchmarks.file")


def _is_money(kpi: str) -> bool:
    d = KPI_DEFINITIONS.get(kpi)
    return d is not None and d.unit == "currency"


def load_benchmarks(path: str | Path | None = None, *, industry: str,
                    overrides: dict[str, float] | None = None, client_currency: str | None = None) -> pd.DataFrame:
    """Benchmarks of one industry, with per-client overrides.

    Parameters
    ----------
    path : path, optional
        Benchmark YAML (default ``templates/benchmarks.yaml``).
    industry : str
        Key under ``industries:`` (params ``client.industry``).
    overrides : dict, optional
        KPI -> value (params ``benchmarks.overrides``); an override replaces the file's
        value and is marked as the client's own (source ``Client-supplied``, not
        illustrative, in ``client_currency``).
    client_currency : str, optional
        The client's currency (params ``client.currency``): the currency of overrides.

    Returns
    -------
    DataFrame
        ``kpi, benchmark, illustrative, source, reference, currency``. ``currency`` is the
        currency of a money KPI's value (an entry's own ``currency``, else its industry's;
        None when the file states none) and None for every other KPI.

    Raises
    ------
    ParameterError
        The file is missing or malformed, the industry is not in it, or an entry has
        no numeric value.
    """
    path = Path(path) if path else DEFAULT_BENCHMARK_FILE
    raw = _read_yaml(path)
    inds = raw.get("industries") or {}
    if industry not in inds:
        raise ParameterError(
            f"Industry '{industry}' (client.industry) has no benchmarks in {path}. Industries there: "
            f"{', '.join(sorted(inds)) or 'none'}; fix: set client.industry to one of them, or add an "
            f"'{industry}:' section under industries: in the benchmark file")
    section = inds[industry] or {}
    ind_currency = section.get("currency")
    rows = []
    for kpi, entry in (section.get("kpis") or {}).items():
        entry = entry if isinstance(entry, dict) else {"value": entry}
        try:
            value = float(entry["value"])
        except (KeyError, TypeError, ValueError):
            raise ParameterError(f"Benchmark {industry}.{kpi} in {path} has no numeric 'value' "
                                 f"(got {entry.get('value')!r}); fix: give a number") from None
        cur = entry.get("currency", ind_currency) if _is_money(kpi) else None
        rows.append({"kpi": kpi, "benchmark": value, "illustrative": bool(entry.get("illustrative", True)),
                     "source": str(entry.get("source", "Illustrative placeholder")),
                     "reference": str(entry.get("reference", "") or "").strip(),
                     "currency": str(cur).upper() if cur else None})
    bm = pd.DataFrame(rows, columns=["kpi", "benchmark", "illustrative", "source", "reference", "currency"])
    for kpi, value in (overrides or {}).items():
        row = {"kpi": kpi, "benchmark": float(value), "illustrative": False,
               "source": "Client-supplied (params benchmarks.overrides)", "reference": "",
               "currency": (client_currency.upper() if client_currency else None) if _is_money(kpi) else None}
        if kpi in set(bm["kpi"]):
            for k, v in row.items():
                bm.loc[bm["kpi"] == kpi, k] = v
        else:
            bm = pd.concat([bm, pd.DataFrame([row])], ignore_index=True)
    return bm


def benchmark_comparable(kpi: str, benchmark_currency: str | None, client_currency: str) -> bool:
    """Whether a benchmark can be set against the client's value at all.

    Every non-money KPI can; a money KPI only when the benchmark is stated in the client's
    currency (a euro order value is never compared with dollar orders, nor one whose
    currency the file does not state).
    """
    if not _is_money(kpi):
        return True
    cur = benchmark_currency if isinstance(benchmark_currency, str) and benchmark_currency else None
    return cur is not None and cur.upper() == str(client_currency).upper()


def benchmark_usable(kpi: str, *, illustrative, benchmark_currency: str | None, client_currency: str) -> bool:
    """Whether a benchmark may drive a RAG status, a target, a scenario lever or a headline:
    a sourced (not illustrative) figure that is comparable (:func:`benchmark_comparable`)."""
    illus = True if illustrative is None or (isinstance(illustrative, float) and np.isnan(illustrative)) \
        else bool(illustrative)
    return not illus and benchmark_comparable(kpi, benchmark_currency, client_currency)


def benchmark_label(*, illustrative, source: str | None) -> str:
    """How a benchmark is labelled wherever it is shown: ``illustrative (source)`` for a
    placeholder, the source for a sourced figure."""
    src = str(source).strip() if isinstance(source, str) and source.strip() else ""
    if illustrative is None or bool(illustrative):
        if src.lower().startswith(ILLUSTRATIVE_LABEL):
            return ILLUSTRATIVE_LABEL + src[len(ILLUSTRATIVE_LABEL):]
        return f"{ILLUSTRATIVE_LABEL} ({src})" if src else ILLUSTRATIVE_LABEL
    return src or "sourced benchmark"
