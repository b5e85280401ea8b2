"""Mooncake Store: a distributed KV cache for LLM serving and checkpoints.

    from mooncake.store import MooncakeDistributedStore, ReplicateConfig
    from mooncake.engine import TransferEngine
    from mooncake.p2p import P2PStore

Both follow upstream Mooncake's Python API (ints are 0 or a negative error code).
"""

from mooncake._mooncake import set_log_level

__all__ = ["set_log_level"]
