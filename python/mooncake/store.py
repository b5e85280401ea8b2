"""The store client: MooncakeDistributedStore, ReplicateConfig, SoftPinAction.

    store = MooncakeDistributedStore()
    store.setup("localhost", "P2PHANDSHAKE", "512MB", "64MB", "tcp", "", "127.0.0.1:50051")
    store.put("key", b"value")
    assert store.get("key") == b"value"
    store.close()

A cluster with a secret (mooncake_master --auth_secret_file=FILE): pass the same file, mode 600,
as setup(..., auth_secret_file=FILE) or in $MC_AUTH_SECRET_FILE (the keyword wins). Without it,
or with another secret, setup returns -1300 (UNAUTHENTICATED) and logs "authentication failed:
..." naming what to check; an unusable file (missing, readable by others, shorter than 16 bytes)
returns -600 (INVALID_PARAMS) naming the file and why. With no secret, a local_hostname that is
not loopback logs one WARNING: anyone who can reach it may read and write the pool.
"""

from mooncake._mooncake.store import (
    BufferHandle,
    MooncakeDistributedStore,
    ReplicateConfig,
    SoftPinAction,
)

__all__ = ["BufferHandle", "MooncakeDistributedStore", "ReplicateConfig", "SoftPinAction"]
