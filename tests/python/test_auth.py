"""The cluster secret from Python: a store cluster whose master and node require it, setup()
with the right, a wrong and no secret (keyword and $MC_AUTH_SECRET_FILE), and secret files
that cannot be used (store and TransferEngine)."""

import os

import pytest

from conftest import Cluster
from mooncake.engine import TransferEngine
from mooncake.store import MooncakeDistributedStore

INVALID_PARAMS = -600
UNAUTHENTICATED = -1300
SECRET = "python-test-secret-0123456789"


def write_secret(path, text, mode=0o600):
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return str(path)


@pytest.fixture(scope="module")
def secret_cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("secret_cluster")
    right = write_secret(workdir / "right", SECRET)
    c = Cluster(workdir, nodes=1, segment_size="64MiB", extra_args=[f"--auth_secret_file={right}"])
    c.right = right
    c.wrong = write_secret(workdir / "wrong", "python-wrong-secret-0123456789")
    yield c
    c.stop()


@pytest.fixture(autouse=True)
def no_secret_in_environment(monkeypatch):
    monkeypatch.delenv("MC_AUTH_SECRET_FILE", raising=False)


def log_of(capfd):
    """What the native library logged since the last call (its default logger writes stdout)."""
    captured = capfd.readouterr()
    return captured.out + captured.err


def setup_store(master_address, **kwargs):
    store = MooncakeDistributedStore()
    rc = store.setup("127.0.0.1", "P2PHANDSHAKE", "16MB", "16MB", "tcp", "", master_address,
                     **kwargs)
    return store, rc


def test_right_secret_by_keyword_works(secret_cluster):
    store, rc = setup_store(secret_cluster.master_address, auth_secret_file=secret_cluster.right)
    assert rc == 0
    try:
        assert store.put("auth/k", b"guarded value") == 0
        assert store.get("auth/k") == b"guarded value"
    finally:
        store.close()


def test_right_secret_from_the_environment_works(secret_cluster, monkeypatch):
    monkeypatch.setenv("MC_AUTH_SECRET_FILE", secret_cluster.right)
    store, rc = setup_store(secret_cluster.master_address)
    assert rc == 0
    store.close()


def test_keyword_wins_over_the_environment(secret_cluster, monkeypatch):
    monkeypatch.setenv("MC_AUTH_SECRET_FILE", secret_cluster.right)
    _, rc = setup_store(secret_cluster.master_address, auth_secret_file=secret_cluster.wrong)
    assert rc == UNAUTHENTICATED


@pytest.mark.parametrize("which", ["wrong", "none"])
def test_wrong_or_missing_secret_is_unauthenticated(secret_cluster, capfd, which):
    kwargs = {"auth_secret_file": secret_cluster.wrong} if which == "wrong" else {}
    store, rc = setup_store(secret_cluster.master_address, **kwargs)
    assert rc == UNAUTHENTICATED
    err = log_of(capfd)
    assert "authentication failed" in err
    assert "MC_AUTH_SECRET_FILE" in err
    # Not set up: calls fail plainly, nothing reaches the master.
    assert store.remove_all(True) < 0
    # The objects of the cluster are untouched.
    owner, rc = setup_store(secret_cluster.master_address, auth_secret_file=secret_cluster.right)
    assert rc == 0
    try:
        assert owner.put("auth/kept", b"x") == 0
        assert owner.is_exist("auth/kept") == 1
    finally:
        owner.close()


def test_setup_from_dict_takes_the_keyword(secret_cluster):
    store = MooncakeDistributedStore()
    rc = store.setup({"local_hostname": "127.0.0.1", "metadata_server": "P2PHANDSHAKE",
                      "protocol": "tcp", "global_segment_size": "16MB",
                      "local_buffer_size": "16MB",
                      "master_server_addr": secret_cluster.master_address,
                      "auth_secret_file": secret_cluster.right})
    assert rc == 0
    store.close()


def test_unusable_secret_files_are_invalid_params(secret_cluster, tmp_path, capfd):
    readable = write_secret(tmp_path / "readable", SECRET, 0o644)
    short = write_secret(tmp_path / "short", "tooshort")
    for path, why in [(readable, "chmod 600"), (short, "at least 16"),
                      (str(tmp_path / "missing"), "No such file")]:
        _, rc = setup_store(secret_cluster.master_address, auth_secret_file=path)
        assert rc == INVALID_PARAMS, path
        err = log_of(capfd)
        assert path in err and why in err, err
        engine = TransferEngine()
        assert engine.initialize("127.0.0.1", "P2PHANDSHAKE", "tcp", "",
                                 auth_secret_file=path) == INVALID_PARAMS
        err = log_of(capfd)
        assert path in err and why in err, err


def test_engine_initialize_takes_a_usable_secret(secret_cluster):
    engine = TransferEngine()
    assert engine.initialize("127.0.0.1", "P2PHANDSHAKE", "tcp", "",
                             auth_secret_file=secret_cluster.right) == 0
