"""mooncake.store against a real cluster: every method of COMPAT.md, its keywords, its return
conventions (0 / negative upstream error codes / b"" / None) and its error paths."""

import re
import threading
import time

import numpy as np
import pytest

from conftest import free_port, new_store
from mooncake.store import MooncakeDistributedStore, ReplicateConfig, SoftPinAction

# Upstream's error codes (COMPAT.md).
BUFFER_OVERFLOW = -10
INVALID_PARAMS = -600
OBJECT_NOT_FOUND = -704
OBJECT_HAS_LEASE = -706
MiB = 1 << 20


def registered(store, nbytes, fill=None):
    """A numpy buffer registered with the store (unregistered by the caller)."""
    array = np.zeros(nbytes, dtype=np.uint8) if fill is None else fill
    assert store.register_buffer(array.ctypes.data, array.nbytes) == 0
    return array


# ---- setup / close / hostname / health ----------------------------------------------------------

def test_setup_positional_bare_host_gets_port_in_range(cluster):
    store = MooncakeDistributedStore()
    assert store.setup("localhost", "P2PHANDSHAKE", 0, "16MB", "tcp", "", cluster.master_address) == 0
    match = re.fullmatch(r"localhost:(\d+)", store.get_hostname())
    assert match, store.get_hostname()
    assert 12300 <= int(match.group(1)) <= 14300
    assert store.health_check() == 0
    assert store.close() == 0
    assert store.get_hostname() == ""


def test_setup_keywords_and_host_with_port(cluster):
    store = MooncakeDistributedStore()
    name = f"127.0.0.1:{free_port()}"
    assert store.setup(local_hostname=name, metadata_server="P2PHANDSHAKE",
                       global_segment_size=16 * MiB, local_buffer_size=16 * MiB, protocol="tcp",
                       rdma_devices="mlx5_0", master_server_addr=cluster.master_address) == 0
    assert store.get_hostname() == name  # rdma_devices is ignored for tcp
    store.close()


def test_setup_dict_with_size_strings(cluster):
    store = MooncakeDistributedStore()
    assert store.setup({
        "local_hostname": "127.0.0.1", "metadata_server": "P2PHANDSHAKE",
        "global_segment_size": "16 MB", "local_buffer_size": "16MB", "protocol": "tcp",
        "rdma_devices": "", "master_server_addr": cluster.master_address}) == 0
    assert store.health_check() == 0
    store.put("dict-setup", b"x")
    assert store.get("dict-setup") == b"x"
    store.remove("dict-setup", force=True)
    store.close()


@pytest.mark.parametrize("size", ["50%", "-1", "16 XB", -5])
def test_setup_bad_size_is_an_error(cluster, size):
    store = MooncakeDistributedStore()
    assert store.setup({"local_hostname": "127.0.0.1", "global_segment_size": size,
                        "master_server_addr": cluster.master_address}) < 0
    assert store.health_check() == 1


def test_setup_master_unreachable():
    store = MooncakeDistributedStore()
    rc = store.setup("127.0.0.1", "P2PHANDSHAKE", 0, "1MB", "tcp", "", f"127.0.0.1:{free_port()}")
    assert rc < 0
    assert store.health_check() == 1
    assert store.put("k", b"v") < 0


def test_setup_twice_is_refused(store, cluster):
    assert store.setup("127.0.0.1", "P2PHANDSHAKE", 0, "1MB", "tcp", "", cluster.master_address) < 0
    assert store.health_check() == 0


def test_setup_type_errors(cluster):
    store = MooncakeDistributedStore()
    with pytest.raises(TypeError):
        store.setup("127.0.0.1", "P2PHANDSHAKE", 1.5, "1MB", "tcp", "", cluster.master_address)
    with pytest.raises(TypeError):
        store.setup(local_host="127.0.0.1", metadata_server="P2PHANDSHAKE")  # misspelt
    with pytest.raises(TypeError):
        store.setup({"local_hostname": 5})


def test_unknown_protocol_is_not_supported(cluster):
    store = MooncakeDistributedStore()
    assert store.setup("127.0.0.1", "P2PHANDSHAKE", 0, "1MB", "carrier-pigeon", "",
                       cluster.master_address) == -1012  # NOT_SUPPORTED
    assert store.health_check() == 1


def test_close_without_setup_and_twice():
    store = MooncakeDistributedStore()
    assert store.close() == 0
    assert store.close() == 0


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_close_frees_memory(cluster):
    before = rss_bytes()
    store = new_store(cluster.master_address, segment="192MB", buffer="16MB")
    assert rss_bytes() - before > 150 * MiB  # the segment is prefaulted
    assert store.close() == 0
    assert rss_bytes() - before < 40 * MiB


def test_close_then_use_is_a_clear_error(cluster):
    store = new_store(cluster.master_address, segment=0)
    assert store.put("closed-key", b"v") == 0
    assert store.close() == 0
    assert store.put("closed-key2", b"v") == INVALID_PARAMS
    assert store.get("closed-key") == b""
    assert store.get_buffer("closed-key") is None
    assert store.is_exist("closed-key") == INVALID_PARAMS
    assert store.get_size("closed-key") == INVALID_PARAMS
    assert store.remove("closed-key") == INVALID_PARAMS
    assert store.batch_is_exist(["a", "b"]) == [INVALID_PARAMS] * 2
    assert store.health_check() == 1
    assert store.get_hostname() == ""
    buf = np.zeros(16, dtype=np.uint8)
    assert store.register_buffer(buf.ctypes.data, 16) == INVALID_PARAMS
    assert store.close() == 0
    # A closed store can be set up again.
    assert store.setup("127.0.0.1", "P2PHANDSHAKE", 0, "1MB", "tcp", "", cluster.master_address) == 0
    assert store.get("closed-key") == b"v"
    assert store.remove("closed-key", force=True) == 0
    store.close()


# ---- plain bytes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [bytes, bytearray, memoryview,
                                  lambda b: np.frombuffer(b, dtype=np.uint8),
                                  lambda b: np.frombuffer(b, dtype=np.uint32).reshape(4, -1)])
def test_put_accepts_any_buffer(store, key, make):
    value = bytes(range(256)) * 16
    assert store.put(key(), make(value)) == 0
    assert store.get(key()) == value
    assert store.get_size(key()) == len(value)
    assert store.remove(key(), force=True) == 0


def test_put_rejects_non_buffers(store, key):
    with pytest.raises(TypeError):
        store.put(key(), "a str is not bytes")
    with pytest.raises((BufferError, ValueError)):  # numpy: ValueError
        store.put(key(), np.zeros((8, 8), dtype=np.uint8)[:, ::2])  # not contiguous


def test_put_existing_key_returns_0_and_keeps_value(store, key):
    assert store.put(key(), b"first") == 0
    assert store.put(key(), b"second") == 0
    assert store.get(key()) == b"first"
    assert store.upsert(key(), b"third") == 0
    assert store.get(key()) == b"third"
    store.remove(key(), force=True)


def test_misses(store, key):
    assert store.get(key("missing")) == b""
    assert store.get_buffer(key("missing")) is None
    assert store.get_size(key("missing")) == OBJECT_NOT_FOUND
    assert store.is_exist(key("missing")) == 0
    assert store.remove(key("missing")) == OBJECT_NOT_FOUND


def test_put_parts(store, key):
    assert store.put_parts(key(), b"ab", bytearray(b"cd"), memoryview(b"ef"),
                           config=ReplicateConfig()) == 0
    assert store.get(key()) == b"abcdef"
    assert store.put_parts(key("one"), np.arange(10, dtype=np.uint8)) == 0
    assert store.get(key("one")) == bytes(range(10))
    with pytest.raises(TypeError):
        store.put_parts(key("two"), b"x", cfg=None)
    with pytest.raises(TypeError):
        store.put_parts(key("two"), b"x", config=5)
    with pytest.raises(TypeError):
        store.put_parts(key("two"), "not bytes")
    store.batch_remove([key(), key("one")], force=True)


def test_put_batch_get_batch_upsert_batch(store, key):
    keys = [key(str(i)) for i in range(5)]
    values = [bytes([i]) * (100 + i) for i in range(5)]
    assert store.put_batch(keys, values) == 0
    assert store.get_batch(keys + [key("missing")]) == values + [b""]
    assert store.put_batch(keys, [b"other"] * 5) == 0  # existing: unchanged
    assert store.get_batch(keys) == values
    assert store.upsert_batch(keys, [b"new"] * 5, config=ReplicateConfig()) == 0
    assert store.get_batch(keys) == [b"new"] * 5
    assert store.put_batch(keys, values[:2]) == INVALID_PARAMS  # mismatched lengths
    assert store.upsert_batch(keys[:1], values) == INVALID_PARAMS
    assert store.put_batch([], []) == 0
    assert store.get_batch([]) == []
    assert store.batch_remove(keys, force=True) == [0] * 5


def test_get_buffer_handle(store, key):
    value = bytes(range(200)) * 50
    store.put(key(), value)
    handle = store.get_buffer(key())
    assert handle.size() == len(handle) == len(value)
    assert memoryview(handle).tobytes() == value
    array = np.frombuffer(handle, dtype=np.uint8)  # the handle's own memory, no copy
    assert array.ctypes.data == handle.ptr()
    assert bytes(array) == value
    handles = store.batch_get_buffer([key(), key("missing")])
    assert bytes(handles[0]) == value and handles[1] is None
    store.remove(key(), force=True)


# ---- zero-copy -----------------------------------------------------------------------------------

def test_put_from_get_into_fill_the_registered_numpy_memory(store, key):
    n = 3 * MiB + 17
    src = registered(store, n, np.random.default_rng(1).integers(0, 256, n, dtype=np.uint8))
    dst = registered(store, 4 * MiB)
    dst_address = dst.ctypes.data
    assert store.put_from(key(), src.ctypes.data, n) == 0
    assert store.get_into(key(), dst_address, dst.nbytes) == n
    assert dst.ctypes.data == dst_address  # the same numpy memory was filled
    assert np.array_equal(dst[:n], src)
    # A buffer object may stand for its address.
    dst[:] = 0
    assert store.get_into(key(), dst, dst.nbytes) == n
    assert np.array_equal(dst[:n], src)
    # put_from of an existing key leaves it; upsert_from replaces it.
    original = src.copy()
    src[:] = 7
    assert store.put_from(key(), src.ctypes.data, n) == 0
    assert store.get_into(key(), dst_address, dst.nbytes) == n
    assert np.array_equal(dst[:n], original)
    assert store.upsert_from(key(), src.ctypes.data, n, config=ReplicateConfig()) == 0
    assert store.get_into(key(), dst_address, dst.nbytes) == n
    assert np.array_equal(dst[:n], src)
    assert store.unregister_buffer(src.ctypes.data) == 0
    assert store.unregister_buffer(dst_address) == 0
    store.remove(key(), force=True)


def test_get_into_errors(store, key):
    src = registered(store, 4096, np.full(4096, 3, dtype=np.uint8))
    small = registered(store, 1024)
    assert store.put_from(key(), src.ctypes.data, 4096) == 0
    assert store.get_into(key(), small.ctypes.data, small.nbytes) == BUFFER_OVERFLOW
    assert store.get_into(key("missing"), src.ctypes.data, 4096) == OBJECT_NOT_FOUND
    unregistered = np.zeros(4096, dtype=np.uint8)
    assert store.get_into(key(), unregistered.ctypes.data, 4096) < 0
    assert store.put_from(key("x"), unregistered.ctypes.data, 4096) < 0
    assert store.get_into(key(), small.ctypes.data, 2048) < 0  # past the registered buffer
    assert store.get_into(key(), small, 2048) < 0  # past the buffer object
    with pytest.raises(TypeError):
        store.get_into(key(), -1, 10)
    with pytest.raises(TypeError):
        store.get_into(key(), "not an address", 10)
    store.unregister_buffer(src.ctypes.data)
    store.unregister_buffer(small.ctypes.data)
    store.remove(key(), force=True)


def test_multi_buffers_round_trip_as_vllms_store_connector_calls_them(store, key):
    # Three KV blocks of 4 layers x 32 KiB, each block one object: the parts cross the 64 KiB
    # checksum blocks in the middle, so the scattered read checks blocks it only partly covers.
    blocks, layers, layer = 3, 4, 32 * 1024
    total = blocks * layers * layer
    src = registered(store, total, np.arange(total, dtype=np.uint32).astype(np.uint8))
    dst = registered(store, total)
    keys = [key(str(b)) for b in range(blocks)]
    parts = lambda base, b: [base + (b * layers + j) * layer for j in range(layers)]
    sizes = [[layer] * layers for _ in keys]
    assert store.batch_put_from_multi_buffers(keys, [parts(src.ctypes.data, b) for b in range(blocks)],
                                              sizes) == [0] * blocks
    assert store.get_size(keys[1]) == layers * layer
    assert store.get(keys[1]) == src[layers * layer:2 * layers * layer].tobytes()
    out = store.batch_get_into_multi_buffers(keys, [parts(dst.ctypes.data, b) for b in range(blocks)],
                                             sizes, True)
    assert out == [layers * layer] * blocks
    assert np.array_equal(src, dst)
    # Another layout of the same bytes: two halves, read in place.
    dst[:] = 0
    halves = [[dst.ctypes.data + b * layers * layer, dst.ctypes.data + (2 * b + 1) * layers * layer // 2]
              for b in range(blocks)]
    assert store.batch_get_into_multi_buffers(keys, halves, [[layers * layer // 2] * 2] * blocks) == \
        [layers * layer] * blocks
    assert np.array_equal(src, dst)
    # Each key fails alone: a miss, buffers smaller or larger than the object, lists of
    # different lengths, memory not registered.
    stray = np.zeros(layer, dtype=np.uint8)
    out = store.batch_get_into_multi_buffers(
        [key("missing"), keys[0], keys[1], keys[2], keys[0]],
        [parts(dst.ctypes.data, 0), parts(dst.ctypes.data, 0)[:3], parts(dst.ctypes.data, 1) + [dst.ctypes.data],
         parts(dst.ctypes.data, 2)[:2], [stray.ctypes.data] * layers],
        [[layer] * layers, [layer] * 3, [layer] * 5, [layer] * 3, [layer] * layers])
    assert out[0] == OBJECT_NOT_FOUND
    assert out[1] == BUFFER_OVERFLOW
    assert out[2] == INVALID_PARAMS
    assert out[3] == INVALID_PARAMS
    assert out[4] < 0
    assert np.array_equal(src, dst), "failed keys wrote nothing"
    # A put of an existing key answers 0 (upstream's code) and leaves the object as it was.
    assert store.batch_put_from_multi_buffers([keys[0]], [parts(dst.ctypes.data, 2)], [sizes[0]]) == [0]
    assert store.get(keys[0]) == src[:layers * layer].tobytes()
    assert store.batch_put_from_multi_buffers([key("bad")], [[stray.ctypes.data]], [[layer]])[0] < 0
    assert store.batch_put_from_multi_buffers([key("bad")], [[src.ctypes.data] * 2], [[layer]]) == \
        [INVALID_PARAMS]
    assert store.batch_put_from_multi_buffers([], [], []) == []
    assert store.batch_get_into_multi_buffers([], [], []) == []
    for k in keys:
        store.remove(k, force=True)
    store.unregister_buffer(src.ctypes.data)
    store.unregister_buffer(dst.ctypes.data)


def test_batch_put_from_batch_get_into(store, key):
    block, n = 4096, 16
    src = registered(store, block * n, np.arange(block * n, dtype=np.uint32).astype(np.uint8))
    dst = registered(store, block * n)
    keys = [key(str(i)) for i in range(n)]
    ptrs = [src.ctypes.data + i * block for i in range(n)]
    assert store.batch_put_from(keys, ptrs, [block] * n) == [0] * n
    assert store.batch_put_from(keys, ptrs, [block] * n, config=ReplicateConfig()) == [0] * n
    out = store.batch_get_into(keys + [key("missing")],
                               [dst.ctypes.data + i * block for i in range(n)] + [dst.ctypes.data],
                               [block] * (n + 1))
    assert out == [block] * n + [OBJECT_NOT_FOUND]
    assert np.array_equal(src, dst)
    # Mismatched lengths: every key fails; nothing in, nothing out.
    assert store.batch_get_into(keys, ptrs[:2], [block] * n) == [INVALID_PARAMS] * n
    assert store.batch_put_from(keys, ptrs, [block]) == [INVALID_PARAMS] * n
    assert store.batch_get_into([], [], []) == []
    assert store.batch_put_from([], [], []) == []
    # batch_upsert_from replaces.
    src[:] = 9
    assert store.batch_upsert_from(keys, ptrs, [block] * n) == [0] * n
    assert store.batch_get_into(keys, [dst.ctypes.data + i * block for i in range(n)],
                                [block] * n) == [block] * n
    assert (dst == 9).all()
    store.unregister_buffer(src.ctypes.data)
    store.unregister_buffer(dst.ctypes.data)
    assert store.batch_remove(keys, force=True) == [0] * n


def test_get_into_ranges(store, key):
    value = np.arange(8192, dtype=np.uint16).view(np.uint8)  # 16 KiB
    assert store.put(key("a"), value) == 0
    assert store.put(key("b"), value[::-1].copy()) == 0
    dst0 = registered(store, 4096)
    dst1 = registered(store, 4096)
    out = store.get_into_ranges(
        [dst0.ctypes.data, dst1.ctypes.data],
        [[key("a"), key("b")], [key("a")]],
        [[[0, 100], [1000]], [[0]]],
        [[[16, 0], [5]], [[16000]]],
        [[[50, 60], [10]], [[384]]])
    assert out == [[[50, 60], [10]], [[384]]]
    assert np.array_equal(dst0[0:50], value[16:66])
    assert np.array_equal(dst0[100:160], value[0:60])
    assert np.array_equal(dst0[1000:1010], value[::-1][5:15])
    assert np.array_equal(dst1[0:384], value[16000:16384])
    # Past the object, past the buffer, a missing key: those ranges fail, the rest succeed.
    out = store.get_into_ranges([dst0.ctypes.data], [[key("a"), key("missing")]],
                                [[[0, 4000, 0], [0]]], [[[16380, 0, 0], [0]]],
                                [[[8, 200, 4], [4]]])
    assert out[0][0][0] < 0 and out[0][0][1] < 0 and out[0][0][2] == 4
    assert out[0][1] == [OBJECT_NOT_FOUND]
    # Mismatched list lengths.
    out = store.get_into_ranges([dst0.ctypes.data], [[key("a")]], [[[0, 1]]], [[[0]]],
                                [[[4, 4]]])
    assert len(out) == 1 and all(r < 0 for r in out[0][0])
    out = store.get_into_ranges([dst0.ctypes.data, dst1.ctypes.data], [[key("a")]], [], [], [])
    assert len(out) == 2 and all(r < 0 for r in out[0][0])
    assert store.get_into_ranges([], [], [], [], []) == []
    store.unregister_buffer(dst0.ctypes.data)
    store.unregister_buffer(dst1.ctypes.data)
    store.batch_remove([key("a"), key("b")], force=True)


# ---- index ---------------------------------------------------------------------------------------

def test_is_exist_get_size(store, key):
    store.put(key(), b"12345")
    assert store.is_exist(key()) == 1
    assert store.batch_is_exist([key(), key("missing")]) == [1, 0]
    assert store.batch_is_exist([]) == []
    assert store.get_size(key()) == 5
    store.remove(key(), force=True)
    assert store.is_exist(key()) == 0


def test_remove_under_a_live_lease(store, key):
    store.put(key(), b"leased")
    assert store.get(key()) == b"leased"  # grants a read lease (2 s in this cluster)
    assert store.remove(key()) == OBJECT_HAS_LEASE
    assert store.is_exist(key()) == 1
    assert store.remove(key(), force=True) == 0
    assert store.is_exist(key()) == 0


def test_remove_by_regex_and_batch_remove(store, key):
    keys = [key(f"r{i}") for i in range(6)]
    store.put_batch(keys, [b"x"] * 6)
    pattern = "^" + re.escape(key("r")) + "[0-2]$"
    assert store.remove_by_regex(pattern) == 3
    assert store.remove_by_regex(pattern=pattern, force=True) == 0
    assert store.remove_by_regex("([unclosed") < 0
    assert store.batch_remove(keys[3:] + [key("missing")]) == [0, 0, 0, OBJECT_NOT_FOUND]
    assert store.batch_remove([]) == []


# ---- ReplicateConfig -----------------------------------------------------------------------------

def test_replicate_config_attributes():
    cfg = ReplicateConfig()
    assert cfg.replica_num == 1 and cfg.with_hard_pin is False
    assert cfg.soft_pin_action == SoftPinAction.PRESERVE and cfg.soft_pin_ttl_ms is None
    assert cfg.preferred_segments == [] and cfg.preferred_segment == ""
    assert cfg.prefer_alloc_in_same_node is False
    assert "replica_num" in str(cfg)
    cfg.replica_num = 3
    cfg.soft_pin_ttl_ms = 2**64 - 1
    cfg.soft_pin_ttl_ms = None
    cfg.preferred_segments = ["a:1", "b:2"]
    assert "replica_num=3" in str(cfg)
    for bad in (-1, 2**64, 1.5):
        with pytest.raises(TypeError):
            cfg.soft_pin_ttl_ms = bad
    with pytest.raises(TypeError):
        ReplicateConfig(replica_nun=2)
    with pytest.raises(AttributeError):
        cfg.replica_nun = 2
    assert ReplicateConfig(replica_num=2, with_hard_pin=True).replica_num == 2


def test_replicate_config_rules(store, key):
    for action in (SoftPinAction.PRESERVE, SoftPinAction.DISABLE):
        cfg = ReplicateConfig()
        cfg.soft_pin_action = action
        cfg.soft_pin_ttl_ms = 1000
        assert store.put(key(), b"v", cfg) == INVALID_PARAMS
    cfg = ReplicateConfig(soft_pin_action=SoftPinAction.ENABLE, soft_pin_ttl_ms=60000)
    assert store.put(key("soft"), b"v", config=cfg) == 0
    assert store.put(key("hard"), b"v", ReplicateConfig(with_hard_pin=True)) == 0
    assert store.put(key("zero"), b"v", ReplicateConfig(replica_num=0)) == INVALID_PARAMS
    # Preferred segment: this store's own.
    cfg = ReplicateConfig()
    cfg.preferred_segment = store.get_hostname()
    assert store.put(key("local"), b"here", cfg) == 0
    assert store.get(key("local")) == b"here"
    store.batch_remove([key("soft"), key("hard"), key("local")], force=True)


def test_keyword_names_and_type_errors(store, key):
    k = key()
    buf = registered(store, 64, np.full(64, 5, dtype=np.uint8))
    assert store.put(key=k, value=b"kw", config=None) == 0
    assert store.upsert(key=k, value=b"kw2") == 0
    assert store.get(key=k) == b"kw2"
    assert store.get_batch(keys=[k]) == [b"kw2"]
    assert bytes(store.get_buffer(key=k)) == b"kw2"
    assert len(store.batch_get_buffer(keys=[k])) == 1
    assert store.put_batch(keys=[key("b")], values=[b"1"], config=None) == 0
    assert store.upsert_batch(keys=[key("b")], values=[b"2"]) == 0
    assert store.upsert_from(key=key("f"), buffer_ptr=buf.ctypes.data, size=64) == 0
    assert store.put_from(key=key("g"), buffer_ptr=buf.ctypes.data, size=64, config=None) == 0
    assert store.get_into(key=key("f"), buffer_ptr=buf.ctypes.data, size=64) == 64
    assert store.batch_put_from(keys=[key("h")], buffer_ptrs=[buf.ctypes.data], sizes=[64],
                                config=None) == [0]
    assert store.batch_upsert_from(keys=[key("h")], buffer_ptrs=[buf.ctypes.data],
                                   sizes=[64]) == [0]
    assert store.batch_get_into(keys=[key("h")], buffer_ptrs=[buf.ctypes.data],
                                sizes=[64]) == [64]
    assert store.get_into_ranges(buffer_ptrs=[buf.ctypes.data], all_keys=[[key("h")]],
                                 all_dst_offsets=[[[0]]], all_src_offsets=[[[0]]],
                                 all_sizes=[[[8]]]) == [[[8]]]
    assert store.is_exist(key=k) == 1
    assert store.batch_is_exist(keys=[k]) == [1]
    assert store.get_size(key=k) == 3
    assert store.remove(key=k, force=True) == 0
    assert store.batch_remove(keys=[key("b")], force=True) == [0]
    assert store.remove_by_regex(pattern="^" + re.escape(key("")), force=True) == 3
    for call in (lambda: store.put(k, b"v", cfg=None),
                 lambda: store.get(kee=k),
                 lambda: store.get_into(k, buffer=buf.ctypes.data, size=64),
                 lambda: store.remove(k, forced=True),
                 lambda: store.put(k),
                 lambda: store.batch_get_into([k], [buf.ctypes.data], [-1]),
                 lambda: store.put(k, b"v", config=3)):
        with pytest.raises(TypeError):
            call()
    assert store.unregister_buffer(buffer_ptr=buf.ctypes.data) == 0


# ---- several stores, threads, big objects --------------------------------------------------------

def test_two_stores_replica_2_survives_one_closing(cluster, key):
    a = new_store(cluster.master_address, segment="32MB", buffer="8MB")
    b = new_store(cluster.master_address, segment="32MB", buffer="8MB")
    assert a.get_hostname() != b.get_hostname()
    cfg = ReplicateConfig(replica_num=2, preferred_segments=[a.get_hostname(), b.get_hostname()])
    value = bytes(range(256)) * 1024
    assert a.put(key(), value, cfg) == 0
    assert b.get(key()) == value
    assert a.close() == 0  # unmounts a's segment: one replica left, in b's
    assert b.get(key()) == value
    assert b.remove(key(), force=True) == 0
    assert b.close() == 0


def test_eight_threads_put_get_remove(store, key):
    errors = []

    def work(t):
        try:
            for i in range(25):
                k = key(f"t{t}-{i}")
                value = bytes([t, i]) * (512 + 64 * t)
                assert store.put(k, value) == 0
                assert store.get(k) == value
                assert store.is_exist(k) == 1
                assert store.remove(k, force=True) == 0
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(f"thread {t}: {e!r}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_256_mib_object(store, key):
    n = 256 * MiB
    value = np.arange(n // 8, dtype=np.uint64).view(np.uint8)
    assert store.put(key(), value) == 0  # larger than the staging buffer: moved in pieces
    assert store.get_size(key()) == n
    handle = store.get_buffer(key())
    assert handle is not None and len(handle) == n
    assert np.array_equal(np.frombuffer(handle, dtype=np.uint8), value)
    del handle
    dst = registered(store, n)
    assert store.get_into(key(), dst.ctypes.data, n) == n
    assert np.array_equal(dst, value)
    store.unregister_buffer(dst.ctypes.data)
    assert store.remove(key(), force=True) == 0


# ---- a cluster of its own: remove_all, pool full, master gone ------------------------------------

def test_remove_all_pool_full_and_master_unreachable(small_cluster, key):
    store = new_store(small_cluster.master_address, segment=0, buffer="4MB")
    store.put_batch([key(str(i)) for i in range(4)], [b"v"] * 4)
    assert store.remove_all() == 4
    assert store.remove_all(force=True) == 0
    # Larger than every segment: NO_AVAILABLE_HANDLE. The zero pages are never touched.
    huge = np.zeros(512 * MiB, dtype=np.uint8)
    assert store.register_buffer(huge.ctypes.data, huge.nbytes) == 0
    assert store.put_from(key("huge"), huge.ctypes.data, huge.nbytes) == -200
    assert store.unregister_buffer(huge.ctypes.data) == 0
    # The master goes away (each call waits up to the client's 5 s RPC deadline for it). While
    # health_check waits, this thread runs: the GIL is released during the call.
    small_cluster.master.kill()
    # The first call may go out on the connection the kill just broke and fail at once; the
    # ones after it wait (wait_for_ready) for a master to come back, up to their deadline.
    assert store.health_check() == 2
    health, spins = [], 0
    checker = threading.Thread(target=lambda: health.append(store.health_check()))
    checker.start()
    while checker.is_alive():
        spins += 1
        time.sleep(0.001)
    assert health == [2]
    assert spins > 100
    assert store.put(key("late"), b"v") < 0
    assert store.close() == 0
