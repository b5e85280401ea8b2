"""mooncake.engine.TransferEngine: two engines in this process moving bytes over loopback TCP."""

import re

import numpy as np
import pytest

from conftest import free_port
from mooncake.engine import TransferEngine

MiB = 1 << 20


@pytest.fixture(scope="module")
def engines():
    target, initiator = TransferEngine(), TransferEngine()
    assert target.initialize("127.0.0.1", "P2PHANDSHAKE", "tcp", "") == 0
    assert initiator.initialize(local_hostname="127.0.0.1", metadata_server="P2PHANDSHAKE",
                                protocol="tcp", device_name="") == 0
    return target, initiator


@pytest.fixture(scope="module")
def target_buffer(engines):
    target, _ = engines
    address = target.allocate_managed_buffer(4 * MiB)
    assert address != 0
    return address


def name_of(engine):
    return f"127.0.0.1:{engine.get_rpc_port()}"


def test_initialize_picks_a_port_in_range(engines):
    for engine in engines:
        assert 12300 <= engine.get_rpc_port() <= 14300
    assert engines[0].get_rpc_port() != engines[1].get_rpc_port()


def test_initialize_errors():
    engine = TransferEngine()
    assert engine.get_rpc_port() < 0  # not initialized
    assert engine.initialize("127.0.0.1", "P2PHANDSHAKE", "carrier-pigeon", "") == -1012
    port = free_port()
    assert engine.initialize(f"127.0.0.1:{port}", "P2PHANDSHAKE", "tcp", "") == 0
    assert engine.get_rpc_port() == port
    assert engine.initialize("127.0.0.1", "P2PHANDSHAKE", "tcp", "") < 0  # twice
    with pytest.raises(TypeError):
        engine.initialize(local_host="127.0.0.1", metadata_server="P2PHANDSHAKE",
                          protocol="tcp", device_name="")


def test_first_buffer_and_byte_helpers(engines, target_buffer):
    target, initiator = engines
    assert initiator.get_first_buffer_address(name_of(target)) == target_buffer
    assert initiator.get_first_buffer_address("127.0.0.1:1") == 0
    assert target.write_bytes_to_buffer(target_buffer, b"hello", 5) == 0
    assert target.read_bytes_from_buffer(target_buffer, 5) == b"hello"
    assert target.write_bytes_to_buffer(target_buffer, b"hi", 5) < 0  # length past the bytes


def test_sync_write_and_read(engines, target_buffer):
    target, initiator = engines
    local = initiator.allocate_managed_buffer(MiB)
    payload = bytes(range(256)) * 4096
    initiator.write_bytes_to_buffer(local, payload, MiB)
    assert initiator.transfer_sync_write(name_of(target), local, target_buffer, MiB) == 0
    assert target.read_bytes_from_buffer(target_buffer, MiB) == payload
    initiator.write_bytes_to_buffer(local, bytes(MiB), MiB)
    assert initiator.transfer_sync_read(target_hostname=name_of(target), buffer=local,
                                        peer_buffer_address=target_buffer, length=MiB) == 0
    assert initiator.read_bytes_from_buffer(local, MiB) == payload
    assert initiator.transfer_sync_read("127.0.0.1:1", local, target_buffer, 16) < 0
    assert initiator.free_managed_buffer(local, MiB) == 0


def test_batch_sync_and_async(engines, target_buffer):
    target, initiator = engines
    block, n = 4096, 32
    local = initiator.allocate_managed_buffer(block * n)
    initiator.write_bytes_to_buffer(local, bytes([7]) * (block * n), block * n)
    buffers = [local + i * block for i in range(n)]
    peers = [target_buffer + i * block for i in range(n)]
    assert initiator.batch_transfer_sync_write(name_of(target), buffers, peers, [block] * n) == 0
    assert target.read_bytes_from_buffer(target_buffer, block * n) == bytes([7]) * (block * n)
    assert initiator.batch_transfer_sync_read(name_of(target), buffers, peers[:1], [block]) < 0

    target.write_bytes_to_buffer(target_buffer, bytes([9]) * (block * n), block * n)
    read = initiator.batch_transfer_async_read(name_of(target), buffers, peers, [block] * n)
    assert read != 0
    assert initiator.get_batch_transfer_status([read]) == 0
    assert initiator.read_bytes_from_buffer(local, block * n) == bytes([9]) * (block * n)
    writes = [initiator.batch_transfer_async_write(target_hostname=name_of(target),
                                                   buffers=buffers[:4], peer_buffer_addresses=peers[:4],
                                                   lengths=[block] * 4) for _ in range(3)]
    assert all(w != 0 for w in writes)
    assert initiator.get_batch_transfer_status(writes) == 0
    assert initiator.get_batch_transfer_status(writes) < 0  # already waited for
    # An unknown peer: nothing submitted, batch id 0.
    assert initiator.batch_transfer_async_write("127.0.0.1:1", buffers, peers, [block] * n) == 0
    assert initiator.free_managed_buffer(local, block * n) == 0


def test_register_numpy_memory(engines, target_buffer):
    target, initiator = engines
    array = np.arange(MiB, dtype=np.uint8)
    assert initiator.register_memory(array.ctypes.data, array.nbytes) == 0
    assert initiator.transfer_sync_write(name_of(target), array.ctypes.data, target_buffer,
                                         array.nbytes) == 0
    assert target.read_bytes_from_buffer(target_buffer, 256) == bytes(range(256))
    array[:] = 0
    assert initiator.transfer_sync_read(name_of(target), array.ctypes.data, target_buffer,
                                        array.nbytes) == 0
    assert np.array_equal(array, np.arange(MiB, dtype=np.uint8))
    assert initiator.unregister_memory(array.ctypes.data) == 0
    # Upstream's keyword names work too.
    assert initiator.register_memory(buffer_addr=array.ctypes.data, capacity=array.nbytes) == 0
    assert initiator.unregister_memory(buffer_addr=array.ctypes.data) == 0
    # Unregistered memory cannot be a transfer's local side.
    assert initiator.transfer_sync_write(name_of(target), array.ctypes.data, target_buffer,
                                         64) < 0
    with pytest.raises(TypeError):
        initiator.register_memory(address=array.ctypes.data, size=64)


def test_name_format(engines):
    assert re.fullmatch(r"127\.0\.0\.1:\d+", name_of(engines[0]))
