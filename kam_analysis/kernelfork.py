"""Phase kernels forked from one process that has already imported the libraries.

Every phase notebook runs in a fresh IPython kernel, and a fresh kernel spends most of
its first seconds importing: ipykernel, pandas, matplotlib, seaborn, scipy.stats,
statsmodels, scikit-learn, DuckDB and the package itself — about 2.5 s of CPU each, four
times per engagement, on the same two cores the analysis needs (benchmarks/results.md,
"demo-floor"). ``kam run`` instead starts one *fork server* at the beginning of the run:
a process that imports those modules once and then waits. Each phase's kernel is a
``fork()`` of it, so it starts with the modules loaded (shared copy-on-write) and
goes straight to ipykernel's own start-up.

What a forked kernel has that a cold one has not: modules already imported, nothing
else. The server runs no analysis, opens no connection and creates no event loop before
forking; the child takes the kernel's command line, working directory and environment
exactly as jupyter_client would have passed them, gets its own session (process group),
reseeds the random generators it inherited, and runs ``ipykernel_launcher``. Its
parent is the server, which reaps it and reports its exit status to the runner, so the
kernel manager sees the same process life (running, exited with a code, killed by a
signal) as for a kernel it started itself. If the server is gone or a fork fails, the
kernel is started the ordinary way: forking is a speed-up, never a requirement.

Life of the server: it exits when the runner closes its standard input (or the runner
dies: the pipe closes), and its kernels then see their parent change and exit
(ipykernel's parent poller). ``KAM_FORK_KERNELS=0`` turns it off (each kernel is a fresh
``python -m ipykernel_launcher``); it is on by default on Linux only.

The deliverables are built in forks of the same server too (:meth:`ForkServer.call`,
``kam_analysis.deliverables.Builds``), so they run beside each other and beside the last
phase, with their libraries already loaded.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["ForkServer", "ForkedKernel", "current_server", "fork_kernels_enabled", "launch_forked", "PRELOAD",
           "serving"]

#: imported by the server besides the notebooks' own imports: what the kernel itself and the
#: phases' cells import on first use (profiled on the demo: ipykernel 1.3 s, statsmodels.api 1.3 s,
#: scikit-learn 0.6 s ... per kernel). A name that does not import is skipped.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "matplotlib_inline.backend_inline",
           "statsmodels.api", "sklearn.cluster", "sklearn.metrics", "sklearn.preprocessing",
           "pandas.io.formats.style", "pyarrow.dataset", "pyarrow.parquet", "duckdb", "psutil", "threadpoolctl",
           "IPython.display", "PIL.PngImagePlugin")

_LAUNCHER = ("-m", "ipykernel_launcher")


def fork_kernels_enabled() -> bool:
    """Whether ``kam run`` forks phase kernels from a preloaded server (``KAM_FORK_KERNELS``).

    Unset: yes on Linux (elsewhere libraries such as macOS's Accelerate are not safe to use
    after ``fork``); ``1``: yes wherever ``fork`` exists; ``0``: never.

    Raises
    ------
    RunError
        Any value other than 0 or 1; the message names the variable and its values.
    """
    from .exceptions import RunError

    raw = os.environ.get("KAM_FORK_KERNELS", "").strip()
    if raw not in ("", "0", "1"):
        raise RunError(f"KAM_FORK_KERNELS={raw!r} is not 0 or 1; fix: 1 (the default on Linux) forks each phase's "
                       "kernel from a process that has the libraries loaded, 0 starts every kernel from scratch")
    if raw == "0" or not hasattr(os, "fork"):
        return False
    return raw == "1" or sys.platform.startswith("linux")


# --------------------------------------------------------------------------- runner side

class ForkedKernel:
    """The part of :class:`subprocess.Popen` jupyter_client's local provisioner uses, for a
    kernel forked by the server (not a child of this process: the server reaps it and
    writes its exit status on the connection that asked for it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, conn: socket.socket):
        self.pid = pid
        self.returncode: int | None = None
        self.message: dict | None = None
        self._conn = conn
        self._buf = b""
        conn.setblocking(False)

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        closed = False
        try:
            while True:
                chunk = self._conn.recv(4096)
                if not chunk:  # the server has said all it will (it closes after the exit status)
                    closed = True
                    break
                self._buf += chunk
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            closed = True
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            msg = json.loads(line)
            if "exit" in msg:
                self.returncode = int(msg["exit"])
                self._conn.close()
            else:
                self.message = msg  # what a forked call returned (ForkServer.call)
        if closed and self.returncode is None:  # the server is gone without a word: is the process still there?
            return self._orphaned()
        return self.returncode

    def _orphaned(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            self.returncode = -signal.SIGKILL  # gone, its status lost with the server
            self._conn.close()
            return self.returncode
        except PermissionError:
            pass
        return None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """Start the fork server now (it imports in the background); :meth:`spawn` forks a kernel.

    ``modules``: what to import besides :data:`PRELOAD` (the notebooks' imports).
    ``cwd`` and ``env``: the server's, which its kernels inherit until each takes its own.
    """

    def __init__(self, modules: list[str], *, cwd: str | Path, env: dict | None = None):
        self._dir = tempfile.mkdtemp(prefix="kam-fork-")
        self.path = os.path.join(self._dir, "s")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kam_analysis.kernelfork", self.path, *modules, *PRELOAD],
            cwd=str(cwd), env=env, stdin=subprocess.PIPE,
            start_new_session=True)  # a Ctrl-C in the terminal is the runner's to handle, not the server's
        self._lock = threading.Lock()
        self.failed = False
        self.used = False  # a kernel was forked

    def usable(self) -> bool:
        return not self.failed and self.proc.poll() is None

    def handles(self, cmd: list[str]) -> bool:
        """Whether ``cmd`` is this interpreter's ipykernel launcher (the only kernel the server can fork)."""
        return self.usable() and len(cmd) >= 3 and cmd[0] == sys.executable and tuple(cmd[1:3]) == _LAUNCHER

    def spawn(self, cmd: list[str], *, cwd: str | None, env: dict, timeout: float = 60.0) -> ForkedKernel | None:
        """Fork a kernel running ``cmd`` (``python -m ipykernel_launcher ARGS``) in ``cwd`` with ``env``.

        Returns None (the caller starts the kernel itself) when the server is not usable."""
        return self._request({"argv": list(cmd[3:]), "cwd": cwd, "env": dict(env)}, timeout)

    def call(self, target: str, *args, timeout: float = 60.0) -> ForkedKernel | None:
        """Run ``module:function(*args)`` (JSON arguments and result) in a fork of the server, with this
        process's working directory and ``sys.path``; returns at once. The process's ``message`` is
        ``{"result": ...}`` or ``{"error": "Type: message"}`` once it has exited (``poll()`` not None).

        Returns None (the caller runs it itself) when the server is not usable."""
        return self._request({"call": target, "args": list(args), "cwd": os.getcwd(), "path": list(sys.path)},
                             timeout)

    def _request(self, request: dict, timeout: float) -> ForkedKernel | None:
        if not self.usable():
            return None
        deadline = time.monotonic() + timeout
        try:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            while True:  # the socket appears as soon as the server has started Python
                try:
                    conn.connect(self.path)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            conn.settimeout(max(1.0, deadline - time.monotonic()))  # the server answers once its imports are done
            conn.sendall(json.dumps(request).encode() + b"\n")
            buf, pid, early = b"", None, b""
            while pid is None:  # the server's reply; a fast forked call may have written its result first
                chunk = conn.recv(4096)
                if not chunk:
                    raise ConnectionError("the fork server closed the connection")
                buf += chunk
                while b"\n" in buf and pid is None:
                    line, buf = buf.split(b"\n", 1)
                    if "pid" in json.loads(line):
                        pid = int(json.loads(line)["pid"])
                    else:
                        early += line + b"\n"
            self.used = True
        except (OSError, ValueError, KeyError):
            with self._lock:
                self.failed = True  # later kernels start the ordinary way at once
            return None
        proc = ForkedKernel(pid, conn)
        proc._buf = early + buf
        return proc

    def close(self, wait: float = 5.0) -> None:
        """Stop the server (its kernels, if any still run, exit when they see it gone). Never raises.

        A server still importing (the run stopped early) is killed at once: it holds nothing."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=wait if self.used else 0)
        except Exception:  # noqa: BLE001
            try:
                self.proc.kill()
                self.proc.wait(timeout=wait)
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(self._dir, ignore_errors=True)


_SERVER: ForkServer | None = None


class serving:
    """``with serving(server):`` kernels started by :func:`launch_forked` meanwhile are forked
    from ``server`` (None: started the ordinary way); the server is closed on exit."""

    def __init__(self, server: ForkServer | None):
        self.server = server

    def __enter__(self) -> ForkServer | None:
        global _SERVER
        _SERVER = self.server
        return self.server

    def __exit__(self, *exc) -> None:
        global _SERVER
        _SERVER = None
        if self.server is not None:
            self.server.close()


def current_server() -> ForkServer | None:
    """The server of the run in progress (None outside ``kam run`` or with ``KAM_FORK_KERNELS=0``)."""
    return _SERVER


def launch_forked(km, kernel_cmd: list[str], kw: dict) -> bool:
    """Fork the kernel ``km`` is launching from the current server; False when it cannot
    (no server, another kernel, a failed fork): the caller then launches it itself."""
    from jupyter_client.provisioning import LocalProvisioner

    server, prov = _SERVER, km.provisioner
    if server is None or type(prov) is not LocalProvisioner or not server.handles(kernel_cmd):
        return False
    proc = server.spawn(kernel_cmd, cwd=kw.get("cwd"), env=kw.get("env") or dict(os.environ))
    if proc is None:
        return False
    prov.process, prov.pid, prov.pgid = proc, proc.pid, proc.pid  # the child called setsid(): its own group
    prov.cwd = kw.get("cwd") or os.getcwd()
    km._reconcile_connection_info(prov.connection_info)
    km.kam_forked = True  # the phase record says so (``kernel_forked``)
    return True


# --------------------------------------------------------------------------- server side

def _in_child(keep: list, body) -> None:
    """In a forked child: close the server's sockets and selector (``keep``), take the default
    signals and the runner's output, run ``body()`` (its exit status) and exit. Never returns."""
    code = 1
    try:
        for s in keep:
            s.close()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(_STDOUT, 1)  # its output goes where the runner's goes, as for a process the runner starts
        os.dup2(_STDERR, 2)
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the caller sees a process that ended without a result; say why
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _call(req: dict, conn: socket.socket) -> int:
    """Run the function ``req`` names and write its result (or error) on ``conn``; the exit status."""
    os.chdir(req.get("cwd") or os.getcwd())
    sys.path[:] = req.get("path") or sys.path
    import importlib

    module, func = req["call"].split(":")
    try:
        msg, code = {"result": getattr(importlib.import_module(module), func)(*req.get("args", []))}, 0
    except Exception as exc:  # noqa: BLE001 - the caller reports it
        msg, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    conn.setblocking(True)
    conn.sendall(json.dumps(msg, default=str).encode() + b"\n")
    return code


def _kernel(req: dict) -> int:
    """Become the kernel ``req`` describes (ipykernel's own exit status)."""
    os.setsid()  # its own process group, as jupyter_client gives a kernel (interrupts go to the group)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(req.get("cwd") or os.getcwd())
    if sys.path and sys.path[0] == _START_CWD:
        sys.path[0] = os.getcwd()  # ``python -m`` puts the working directory first
    env = dict(req["env"])
    env["JPY_PARENT_PID"] = str(os.getppid())  # the server: the kernel exits when it is gone
    os.environ.clear()
    os.environ.update(env)
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    argv = list(req["argv"])
    sys.argv = [sys.modules["ipykernel"].__file__, *argv]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)
    return 0


_STDOUT = _STDERR = -1
_START_CWD = ""


def _status(raw: int) -> int:
    if os.WIFSIGNALED(raw):
        return -os.WTERMSIG(raw)
    return os.WEXITSTATUS(raw) if os.WIFEXITED(raw) else 1


def serve(path: str, modules: list[str]) -> None:
    """The server's loop: listen on ``path``, import ``modules``, fork a kernel per request,
    report each kernel's exit on its request's connection; return when stdin closes."""
    global _STDOUT, _STDERR, _START_CWD
    _START_CWD = sys.path[0] if sys.path else ""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)  # requests queue here while the imports below run
    # the kernels import with the matplotlib backend ipykernel would select, and report to the server's parent
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ["JPY_PARENT_PID"] = str(os.getpid())
    _STDOUT, _STDERR = os.dup(1), os.dup(2)  # the runner's: the kernels write there, as kernels it starts
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # the imports' own chatter (warnings) is nobody's business
    os.dup2(null, 2)
    os.close(null)
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the kernel imports it (and reports the error) itself
            pass
    import gc

    gc.collect()
    gc.freeze()  # the imported objects stay out of the children's collections: fewer copied pages

    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
    kernels: dict[int, socket.socket] = {}
    try:
        while True:
            for key, _ in sel.select(timeout=0.05):
                if key.data == "parent":
                    if not os.read(sys.stdin.fileno(), 4096):  # the runner closed the pipe, or died
                        return
                elif key.data == "accept":
                    conn, _ = listener.accept()
                    conn.settimeout(10.0)
                    try:
                        raw = b""
                        while not raw.endswith(b"\n"):
                            chunk = conn.recv(65536)
                            if not chunk:
                                raise ConnectionError
                            raw += chunk
                        req = json.loads(raw)
                    except (OSError, ValueError):
                        conn.close()
                        continue
                    pid = os.fork()
                    if pid == 0 and "call" in req:  # the child answers on its request's connection
                        _in_child([sel, listener, *kernels.values()], lambda: _call(req, conn))
                    elif pid == 0:
                        _in_child([sel, listener, conn, *kernels.values()], lambda: _kernel(req))
                    kernels[pid] = conn
                    try:
                        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                    except OSError:
                        pass
            while kernels:  # reap: each exit is reported to the connection that asked for the kernel
                try:
                    pid, raw_status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                conn = kernels.pop(pid, None)
                if conn is not None:
                    try:
                        conn.sendall(json.dumps({"exit": _status(raw_status)}).encode() + b"\n")
                    except OSError:
                        pass
                    conn.close()
    finally:
        listener.close()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)  # its socket's folder, also when the runner died


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
