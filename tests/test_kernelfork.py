"""Kernels forked from a preloaded server (kam_analysis/kernelfork.py): each is its own process,
with the kernel manager's environment, working directory and session; its exit (or death) is
seen by the manager as for a kernel it started; without a server kernels start as before."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import psutil
import pytest

from kam_analysis import faults
from kam_analysis.kernelfork import ForkServer, serving

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="POSIX fork")

PROBE = ("import json, os, sys, numpy\n"
         "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'pgid': os.getpgid(0), 'cwd': os.getcwd(),"
         " 'probe': os.environ.get('KAM_TEST_PROBE'), 'jpy': os.environ.get('JPY_PARENT_PID'),"
         " 'tabnanny': 'tabnanny' in sys.modules, 'draw': numpy.random.rand()}))")


async def _start(tmp_path, name: str):
    cwd = tmp_path / name
    cwd.mkdir()
    km = faults.kernel_manager_class([])(kernel_name="python3")
    await km.start_kernel(extra_arguments=["--IPKernelApp.log_level=ERROR"], cwd=str(cwd),
                          env={**os.environ, "KAM_TEST_PROBE": name})
    return km, cwd


async def _probe(km) -> dict:
    kc = km.client()
    kc.start_channels()
    out: list[str] = []
    try:
        await kc.wait_for_ready(timeout=60)
        await kc.execute_interactive(PROBE, timeout=60, output_hook=lambda m: out.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
    return json.loads("".join(out))


def test_forked_kernels_are_separate_processes_with_the_managers_environment(tmp_path):
    server = ForkServer(["tabnanny"], cwd=tmp_path)

    async def go():
        kms = []
        try:
            for name in ("one", "two"):
                kms.append(await _start(tmp_path, name))
            return [(await _probe(km), cwd, km) for km, cwd in kms]
        finally:
            for km, _ in kms:
                await km.shutdown_kernel(now=True)

    with serving(server):
        seen = asyncio.run(go())
        server_pid = server.proc.pid
    for info, cwd, km in seen:
        assert km.kam_forked
        assert info["ppid"] == server_pid and info["jpy"] == str(server_pid)  # exits when the server is gone
        assert info["pgid"] == info["pid"]  # its own session, as jupyter_client gives a kernel
        assert info["cwd"] == str(cwd) and info["probe"] == cwd.name  # the manager's, not the server's
        assert info["tabnanny"]  # preloaded by the server
    assert seen[0][0]["pid"] != seen[1][0]["pid"]
    assert seen[0][0]["draw"] != seen[1][0]["draw"]  # each reseeded its random generators
    assert server.proc.poll() is not None and not os.path.exists(server.path)  # closed, its socket removed


def test_a_killed_forked_kernel_is_seen_dead_with_its_signal(tmp_path):
    server = ForkServer([], cwd=tmp_path)

    async def go():
        km, _ = await _start(tmp_path, "k")
        try:
            assert km.kam_forked and await km.is_alive()
            os.kill(km.provisioner.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while await km.is_alive():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            return km.provisioner.process.returncode
        finally:
            await km.shutdown_kernel(now=True)

    with serving(server):
        assert asyncio.run(go()) == -signal.SIGKILL


def test_without_a_live_server_kernels_start_the_ordinary_way(tmp_path):
    server = ForkServer([], cwd=tmp_path)
    server.proc.kill()
    server.proc.wait()

    async def go():
        km, cwd = await _start(tmp_path, "cold")
        try:
            return km, await _probe(km)
        finally:
            await km.shutdown_kernel(now=True)

    with serving(server):
        km, info = asyncio.run(go())
    assert not getattr(km, "kam_forked", False)
    assert info["ppid"] == os.getpid() and info["probe"] == "cold"


def test_a_forked_kernel_exits_when_its_server_is_killed(tmp_path):
    server = ForkServer([], cwd=tmp_path)

    async def go():
        km, _ = await _start(tmp_path, "orphan")
        pid = km.provisioner.pid
        await _probe(km)  # started, its parent poller running
        server.proc.kill()  # the runner died: the server's pipe closed, or it was killed
        deadline = time.monotonic() + 15
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the orphaned kernel kept running"
            await asyncio.sleep(0.1)
        await km.shutdown_kernel(now=True)

    with serving(server):
        asyncio.run(go())


def answer(x, fail=False):
    """Run in a fork by the test below."""
    if fail:
        raise ValueError(f"planted {x}")
    return {"double": 2 * x, "pid": os.getpid()}


def test_a_forked_call_returns_its_result_or_its_error_and_its_exit_status(tmp_path):
    server = ForkServer([], cwd=tmp_path)
    try:
        ok = server.call("test_kernelfork:answer", 21)
        bad = server.call("test_kernelfork:answer", 1, True)
        for proc in (ok, bad):
            assert proc is not None
            proc.wait(timeout=30)
        assert ok.returncode == 0 and ok.message["result"]["double"] == 42
        assert ok.message["result"]["pid"] == ok.pid != os.getpid()
        assert bad.returncode == 1 and bad.message == {"error": "ValueError: planted 1"}
    finally:
        server.close()
    assert server.call("test_kernelfork:answer", 1) is None  # a closed server: the caller does it itself


def test_a_server_whose_runner_died_exits_and_removes_its_socket_folder(tmp_path):
    server = ForkServer([], cwd=tmp_path)
    assert server.call("test_kernelfork:answer", 2).wait(timeout=30) == 0  # up and serving
    server.proc.stdin.close()  # what the runner's death does to the pipe (close() is never called)
    server.proc.wait(timeout=15)
    assert not os.path.exists(os.path.dirname(server.path))
