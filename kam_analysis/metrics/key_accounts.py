"""Key accounts: the three sets the engagement talks about, defined once, and their counts.

* **Selected** - accounts the selection scoring picks (``segments.is_key``, phase 2);
* **In the programme** - accounts the client already manages as key accounts (the
  accounts data's ``key_account`` flag; :func:`in_programme`); a missing flag is "not in
  the programme";
* **Union** - selected or in the programme: the accounts a key-account programme would
  cover once the selection is adopted (the deck's "key accounts" when it talks about both).

:func:`compute_key_account_sets` gives the counts (and the overlap) a deliverable quotes, so
"200 selected, 160 in the programme" can always be reconciled on the page.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["in_programme", "compute_key_account_sets"]

_TRUE_TEXT = frozenset({"Y", "YES", "TRUE", "1", "T", "X"})


def in_programme(accounts: pd.DataFrame, *, flag_col: str = "key_account",
                 account_col: str = "account_id") -> pd.Series:
    """Whether each account is in the client's key-account programme, indexed by account id.

    A boolean flag is taken as it is; text and numbers are read as yes when they are one
    of ``Y, YES, TRUE, T, X, 1`` (any case); a missing flag is not in the programme. Without
    a ``flag_col`` column every account is outside (the caller says "no programme flag").
    """
    ids = accounts[account_col].astype(str)
    if flag_col not in accounts:
        return pd.Series(False, index=pd.Index(ids, name=account_col), name="in_programme")
    f = accounts[flag_col]
    if f.dtype == bool or str(f.dtype) == "boolean":
        flag = f.fillna(False).astype(bool)
    else:
        flag = f.map(lambda v: False if pd.isna(v) else str(v).strip().upper().removesuffix(".0") in _TRUE_TEXT)
    return pd.Series(flag.to_numpy(dtype=bool), index=pd.Index(ids, name=account_col), name="in_programme")


def compute_key_account_sets(segments: pd.DataFrame, accounts: pd.DataFrame | None = None, *,
                             selected_col: str = "is_key", flag_col: str = "key_account",
                             account_col: str = "account_id") -> dict:
    """Counts of the three key-account sets and their overlap.

    Parameters
    ----------
    segments : DataFrame
        The ``segments`` table (``account_id``, ``is_key``).
    accounts : DataFrame, optional
        The accounts data with the programme flag; None or without ``flag_col``: the
        programme counts are None (not zero: the data does not say).

    Returns
    -------
    dict
        ``selected`` (by the scoring), ``in_programme`` (client's flag), ``both``,
        ``selected_only`` (new to the programme), ``programme_only`` (in the programme, not
        selected), ``union`` (selected or in the programme), ``accounts`` (all accounts),
        ``has_programme_flag``.
    """
    sel = pd.Series(segments[selected_col].fillna(False).astype(bool).to_numpy(),
                    index=segments[account_col].astype(str))
    out = {"accounts": int(len(sel)), "selected": int(sel.sum()), "has_programme_flag": False,
           "in_programme": None, "both": None, "selected_only": None, "programme_only": None, "union": None}
    if accounts is None or flag_col not in accounts or accounts[flag_col].isna().all():
        return out
    prog = in_programme(accounts, flag_col=flag_col, account_col=account_col)
    prog = prog[~prog.index.duplicated()].reindex(sel.index.union(prog.index), fill_value=False)
    sel = sel.reindex(prog.index, fill_value=False)
    out.update(has_programme_flag=True, accounts=int(len(prog)), in_programme=int(prog.sum()),
               both=int((sel & prog).sum()), selected_only=int((sel & ~prog).sum()),
               programme_only=int((~sel & prog).sum()), union=int((sel | prog).sum()))
    return out
