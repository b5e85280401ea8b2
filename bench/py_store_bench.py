#!/usr/bin/env python3
"""The store's data path from Python next to the C++ store_bench, same cluster, same run.

Starts a throwaway cluster (mooncake_master + 2 mooncake_node of 1 GiB on loopback, as
bench/store_vs_redis.sh does), then, in rounds, one client thread each:
  * get 1 MiB: `store_bench --op=get --value_size=1MiB --threads=1` (C++, the anchor) and the
    same from Python: MooncakeDistributedStore.get_into of a ring of 64 keys into one
    registered buffer;
  * batched 4 KiB: batch_upsert_from / batch_get_into of 64 keys per call from Python, next to
    `store_bench --value_size=4096 --batch_size=64` (put upserts a ring of keys, as store_bench
    does).
Prints both figures and the ratio (Python / C++, medians over rounds) and one RESULT line per
workload. GB = 1e9 B.

    python3 bench/py_store_bench.py [--duration 3] [--rounds 2] [--bin build/bin]
      [--protocol tcp|auto|shm]      (the package from <bin>/../python, else PYTHONPATH)
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bin_dir: Path, workdir: Path, protocol: str):
        self.procs = []
        port = free_port()
        self.master = f"127.0.0.1:{port}"
        self._start(workdir / "master.log",
                    [bin_dir / "mooncake_master", "--host=127.0.0.1", f"--port={port}",
                     "--metrics_port=-1", "--log_level=warn"])
        for i in range(2):
            self._start(workdir / f"node{i}.log",
                        [bin_dir / "mooncake_node", f"--master={self.master}",
                         f"--listen=127.0.0.1:{free_port()}", "--segment_size=1GiB",
                         f"--protocol={protocol}", "--log_level=warn"])

    def _start(self, log: Path, args):
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(line.startswith("READY") for line in log.read_text().splitlines()):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{args[0]} did not become READY:\n{log.read_text()}")

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def store_bench(bin_dir, master, op, value_size, batch, duration, protocol):
    """One C++ store_bench run: its RESULT fields."""
    out = subprocess.run(
        [str(bin_dir / "store_bench"), f"--master={master}", f"--op={op}",
         f"--value_size={value_size}", f"--batch_size={batch}", "--threads=1",
         f"--duration={duration}", f"--protocol={protocol}"],
        capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def python_bench(store, op, value_size, batch, duration, keys, prefix):
    """The same workload from Python: (keys per second, p50 µs per call)."""
    import numpy as np

    buffer = np.full(batch * value_size, 0x5A, dtype=np.uint8)
    base = buffer.ctypes.data
    assert store.register_buffer(base, buffer.nbytes) == 0
    names = [f"{prefix}-{op}-{value_size}-{i:06d}" for i in range(keys)]
    ptrs = [base + i * value_size for i in range(batch)]
    sizes = [value_size] * batch
    try:
        # Every key of the ring exists first (a get needs them; a put upserts them anyway).
        for first in range(0, keys, batch):
            chunk = names[first:first + batch]
            results = store.batch_upsert_from(chunk, ptrs[:len(chunk)], sizes[:len(chunk)])
            assert all(r == 0 for r in results), results
        latencies, done, cursor = [], 0, 0
        deadline = time.perf_counter() + duration
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            if t0 >= deadline:
                break
            if batch == 1:
                key = names[cursor % keys]
                if op == "get":
                    ok = store.get_into(key, base, value_size) == value_size
                else:
                    ok = store.upsert_from(key, base, value_size) == 0
                done += ok
            else:
                chunk = [names[(cursor + i) % keys] for i in range(batch)]
                if op == "get":
                    done += sum(r == value_size for r in store.batch_get_into(chunk, ptrs, sizes))
                else:
                    done += sum(r == 0 for r in store.batch_upsert_from(chunk, ptrs, sizes))
            latencies.append(time.perf_counter() - t0)
            cursor += batch
        elapsed = time.perf_counter() - start
        return done / elapsed, statistics.median(latencies) * 1e6
    finally:
        store.unregister_buffer(base)
        store.remove_by_regex(f"^{prefix}-{op}-{value_size}-", force=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each; medians reported")
    parser.add_argument("--bin", default=os.environ.get("MC_BIN_DIR", str(ROOT / "build/bin")))
    parser.add_argument("--protocol", default=os.environ.get("MC_PROTOCOL", "tcp"))
    args = parser.parse_args()
    bin_dir = Path(args.bin).resolve()
    for b in ("mooncake_master", "mooncake_node", "store_bench"):
        if not (bin_dir / b).exists():
            sys.exit(f"py_store_bench: {bin_dir / b} missing: build first")
    # The package of the binaries' build tree comes first (else PYTHONPATH / site-packages).
    package_dir = bin_dir.parent / "python"
    if (package_dir / "mooncake").is_dir():
        sys.path.insert(0, str(package_dir))
    from mooncake.store import MooncakeDistributedStore

    workloads = [  # name, op, value size, batch, keys in the ring
        ("get-1MiB", "get", MiB, 1, 64),
        ("put-4KiB-batch64", "put", 4096, 64, 1024),
        ("get-4KiB-batch64", "get", 4096, 64, 1024),
    ]
    with tempfile.TemporaryDirectory() as work:
        cluster = Cluster(bin_dir, Path(work), args.protocol)
        try:
            store = MooncakeDistributedStore()
            rc = store.setup("127.0.0.1", "P2PHANDSHAKE", 0, "16MB", args.protocol, "",
                             cluster.master)
            if rc != 0:
                sys.exit(f"py_store_bench: setup failed: {rc}")
            prefix = f"pyb-{os.getpid()}"
            results = {}
            for name, op, size, batch, keys in workloads:
                cpp, py = [], []
                for _ in range(args.rounds):
                    r = store_bench(bin_dir, cluster.master, op, size, batch, args.duration,
                                    args.protocol)
                    cpp.append((float(r["ops_per_s"]), float(r["p50_us"])))
                    py.append(python_bench(store, op, size, batch, args.duration, keys, prefix))
                    print(f"  {name}: C++ {cpp[-1][0]:.0f} keys/s, Python {py[-1][0]:.0f} keys/s",
                          file=sys.stderr)
                results[name] = (size, batch,
                                 statistics.median(c[0] for c in cpp),
                                 statistics.median(c[1] for c in cpp),
                                 statistics.median(p[0] for p in py),
                                 statistics.median(p[1] for p in py))
            store.close()
        finally:
            cluster.stop()

    print()
    print(f"{'workload':18s} {'C++ keys/s':>11s} {'C++ GB/s':>9s} {'p50 us':>8s}"
          f" {'Python keys/s':>14s} {'Py GB/s':>8s} {'p50 us':>8s} {'ratio':>6s}")
    lines = []
    for name, (size, batch, cops, cp50, pops, pp50) in results.items():
        ratio = pops / cops if cops else 0.0
        print(f"{name:18s} {cops:11.0f} {cops * size / 1e9:9.3f} {cp50:8.1f}"
              f" {pops:14.0f} {pops * size / 1e9:8.3f} {pp50:8.1f} {ratio:6.2f}")
        lines.append(f"RESULT bench=py_store_bench workload={name} value_size={size} "
                     f"batch_size={batch} protocol={args.protocol} cpp_keys_per_s={cops:.0f} "
                     f"python_keys_per_s={pops:.0f} ratio={ratio:.2f} cpp_p50_us={cp50:.1f} "
                     f"python_p50_us={pp50:.1f}")
    print("(ratio = Python / C++ store_bench, same cluster, one client thread each; "
          "p50 per call; medians over rounds)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
