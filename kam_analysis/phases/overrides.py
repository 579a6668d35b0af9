"""Consultant overrides of the portfolio matrix: read, checked against the accounts and quadrants, applied and logged."""
from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from ..exceptions import ParameterError

__all__ = ["load_overrides", "validate_overrides", "apply_overrides"]


def load_overrides(path: str | Path) -> pd.DataFrame:
    """Read consultant overrides: a CSV with columns ``account_id, quadrant, reason``, or a
    segmentation workbook returned by the client with its 'Your override' / 'Your reason'
    columns filled in on the Accounts sheet.

    Returns ``account_id, quadrant, reason, source`` (source = file and row, for messages
    and the override log).

    Raises
    ------
    ParameterError
        The file is missing or unreadable, or a required column is absent.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"overrides file {path} not found (segmentation.overrides_file); fix: check the path "
                             "(relative paths are read from the params file's folder) or remove the setting")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _load_workbook_overrides(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a user file problem
        raise ParameterError(f"overrides file {path} could not be read as CSV ({exc}); "
                             "fix: save it as a UTF-8 CSV with columns account_id, quadrant, reason") from None
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in ("account_id", "quadrant", "reason") if c not in df.columns]
    if missing:
        raise ParameterError(f"overrides file {path} has no column(s) {missing} (columns: {list(df.columns)}); "
                             "fix: use the header account_id,quadrant,reason")
    out = df[["account_id", "quadrant", "reason"]].apply(lambda s: s.str.strip())
    out["source"] = f"file {path.name}, row " + (pd.Series(range(len(out))) + 2).astype(str)
    return out



def _load_workbook_overrides(path: Path) -> pd.DataFrame:
    """Overrides the client proposed in a returned segmentation workbook (Accounts sheet)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ParameterError(f"overrides workbook {path} could not be opened ({exc}); "
                             "fix: give the segmentation workbook as returned, saved as .xlsx") from None
    if "Accounts" not in wb.sheetnames:
        raise ParameterError(f"overrides workbook {path} has no 'Accounts' sheet; fix: give the segmentation "
                             "workbook (with 'Your override' filled in) or a CSV account_id,quadrant,reason")
    rows = list(wb["Accounts"].iter_rows(values_only=True))
    wb.close()
    header_at = next((i for i, r in enumerate(rows) if r and "Account ID" in r and "Your override" in r), None)
    if header_at is None:
        raise ParameterError(f"overrides workbook {path}: the Accounts sheet has no 'Account ID' and "
                             "'Your override' columns; fix: use the segmentation workbook as built")
    head = list(rows[header_at])
    i_id, i_q = head.index("Account ID"), head.index("Your override")
    i_r = head.index("Your reason") if "Your reason" in head else None
    out = []
    for n, r in enumerate(rows[header_at + 1:], start=header_at + 2):
        q = r[i_q] if i_q < len(r) else None
        if q is None or str(q).strip() == "":
            continue
        reason = r[i_r] if i_r is not None and i_r < len(r) else None
        out.append({"account_id": str(r[i_id]).strip(), "quadrant": str(q).strip(),
                    "reason": "" if reason is None else str(reason).strip(),
                    "source": f"workbook {path.name}, Accounts row {n}"})
    return pd.DataFrame(out, columns=["account_id", "quadrant", "reason", "source"])



def validate_overrides(overrides: pd.DataFrame, *, account_ids, quadrant_names: list[str]) -> None:
    """Every override names a known account and quadrant, has a reason, and appears once.

    Raises
    ------
    ParameterError
        Naming each offending row (by its ``source``), the bad values and the fix.
    """
    if overrides.empty:
        return
    known = set(map(str, account_ids))
    problems = []
    src = overrides.get("source", pd.Series([f"row {i + 1}" for i in range(len(overrides))], index=overrides.index))
    unknown = ~overrides["account_id"].astype(str).isin(known)
    if unknown.any():
        ex = [f"{s}: {a!r}" for s, a in zip(src[unknown][:5], overrides.loc[unknown, "account_id"][:5])]
        problems.append(f"{int(unknown.sum())} override(s) name an account that is not in the data ({'; '.join(ex)})"
                        " — fix: use the account_id as in the client's accounts file")
    badq = ~overrides["quadrant"].isin(quadrant_names)
    for s, q in list(zip(src[badq], overrides.loc[badq, "quadrant"]))[:5]:
        guess = difflib.get_close_matches(str(q), quadrant_names, n=1, cutoff=0.5)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        problems.append(f"{s}: quadrant {q!r} is not one of {quadrant_names}{hint}")
    if badq.sum() > 5:
        problems.append(f"... and {int(badq.sum()) - 5} more unknown quadrant(s)")
    noreason = overrides["reason"].fillna("").astype(str).str.strip() == ""
    if noreason.any():
        problems.append(f"{int(noreason.sum())} override(s) have no reason ({', '.join(src[noreason][:5])})"
                        " — fix: every override must say why the consultant overrules the data")
    dup = overrides["account_id"].astype(str).duplicated(keep=False)
    if dup.any():
        ids = sorted(set(overrides.loc[dup, "account_id"].astype(str)))[:5]
        problems.append(f"account(s) {ids} are overridden more than once — fix: keep one row per account")
    if problems:
        raise ParameterError("Quadrant overrides are invalid:\n  - " + "\n  - ".join(problems))



def apply_overrides(segments: pd.DataFrame, overrides: pd.DataFrame | None, *, quadrant_names: list[str],
                    account_col: str = "account_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply consultant overrides to ``quadrant``; return the segments and the override log.

    ``segments`` must have ``quadrant_model`` (the data's quadrant). The result has
    ``quadrant`` (after overrides), ``override_reason`` (None where not overridden) and
    ``overridden`` (bool). The log has one row per override:
    ``account_id, quadrant_model, quadrant, changed, reason, source``.
    """
    out = segments.copy()
    out["quadrant"] = out["quadrant_model"]
    out["override_reason"] = None
    out["overridden"] = False
    cols = [account_col, "quadrant_model", "quadrant", "changed", "reason", "source"]
    if overrides is None or overrides.empty:
        return out, pd.DataFrame(columns=cols)
    ov = overrides.copy()
    if "source" not in ov:
        ov["source"] = [f"params row {i + 1}" for i in range(len(ov))]
    ov["account_id"] = ov["account_id"].astype(str)
    validate_overrides(ov, account_ids=out[account_col], quadrant_names=quadrant_names)
    idx = pd.Series(out.index, index=out[account_col].astype(str))
    rows = idx.reindex(ov["account_id"]).to_numpy()
    out.loc[rows, "quadrant"] = ov["quadrant"].to_numpy()
    out.loc[rows, "override_reason"] = ov["reason"].to_numpy()
    out.loc[rows, "overridden"] = True
    log = pd.DataFrame({account_col: ov["account_id"].to_numpy(),
                        "quadrant_model": out.loc[rows, "quadrant_model"].to_numpy(),
                        "quadrant": ov["quadrant"].to_numpy(), "reason": ov["reason"].to_numpy(),
                        "source": ov["source"].to_numpy()})
    log["changed"] = log["quadrant_model"] != log["quadrant"]
    return out, log[cols]
