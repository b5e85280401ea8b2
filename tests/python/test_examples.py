"""The examples of python/examples/ run to completion against a real cluster."""

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "python" / "examples"


def run(script, *args):
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=os.environ,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_kv_cache_example(cluster):
    out = run("kv_cache_example.py", "--master", cluster.master_address)
    assert " 0/10 blocks loaded" in out
    assert "10/10 blocks loaded" in out
    assert " 6/10 blocks loaded" in out


def test_transfer_engine_example():
    out = run("transfer_engine_example.py")
    assert "hello from the target" in out
    assert "verified on the target" in out
