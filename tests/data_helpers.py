"""Helpers for the data tests: tiny client files and a params file pointing at them.

Used by test_validate.py, test_readers.py, test_hostile.py, test_security.py and
test_reproducibility.py. Files are given as text (written UTF-8 unless bytes) so each
test shows exactly what the client sent.
"""
from __future__ import annotations

from pathlib import Path

import yaml

TRANSACTIONS = """account_id,order_id,order_date,net_revenue
A1,O1,2024-01-15,100.00
A1,O2,2024-03-10,250.50
A2,O3,2024-02-01,80
A3,O4,2024-05-20,1200
"""

ACCOUNTS = """account_id,account_name,strategic_importance
A1,Alpha Ltd,4
A2,Beta GmbH,2
A3,Gamma SA,5
"""

SURVEYS = """account_id,survey_date,nps,csat
A1,2024-06-01,9,5
A2,2024-06-02,3,2
"""

CAPABILITY = """dimension,score,target
Account planning,2,4
Governance,3,4
"""


def write_file(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def write_params(tmp: Path, *, transactions: str | bytes | dict | Path | None = TRANSACTIONS,
                 accounts: str | bytes | dict | Path | None = None, surveys: str | bytes | dict | Path | None = None,
                 capability: str | bytes | dict | Path | None = None, as_of: str = "2024-06-30",
                 name: str = "Test Client", extra: dict | None = None) -> Path:
    """Write the given tables (text, bytes, a Path, or a FileSpec dict with 'content') and a params file.

    A dict may hold ``content`` (text/bytes) or ``path`` plus any FileSpec keys
    (``columns``, ``delimiter``, ``decimal`` ...); ``file`` names the file written
    (default ``<table>.csv``).
    """
    tmp = Path(tmp)
    data: dict = {}
    for table, value in (("transactions", transactions), ("accounts", accounts), ("surveys", surveys),
                         ("capability", capability)):
        if value is None:
            continue
        spec = dict(value) if isinstance(value, dict) else {"content": value}
        if isinstance(spec.get("content"), Path):
            spec = {"path": str(spec.pop("content")), **spec}
        if "content" in spec:
            target = tmp / "client" / spec.pop("file", f"{table}.csv")
            write_file(target, spec.pop("content"))
            spec["path"] = str(target)
        elif "path" in spec:
            spec["path"] = str(spec["path"])
        else:
            spec["path"] = str(tmp / "client" / spec.pop("file", f"{table}.csv"))
        data[table] = spec
    raw = {"client": {"name": name}, "data": data, "analysis": {"as_of_date": as_of},
           "output": {"root": str(tmp / "outputs")}}
    for key, value in (extra or {}).items():
        raw[key] = value
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def validate(tmp: Path, **kw):
    """Write the files and params, then return ``validate_data``'s report."""
    from kam_analysis.config import load_params
    from kam_analysis.data.validate import validate_data

    return validate_data(load_params(write_params(tmp, **kw)))


def messages(report, severity: str = "error") -> str:
    """Every problem of one severity as text, one per paragraph."""
    probs = report.errors if severity == "error" else report.warnings
    return "\n".join(str(p) for p in probs)
