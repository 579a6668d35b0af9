"""The run folder: the only channel between phases and deliverables.

A run folder ``outputs/<client-slug>/<run-id>/`` holds::

    manifest.json        what ran, on which inputs, with which params, and what it wrote
    params.json          the resolved parameters every notebook of the run uses
    data/                the clean client data (Parquet) and validation.json
    tables/              every table a phase wrote: <name>.parquet (exact) and <name>.csv
    figures/             every figure a phase saved (PNG)
    notebooks/           the executed notebooks
    deliverables/        the client files (deck, workbooks, dashboards)

Phases talk only through ``tables/``: a notebook reads what earlier phases wrote with
:meth:`Run.read_table` and writes its own results with :meth:`Run.write_table`. Both check
the table against the catalogue (:mod:`kam_analysis.data.tables`).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from ..config import Params
from ..exceptions import RunError
from ..safety import neutralise_frame_for_csv
from .tables import check_columns, table_spec

__all__ = ["PHASE_STATE", "Run", "figure_log"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


#: the runner's record of the run's unfinished and failed phases, read by :meth:`Run.wait_for`
PHASE_STATE = ".phases.json"


def figure_log(phase: str) -> str:
    """The run folder's hidden list of the figures ``phase`` saved, one name per line."""
    return f".figures-{phase}.txt"


def _show_in_notebook(fig, png: bytes, *, dpi: int) -> None:
    """Show a saved chart's PNG as the notebook's output and close its figure (in a kernel only).

    Displayed at the inline backend's 100 pixels per inch, so the chart is as large on the
    page as a re-drawn one and sharper. Outside a Jupyter kernel (a script, a test) the
    figure is left open for the caller.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # IPython is a dependency of the notebooks, not of every caller
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    width_px = int.from_bytes(png[16:20], "big")  # the PNG header's width (IHDR), after tight cropping
    display(Image(data=png, format="png", width=max(1, round(width_px * 100 / dpi))))
    plt.close(fig)


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed) across processes, where the
    system offers ``flock`` (Linux, macOS); elsewhere phases run one at a time anyway."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV (UTF-8, header, RFC 4180 quoting) written by Arrow: ~10x faster than pandas on big tables."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out = frame.copy()
    for c in out.columns:  # dates as plain ISO dates/times, as a person expects in Excel
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            t = out[c]
            has_time = bool((t.dropna() != t.dropna().dt.normalize()).any())
            out[c] = t.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), sink,
                    write_options=pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().to_pybytes()


class Run:
    """Read and write one run folder.

    Parameters
    ----------
    run_dir : path
        The run folder.
    params : Params
        The run's resolved parameters.
    reader : str
        Who reads the tables, named in the message when a table or column is missing
        (``build_deliverables`` opens the run as ``"deliverable <name>"``).
    """

    def __init__(self, run_dir: str | Path, params: Params, *, reader: str = "this step"):
        self.dir = Path(run_dir)
        self.params = params
        self.reader = reader
        #: the phase whose notebook opened the run (``open_run(..., phase=...)``), else None
        self.phase: str | None = None

    # ------------------------------------------------------------------ folders
    @property
    def tables_dir(self) -> Path:
        return self.dir / "tables"

    @property
    def figures_dir(self) -> Path:
        return self.dir / "figures"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def deliverables_dir(self) -> Path:
        return self.dir / "deliverables"

    # ------------------------------------------------------------------ tables
    def _check_name(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"table/figure name {name!r} must be lower_snake_case (letters, digits, _)")

    def table_path(self, name: str) -> Path:
        self._check_name(name)
        return self.tables_dir / f"{name}.parquet"

    def has_table(self, name: str) -> bool:
        return self.table_path(name).exists()

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self.tables_dir.glob("*.parquet"))

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Write ``df`` as ``tables/<name>.parquet`` (exact) and ``.csv`` (formula-safe).

        The table is checked against its declaration in :mod:`kam_analysis.data.tables`,
        which also gives its phase and description (recorded in ``tables/_index.json``).
        Both files are written atomically. The CSV is for people opening it in Excel:
        text that would run as a formula is prefixed with ``'``.

        Raises
        ------
        RunError
            The table is not declared, lacks a required column or has an undeclared one.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"write_table({name!r}) needs a DataFrame, got {type(df).__name__}")
        path = self.table_path(name)
        frame = df.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        spec = check_columns(name, frame.columns)
        import io

        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        _atomic_write_bytes(path, buf.getvalue())
        _atomic_write_bytes(path.with_suffix(".csv"), _csv_bytes(neutralise_frame_for_csv(frame)))
        index_path = self.tables_dir / "_index.json"
        with _locked(self.tables_dir / ".index.lock"):  # two phases running at once both update the index
            index = json.loads(index_path.read_text()) if index_path.exists() else {}
            index[name] = {"rows": int(len(frame)), "columns": list(frame.columns),
                           "description": spec.description, "phase": spec.phase}
            _atomic_write_bytes(index_path, json.dumps(index, indent=2, sort_keys=True).encode())
        return path

    def read_table(self, name: str, *, columns: list[str] | tuple[str, ...] = (),
                   missing_ok: bool = False) -> pd.DataFrame | None:
        """Read a table an earlier step wrote, checked for the columns the reader needs.

        Parameters
        ----------
        name : str
            A table of the catalogue (:data:`kam_analysis.data.tables.TABLES`).
        columns : sequence of str
            Columns the reader uses; each must be declared for the table and present.
        missing_ok : bool
            Return None when the table is absent. Only for tables the catalogue marks as
            written on a condition (``written_when``): a table its phase always writes
            is never optional.

        Returns
        -------
        DataFrame or None
            The whole table (None only with ``missing_ok`` and the table absent).

        Raises
        ------
        RunError
            The table is undeclared or absent, or a column is undeclared or absent; the
            message names the reader, the table, the columns and the phase.
        """
        spec = table_spec(name)
        if missing_ok and not spec.conditional:
            raise RunError(f"{self.reader} reads table '{name}' as optional, but phase {spec.phase} always "
                           "writes it; fix: read it without missing_ok, or declare when it is written "
                           "(written_when) in kam_analysis/data/tables.py")
        undeclared = [c for c in columns if c not in spec.columns and not c.startswith(spec.open_prefixes)]
        if undeclared:
            raise RunError(f"{self.reader} needs column(s) {', '.join(undeclared)} of table '{name}', which "
                           f"phase {spec.phase} does not write (not declared in kam_analysis/data/tables.py); "
                           f"declared: {', '.join(spec.columns)}")
        path = self.table_path(name)
        if not path.exists():
            if missing_ok:
                return None
            raise RunError(
                f"{self.reader} needs table '{name}', which phase {spec.phase} did not write in run folder "
                f"{self.dir}; fix: run the engagement again (kam run without --phase runs every phase)")
        df = pd.read_parquet(path)
        absent = [c for c in columns if c not in df.columns]
        if absent:
            raise RunError(f"{self.reader} needs column(s) {', '.join(absent)} of table '{name}', which phase "
                           f"{spec.phase} did not write in this run (it writes them only when the data supports "
                           "them); fix: read them only when present")
        return df

    # ------------------------------------------------------------------ data
    def has_data(self, name: str) -> bool:
        return (self.data_dir / f"{name}.parquet").exists()

    def read_data(self, name: str) -> pd.DataFrame:
        """Clean client data (accounts, surveys, capability; transactions only when small)."""
        path = self.data_dir / f"{name}.parquet"
        if not path.exists():
            raise RunError(f"The run has no {name} data (the params give no {name} file)")
        return pd.read_parquet(path)

    def transactions_sql(self) -> str:
        """A DuckDB ``read_parquet(...)`` expression over the run's clean transactions."""
        p = str(self.data_dir / "transactions.parquet").replace("'", "''")
        return f"read_parquet('{p}')"

    def orders_sql(self) -> str | None:
        """A DuckDB ``read_parquet(...)`` expression over the run's orders (one row per order:
        ``account_id, d, rev, gm``; :func:`kam_analysis.data.prepare.order_totals_sql`), or None
        for a run folder written before the file existed."""
        path = self.data_dir / "orders.parquet"
        return f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')" if path.exists() else None

    def validation(self) -> dict:
        p = self.data_dir / "validation.json"
        return json.loads(p.read_text()) if p.exists() else {"problems": [], "stats": {}}

    # ------------------------------------------------------------------ figures
    def save_figure(self, fig, name: str, *, dpi: int = 200) -> Path:
        """Save a matplotlib figure (or seaborn grid/axes) as ``figures/<name>.png``.

        In a notebook the saved image is also what the notebook shows, and the figure is
        closed: a chart is drawn once, at the deliverables' resolution, instead of a second
        time by the notebook's inline display (a third of a phase's time on the demo).
        """
        self._check_name(name)
        fig = getattr(fig, "figure", fig)
        fig = getattr(fig, "get_figure", lambda: fig)() or fig
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        path = self.figures_dir / f"{name}.png"
        import io

        buf = io.BytesIO()
        fig.savefig(buf, dpi=dpi, bbox_inches="tight", facecolor="white",
                    metadata={"Software": None, "Creation Time": None})
        _atomic_write_bytes(path, buf.getvalue())
        if self.phase is not None:  # which phase saved it: phases run side by side (runner._written)
            with open(self.dir / figure_log(self.phase), "a", encoding="utf-8") as log:
                log.write(name + "\n")
        _show_in_notebook(fig, buf.getvalue(), dpi=dpi)
        return path

    def wait_for(self, *phases: str, poll: float = 0.1) -> None:
        """Wait until ``phases`` have finished in this run, when they run beside this notebook.

        Under ``kam run`` a phase may start beside a phase whose tables only its later cells
        read (``Phase.waits`` in :mod:`kam_analysis.data.tables`); the runner keeps the run's
        unfinished and failed phases in the run folder's ``.phases.json``
        (:data:`PHASE_STATE`), and this returns once none of ``phases`` is unfinished.
        Opened by hand, or in a run where they finished before this phase started, it
        returns at once.

        Raises
        ------
        RunError
            One of ``phases`` failed in this run: its tables are not there to read.
        """
        import time

        path = self.dir / PHASE_STATE
        while True:
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # no scheduler (opened by hand), or the run has closed the file
                return
            failed = [ph for ph in phases if ph in state.get("failed", [])]
            if failed:
                who = f"the {self.phase} phase" if self.phase else self.reader
                raise RunError(f"the {' and '.join(failed)} phase failed in this run, so {who} cannot read "
                               f"its tables; fix: see the error in its notebook, then run again")
            if not any(ph in state.get("unfinished", []) for ph in phases):
                return
            time.sleep(poll)

    def account_display_names(self) -> pd.Series:
        """account_id -> the name to show in client deliverables.

        The account's name (or its id when the data has no names), with the id in brackets
        when several accounts share the name; with
        ``output.pseudonymise: true`` a stable pseudonym ("Account 0001", numbered in
        account-id order) instead. The pseudonym -> real name mapping is kept for the
        consultant in ``private/pseudonyms.csv`` in the run folder, never in a deliverable.
        """
        acc = self.read_data("accounts")
        ids = acc["account_id"].astype(str)
        names = acc["account_name"] if "account_name" in acc else ids
        names = names.where(names.notna(), ids).astype(str)
        # two accounts of one name are told apart by their id: "Dupont SA (C1042)"
        dup = names.duplicated(keep=False) & (names != ids)
        names = names.where(~dup, names + " (" + ids + ")")
        if not self.params.output.pseudonymise:
            return pd.Series(names.to_numpy(), index=ids.to_numpy(), name="display_name")
        order = ids.sort_values(kind="stable")
        width = max(4, len(str(len(order))))
        pseudo = pd.Series([f"Account {i:0{width}d}" for i in range(1, len(order) + 1)], index=order.to_numpy())
        mapping = pd.DataFrame({"account_id": order.to_numpy(), "pseudonym": pseudo.to_numpy(),
                                "account_name": names.set_axis(ids.to_numpy()).reindex(order.to_numpy()).to_numpy()})
        private = self.dir / "private"
        private.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(private / "pseudonyms.csv",
                            neutralise_frame_for_csv(mapping).to_csv(index=False).encode("utf-8"))
        return pseudo.reindex(ids.to_numpy()).rename("display_name")

    def deliverable_path(self, filename: str) -> Path:
        if "/" in filename or "\\" in filename or filename.startswith("."):
            raise ValueError(f"deliverable file name {filename!r} must be a plain file name")
        self.deliverables_dir.mkdir(parents=True, exist_ok=True)
        return self.deliverables_dir / filename
