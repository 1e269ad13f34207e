"""cache.py: fingerprints, atomic writes, locks across processes, verified entries, cleanup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import filelock
import pytest

from loyalty_tests.errors import LoyaltyCacheWarning
from loyalty_tests.infra import cache
from loyalty_tests.infra.cache import (
    atomic_write_bytes,
    cached_file,
    cached_folder,
    clean_orphans,
    fingerprint,
    locked,
    read_verified,
    writable,
    write_verified,
)

ROOT = Path(cache.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


# A JSON entry {"key": ..., "value": ...}: the smallest format that stores its key.
def read_key(path):
    return json.loads(Path(path).read_text())["key"]


def load(path):
    return json.loads(Path(path).read_text())["value"]


def dump_for(key):
    return lambda value: json.dumps({"key": key, "value": value}).encode()


# ---- fingerprints ------------------------------------------------------------------------------------


def test_fingerprints_are_stable_across_processes_and_order_sensitive():
    here = fingerprint("predictions", "model-a", [1, 2], {"b": 1, "a": 2})
    code = (
        "from loyalty_tests.infra.cache import fingerprint; "
        "print(fingerprint('predictions', 'model-a', [1, 2], {'a': 2, 'b': 1}))"
    )
    there = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True)
    assert there.stdout.strip() == here and len(here) == 64  # dict key order does not matter; salted hash() would
    assert fingerprint("a", "b") != fingerprint("b", "a")
    assert fingerprint([1, 2]) != fingerprint([2, 1])
    assert fingerprint(1) != fingerprint("1")


# ---- atomic writes and locks ---------------------------------------------------------------------


def test_an_atomic_write_publishes_the_whole_file_or_nothing(tmp_path):
    target = tmp_path / "entry.bin"
    atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first" and target.stat().st_mode & 0o777 == 0o644

    def refuse(temporary):
        assert temporary.read_bytes() == b"second" and temporary.name.endswith(".tmp")
        raise ValueError("not good enough")

    with pytest.raises(ValueError):
        atomic_write_bytes(target, b"second", refuse)
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["entry.bin"]


HOLD_LOCK = """
import sys, time
from loyalty_tests.infra.cache import locked
with locked(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()  # hold it until told to let go
"""


def test_a_lock_held_by_another_process_excludes_this_one_until_released(tmp_path):
    path = tmp_path / "entry.bin"
    holder = python(HOLD_LOCK, str(path), stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(filelock.Timeout):
            with locked(path, timeout=0.2):
                pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        with locked(path, timeout=5):
            pass
    finally:
        holder.kill()


COMPUTE_ONCE = """
import sys, time
from pathlib import Path
from loyalty_tests.infra.cache import cached_file

entry, log = Path(sys.argv[1]), Path(sys.argv[2])
(entry.parent / f"ready-{sys.argv[3]}").touch()
while len(list(entry.parent.glob("ready-*"))) < 2:  # start together, so the two really overlap
    time.sleep(0.01)

def compute():
    with open(log, "a") as handle:
        handle.write("computed\\n")
    time.sleep(0.5)  # long enough for the other process to arrive and wait
    return 42

value, _ = cached_file(entry, "k", compute=compute, dump=lambda v: ('{"key": "k", "value": %d}' % v).encode(),
                       read_key=lambda p: __import__("json").loads(p.read_text())["key"],
                       load=lambda p: __import__("json").loads(p.read_text())["value"])
print(value)
"""


def test_two_processes_needing_one_entry_compute_it_once(tmp_path):
    entry, log = tmp_path / "entry.json", tmp_path / "computed.log"
    workers = [python(COMPUTE_ONCE, str(entry), str(log), str(i)) for i in range(2)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [out.strip() for out, _ in outputs] == ["42", "42"], outputs
    assert log.read_text() == "computed\n"


# ---- verified reads and writes -------------------------------------------------------------------


def test_read_verified_serves_only_an_entry_with_its_key(tmp_path):
    path = tmp_path / "entry.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing entry is a plain miss: no warning
        assert read_verified(path, "k", read_key=read_key, load=load) is None
    path.write_bytes(dump_for("k")(7))
    assert read_verified(path, "k", read_key=read_key, load=load) == 7
    with pytest.warns(LoyaltyCacheWarning, match=r"entry.json belongs to another entry \(it was written under key k"):
        assert read_verified(path, "other", read_key=read_key, load=load) is None
    path.write_text("{not json")
    with pytest.warns(LoyaltyCacheWarning, match=r"entry.json is unreadable \(JSONDecodeError"):
        assert read_verified(path, "k", read_key=read_key, load=load) is None


def test_write_verified_publishes_only_what_reads_back(tmp_path):
    path = tmp_path / "entry.json"
    assert write_verified(path, "k", dump_for("k")(1), read_key=read_key, load=load)
    assert load(path) == 1
    with pytest.warns(LoyaltyCacheWarning, match="reads back with another key"):
        assert not write_verified(path, "k", dump_for("other")(2), read_key=read_key, load=load)
    with pytest.warns(LoyaltyCacheWarning, match="does not read back"):
        assert not write_verified(path, "k", b'{"key": "k"}', read_key=read_key, load=load)
    assert load(path) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["entry.json"]


def test_write_verified_into_a_folder_that_cannot_exist_warns_and_returns_false(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.warns(LoyaltyCacheWarning, match="could not write cache file"):
        assert not write_verified(tmp_path / "a-file" / "entry.json", "k", dump_for("k")(1), read_key=read_key)


def test_writable_probes_and_leaves_nothing(tmp_path):
    assert writable(tmp_path / "new" / "folder") and list((tmp_path / "new" / "folder").iterdir()) == []
    (tmp_path / "a-file").write_text("")
    assert not writable(tmp_path / "a-file" / "sub")


# ---- cached entries ----------------------------------------------------------------------------------


def test_cached_file_computes_once_and_replaces_a_bad_entry(tmp_path):
    path, calls = tmp_path / "entry.json", []

    def compute():
        calls.append(1)
        return len(calls)

    arguments = dict(compute=compute, dump=dump_for("k"), read_key=read_key, load=load)
    assert cached_file(path, "k", **arguments) == (1, False)
    assert cached_file(path, "k", **arguments) == (1, True)
    path.write_bytes(b"")
    with pytest.warns(LoyaltyCacheWarning, match="is unreadable"):
        assert cached_file(path, "k", **arguments) == (2, False)
    assert cached_file(path, "k", **arguments) == (2, True)


def test_cached_folder_builds_once_then_verifies_the_marker(tmp_path):
    builds = []

    def save(folder, prepared):
        builds.append(prepared)
        (folder / "data.txt").write_text("built")
        (folder / "marker.json").write_text(json.dumps({"key": "k"}))

    arguments = dict(
        prepare=lambda: "trained",
        save=save,
        read_key=lambda f: read_key(f / "marker.json"),
        load=lambda f: (f / "data.txt").read_text(),
    )
    target = tmp_path / "entry"
    assert cached_folder(target, "k", **arguments) == ("built", False, target)
    assert cached_folder(target, "k", **arguments) == ("built", True, target)
    assert builds == ["trained"] and target.stat().st_mode & 0o777 == 0o755
    (target / "marker.json").write_text(json.dumps({"key": "other"}))
    with pytest.warns(LoyaltyCacheWarning, match="belongs to another entry"):
        assert cached_folder(target, "k", **arguments) == ("built", False, target)
    assert len(builds) == 2 and [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_folder_build_leaves_no_staging_behind(tmp_path):
    def save(folder, prepared):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("disk trouble")

    with pytest.raises(RuntimeError, match="disk trouble"):
        cached_folder(tmp_path / "entry", "k", save=save, read_key=lambda f: "k", load=lambda f: None)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


# ---- cleanup -----------------------------------------------------------------------------------------


def test_clean_orphans_removes_only_old_temporaries(tmp_path):
    old_file, old_dir = tmp_path / ".a.npz.1.tmp", tmp_path / ".b.1.tmp"
    young, entry = tmp_path / ".c.npz.2.tmp", tmp_path / "entry.npz"
    old_dir.mkdir()
    (old_dir / "inside").write_text("x")
    for path in (old_file, young, entry):
        path.write_text("x")
    long_ago = time.time() - 2 * cache.ORPHAN_AGE_SECONDS
    for path in (old_file, old_dir, entry):
        os.utime(path, (long_ago, long_ago))
    assert sorted(p.name for p in clean_orphans(tmp_path)) == [".a.npz.1.tmp", ".b.1.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".c.npz.2.tmp", "entry.npz"]
    assert clean_orphans(tmp_path / "missing") == []
