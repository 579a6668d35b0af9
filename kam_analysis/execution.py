"""How ``kam run`` has Papermill execute a phase notebook, without time lost between cells.

Three costs of Papermill's defaults sat on the run's critical path, every phase:

* **A save at every cell boundary.** Papermill writes the whole executed notebook (all
  earlier outputs, charts included) when each cell starts and when it ends: about 70
  writes of a notebook growing to 2 MB per phase. The ``kam`` engine (:func:`register_engine`)
  saves at most once every :data:`SAVE_EVERY` seconds while cells run, and always at the
  end, on an error and on a stop (Papermill's own ``finally`` blocks), so a failed or
  stopped phase's notebook still shows the cell where it stopped. A run killed outright
  loses at most the last second of notebook progress; tables and figures are written by
  the cells themselves and are not affected.
* **Waiting for the kernel to exit.** A graceful shutdown asks the kernel to exit, then
  polls until its process has gone (about 0.4 s). The kernel manager of :mod:`kam_analysis.faults`
  sends the request and lets the process finish exiting in the background
  (:func:`kam_analysis.faults.reap_exiting_kernels`); the runner waits for them before it closes the run folder.
* **A grammar nobody uses.** Importing Papermill imports nbformat, which imports
  jsonschema, whose optional IRI format check builds the Lark grammar of the
  ``rfc3987-syntax`` package on import (about 1 s). nbformat's notebook schema uses no
  string format, so :func:`import_papermill` has that optional check skipped in the
  ``kam`` process.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from . import faults
from .exceptions import Terminated

__all__ = ["KERNEL_ARGS", "PhaseExecution", "SAVE_EVERY", "execute", "import_papermill", "register_engine"]

#: seconds between two saves of a running notebook (Papermill's default: every cell start and end)
SAVE_EVERY = 1.0

_ENGINE = "kam"


def import_papermill():
    """Papermill, imported without jsonschema's optional IRI check (see the module docstring).

    Only when jsonschema has not been imported yet: a process that already uses it keeps
    whatever it loaded.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment] - makes its import fail: the check is skipped
    import papermill

    return papermill


def _nbformat():
    """nbformat, imported as :func:`import_papermill` imports it (lazily: it pulls in jsonschema)."""
    import_papermill()
    import nbformat

    return nbformat


def register_engine() -> str:
    """Register the ``kam`` engine with Papermill (once); return its name for ``engine_name``.

    The engine is Papermill's nbclient engine with the notebook manager's ``save``
    throttled to one write every :data:`SAVE_EVERY` seconds while cells run; Papermill's
    closing save (``notebook_complete``, also run on an error or a stop) always writes.
    """
    import_papermill()
    from papermill.engines import NBClientEngine, papermill_engines

    class KamEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            nb_man.save = _Throttled(nb_man.save, SAVE_EVERY)  # on the instance: the class's save is untouched
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                del nb_man.save

    if _ENGINE not in papermill_engines._engines:  # noqa: SLF001 - registration has no query API
        papermill_engines.register(_ENGINE, KamEngine)
    return _ENGINE


class _Throttled:
    """A notebook manager's ``save`` that writes at most once every ``every`` seconds."""

    def __init__(self, save, every: float) -> None:
        self._save, self._every, self._last = save, every, time.monotonic()

    def __call__(self, **kwargs) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._save(**kwargs)
            self._last = time.monotonic()


# --- one phase notebook, executed in a worker thread ----------------------------------------

_SPECIAL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def _is_special(cell) -> bool:
    return bool(_SPECIAL_TAGS & set(cell.get("metadata", {}).get("tags", [])))


def _failing_cell(nb_path: Path) -> tuple[int | None, dict | None]:
    """Index (in the saved notebook) of the cell that failed, or was running when execution stopped."""
    nbformat = _nbformat()

    if not nb_path.exists():
        return None, None
    nb = nbformat.read(nb_path, as_version=4)
    started = None
    for i, cell in enumerate(nb.cells):
        pm = cell.get("metadata", {}).get("papermill", {})
        if pm.get("exception") or pm.get("status") == "failed":
            return i, nb
        if pm.get("start_time") and not _is_special(cell):
            started = i
    return started, nb


def _locate(nb_path: Path) -> dict:
    """Where a notebook failed, as the analyst sees the source notebook.

    ``cell_number`` is the 1-based position in the source notebook (papermill's injected
    parameters cell and error banner are not counted), ``exec_count`` the ``In [n]`` shown
    in the executed notebook, ``cell_source`` the cell's first line.
    """
    try:
        idx, nb = _failing_cell(nb_path)
    except Exception:  # noqa: BLE001 - a notebook cut short (disk full, killed) is not readable
        idx, nb = None, None
    if idx is None or nb is None:
        return {"cell_number": None, "exec_count": None, "cell_source": ""}
    number = sum(1 for c in nb.cells[: idx + 1] if not _is_special(c))
    lines = nb.cells[idx].source.strip().splitlines()
    return {"cell_number": number, "exec_count": nb.cells[idx].get("execution_count"),
            "cell_source": lines[0][:120] if lines else ""}


def _mark_notebook_failed(nb_path: Path, reason: str) -> None:
    """Record a timeout / dead kernel in the saved notebook so it no longer looks successful."""
    try:
        _mark_failed(nb_path, reason)
    except Exception:  # noqa: BLE001 - unreadable or unwritable (disk full): the manifest says why
        pass


def _mark_failed(nb_path: Path, reason: str) -> None:
    nbformat = _nbformat()

    index, nb = _failing_cell(nb_path)
    if nb is None:
        return
    if index is not None:
        cell = nb.cells[index]
        cell.metadata.setdefault("papermill", {})["status"] = "failed"
        cell.metadata["papermill"]["exception"] = True
        if cell.cell_type == "code":
            cell.outputs.append(nbformat.v4.new_output("error", ename="RunError", evalue=reason, traceback=[reason]))
        for later in nb.cells[index + 1:]:
            later.metadata.setdefault("papermill", {})["status"] = "pending"
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nb.metadata["kam"] = {"status": "failed", "reason": reason}
    from .data.runfolder import _atomic_write_bytes

    _atomic_write_bytes(nb_path, nbformat.writes(nb).encode("utf-8"))


#: the kernel's command-line options (Papermill's ``extra_arguments``): start-up chatter off the terminal
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


class PhaseExecution:
    """One notebook executing with Papermill in a worker thread, while the main thread waits.

    ``warm`` is a :class:`~kam_analysis.warmkernel.WarmKernel` started for this notebook:
    its kernel is used when it is alive (Papermill then shuts it down as its own), and it
    is shut down on every path. Several executions may run at once (phases that do not
    read each other's tables); the runner waits on their ``done`` events.

    Papermill runs in a worker thread, so a Ctrl-C or SIGTERM reaches the runner (not
    nbclient's own signal handling, which only stops the kernel): :meth:`stop` interrupts
    and stops the kernel, has the notebook saved as far as it ran, and returns the phase
    record.
    """

    def __init__(self, nb_in: Path, nb_out: Path, params: dict, *, kernel: str, timeout: int, warm=None) -> None:
        import threading

        self.nb_out, self.timeout, self.warm = nb_out, timeout, warm
        pm = import_papermill()
        engine = register_engine()
        self.t0 = time.perf_counter()
        self.rec: dict = {"notebook": nb_out.name, "status": "success"}
        self.managers: list = []
        self.outcome: dict = {}
        # waited on as an Event, not with Thread.join: on Python 3.11 a join cut short by the
        # signal's exception marks a still-running thread as stopped (is_alive() False), and the
        # runner would rename the run folder while the kernel still writes into it
        self.done = threading.Event()

        def work() -> None:
            try:
                km = warm.take() if warm is not None else None
                self.rec["kernel_started_ahead"] = km is not None
                if km is not None:  # started and imported while the phase before ran
                    from .warmkernel import handed_over

                    self.managers.append(km)
                    manager_class = handed_over(km)
                else:
                    manager_class = faults.kernel_manager_class(self.managers)
                pm.execute_notebook(str(nb_in), str(nb_out), parameters=params, kernel_name=kernel,
                                    execution_timeout=timeout, progress_bar=False,
                                    # the kernel's working directory, given to the kernel: Papermill's own
                                    # ``cwd`` chdirs the whole process, and two phases side by side then
                                    # restore each other's directory (the runner was left in notebooks/)
                                    resources={"metadata": {"path": str(Path(nb_in).resolve().parent)}},
                                    log_output=False, report_mode=False, kernel_manager_class=manager_class,
                                    engine_name=engine, extra_arguments=list(KERNEL_ARGS))
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.outcome["exc"] = exc
            finally:
                if warm is not None:
                    warm.shutdown()
                self.done.set()

        threading.Thread(target=work, name=f"papermill-{nb_out.stem}", daemon=True).start()

    def stop(self, stop: BaseException) -> dict:
        """Stop the notebook on a signal (``stop``: KeyboardInterrupt or Terminated); its record."""
        if self.warm is not None:  # first: a kernel not yet taken is stopped, and the phase can no longer take it
            self.warm.shutdown()
        faults.stop_kernel(self.managers, self.done)
        reason = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted (Ctrl-C)"
        _mark_notebook_failed(self.nb_out, f"run {reason} while this cell was running")
        self.rec.update(status="failed", error_type=type(stop).__name__, error=f"run {reason}",
                        seconds=round(time.perf_counter() - self.t0, 3), **_locate(self.nb_out))
        return self.rec

    def result(self) -> dict:
        """The phase record once ``done`` is set (never raises for notebook failures)."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        from papermill.exceptions import PapermillExecutionError

        rec, exc, nb_out, timeout = self.rec, self.outcome.get("exc"), self.nb_out, self.timeout
        if isinstance(exc, PapermillExecutionError):
            rec.update(status="failed", error_type=exc.ename, error=f"{exc.ename}: {exc.evalue}".strip())
        elif isinstance(exc, CellTimeoutError):
            reason = f"cell timed out after {timeout} s (execution.cell_timeout)"
            _mark_notebook_failed(nb_out, reason)
            rec.update(status="failed", error_type="CellTimeoutError", error=reason, detail=str(exc)[:300])
        elif isinstance(exc, DeadKernelError):
            reason = "the kernel died (out of memory, a crash, or the process exited)"
            _mark_notebook_failed(nb_out, reason)
            rec.update(status="failed", error_type="DeadKernelError", error=reason, detail=str(exc)[:300])
        elif exc is not None:  # kernel could not start, notebook unreadable, disk full while saving ...
            rec.update(status="failed", error_type=type(exc).__name__, error=f"{type(exc).__name__}: {exc}"[:500])
            if faults.disk_full(exc):
                rec["error"] = "the disk is full (no space left on device) " + rec["error"]
        rec["kernel_forked"] = any(getattr(km, "kam_forked", False) for km in self.managers)  # kam_analysis/kernelfork.py
        rec["seconds"] = round(time.perf_counter() - self.t0, 3)
        if rec["status"] == "failed":
            rec.update(_locate(nb_out))
        return rec


def execute(nb_in: Path, nb_out: Path, params: dict, *, kernel: str, timeout: int, warm=None) -> dict:
    """Execute one notebook and wait for it; return its phase record (never raises for notebook failures).

    On a Ctrl-C or SIGTERM the notebook is stopped (:meth:`PhaseExecution.stop`) and the
    KeyboardInterrupt (or :class:`Terminated`) re-raised carrying the phase record as
    ``kam_phase_record``.
    """
    ex = PhaseExecution(nb_in, nb_out, params, kernel=kernel, timeout=timeout, warm=warm)
    try:
        while not ex.done.wait(0.2):
            pass
    except KeyboardInterrupt as stop:  # Ctrl-C, or Terminated (SIGTERM)
        stop.kam_phase_record = ex.stop(stop)  # type: ignore[attr-defined]
        raise
    return ex.result()
