"""How a run stops on a fault: a signal, a full disk, a dead kernel.

The runner (:mod:`kam_analysis.runner`) calls these so that every fault ends the same way:
a ``<run-id>-failed/`` folder whose ``manifest.json`` names the phase and the cause in
``failure`` (``{"phase", "cause", "message"}``; causes: ``interrupted``, ``terminated``,
``disk_full``, ``kernel_died``, ``cell_timeout``, ``cell_error``, ``deliverable_error``,
``error``), never a ``.partial`` folder, and an exit status the ``kam`` command documents
(130 for Ctrl-C, 143 for SIGTERM, 1 for any other failed run).

* **Signals.** While a run is in progress the first SIGINT or SIGTERM raises
  KeyboardInterrupt (or :class:`~kam_analysis.exceptions.Terminated`) in the main thread;
  Papermill runs in a worker thread, so nbclient's own signal handling (which only stops
  the kernel and lets the run carry on) is not installed. The running cell is interrupted,
  then the kernel killed, and the notebook is marked failed at that cell.
* **Killed.** A run killed outright (SIGKILL, the machine's out-of-memory killer, a power
  cut) cannot close its folder; it leaves ``.<run-id>.partial/`` with ``.owner.json``
  (process, host, the phase it was in). The client's next run finds it, sees that its
  process is gone, and keeps it as ``<run-id>-failed/`` with a manifest (cause
  ``killed``) instead of leaving it half-written.
* **Kernels.** Each phase's kernel is started (or forked from the run's preloaded server,
  :mod:`kam_analysis.kernelfork`) by :func:`kernel_manager_class`, which records it so a
  signal stops the kernel its phase runs in. A phase that ends asks its kernel to exit and
  goes on; the process is reaped in the background (:func:`reap_later`, killed after 5 s)
  and the runner waits for every such kernel (:func:`reap_exiting_kernels`) before it
  closes the run folder, so no kernel outlives its run.
* **Disk full.** The failed run keeps only its notebooks and manifest: data, tables,
  figures and deliverables are removed to give the space back (``removed_to_free_space``);
  if not even the manifest can be written, the run folder is removed. Manifests are
  written atomically, so none is ever left empty.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

from .data.tables import PHASES
from .exceptions import RunStopped, Terminated

__all__ = ["recover_killed_runs", "mark_stage", "StopSignals", "stop_kernel", "kernel_manager_class", "reap_later",
           "reap_exiting_kernels", "stopped_error", "disk_full", "failure", "discard", "write_manifest", "finalise",
           "file_list", "STAGES"]


def kernel_manager_class(started: list):
    """A kernel manager class that records each instance in ``started`` (to stop its kernel)."""
    from jupyter_client.manager import AsyncKernelManager

    class _Recorded(AsyncKernelManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            """A graceful shutdown asks the kernel to exit and returns: the process finishes
            exiting in the background (:func:`reap_later`, killed if it
            has not after 5 s) while the run goes on. A forced one (``now``) is jupyter_client's."""
            process = getattr(self.provisioner, "process", None)
            if now or restart or process is None or not self.owns_kernel or not self.has_kernel:
                return await super()._async_shutdown_kernel(now=now, restart=restart)
            self.shutting_down = True
            self.stop_restarter()
            await self._async_request_shutdown(restart=False)
            reap_later(process)
            await self._async_cleanup_resources(restart=False)

        shutdown_kernel = _async_shutdown_kernel

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            """Forked from the run's preloaded server when there is one (kam_analysis/kernelfork.py)."""
            from .kernelfork import launch_forked

            if not launch_forked(self, kernel_cmd, kw):
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return _Recorded


_EXITING: list[threading.Thread] = []
_LOCK = threading.Lock()


def reap_later(process, *, wait: float = 5.0) -> None:
    """Wait in the background for a kernel ``process`` (a ``Popen``) asked to exit; kill it after ``wait`` s."""
    def reap() -> None:
        try:
            process.wait(timeout=wait)
        except Exception:  # noqa: BLE001 - still running after the wait: killed
            try:
                process.kill()
                process.wait(timeout=wait)
            except Exception:  # noqa: BLE001 - already gone
                pass

    thread = threading.Thread(target=reap, name="kam-kernel-exit", daemon=True)
    thread.start()
    with _LOCK:
        _EXITING.append(thread)


def reap_exiting_kernels(timeout: float = 15.0) -> None:
    """Wait until every kernel asked to exit has exited (killed if it would not). Never raises."""
    deadline = time.monotonic() + timeout
    with _LOCK:
        threads = list(_EXITING)
        _EXITING.clear()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def kernel_pid(managers: list) -> int | None:
    for km in managers:
        pid = getattr(getattr(km, "provisioner", None), "pid", None)
        if pid:
            return int(pid)
    return None


def stop_kernel(managers: list, done, *, grace: float = 5.0, patience: float = 60.0) -> None:
    """Interrupt the running cell (so the notebook shows where it stopped), kill the kernel, and
    wait until ``done`` (a :class:`threading.Event`) is set: the worker thread (Papermill) has
    saved the notebook and ended.

    The kernel runs in its own session, so a Ctrl-C on the terminal never reaches it; it
    is stopped here. A kernel that appears while this waits (the phase was still taking
    or starting it when the signal came) is killed too: the run folder is renamed once this
    returns, and a kernel left running would go on writing tables into the old path. Gives
    up after ``patience`` seconds.
    """
    import signal
    import time

    deadline = time.monotonic() + patience
    interrupted: set[int] = set()
    killed: set[int] = set()
    # only the kernel running when the stop came is interrupted first (so its notebook shows where it
    # stopped); one that appears later is killed at once: an interrupt sent while it still boots is
    # lost, and its first cell would then run, and write, during the grace period
    at_stop = kernel_pid(managers)
    while not done.is_set() and time.monotonic() < deadline:
        pid = kernel_pid(managers)
        if pid is not None and pid == at_stop and pid not in interrupted:
            interrupted.add(pid)
            try:
                os.kill(pid, signal.SIGINT)
            except (ProcessLookupError, PermissionError):
                pass
            done.wait(grace)
        elif pid is not None and pid not in killed:
            killed.add(pid)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            done.wait(1.0)
        else:
            done.wait(0.2)


def file_list(run_dir: Path) -> list[dict]:
    from .data.prepare import sha256_file

    files = []
    for p in sorted(run_dir.rglob("*")):
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith("."):
            files.append({"path": p.relative_to(run_dir).as_posix(), "bytes": p.stat().st_size,
                          "sha256": sha256_file(p)})
    return files


class StopSignals:
    """While a run is in progress, Ctrl-C (SIGINT) and SIGTERM stop it cleanly.

    The first signal raises KeyboardInterrupt (SIGINT) or :class:`Terminated` (SIGTERM)
    in the main thread and is remembered, so the run is recorded as stopped whatever a
    library turned the exception into; further signals are ignored while the run folder
    is being closed (a few seconds at most). Outside the main thread nothing is installed.
    """

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self) -> "StopSignals":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        import signal

        if self.signum is not None:
            return
        self.signum = signum
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def __exit__(self, *_exc) -> None:
        import signal

        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def stopped_error(exc: BaseException, stop: "StopSignals", stage: str | None) -> RunStopped:
    import signal

    term = isinstance(exc, Terminated) or stop.signum == signal.SIGTERM
    how = "stopped by SIGTERM" if term else "interrupted (Ctrl-C)"
    where = f" during {STAGES.get(stage, stage)}" if stage else " before it started"
    return RunStopped(f"run {how}{where}", exit_code=143 if term else 130)


#: what the manifest's failure.phase names, besides the phases
STAGES = {"prepare": "data validation and preparation", "deliverables": "the deliverables",
           "finish": "the end of the run"}


def disk_full(exc: BaseException | None, text: str = "") -> bool:
    """True when ``exc`` (or its causes) or ``text`` says the disk is full."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text += " " + str(exc)
        exc = exc.__cause__ or exc.__context__
    return "No space left on device" in text or "[Errno 28]" in text or "Disk quota exceeded" in text


def failure(error: BaseException, stage: str, manifest: dict) -> dict:
    """The manifest's ``failure`` record: the phase (or step) that failed and why."""
    import signal

    recs = [r for r in manifest.get("phases", []) if r.get("status") == "failed"]
    # the failed stage's own record (a phase running beside it may have failed after it, waiting for it)
    rec = next((r for r in recs if r.get("phase") == stage), recs[-1] if recs else {})
    if isinstance(error, RunStopped):
        cause = "terminated" if error.exit_code == 128 + signal.SIGTERM else "interrupted"
    elif disk_full(error, str(rec.get("error", ""))):
        cause = "disk_full"
    elif rec.get("error_type") == "DeadKernelError":
        cause = "kernel_died"
    elif rec.get("error_type") == "CellTimeoutError":
        cause = "cell_timeout"
    elif stage in PHASES:
        cause = "cell_error"
    elif stage == "deliverables":
        cause = "deliverable_error"
    else:
        cause = "error"
    out = {"phase": stage, "cause": cause, "message": str(error)}
    for k in ("notebook", "cell_number", "cell_source"):
        if rec.get(k) is not None and stage in PHASES:
            out[k] = rec[k]
    return out


def discard(work: Path, new_client_dir: Path | None) -> None:
    """Remove a run folder that must not be kept, and the client folder if this run made it."""
    shutil.rmtree(work, ignore_errors=True)
    if new_client_dir is not None:
        try:
            new_client_dir.rmdir()  # only when empty
        except OSError:
            pass


def write_manifest(work: Path, manifest: dict) -> None:
    """Write ``manifest.json`` atomically: a full disk leaves no half-written manifest."""
    from .data.runfolder import _atomic_write_bytes

    _atomic_write_bytes(work / "manifest.json", json.dumps(manifest, indent=2, default=str).encode("utf-8"))


#: what a run on a full disk removes from its failed run folder to free the space
_BULKY = ("data", "tables", "figures", "deliverables", "private")


def finalise(work: Path, final: Path, manifest: dict, new_client_dir: Path | None) -> bool:
    """Write the manifest and rename the ``.partial`` folder to ``final``.

    On a full disk the failed run keeps only its notebooks and manifest: its data,
    tables, figures and deliverables are removed to give the space back (the manifest
    says so). If even that manifest cannot be written, the ``.partial`` folder is removed
    and False returned. Never leaves a ``.partial`` folder behind.
    """
    failure = manifest.get("failure") or {}
    try:
        if failure.get("cause") == "disk_full":
            raise OSError(28, "No space left on device")
        manifest["files"] = file_list(work)
        write_manifest(work, manifest)
    except OSError as exc:
        if not disk_full(exc):
            raise
        if manifest["status"] == "success":  # the last write of a good run failed: it is not good
            manifest.update(status="failed", error=f"the disk is full (no space left on device): {exc}")
            failure = manifest["failure"] = {"phase": "finish", "cause": "disk_full", "message": manifest["error"]}
            final = final.with_name(final.name + "-failed")
            manifest["run_dir"] = str(final)
        failure["cause"] = "disk_full"
        removed = [d for d in _BULKY if (work / d).exists()]
        for d in removed:
            shutil.rmtree(work / d, ignore_errors=True)
        for p in work.glob(".*"):  # temporary files of interrupted atomic writes, DuckDB spill
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        manifest["removed_to_free_space"] = removed
        try:
            manifest["files"] = file_list(work)
            write_manifest(work, manifest)
        except OSError:
            discard(work, new_client_dir)
            return False
    (work / OWNER_FILE).unlink(missing_ok=True)
    os.replace(work, final)
    return True


# --------------------------------------------------------------------------- killed runs
OWNER_FILE = ".owner.json"


def mark_stage(work: Path, stage: str, **first) -> None:
    """Record in the ``.partial`` folder which process owns it and the stage it is in."""
    import socket

    path = work / OWNER_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        record.update(first)
        record.update(pid=os.getpid(), host=socket.gethostname(), stage=stage)
        path.write_text(json.dumps(record), encoding="utf-8")
    except (OSError, ValueError):  # a full disk: the run still closes itself normally
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_killed_runs(client_dir: Path) -> list[Path]:
    """Keep the ``.partial`` folders of killed runs of this machine as ``<run-id>-failed``.

    A folder is recovered only when its ``.owner.json`` names this host and a process
    that no longer exists, so a run still in progress (another terminal) is never touched.
    Returns the folders kept.
    """
    import socket

    kept = []
    for work in sorted(client_dir.glob(".*.partial")):
        try:
            owner = json.loads((work / OWNER_FILE).read_text(encoding="utf-8"))
            if owner.get("host") != socket.gethostname() or _alive(int(owner["pid"])):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        run_id = owner.get("run_id") or work.name[1:].removesuffix(".partial")
        stage = owner.get("stage", "prepare")
        message = (f"the run was killed during {STAGES.get(stage, stage)} (its process {owner['pid']} ended without "
                   "closing the run: SIGKILL, out of memory, or the machine stopped)")
        final = client_dir / f"{run_id}-failed"
        manifest = {"client": owner.get("client"), "run_id": run_id, "status": "failed", "error": message,
                    "failure": {"phase": stage, "cause": "killed", "message": message}, "run_dir": str(final),
                    "files": file_list(work)}
        try:
            (work / OWNER_FILE).unlink(missing_ok=True)
            write_manifest(work, manifest)
            os.replace(work, final)
        except OSError:
            continue
        kept.append(final)
    return kept
