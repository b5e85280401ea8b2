"""mooncake.p2p.P2PStore against a real etcd (started here, on free ports) over loopback."""

import time
import urllib.request

import pytest

from conftest import Process, free_port
from mooncake.p2p import P2PError, P2PStore

OBJECT_NOT_FOUND = -704


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("etcd")
    client, peer = free_port(), free_port()
    client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    process = Process(["/usr/bin/etcd", "--name=mc", f"--data-dir={workdir / 'data'}",
                       f"--listen-client-urls={client_url}",
                       f"--advertise-client-urls={client_url}",
                       f"--listen-peer-urls={peer_url}",
                       f"--initial-advertise-peer-urls={peer_url}",
                       f"--initial-cluster=mc={peer_url}"], workdir / "etcd.log")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{client_url}/health", timeout=1) as r:
                    if b'"true"' in r.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.proc.poll() is not None:
                raise RuntimeError("etcd did not start:\n" + (workdir / "etcd.log").read_text())
            time.sleep(0.05)
        yield f"etcd://127.0.0.1:{client}"
    finally:
        process.kill()


def test_round_trip_into_python_buffers(etcd):
    data = bytes((i * 7 + 3) % 251 for i in range(3 * 1024 * 1024 + 5))
    with P2PStore(etcd, protocol="tcp", lease_ttl_s=2) as seed, \
            P2PStore(etcd, protocol="tcp", lease_ttl_s=2) as peer:
        seed.register("py/ckpt", data, max_shard_size=1 << 20, part_names=["w.bin"])
        (info,) = [o for o in peer.list("py/") if o["name"] == "py/ckpt"]
        assert info["size"] == len(data)
        assert info["shards"] == 4
        assert info["parts"] == [("w.bin", len(data))]
        # Two destination buffers, filled in place (zero-copy): a bytearray and a memoryview.
        first = bytearray(1000)
        second = bytearray(len(data) - 1000)
        stats = peer.get_replica("py/ckpt", [first, memoryview(second)])
        assert bytes(first) + bytes(second) == data
        assert stats["bytes"] == len(data)
        assert stats["bytes_from_seeds"] + stats["bytes_from_peers"] >= len(data)
        (info,) = [o for o in seed.list("py/") if o["name"] == "py/ckpt"]
        assert info["holders"] == 2 and info["seeds"] == 1
        peer.delete_replica("py/ckpt")
        seed.unregister("py/ckpt")
        assert [o for o in seed.list("py/") if o["name"] == "py/ckpt"] == []


def test_unknown_name_raises_object_not_found(etcd):
    with P2PStore(etcd, protocol="tcp") as peer:
        with pytest.raises(P2PError) as error:
            peer.get_replica("py/missing", bytearray(8))
        code, message = error.value.args
        assert code == OBJECT_NOT_FOUND
        assert "py/missing" in message


def test_read_only_destination_is_refused(etcd):
    with P2PStore(etcd, protocol="tcp") as seed:
        seed.register("py/ro", b"abc")
        with pytest.raises(BufferError):
            seed.get_replica("py/ro", b"xyz")
        seed.unregister("py/ro")
