"""The P2P Store: P2PStore (checkpoint distribution between peers over the Transfer Engine).

    from mooncake.p2p import P2PStore, P2PError
    seed = P2PStore("etcd://127.0.0.1:2379")
    seed.register("ckpt-100", weights)              # any buffer object, not copied
    peer = P2PStore("etcd://127.0.0.1:2379")
    out = bytearray(len(weights))
    stats = peer.get_replica("ckpt-100", out)       # pulled from every holder, verified

Failures raise P2PError whose args are (code, message); code is the project-wide numeric
error code (-704 OBJECT_NOT_FOUND, -801 CHECKSUM_MISMATCH, ...).
"""

from mooncake._mooncake.p2p import P2PError, P2PStore

__all__ = ["P2PError", "P2PStore"]
