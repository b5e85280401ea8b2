"""The Transfer Engine: TransferEngine (batched, zero-copy reads and writes of remote memory).

initialize(..., auth_secret_file=FILE) (else $MC_AUTH_SECRET_FILE) gives the engine the cluster
secret; an unusable file (missing, readable by others, too short) returns -600.
"""

from mooncake._mooncake.engine import TransferEngine

__all__ = ["TransferEngine"]
