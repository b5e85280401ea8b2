"""The Transfer Engine: TransferEngine (batched, zero-copy reads and writes of remote memory)."""

from mooncake._mooncake.engine import TransferEngine

__all__ = ["TransferEngine"]
