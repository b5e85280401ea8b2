"""The store client: MooncakeDistributedStore, ReplicateConfig, SoftPinAction.

    store = MooncakeDistributedStore()
    store.setup("localhost", "P2PHANDSHAKE", "512MB", "64MB", "tcp", "", "127.0.0.1:50051")
    store.put("key", b"value")
    assert store.get("key") == b"value"
    store.close()
"""

from mooncake._mooncake.store import (
    BufferHandle,
    MooncakeDistributedStore,
    ReplicateConfig,
    SoftPinAction,
)

__all__ = ["BufferHandle", "MooncakeDistributedStore", "ReplicateConfig", "SoftPinAction"]
