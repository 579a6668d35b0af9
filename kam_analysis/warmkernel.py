"""A phase's kernel started, and its imports loaded, while the phase before it runs.

Every phase notebook runs in a fresh kernel, and a bare start costs about 0.9 s for the
kernel and 3.4 s with the package's imports (benchmarks/results.md, "Floor"): four phases
pay that four times, one after the other. ``kam run`` instead starts the next phase's
kernel while the current phase executes (and the first phase's while the client data is
validated), and has it import the modules its notebook imports, so the phase begins on a
warm kernel. Only imports are run ahead: they change nothing in the run folder, and the
notebook's own cells run as written, in order, in a fresh user namespace (the warm-up
runs silently, outside the execution count and the history, and removes its own names),
so the executed notebook is the same as on a cold kernel.

The kernel is started with the arguments Papermill would give it (same kernel, working
directory and command-line options) and handed to Papermill as its kernel manager
(``km``). A kernel that is not used, or that died while waiting, is shut down by
:meth:`WarmKernel.shutdown`; the runner calls it on every path (success, failure, signal).
A kernel that died while warming is never handed over: the phase then starts its own, as
without a warm kernel. A notebook opened by hand in JupyterLab is not affected.
"""
from __future__ import annotations

import ast
import asyncio
import json
import threading
from pathlib import Path

__all__ = ["WarmKernel", "warm_kernels_enabled", "handed_over", "notebook_imports", "stop_manager", "warmup_code"]

#: nbclient adds this to an IPython kernel's command line unless told otherwise (NotebookClient.ipython_hist_file)
_HISTORY = "--HistoryManager.hist_file=:memory:"


def warm_kernels_enabled() -> bool:
    """Whether ``kam run`` starts each phase's kernel ahead (``KAM_WARM_KERNELS``: 1, the default, or 0).

    0 starts each kernel when its phase begins: one kernel at a time, for a machine short
    of memory (a warm kernel holds the libraries, about 0.2 GiB, while the phase before runs).

    Raises
    ------
    RunError
        Any other value; the message names the variable and the values it takes.
    """
    import os

    from .exceptions import RunError

    raw = os.environ.get("KAM_WARM_KERNELS", "1").strip() or "1"
    if raw not in ("0", "1"):
        raise RunError(f"KAM_WARM_KERNELS={raw!r} is not 0 or 1; fix: 1 (the default) starts each phase's kernel "
                       "while the phase before runs, 0 starts it when its phase begins")
    return raw == "1"


def notebook_imports(nb_path: Path) -> list[str]:
    """The modules a notebook imports at the top level of its code cells, in order, once each.

    ``from a.b import c`` names ``a.b`` and, when ``c`` is a submodule, ``a.b.c`` (tried on
    import). Cells that are not plain Python (magics) are skipped.
    """
    try:
        cells = json.loads(Path(nb_path).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return []
    names: list[str] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        try:
            tree = ast.parse("".join(src) if isinstance(src, list) else src)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return list(dict.fromkeys(names))


def warmup_code(modules: list[str]) -> str:
    """Python that imports ``modules`` (names that are not modules are skipped) and leaves no name behind."""
    return ("import importlib as _kam_il\n"
            f"for _kam_m in {modules!r}:\n"
            "    try:\n"
            "        _kam_il.import_module(_kam_m)\n"
            "    except Exception:\n"
            "        pass\n"
            "del _kam_il\n"
            "_kam_m = None\n"
            "del _kam_m\n")


class WarmKernel:
    """Start a kernel for ``nb_path`` now, in a background thread, and run its imports.

    :meth:`take` returns the started kernel manager for Papermill (or None when the
    kernel could not start or died); :meth:`shutdown` stops a kernel not taken. The
    kernel manager is built by ``manager_class`` (the runner's recording class, so a
    signal stops the kernel the phase runs in).
    """

    def __init__(self, nb_path: Path, *, kernel: str, cwd: Path, extra_arguments: list[str],
                 manager_class, startup_timeout: float = 60.0):
        self.nb_path = Path(nb_path)
        self.km = None
        self.error: BaseException | None = None
        self._taken = False
        self._lock = threading.Lock()
        self._closed = False
        self._stopped = False
        self._ready = threading.Event()  # set when the start-up thread ends (see shutdown)
        self._args = (kernel, str(cwd), list(extra_arguments), manager_class, startup_timeout)
        self._thread = threading.Thread(target=self._start, name=f"warm-{self.nb_path.stem}", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        kernel, cwd, extra, manager_class, startup_timeout = self._args
        try:
            km = manager_class(kernel_name=kernel)
            args = extra + ([_HISTORY] if getattr(km, "ipykernel", False) else [])
            with self._lock:
                if self._closed:
                    return
                self.km = km
                asyncio.run(km.start_kernel(extra_arguments=args, cwd=cwd))
            asyncio.run(self._warm(km, startup_timeout))
        except BaseException as exc:  # noqa: BLE001 - the phase then starts its own kernel
            self.error = exc
        finally:
            self._ready.set()

    async def _warm(self, km, startup_timeout: float) -> None:
        modules = notebook_imports(self.nb_path)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=startup_timeout)
            if modules:
                # silent: no execution count, no history, no output sent to any notebook
                await kc.execute_interactive(warmup_code(modules), silent=True, store_history=False,
                                             allow_stdin=False, timeout=startup_timeout * 5,
                                             output_hook=lambda msg: None)
        finally:
            kc.stop_channels()

    def take(self, wait: float | None = None):
        """The warmed kernel's manager (once), or None; waits for the warm-up to finish.

        Raises
        ------
        RunStopped
            :meth:`shutdown` was called (the run is being stopped): the phase must not start.
        """
        self._ready.wait(wait)
        with self._lock:  # against shutdown(): a stopped run's kernel is never handed to its phase
            if self._closed:
                from .exceptions import RunStopped

                raise RunStopped("the run was stopped before this phase's kernel was ready")
            if not self._ready.is_set() or self._taken or self.km is None:
                return None
            alive = False
            if self.error is None:
                try:
                    alive = asyncio.run(_is_alive(self.km))
                except Exception:  # noqa: BLE001
                    alive = False
            if not alive:
                return None
            self._taken = True
            return self.km

    def shutdown(self) -> None:
        """Stop the kernel unless it was taken (the phase that took it owns it). Never raises.

        After this, :meth:`take` raises :class:`RunStopped`: a phase waiting for the kernel
        does not start on it."""
        with self._lock:
            self._closed = True
        self._ready.wait(10.0)  # an Event: a Thread.join cut short by a signal (Python 3.11) corrupts the thread
        with self._lock:  # called from the main thread and the phase's worker: the kernel is stopped once
            if self._taken or self.km is None or self._stopped:
                return
            self._stopped = True
        stop_manager(self.km)


def handed_over(km):
    """A kernel manager class whose every instance is ``km``: Papermill's client then takes the
    started kernel as its own and shuts it down and closes its channels as it would a kernel it
    started (a manager passed as ``km`` would be left running)."""
    class _Handed(type(km)):
        def __new__(cls, *args, **kwargs):  # not an instance of _Handed, so __init__ is not run again
            return km

    return _Handed


async def _is_alive(km) -> bool:
    return bool(await km.is_alive())


def stop_manager(km) -> None:
    """Shut a kernel down now and free its manager's resources. Never raises."""
    async def stop() -> None:
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=True)
        finally:
            try:
                await km.cleanup_resources()
            except Exception:  # noqa: BLE001
                pass

    try:
        asyncio.run(stop())
    except Exception:  # noqa: BLE001 - a kernel already gone
        pass
