#!/usr/bin/env python3
"""KV-cache blocks in Mooncake Store, keyed by prefix hash (as vLLM/SGLang/LMCache connectors do).

A request's tokens are cut into blocks of BLOCK_TOKENS; block i is keyed by a hash of every
token up to the end of block i, so requests that share a prompt prefix share blocks. The KV
blocks live in one registered buffer (a stand-in for a serving engine's KV pool): saving is one
batch_put_from straight out of it, loading the longest cached prefix is one batch_is_exist
and one batch_get_into straight into it. No byte is copied through Python.

    PYTHONPATH=build/python python3 python/examples/kv_cache_example.py --master 127.0.0.1:50051
"""

import argparse
import hashlib
import os
import sys

import numpy as np

from mooncake.store import MooncakeDistributedStore, ReplicateConfig

BLOCK_TOKENS = 16
BLOCK_BYTES = 64 * 1024  # KV of one block (e.g. layers x heads x head_dim x 2 x dtype)


def block_keys(namespace, tokens):
    """One key per full block: the hash of the whole prefix ending with that block."""
    digest = hashlib.sha256(namespace.encode())
    keys = []
    for end in range(BLOCK_TOKENS, len(tokens) + 1, BLOCK_TOKENS):
        digest.update(np.asarray(tokens[end - BLOCK_TOKENS:end], dtype=np.int32).tobytes())
        keys.append(f"{namespace}/{digest.copy().hexdigest()[:40]}")
    return keys


def compute_kv(key, out):
    """The "model": fills one block's KV deterministically from its key."""
    seed = np.frombuffer(hashlib.sha256(key.encode()).digest(), dtype=np.uint8)
    out[:] = np.resize(seed, out.shape)


class KVCacheConnector:
    """Saves and loads KV blocks between a registered KV pool and the store."""

    def __init__(self, store, pool):
        self.store, self.pool = store, pool
        rc = store.register_buffer(pool.ctypes.data, pool.nbytes)
        if rc != 0:
            raise RuntimeError(f"register_buffer failed: {rc}")

    def slot_ptr(self, slot):
        return self.pool.ctypes.data + slot * BLOCK_BYTES

    def lookup(self, keys):
        """Blocks of the longest prefix that the store holds."""
        hits = 0
        for exists in self.store.batch_is_exist(keys) if keys else []:
            if exists != 1:
                break
            hits += 1
        return hits

    def load(self, keys, slots):
        sizes = self.store.batch_get_into(keys, [self.slot_ptr(s) for s in slots],
                                          [BLOCK_BYTES] * len(keys))
        return all(size == BLOCK_BYTES for size in sizes)

    def save(self, keys, slots, replica_num=1):
        config = ReplicateConfig(replica_num=replica_num)
        results = self.store.batch_put_from(keys, [self.slot_ptr(s) for s in slots],
                                            [BLOCK_BYTES] * len(keys), config)
        return all(r == 0 for r in results)

    def close(self):
        self.store.unregister_buffer(self.pool.ctypes.data)


def serve(connector, namespace, tokens, first_slot):
    """One request: load what is cached, compute the rest, save it. Returns (hits, blocks)."""
    keys = block_keys(namespace, tokens)
    slots = list(range(first_slot, first_slot + len(keys)))
    hits = connector.lookup(keys)
    if hits and not connector.load(keys[:hits], slots[:hits]):
        raise RuntimeError("batch_get_into failed")
    expected = np.empty(BLOCK_BYTES, dtype=np.uint8)
    for key, slot in zip(keys[:hits], slots[:hits]):  # what was loaded is what was computed
        compute_kv(key, expected)
        if not np.array_equal(connector.pool[slot], expected):
            raise RuntimeError(f"block {key} read back wrong")
    for key, slot in zip(keys[hits:], slots[hits:]):
        compute_kv(key, connector.pool[slot])
    if not connector.save(keys[hits:], slots[hits:]):
        raise RuntimeError("batch_put_from failed")
    return hits, len(keys)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="127.0.0.1:50051", help="mooncake_master host:port")
    parser.add_argument("--hostname", default="localhost", help="this client's host (port picked)")
    parser.add_argument("--protocol", default="tcp")
    parser.add_argument("--segment", default="0", help="memory this client contributes")
    args = parser.parse_args()

    store = MooncakeDistributedStore()
    rc = store.setup(args.hostname, "P2PHANDSHAKE", args.segment, "16MB", args.protocol, "",
                     args.master)
    if rc != 0:
        print(f"setup failed: {rc}", file=sys.stderr)
        return 1
    namespace = f"kv-example-{os.getpid()}"
    pool = np.zeros((64, BLOCK_BYTES), dtype=np.uint8)  # 64 blocks of KV, 4 MiB
    connector = KVCacheConnector(store, pool)
    try:
        rng = np.random.default_rng(0)
        prompt = rng.integers(0, 32000, 10 * BLOCK_TOKENS).tolist()
        other = rng.integers(0, 32000, 4 * BLOCK_TOKENS).tolist()
        requests = [("first request", prompt),
                    ("same prompt", prompt),
                    ("shared 6-block prefix", prompt[:6 * BLOCK_TOKENS] + other)]
        slot = 0
        for name, tokens in requests:
            hits, blocks = serve(connector, namespace, tokens, slot)
            slot = (slot + blocks) % (len(pool) - 16)
            print(f"{name:22s}: {hits:2d}/{blocks} blocks loaded from the store, "
                  f"{blocks - hits} computed and saved")
        removed = store.remove_by_regex(f"^{namespace}/", force=True)
        print(f"removed {removed} blocks")
        return 0
    finally:
        connector.close()
        store.close()


if __name__ == "__main__":
    sys.exit(main())
