"""The SQLite sketch repository: round trips, refusals with clear messages, crash and
concurrency safety (a child process killed mid-batch; a reader beside a writer)."""

import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sketch_explorer import BankMismatchError, MatrixBank, sketch_graph
from sketch_explorer.datasets import room_scene
from sketch_explorer.repository import (
    DuplicateSketchError,
    RepositoryError,
    RepositoryFileError,
    SchemaVersionError,
    SketchRecord,
    SketchRepository,
)
from sketch_explorer.repository import store as store_module

D = 64


@pytest.fixture
def bank():
    return MatrixBank(D, "fast", seed=3)


@pytest.fixture
def repo(tmp_path, bank):
    with SketchRepository(tmp_path / "r.sqlite", bank) as r:
        yield r


def test_round_trip_and_metadata(tmp_path, bank):
    rs = sketch_graph(room_scene(1).graph, bank)
    path = tmp_path / "r.sqlite"
    with SketchRepository(path, bank, dtype="float64") as repo:
        i = repo.add(rs, input_id="day 1", label=3, time=1.5, fields={"cat": True},
                     store_objects=True, store_graphs=True)
        assert repo.count("object") == len(rs.graph)
    with SketchRepository(path) as repo:  # reopened without a bank: identity from the file
        assert repo.bank == bank.identity
        got = repo.get(i)
        assert (got.input_id, got.label, got.time, got.fields) == ("day 1", 3, 1.5, {"cat": True})
        np.testing.assert_array_equal(got.sketch.values, rs.overall.values)  # float64: exact
        assert repo.graph("day 1").objects == rs.graph.objects
        assert repo.check_integrity() == {"sqlite": "ok", "sketches": 1 + len(rs.graph)}
        journal = repo._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert journal == "wal"


def test_float32_loss_is_bounded_and_caller_array_untouched(repo):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((D, 3))
    strided = base[:, 1]  # a strided view
    readonly = rng.standard_normal(D)
    readonly.setflags(write=False)
    before = strided.copy()
    ids = repo.add_many([SketchRecord("a", strided), SketchRecord("b", readonly)])
    np.testing.assert_array_equal(strided, before)
    for i, x in zip(ids, (strided, readonly)):
        y = repo.sketch(i).values
        # float32 rounding: relative error at most 2^-24 per coordinate
        assert np.all(np.abs(y - x) <= 2.0**-24 * np.abs(x))


def test_bank_mismatch_names_the_field(tmp_path, bank, repo):
    other = MatrixBank(D, "fast", seed=4)
    with pytest.raises(BankMismatchError, match="seed 3 != 4"):
        SketchRepository(repo.path, other)
    s = sketch_graph(room_scene(0).graph, MatrixBank(D, "haar", seed=3)).overall
    with pytest.raises(BankMismatchError, match="family 'fast' != 'haar'"):
        repo.add(s, input_id="x")
    assert len(repo) == 0


@pytest.mark.parametrize(
    "values, match",
    [
        (np.r_[np.zeros(D - 1), np.nan], r"input 'bad': sketch coordinate 63 is nan"),
        (np.zeros(D + 1), r"input 'bad': sketch must be a 1-d vector of length d=64"),
        (np.zeros((2, D)), r"got shape \(2, 64\)"),
    ],
)
def test_bad_vectors_are_refused_and_nothing_is_written(repo, values, match):
    good = SketchRecord("good", np.ones(D))
    with pytest.raises(RepositoryError, match=match):
        repo.add_many([good, SketchRecord("bad", values)])
    assert len(repo) == 0


def test_bad_metadata_is_refused(repo):
    with pytest.raises(RepositoryError, match="fields cannot be stored as JSON"):
        repo.add(np.ones(D), input_id="a", fields={"x": float("nan")})
    with pytest.raises(TypeError, match="label must be an int, float, str or None"):
        repo.add(np.ones(D), input_id="a", label=[1])
    assert len(repo) == 0


def test_duplicates(repo):
    repo.add(np.ones(D), input_id=1)
    with pytest.raises(DuplicateSketchError, match="input '1'.*already stored"):
        repo.add_many([SketchRecord(2, np.ones(D)), SketchRecord(1, np.ones(D))])
    assert len(repo) == 1  # the batch was rolled back whole
    ids = repo.add_many([SketchRecord(2, np.ones(D)), SketchRecord(1, np.ones(D))],
                        on_conflict="skip")
    assert ids[1] is None and len(repo) == 2
    with pytest.raises(DuplicateSketchError, match="twice in one batch"):
        repo.add_many([SketchRecord(3, np.ones(D)), SketchRecord(3, np.ones(D))])


def test_truncate_keeps_a_prefix_and_never_grows(repo):
    x = np.arange(1.0, D + 1)
    i = repo.add(x, input_id="a")
    assert repo.truncate({i: 16}) == 1
    s = repo.sketch(i)
    assert s.n_kept == 16 and s.is_erased
    np.testing.assert_array_equal(s.values, x[:16])
    assert repo.truncate({i: 32}) == 0 and repo.sketch(i).n_kept == 16
    _ids, V, kept = repo.matrix(expanded=True)
    np.testing.assert_allclose(V[0], s.expanded())
    assert kept[0] == 16 and repo.nbytes == 16 * 4


def test_not_a_repository_files(tmp_path, bank):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(RepositoryFileError, match="not an SQLite database"):
        SketchRepository(junk)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(RepositoryFileError, match="an empty file"):
        SketchRepository(empty, bank)
    foreign = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(RepositoryFileError, match="SQLite database but not a sketch repository"):
        SketchRepository(foreign)
    with pytest.raises(RepositoryFileError, match="no such repository file"):
        SketchRepository(tmp_path / "missing.sqlite", mode="r")
    with pytest.raises(ValueError, match="needs bank="):
        SketchRepository(tmp_path / "new.sqlite")


def test_wrong_schema_version(tmp_path, bank):
    path = tmp_path / "r.sqlite"
    SketchRepository(path, bank).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version=99")
    con.close()
    with pytest.raises(SchemaVersionError, match="schema version 99 is not supported"):
        SketchRepository(path)


def test_damaged_vector_is_reported_not_returned(tmp_path, bank):
    path = tmp_path / "r.sqlite"
    with SketchRepository(path, bank) as repo:
        i = repo.add(np.ones(D), input_id="a")
    con = sqlite3.connect(path)
    blob = bytearray(con.execute("SELECT vector FROM sketches").fetchone()[0])
    blob[5] ^= 0x40
    con.execute("UPDATE sketches SET vector=?", (bytes(blob),))
    con.commit()
    con.close()
    with SketchRepository(path) as repo:
        with pytest.raises(RepositoryFileError, match=f"sketch {i} is damaged"):
            repo.get(i)
        with pytest.raises(RepositoryFileError, match="checksum mismatch"):
            repo.check_integrity()


def test_corrupted_pages_give_a_clear_error(tmp_path, bank):
    path = tmp_path / "r.sqlite"
    with SketchRepository(path, bank) as repo:
        repo.add_many([SketchRecord(k, np.ones(D)) for k in range(200)])
    data = bytearray(path.read_bytes())
    for pos in range(4096, len(data), 97):  # keep the header, scramble every later page
        data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RepositoryFileError, match="r.sqlite"):
        with SketchRepository(path) as repo:
            repo.matrix()


def test_read_only_mode_refuses_writes(tmp_path, bank):
    path = tmp_path / "r.sqlite"
    SketchRepository(path, bank).close()
    with SketchRepository(path, mode="r") as repo:
        with pytest.raises(RepositoryError, match="read-only"):
            repo.add(np.ones(D), input_id="a")


def test_no_pickle_in_storage():
    source = inspect.getsource(store_module)
    assert "import pickle" not in source and "pickle." not in source


# ---------------------------------------------------------------------------- processes
_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from sketch_explorer import MatrixBank
    from sketch_explorer.repository import SketchRepository, SketchRecord
    path, batch, n_batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    repo = SketchRepository(path, MatrixBank(256, "fast", seed=0))
    for b in range(n_batches):
        recs = [SketchRecord(b * batch + j, np.full(256, float(b * batch + j)))
                for j in range(batch)]
        repo.add_many(recs)
        print("committed", b, flush=True)
    """
)


def _start_writer(path, batch, n_batches):
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(batch), str(n_batches)],
                            stdout=subprocess.PIPE, text=True)


def _check_consistent(repo, batch):
    with repo.snapshot():
        n = len(repo)
        ids, V, kept = repo.matrix()
        table = repo.table()
    assert n == len(ids) == len(table) and n % batch == 0
    # every stored vector is the one written for its input, whole
    expected = table["input_id"].astype(float).to_numpy()
    np.testing.assert_array_equal(V, np.repeat(expected[:, None], V.shape[1], axis=1))
    return n


def test_killed_writer_leaves_committed_batches_intact(tmp_path):
    path = tmp_path / "crash.sqlite"
    batch = 400
    proc = _start_writer(path, batch, 10_000)
    for _ in range(3):
        assert proc.stdout.readline().startswith("committed")
    time.sleep(0.05)  # let it be in the middle of the next transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with SketchRepository(path) as repo:
        assert repo.check_integrity()["sqlite"] == "ok"
        assert _check_consistent(repo, batch) >= 3 * batch


def test_reader_sees_consistent_state_while_writer_adds(tmp_path):
    path = tmp_path / "conc.sqlite"
    batch = 50
    SketchRepository(path, MatrixBank(256, "fast", seed=0)).close()
    proc = _start_writer(path, batch, 60)
    try:
        assert proc.stdout.readline().startswith("committed")
        seen = set()
        with SketchRepository(path, mode="r") as reader:
            for _ in range(2000):
                seen.add(_check_consistent(reader, batch))
                if proc.poll() is not None:
                    break
        proc.stdout.read()
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert len(seen) >= 2  # the reader really ran beside the writer
