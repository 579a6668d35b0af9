"""An earlier run of the same client, read back as the plan a follow-up review measures.

A follow-up review (``review.plan_run``, see ``docs/followup.md``) names the *plan run*: a
run folder, a run id under the client's output folder, or ``"latest"``. This module finds
that folder, checks it is a finished run of the same client (the client name every run's
``manifest.json`` records, as :func:`kam_analysis.runner.check_client_identity` uses for the
client folder), and reads the file the client returns with the status of each committed
action (:func:`read_actions_file`): CSV or XLSX, one row per action or recommendation,
``action_id, status, status_date, comment``; every problem is a located message (file,
column, rows, examples, fix), all of them at once.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd

from ..exceptions import DataValidationError, ParameterError, Problem, list_values
from ..safety import is_formula_like

__all__ = ["ACTION_STATUSES", "NOT_REPORTED", "ACTIONS_COLUMNS", "successful_runs", "resolve_plan_run",
           "check_plan_identity", "read_run_record", "read_actions_file"]

#: the statuses a returned actions file may give an action (case, "_" and "-" ignored)
ACTION_STATUSES: tuple[str, ...] = ("done", "in progress", "not started", "dropped")
#: the status of a committed action the returned file does not mention (or without a file)
NOT_REPORTED = "not reported"
#: the columns of the returned file: the id and status are required, the date and comment may be empty
ACTIONS_COLUMNS: tuple[str, ...] = ("action_id", "status", "status_date", "comment")
_SETTING = "review.plan_run"


def _as_date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return None


def read_run_record(run_dir: Path) -> tuple[dict, dict]:
    """A run folder's ``manifest.json`` and ``params.json`` (the resolved parameters it ran with).

    Raises
    ------
    ParameterError
        The folder has no readable manifest (not a run folder).
    """
    run_dir = Path(run_dir)
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ParameterError(
            f"{_SETTING}: {run_dir} is not a run folder (it has no readable manifest.json); fix: name a folder "
            "written by kam run (outputs/<client>/<run-id>), its run id, or 'latest'") from None
    params: dict = {}
    try:
        params = json.loads((run_dir / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        params = manifest.get("params") or {}
    return manifest, params


def _run_as_of(manifest: dict, params: dict) -> dt.date | None:
    p = params or manifest.get("params") or {}
    return _as_date((p.get("analysis") or {}).get("as_of_date"))


def successful_runs(client_dir: Path) -> list[dict]:
    """The client's finished, successful runs: ``{"run_id", "dir", "as_of", "finished_at"}``, oldest first.

    Scratch runs (``interactive``), runs in progress (``.<id>.partial``) and failed runs
    (``<id>-failed``, or a manifest whose status is not ``success``) are left out.
    """
    out = []
    if not Path(client_dir).is_dir():
        return out
    for d in sorted(Path(client_dir).iterdir()):
        if not d.is_dir() or d.name.startswith(".") or d.name.endswith("-failed") or d.name == "interactive":
            continue
        try:
            manifest, params = read_run_record(d)
        except ParameterError:
            continue
        if manifest.get("status") != "success":
            continue
        out.append({"run_id": d.name, "dir": d, "as_of": _run_as_of(manifest, params),
                    "finished_at": str(manifest.get("finished_at") or "")})
    return sorted(out, key=lambda r: (r["as_of"] or dt.date.min, r["finished_at"], r["run_id"]))


def resolve_plan_run(spec: str, *, client_dir: Path, client_name: str, as_of: dt.date) -> Path:
    """The run folder ``review.plan_run`` names (not yet checked: :func:`check_plan_identity`).

    ``spec`` is ``"latest"`` (the client's most recent successful run whose as-of date is
    before ``as_of``, so a follow-up never measures itself or a later run), an absolute run
    folder (a relative one is resolved against the params file when the params are loaded),
    or a run id: a folder name under ``client_dir``.

    Raises
    ------
    ParameterError
        Nothing matches; the message names what was looked for and the fix.
    """
    client_dir = Path(client_dir)
    if spec == "latest":
        runs = [r for r in successful_runs(client_dir) if r["as_of"] is not None and r["as_of"] < as_of]
        if not runs:
            done = successful_runs(client_dir)
            seen = (f"its successful runs ({len(done)}) all have an as-of date on or after {as_of}"
                    if done else "it has no successful run yet")
            raise ParameterError(
                f"{_SETTING} is 'latest', but {client_name} has no successful run with an as-of date before "
                f"{as_of} in {client_dir} ({seen}); fix: run the plan engagement first (kam run with the earlier "
                f"as-of date), or name the plan run's folder or run id")
        return runs[-1]["dir"]
    path = Path(spec).expanduser()
    if path.is_absolute():
        if not path.is_dir():
            raise ParameterError(f"{_SETTING}: the run folder {path} does not exist; fix: give the folder of the "
                                 "plan run (relative paths are read from the params file's folder), its run id, "
                                 "or 'latest'")
        return path
    cand = client_dir / spec
    if re.fullmatch(r"[A-Za-z0-9_.-]+", spec) and cand.is_dir():
        return cand
    known = [r["run_id"] for r in successful_runs(client_dir)][-5:]
    raise ParameterError(
        f"{_SETTING}: no run '{spec}' of {client_name} in {client_dir}"
        + (f" (its successful runs: {list_values(known)})" if known else " (it has no successful run)")
        + "; fix: give one of those run ids, the plan run's folder, or 'latest'")


def check_plan_identity(run_dir: Path, *, client_name: str, as_of: dt.date) -> tuple[dict, dict]:
    """Check the plan run is a finished run of this client, earlier than this run; return its records.

    The client is the name the run's manifest records (the same record the runner's
    client-folder identity check reads). A run of another client is refused, so one
    client's plan can never be measured on another client's data.

    Returns
    -------
    (manifest, params) of the plan run.

    Raises
    ------
    ParameterError
        Another client's run, a failed or unfinished run, or one not earlier than ``as_of``.
    """
    manifest, params = read_run_record(run_dir)
    owner = manifest.get("client")
    if owner != client_name:
        raise ParameterError(
            f"{_SETTING}: the run {run_dir} is a run of {owner!r}, not of {client_name!r}; a follow-up review "
            f"measures the plan this client committed to, never another client's; fix: name a run of "
            f"{client_name!r} (its folder under outputs/, its run id, or 'latest'), or correct client.name if this "
            f"is the same client")
    if manifest.get("status") != "success" or Path(run_dir).name.endswith("-failed"):
        raise ParameterError(
            f"{_SETTING}: the run {run_dir} did not finish successfully (status {manifest.get('status')!r}), so its "
            "plan was never delivered; fix: name the successful run whose deliverables the client received")
    plan_as_of = _run_as_of(manifest, params)
    if plan_as_of is None or plan_as_of >= as_of:
        raise ParameterError(
            f"{_SETTING}: the plan run {Path(run_dir).name} has the as-of date {plan_as_of}, not before this run's "
            f"{as_of}; a follow-up measures a plan on newer data; fix: set analysis.as_of_date to the end of the "
            "new data, or name an earlier run")
    return manifest, params


# --------------------------------------------------------------------------- the returned actions file
def _key(name) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).replace("\ufeff", "")).lower()


def _status_key(value: str) -> str:
    return re.sub(r"[\s_\-]+", " ", value).strip().lower()


def _read_csv(path: Path) -> tuple[list[str], list[list[str]], int]:
    import csv

    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    lines = text.splitlines()
    try:  # the delimiter only: Excel in a French locale saves ';'. The quote is always '"' — a sniffed "'"
        # would split the cells the export guarded against formulas ("'=...", "'-12-1")
        delimiter = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter, quotechar='"'))
    if not rows:
        return [], [], 1
    return [str(c) for c in rows[0]], rows[1:], 2


def _read_xlsx(path: Path) -> tuple[list[str], list[list], int]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            for i, r in enumerate(rows[:20]):
                if r and any(_key(c) == "actionid" for c in r if c is not None):
                    return (["" if c is None else str(c) for c in r], [list(x) for x in rows[i + 1:]], i + 2)
        first = list(wb.worksheets[0].iter_rows(values_only=True)) if wb.worksheets else []
        head = ["" if c is None else str(c) for c in (first[0] if first else [])]
        return head, [list(x) for x in first[1:]], 2
    finally:
        wb.close()


def read_actions_file(path: str | Path, *, known_ids: set[str] | None = None,
                      setting: str = "review.actions_file") -> pd.DataFrame:
    """Read and check the returned actions file.

    The file the plan run exported for the client (one row per account-plan action, and
    per recommendation with its ``REC-`` id) comes back with ``status`` (one of
    :data:`ACTION_STATUSES`; case, ``_`` and ``-`` ignored), ``status_date`` (a date,
    ``YYYY-MM-DD`` or an Excel date; may be empty) and ``comment`` (free text) filled in.
    Other columns (account, action text ...) are ignored. Rows with no id and no status are
    skipped; a row with an id and an empty status is left "not reported".

    Returns
    -------
    DataFrame
        ``action_id, status, status_date, comment, source`` (``source`` = file and row),
        one row per reported id.

    Raises
    ------
    DataValidationError
        Every problem at once, each naming the file, column, rows, examples and the fix:
        unreadable file, missing column, unknown status, bad date, duplicate id, an id the
        plan does not have (with ``known_ids``).
    """
    path = Path(path)
    name = str(path)
    ids_fix = "keep the action_id column of the exported file (account-plan actions '<account>-<n>', " \
              "recommendations 'REC-<what>-<segment>')"
    if not path.is_file():
        raise DataValidationError([Problem(
            "actions_file", "the returned actions file does not exist", file=name, setting=setting,
            fix=f"check {setting} (relative paths are read from the params file's folder), or remove it to "
                "review without action statuses")])
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            head, rows, first_row = _read_xlsx(path)
        elif path.suffix.lower() in (".csv", ".txt"):
            head, rows, first_row = _read_csv(path)
        else:
            raise ValueError(f"unsupported file type '{path.suffix}'")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a problem of the client's file
        raise DataValidationError([Problem(
            "actions_file", f"the returned actions file could not be read ({exc})", file=name, setting=setting,
            fix="save it as CSV (UTF-8) or Excel .xlsx with the columns action_id, status, status_date, comment")]) \
            from None
    cols = {_key(c): i for i, c in reversed(list(enumerate(head))) if str(c).strip()}
    missing = [c for c in ("action_id", "status") if _key(c) not in cols]
    if missing:
        raise DataValidationError([Problem(
            "actions_missing_column", f"the returned actions file has no {' and no '.join(missing)} column",
            file=name, column=missing[0], examples=tuple(h for h in head if str(h).strip())[:8],
            fix="use the file exported with the plan (deliverables/account_plan_actions.csv) and fill in status, "
                "status_date and comment; keep its header row")])

    def cell(r, col):
        i = cols.get(_key(col))
        v = r[i] if i is not None and i < len(r) else None
        return v

    recs = []
    for n, r in enumerate(rows, start=first_row):
        rid, status = cell(r, "action_id"), cell(r, "status")
        rid = "" if rid is None else str(rid).strip()
        if rid.startswith("'") and is_formula_like(rid[1:]):  # the export's formula guard on an id: "'-12-1"
            rid = rid[1:]
        status = "" if status is None else str(status).strip()
        if not rid and not status:
            continue
        recs.append({"row": n, "action_id": rid, "status_raw": status, "date_raw": cell(r, "status_date"),
                     "comment": "" if cell(r, "comment") is None else str(cell(r, "comment")).strip()})
    df = pd.DataFrame(recs, columns=["row", "action_id", "status_raw", "date_raw", "comment"])
    problems: list[Problem] = []

    def add(rule, what, column, bad: pd.DataFrame, values, fix):
        rows_ = bad["row"].tolist()
        where = f"row{'s' if len(rows_) > 1 else ''} {list_values(rows_, 8)}".replace("'", "")
        n = len(rows_)
        message = f"{n} row{'s' if n > 1 else ''} {what}"
        problems.append(Problem(rule, f"{message} ({where})", fix, file=name, column=column, count=len(bad),
                                examples=tuple(dict.fromkeys(values))[:5], setting=setting))

    blank_id = df[df["action_id"] == ""]
    if len(blank_id):
        add("actions_blank_id", "with a status but no action id", "action_id", blank_id,
            blank_id["status_raw"], ids_fix)
    allowed = {_status_key(s): s for s in ACTION_STATUSES}
    df["status"] = df["status_raw"].map(lambda s: allowed.get(_status_key(s), None) if s else NOT_REPORTED)
    bad = df[df["status"].isna()]
    if len(bad):
        add("actions_status", "with a status that is not one of " + ", ".join(ACTION_STATUSES), "status",
            bad, bad["status_raw"], f"write one of: {', '.join(ACTION_STATUSES)} (or leave it empty when there "
                                    "is nothing to report)")

    def parse_date(v):
        if v is None or (isinstance(v, str) and not v.strip()) or (not isinstance(v, str) and pd.isna(v)):
            return pd.NaT
        if isinstance(v, (dt.datetime, dt.date)):
            return pd.Timestamp(v).normalize()
        text = str(v).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?", text):
            try:
                return pd.Timestamp(text).normalize()
            except ValueError:
                return None
        return None

    df["status_date"] = df["date_raw"].map(parse_date)
    bad = df[df["status_date"].isna() & df["date_raw"].map(lambda v: parse_date(v) is None)]
    if len(bad):
        add("actions_date", "with a status_date that is not a date", "status_date", bad,
            bad["date_raw"].astype(str), "write the date as YYYY-MM-DD (e.g. 2026-03-15), or an Excel date cell")
    ids = df[df["action_id"] != ""]
    dup = ids[ids["action_id"].duplicated(keep=False)]
    if len(dup):
        add("actions_duplicate", "reporting an action id that another row reports too", "action_id", dup,
            dup["action_id"], "keep one row per action id (the latest status)")
    if known_ids is not None:
        unknown = ids[~ids["action_id"].isin(known_ids)]
        if len(unknown):
            add("actions_unknown_id", "with an action id the plan run does not have", "action_id", unknown,
                unknown["action_id"], "use the file exported by the plan run this review measures (review.plan_run); "
                                      "do not edit the ids")
    if problems:
        raise DataValidationError(problems)
    df["status_date"] = pd.to_datetime(df["status_date"])
    df["source"] = f"{path.name}, row " + df["row"].astype(str)
    return df[["action_id", "status", "status_date", "comment", "source"]].reset_index(drop=True)
