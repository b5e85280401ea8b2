#!/usr/bin/env python3
"""The Transfer Engine from Python: read and write another segment's memory, zero-copy.

By default a target engine runs in this process; --target HOST:PORT reads the first buffer of
any other segment instead, e.g. `transfer_engine_bench --mode=target` (then nothing is written).

    PYTHONPATH=build/python python3 python/examples/transfer_engine_example.py
"""

import argparse
import sys
import time

import numpy as np

from mooncake.engine import TransferEngine

MiB = 1 << 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", help="segment to read (host:port); default: one in-process")
    parser.add_argument("--protocol", default="tcp", help="tcp, shm or auto")
    args = parser.parse_args()

    target = None
    if args.target is None:
        # A peer: owns a registered 16 MiB buffer that others read and write.
        target = TransferEngine()
        if target.initialize("127.0.0.1", "P2PHANDSHAKE", args.protocol, "") != 0:
            return 1
        remote_buffer = target.allocate_managed_buffer(16 * MiB)
        target.write_bytes_to_buffer(remote_buffer, b"hello from the target", 21)
        segment = f"127.0.0.1:{target.get_rpc_port()}"
    else:
        segment = args.target

    engine = TransferEngine()
    if engine.initialize("127.0.0.1", "P2PHANDSHAKE", args.protocol, "") != 0:
        return 1
    # Local memory: a numpy array, registered so the engine moves bytes straight into it.
    local = np.zeros(16 * MiB, dtype=np.uint8)
    assert engine.register_memory(local.ctypes.data, local.nbytes) == 0
    peer = engine.get_first_buffer_address(segment)
    if peer == 0:
        print(f"segment {segment} is unreachable or has no buffer", file=sys.stderr)
        return 1

    # One synchronous read.
    assert engine.transfer_sync_read(segment, local.ctypes.data, peer, 4096) == 0
    print(f"read from {segment}: {bytes(local[:21])!r}")

    # A batch of 64 KiB reads, submitted asynchronously, then waited for.
    block, n = 64 * 1024, 128
    start = time.perf_counter()
    batch = engine.batch_transfer_async_read(segment, [local.ctypes.data + i * block for i in range(n)],
                                             [peer + i * block % (16 * MiB) for i in range(n)],
                                             [block] * n)
    assert batch != 0 and engine.get_batch_transfer_status([batch]) == 0
    elapsed = time.perf_counter() - start
    print(f"async batch read: {n} x {block // 1024} KiB in {elapsed * 1e3:.1f} ms "
          f"({n * block / elapsed / 1e9:.2f} GB/s)")

    if target is not None:
        # Writes: fill a pattern locally, write it to the target, check it there.
        local[:MiB] = np.arange(MiB, dtype=np.uint8)
        assert engine.transfer_sync_write(segment, local.ctypes.data, peer, MiB) == 0
        assert target.read_bytes_from_buffer(peer, 256) == bytes(range(256))
        print("sync write: 1 MiB written and verified on the target")

    assert engine.unregister_memory(local.ctypes.data) == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
