"""``kam new-client``: a clean parameter file for a new client.

The file comes from ``templates/new_client.yaml``: the client's name, and the industry,
currency, as-of date and programme start when the consultant gives them; every other
input the consultant owns (data paths and column mapping, targets, benchmark overrides,
managers, the qualitative context) is empty or marked ``FILL_IN``. Nothing of another
client is copied. A run refuses a file with a ``FILL_IN`` left, naming each key
(:func:`kam_analysis.config.load_params`).
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from .config import FILL_IN, TEMPLATES_DIR, client_slug, read_yaml_mapping
from .exceptions import ParameterError

__all__ = ["NEW_CLIENT_TEMPLATE", "new_client_yaml", "write_new_client"]

NEW_CLIENT_TEMPLATE = TEMPLATES_DIR / "new_client.yaml"


def _industries() -> list[str]:
    raw = read_yaml_mapping(TEMPLATES_DIR / "benchmarks.yaml", what="Benchmark file", setting="benchmarks.file")
    return sorted(raw.get("industries") or {})


def _date(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ParameterError(f"{option} {value!r} is not a date; fix: give it as YYYY-MM-DD, e.g. 2025-06-30") from None


def new_client_yaml(name: str, *, industry: str | None = None, currency: str | None = None,
                    as_of_date: str | None = None, programme_start: str | None = None,
                    no_programme: bool = False, file: str = "params/<client>.yaml") -> str:
    """The text of a new client's parameter file; what is not given is ``FILL_IN``.

    ``programme_start`` is a date, or ``no_programme=True`` for a client without a KAM
    programme (written as ``null``); with neither, the consultant must decide (``FILL_IN``).
    """
    industries = _industries()
    if industry is not None and industry not in industries:
        raise ParameterError(f"--industry {industry!r} has no benchmark set; fix: choose one of "
                             f"{', '.join(industries)} (templates/benchmarks.yaml)")
    if currency is not None and not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ParameterError(f"--currency {currency!r} is not an ISO currency code; fix: e.g. USD, EUR, GBP")
    if programme_start is not None and no_programme:
        raise ParameterError("--programme-start and --no-programme contradict each other; fix: give one of them")
    as_of = _date(as_of_date, "--as-of")
    start = _date(programme_start, "--programme-start")
    if start and as_of and start > as_of:
        raise ParameterError(f"--programme-start {start} is after --as-of {as_of}; fix: the programme must start "
                             "on or before the as-of date")
    values = {
        "name": " ".join(name.replace('"', "'").replace("\\", "/").split()),
        "file": file,
        "industry": industry or FILL_IN,
        "industries": ", ".join(industries),
        "currency": currency.upper() if currency else FILL_IN,
        "as_of_date": as_of or FILL_IN,
        "programme_start": "null" if no_programme else start or FILL_IN,
    }
    text = NEW_CLIENT_TEMPLATE.read_text(encoding="utf-8")

    def fill(m: re.Match) -> str:  # the value, keeping the comment after it in its column
        value = values[m.group(1)]
        return value + " " * max(1, len(m.group(0)) - len(value)) if m.group(2) is not None else value

    return re.sub(r"\{\{(\w+)\}\}( +(?=#))?", fill, text)


def write_new_client(name: str, folder: str | Path = "params", **given) -> Path:
    """Write ``<folder>/<client-slug>.yaml`` for a new client; refuses to overwrite."""
    slug = client_slug(name)
    target = Path(folder) / f"{slug}.yaml"
    if target.exists():
        raise ParameterError(f"{target} already exists; fix: edit it, or choose another client name")
    text = new_client_yaml(name, file=str(target), **given)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
