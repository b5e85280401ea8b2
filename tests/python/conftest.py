"""Fixtures for the Python package's tests: a real store cluster on loopback.

The cluster is mooncake_master plus mooncake_node processes from the same build tree as the
package (MC_BIN_DIR, else <build>/bin next to <build>/python), on free ports, each waited for
until it prints a line starting with READY. Every process started here is killed when its
fixture ends, on failure too; each also gets SIGKILL from the kernel should pytest itself die
(PR_SET_PDEATHSIG), and an atexit hook catches anything left.
"""

import atexit
import ctypes
import itertools
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import mooncake
from mooncake.store import MooncakeDistributedStore

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_STARTED = []  # every Popen this session started


def _kill_all():
    for proc in _STARTED:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


atexit.register(_kill_all)


def bin_dir() -> Path:
    env = os.environ.get("MC_BIN_DIR")
    if env:
        return Path(env)
    # <build>/python/mooncake/__init__.py -> <build>/bin
    return Path(mooncake.__file__).resolve().parents[2] / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """One child process in its own process group; its output goes to a log file."""

    def __init__(self, args, log: Path):
        self.args = [str(a) for a in args]
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent)
        _STARTED.append(self.proc)

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("READY"):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"{self.args[0]} did not print READY:\n{self.log.read_text()}")

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()


class Cluster:
    """mooncake_master + `nodes` mooncake_node on loopback; `extra_args` go to every one."""

    def __init__(self, workdir: Path, nodes=2, segment_size="320MiB", lease_ttl_ms=2000,
                 extra_args=()):
        self.workdir = workdir
        self.processes = []
        port = free_port()
        self.master_address = f"127.0.0.1:{port}"
        try:
            self.master = self._start(
                "master", [bin_dir() / "mooncake_master", "--host=127.0.0.1", f"--port={port}",
                           "--metrics_port=-1", f"--default_kv_lease_ttl={lease_ttl_ms}",
                           "--client_ttl=2", "--log_level=warn", *extra_args])
            self.node_names = []
            for i in range(nodes):
                name = f"127.0.0.1:{free_port()}"
                self._start(f"node{i}", [bin_dir() / "mooncake_node",
                                         f"--master={self.master_address}", f"--listen={name}",
                                         f"--segment_size={segment_size}", "--protocol=tcp",
                                         "--heartbeat_interval_ms=200", "--log_level=warn",
                                         *extra_args])
                self.node_names.append(name)
        except BaseException:
            self.stop()
            raise

    def _start(self, name, args):
        process = Process(args, self.workdir / f"{name}.log")
        self.processes.append(process)
        process.wait_ready()
        return process

    def stop(self):
        for process in reversed(self.processes):
            process.kill()
        self.processes.clear()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()


@pytest.fixture
def small_cluster(tmp_path):
    """A cluster of its own (one 64 MiB node), for tests that remove everything or kill it."""
    c = Cluster(tmp_path, nodes=1, segment_size="64MiB")
    yield c
    c.stop()


def new_store(master_address, segment="64MB", buffer="32MB", hostname="127.0.0.1"):
    store = MooncakeDistributedStore()
    rc = store.setup(hostname, "P2PHANDSHAKE", segment, buffer, "tcp", "", master_address)
    assert rc == 0, f"setup returned {rc}"
    return store


@pytest.fixture(scope="session")
def store(cluster):
    s = new_store(cluster.master_address)
    yield s
    s.close()


_counter = itertools.count()


@pytest.fixture
def key(request):
    """A key prefix unique to the test: key("a") -> "<test>-<n>/a"."""
    prefix = f"{request.node.name}-{next(_counter)}"
    return lambda name="k": f"{prefix}/{name}"
