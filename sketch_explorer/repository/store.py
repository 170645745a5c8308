"""A persistent sketch repository on SQLite (SPEC section 5).

:class:`SketchRepository` keeps the overall sketches a network produced (and, on request, its
object sketches and communication graphs) in one SQLite file, with each sketch's metadata: the
input id, a label, a time and free-form JSON fields. All sketches of a repository come from one
matrix bank, whose identity (family, d, seed, parameters) is stored when the file is created;
a sketch from another bank is refused with a :class:`~sketch_explorer.BankMismatchError` that
names the differing field.

Storage
-------
* One SQLite file in WAL mode (readers never block the writer, nor the writer the readers),
  ``PRAGMA application_id`` set to :data:`APPLICATION_ID` and ``PRAGMA user_version`` to
  :data:`SCHEMA_VERSION`, repeated in the ``repository`` table with the bank identity.
* A vector is stored as the little-endian bytes of its kept prefix (``kept`` coordinates,
  recorded per row), as float32 by default. float32 keeps 24 significant bits: each stored
  coordinate differs from the float64 value by at most ``2^-24`` relative (about 6e-8), far
  below the sketch's own noise ``||s|| / sqrt(d)`` per coordinate; inner products change by at
  most ``2^-24 ||a|| ||b||``. Pass ``dtype="float64"`` at creation to store exactly.
* A CRC-32 of each vector's bytes is stored beside it and checked on every read, so a flipped
  bit is reported, never returned. Metadata are JSON text; nothing is pickled.

Guarantees
----------
* Every write is one SQLite transaction: :meth:`SketchRepository.add_many` validates every
  record first (finite values, dimension, bank, metadata) and then writes all or nothing. A
  process killed mid-batch leaves what was committed before intact and nothing half-written.
* A reader that wraps its calls in :meth:`SketchRepository.snapshot` sees one consistent state
  while a writer adds.
* A file that is not an SQLite database, an SQLite database of another application, or a
  repository of another schema version raises :class:`RepositoryFileError` (or its subclass
  :class:`SchemaVersionError`) naming the file and what is wrong.

Not guaranteed: durability of the last commits on power loss (``synchronous=NORMAL``, the usual
WAL setting; pass ``synchronous="FULL"`` for that), safety on network file systems (SQLite's
WAL needs shared memory on one machine), or concurrent creation of the same new file by two
processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import sqlite3
import zlib
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..graph import CommunicationGraph
from ..io import dumps_graph, loads_graph
from ..matrices import BankIdentity, MatrixBank
from ..sketch import RecursiveSketch, Sketch

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "DTYPES",
    "RepositoryError",
    "RepositoryFileError",
    "SchemaVersionError",
    "DuplicateSketchError",
    "SketchRecord",
    "StoredSketch",
    "SketchRepository",
]

logger = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of a sketch repository (ASCII "SkRp").
APPLICATION_ID = 0x536B5270
#: Version of the table layout; a file of another version is refused.
SCHEMA_VERSION = 1
#: Storage types of the vectors.
DTYPES = ("float32", "float64")
_FORMAT_NAME = "sketch_explorer.repository"
_SQLITE_HEADER = b"SQLite format 3\x00"
_KINDS = ("overall", "object")

_SCHEMA = """
CREATE TABLE repository (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sketches (
    id INTEGER PRIMARY KEY,
    input_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('overall', 'object')),
    object_name TEXT NOT NULL DEFAULT '',
    module TEXT,
    label,
    time REAL,
    fields TEXT NOT NULL DEFAULT '{}',
    kept INTEGER NOT NULL CHECK (kept >= 1),
    vector BLOB NOT NULL,
    checksum INTEGER NOT NULL,
    added INTEGER NOT NULL,
    last_access INTEGER NOT NULL,
    UNIQUE (input_id, kind, object_name)
);
CREATE INDEX sketches_kind_time ON sketches (kind, time);
CREATE INDEX sketches_access ON sketches (last_access);
CREATE TABLE graphs (input_id TEXT PRIMARY KEY, graph TEXT NOT NULL);
"""


# ---------------------------------------------------------------------------- errors
class RepositoryError(ValueError):
    """A repository operation was refused (bad record, duplicate, locked database)."""


class RepositoryFileError(RepositoryError):
    """The file is not a readable sketch repository: missing, corrupt or foreign."""


class SchemaVersionError(RepositoryFileError):
    """The file is a sketch repository of a schema version this library does not read."""


class DuplicateSketchError(RepositoryError):
    """A sketch with the same input id, kind and object name is already stored."""


# ---------------------------------------------------------------------------- records
@dataclass
class SketchRecord:
    """One sketch to add, with its metadata.

    Parameters
    ----------
    input_id : hashable
        Identifies the input; stored as text (``str(input_id)``). With ``kind`` and
        ``object_name`` it is unique in the repository.
    sketch : Sketch, RecursiveSketch or (d,) array_like
        The overall sketch. A :class:`RecursiveSketch` also provides object sketches and the
        graph. A plain array is taken to come from the repository's bank. An erased
        :class:`Sketch` is accepted if it keeps a prefix.
    label : int, float, str or None
    time : float or None
        Any number that orders the inputs (a day, a timestamp).
    fields : mapping, optional
        Free-form metadata; must be JSON-serialisable (numpy scalars are converted).
    graph : CommunicationGraph, optional
        Stored as node-link JSON when given (or taken from a RecursiveSketch when the
        repository is asked to store graphs).
    """

    input_id: Hashable
    sketch: object
    label: object = None
    time: float | None = None
    fields: Mapping | None = None
    graph: CommunicationGraph | None = None


@dataclass(frozen=True)
class StoredSketch:
    """A sketch read back from the repository, with its metadata."""

    id: int
    input_id: str
    kind: str
    object_name: str
    module: str | None
    label: object
    time: float | None
    fields: dict = field(default_factory=dict)
    kept: int = 0
    sketch: Sketch | None = None


@dataclass
class _Row:
    input_id: str
    kind: str
    object_name: str
    module: str | None
    label: object
    time: float | None
    fields: str
    kept: int
    vector: bytes
    checksum: int


# ---------------------------------------------------------------------------- helpers
def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable")


def _dump_fields(fields, where: str) -> str:
    if fields is None:
        return "{}"
    if not isinstance(fields, Mapping):
        raise TypeError(f"{where}: fields must be a mapping; got {type(fields).__name__}")
    try:
        return json.dumps(dict(fields), default=_json_default, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise RepositoryError(f"{where}: fields cannot be stored as JSON ({exc})") from None


def _check_label(label, where: str):
    if label is None or isinstance(label, str):
        return label
    if isinstance(label, (bool, np.bool_)):
        return int(label)
    if isinstance(label, numbers.Integral):
        return int(label)
    if isinstance(label, numbers.Real):
        value = float(label)
        if not math.isfinite(value):
            raise RepositoryError(f"{where}: label must be finite; got {label!r}")
        return value
    raise TypeError(
        f"{where}: label must be an int, float, str or None; got {type(label).__name__}"
    )


def _check_time(time, where: str):
    if time is None:
        return None
    if isinstance(time, (bool, np.bool_)) or not isinstance(time, numbers.Real):
        raise TypeError(f"{where}: time must be a number or None; got {type(time).__name__}")
    value = float(time)
    if not math.isfinite(value):
        raise RepositoryError(f"{where}: time must be finite; got {time!r}")
    return value


def _wrap_sqlite(path: Path, exc: sqlite3.Error) -> RepositoryError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return RepositoryError(f"{path}: the database is locked by another writer ({text})")
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in text:
        return RepositoryError(f"{path}: the repository is open read-only ({text})")
    return RepositoryFileError(f"{path}: not a readable sketch repository ({text})")


# ---------------------------------------------------------------------------- the repository
class SketchRepository:
    """A persistent store of sketches of one matrix bank, in one SQLite file.

    Parameters
    ----------
    path : str or path-like
        The database file. Created when missing (then ``bank`` is required).
    bank : MatrixBank or BankIdentity, optional
        The bank of every sketch stored here. Required to create a file; when opening an
        existing file it is checked against the stored identity.
    mode : {"rw", "r"}, default="rw"
        ``"r"`` opens read-only (SQLite ``mode=ro``): every write raises RepositoryError.
    dtype : {"float32", "float64"}, default="float32"
        Storage type of the vectors, fixed at creation (see the module docstring for the
        loss of float32).
    timeout : float, default=30.0
        Seconds to wait for another writer's lock before raising RepositoryError.
    synchronous : {"NORMAL", "FULL"}, default="NORMAL"
        SQLite's durability setting (NORMAL survives a killed process, FULL also power loss).

    Raises
    ------
    RepositoryFileError
        Missing file in mode "r", a file that is not SQLite, an SQLite file of another
        application, or a corrupt one.
    SchemaVersionError
        A repository of another schema version.
    BankMismatchError
        ``bank`` differs from the stored bank; the message names the field.

    Examples
    --------
    >>> import tempfile, os
    >>> from sketch_explorer import MatrixBank
    >>> bank = MatrixBank(64, "fast", seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "r.sqlite")
    >>> with SketchRepository(path, bank) as repo:
    ...     _ = repo.add(np.ones(64), input_id="a", label=1)
    ...     len(repo)
    1
    """

    def __init__(
        self,
        path,
        bank: MatrixBank | BankIdentity | None = None,
        *,
        mode: str = "rw",
        dtype: str = "float32",
        timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = Path(path)
        if mode not in ("rw", "r"):
            raise ValueError(f"mode must be 'rw' or 'r'; got {mode!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL'; got {synchronous!r}")
        identity = self._identity_of(bank)
        self.mode = mode
        self._snapshot_depth = 0
        self._conn: sqlite3.Connection | None = None

        exists = self.path.exists()
        if exists and self.path.is_dir():
            raise RepositoryFileError(f"{self.path}: is a directory, not a repository file")
        if not exists and mode == "r":
            raise RepositoryFileError(f"{self.path}: no such repository file")
        if not exists and identity is None:
            raise ValueError(
                f"{self.path} does not exist; creating a repository needs bank= (a MatrixBank "
                "or BankIdentity)"
            )
        if exists:
            self._check_header()
        try:
            self._conn = self._connect(timeout)
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            if exists:
                self._read_meta()
            else:
                self._create(identity, dtype)
        except sqlite3.Error as exc:
            self.close()
            raise _wrap_sqlite(self.path, exc) from None
        except BaseException:
            self.close()
            raise
        if identity is not None:
            try:
                self.bank.check_same(identity, "the repository and the given bank")
            except BaseException:
                self.close()
                raise
        logger.debug("opened repository %s (%s, d=%d)", self.path, self.bank.family, self.d)

    # ------------------------------------------------------------------ opening
    @staticmethod
    def _identity_of(bank) -> BankIdentity | None:
        if bank is None:
            return None
        if isinstance(bank, MatrixBank):
            return bank.identity
        if isinstance(bank, BankIdentity):
            return bank
        raise TypeError(f"bank must be a MatrixBank or BankIdentity; got {type(bank).__name__}")

    def _check_header(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise RepositoryFileError(f"{self.path}: cannot read ({exc.strerror})") from None
        if head != _SQLITE_HEADER:
            what = "an empty file" if not head else "not an SQLite database"
            raise RepositoryFileError(
                f"{self.path}: {what}, so not a sketch repository (corrupt or foreign file)"
            )

    def _connect(self, timeout: float) -> sqlite3.Connection:
        if self.mode == "r":
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        else:
            conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        return conn

    def _create(self, identity: BankIdentity, dtype: str) -> None:
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RepositoryFileError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = {
                "format": _FORMAT_NAME,
                "schema_version": str(SCHEMA_VERSION),
                "bank": json.dumps(_identity_json(identity)),
                "dtype": dtype,
                "clock": "0",
            }
            conn.executemany("INSERT INTO repository VALUES (?, ?)", meta.items())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._bank = identity
        self._dtype = np.dtype(dtype).newbyteorder("<")
        logger.info("created repository %s for %r", self.path, identity)

    def _read_meta(self) -> None:
        conn = self._conn
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        if app != APPLICATION_ID:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
            raise RepositoryFileError(
                f"{self.path}: an SQLite database but not a sketch repository "
                f"(application_id {app:#x}, expected {APPLICATION_ID:#x}; tables {tables})"
            )
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path}: repository schema version {version} is not supported (this "
                f"library reads version {SCHEMA_VERSION})"
            )
        try:
            meta = dict(conn.execute("SELECT key, value FROM repository").fetchall())
        except sqlite3.OperationalError as exc:
            raise RepositoryFileError(f"{self.path}: repository table missing ({exc})") from None
        if meta.get("format") != _FORMAT_NAME or meta.get("schema_version") != str(
            SCHEMA_VERSION
        ):
            raise SchemaVersionError(
                f"{self.path}: repository table says format {meta.get('format')!r}, schema "
                f"version {meta.get('schema_version')!r}; expected {_FORMAT_NAME!r}, "
                f"{SCHEMA_VERSION}"
            )
        try:
            self._bank = _identity_from_json(json.loads(meta["bank"]))
            dtype = meta["dtype"]
            if dtype not in DTYPES:
                raise ValueError(f"dtype {dtype!r}")
        except (KeyError, ValueError, TypeError) as exc:
            raise RepositoryFileError(
                f"{self.path}: repository metadata are damaged ({exc})"
            ) from None
        self._dtype = np.dtype(dtype).newbyteorder("<")

    # ------------------------------------------------------------------ basics
    @property
    def bank(self) -> BankIdentity:
        """Identity of the matrix bank of every stored sketch."""
        return self._bank

    @property
    def d(self) -> int:
        """Sketch dimension d."""
        return self._bank.d

    @property
    def dtype(self) -> np.dtype:
        """Storage type of the vectors (little-endian float32 or float64)."""
        return self._dtype

    def matrix_bank(self, **kwargs) -> MatrixBank:
        """A :class:`MatrixBank` with the stored identity (``kwargs`` go to its constructor)."""
        params = dict(self._bank.params)
        return MatrixBank(self.d, self._bank.family, self._bank.seed, **params, **kwargs)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "SketchRepository":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else f"{len(self)} overall sketches"
        return (
            f"SketchRepository({str(self.path)!r}, family={self._bank.family!r}, d={self.d}, "
            f"seed={self._bank.seed}, {state})"
        )

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RepositoryError(f"{self.path}: the repository is closed")
        return self._conn

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _wrap_sqlite(self.path, exc) from None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator["SketchRepository"]:
        """Read inside one transaction: every call in the block sees the same state.

        In WAL mode a reader's snapshot is fixed at its first read; a writer may commit
        meanwhile without blocking or being blocked. Nested use is allowed.
        """
        conn = self._db()
        if self._snapshot_depth == 0:
            conn.execute("BEGIN")
        self._snapshot_depth += 1
        try:
            yield self
        finally:
            self._snapshot_depth -= 1
            if self._snapshot_depth == 0 and self._conn is not None:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.mode == "r":
            raise RepositoryError(f"{self.path}: the repository is open read-only")
        if self._snapshot_depth:
            raise RepositoryError("cannot write inside snapshot(); leave the block first")
        conn = self._db()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _wrap_sqlite(self.path, exc) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise DuplicateSketchError(f"{self.path}: {exc}") from None
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _wrap_sqlite(self.path, exc) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _tick(self, conn: sqlite3.Connection) -> int:
        """Advance and return the logical clock used for recency (inside a write)."""
        (clock,) = conn.execute("SELECT value FROM repository WHERE key='clock'").fetchone()
        clock = int(clock) + 1
        conn.execute("UPDATE repository SET value=? WHERE key='clock'", (str(clock),))
        return clock

    def __len__(self) -> int:
        """Number of overall sketches."""
        return int(self._query("SELECT COUNT(*) FROM sketches WHERE kind='overall'")[0][0])

    def count(self, kind: str = "overall") -> int:
        """Number of sketches of ``kind`` ("overall", "object" or "all")."""
        if kind == "all":
            return int(self._query("SELECT COUNT(*) FROM sketches")[0][0])
        return int(self._query("SELECT COUNT(*) FROM sketches WHERE kind=?", (_kind(kind),))[0][0])

    # ------------------------------------------------------------------ validation
    def _vector(self, values, where: str) -> tuple[bytes, int, int]:
        """Validate one vector; return (bytes, kept, crc). The caller's array is untouched."""
        kept = self.d
        if isinstance(values, Sketch):
            self._bank.check_same(values.bank, f"{where}: the sketch and the repository")
            if values.kept is not None:
                n = int(values.kept.size)
                if not np.array_equal(values.kept, np.arange(n)):
                    raise RepositoryError(
                        f"{where}: only prefix-erased sketches can be stored (kept coordinates "
                        "must be 0..d'-1)"
                    )
                kept = n
            values = values.values
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: sketch values must be numbers ({exc})") from None
        if arr.ndim != 1 or arr.size != kept:
            raise RepositoryError(
                f"{where}: sketch must be a 1-d vector of length d={self.d} for this "
                f"repository; got shape {arr.shape}"
                if kept == self.d
                else f"{where}: erased sketch has {arr.size} values for {kept} kept coordinates"
            )
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise RepositoryError(
                f"{where}: sketch coordinate {bad[0]} is {arr[bad[0]]} (values must be finite; "
                f"{bad.size} bad coordinate(s))"
            )
        data = arr.astype(self._dtype, copy=True).tobytes()
        if self._dtype.itemsize == 4:
            with np.errstate(over="ignore"):
                if not np.all(np.isfinite(arr.astype(np.float32))):
                    raise RepositoryError(f"{where}: sketch values overflow float32")
        return data, kept, zlib.crc32(data)

    def _rows(self, record: SketchRecord, store_objects: bool, store_graphs: bool):
        """Validate one record into table rows (overall, then objects) and an optional graph."""
        if not isinstance(record, SketchRecord):
            if isinstance(record, Mapping):
                record = SketchRecord(**record)
            else:
                raise TypeError(
                    f"records must be SketchRecord or mapping; got {type(record).__name__}"
                )
        input_id = str(record.input_id)
        where = f"input {input_id!r}"
        label = _check_label(record.label, where)
        time = _check_time(record.time, where)
        fields = _dump_fields(record.fields, where)
        sketch = record.sketch
        graph = record.graph
        objects: list[_Row] = []
        if isinstance(sketch, RecursiveSketch):
            if graph is None and store_graphs:
                graph = sketch.graph
            if store_objects:
                self._bank.check_same(sketch.bank, f"{where}: the sketch and the repository")
                for r, name in enumerate(sketch.graph.objects):
                    data, kept, crc = self._vector(sketch.object_sketches[r], f"{where}/{name}")
                    objects.append(
                        _Row(input_id, "object", str(name), sketch.graph.module(name), label,
                             time, fields, kept, data, crc)
                    )
            sketch = sketch.overall
        data, kept, crc = self._vector(sketch, where)
        rows = [_Row(input_id, "overall", "", None, label, time, fields, kept, data, crc)]
        graph_json = None
        if graph is not None:
            if not isinstance(graph, CommunicationGraph):
                raise TypeError(f"{where}: graph must be a CommunicationGraph")
            graph_json = dumps_graph(graph, "json").decode("utf-8")
        return rows + objects, graph_json

    # ------------------------------------------------------------------ writing
    def add(
        self,
        sketch,
        *,
        input_id: Hashable,
        label=None,
        time: float | None = None,
        fields: Mapping | None = None,
        graph: CommunicationGraph | None = None,
        store_objects: bool = False,
        store_graphs: bool = False,
    ) -> int:
        """Add one sketch; return its id. See :meth:`add_many` for the parameters."""
        record = SketchRecord(input_id, sketch, label, time, fields, graph)
        return self.add_many([record], store_objects=store_objects, store_graphs=store_graphs)[0]

    def add_many(
        self,
        records: Iterable[SketchRecord | Mapping],
        *,
        on_conflict: str = "error",
        store_objects: bool = False,
        store_graphs: bool = False,
    ) -> list[int | None]:
        """Add many sketches in one transaction: all are stored, or none.

        Parameters
        ----------
        records : iterable of SketchRecord or mapping
            Mappings take the fields of :class:`SketchRecord` as keys.
        on_conflict : {"error", "skip"}, default="error"
            A record whose ``(input_id, kind, object_name)`` is already stored raises
            :class:`DuplicateSketchError` (and nothing is written), or is skipped (its id is
            returned as None). "skip" is what a resumed batch job uses.
        store_objects : bool, default=False
            Also store the object sketches of :class:`RecursiveSketch` records.
        store_graphs : bool, default=False
            Also store the communication graph of :class:`RecursiveSketch` records.

        Returns
        -------
        list
            The id of each record's overall sketch (None where skipped).

        Raises
        ------
        RepositoryError
            A non-finite value, a wrong dimension, metadata that cannot be JSON: the message
            names the input; nothing is written.
        BankMismatchError
            A :class:`Sketch` from another bank (the message names the field).
        """
        if on_conflict not in ("error", "skip"):
            raise ValueError(f"on_conflict must be 'error' or 'skip'; got {on_conflict!r}")
        prepared = [self._rows(r, store_objects, store_graphs) for r in records]
        seen: set[tuple] = set()
        for rows, _g in prepared:
            key = (rows[0].input_id, "overall", "")
            if key in seen:
                raise DuplicateSketchError(
                    f"input {rows[0].input_id!r} appears twice in one batch"
                )
            seen.add(key)
        ids: list[int | None] = []
        verb = "INSERT OR IGNORE" if on_conflict == "skip" else "INSERT"
        with self._write() as conn:
            clock = self._tick(conn)
            for rows, graph_json in prepared:
                first = None
                for row in rows:
                    try:
                        cur = conn.execute(
                            f"{verb} INTO sketches (input_id, kind, object_name, module, label, "
                            "time, fields, kept, vector, checksum, added, last_access) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (row.input_id, row.kind, row.object_name, row.module, row.label,
                             row.time, row.fields, row.kept, row.vector, row.checksum, clock,
                             clock),
                        )
                    except sqlite3.IntegrityError:
                        name = f" object {row.object_name!r}" if row.object_name else ""
                        raise DuplicateSketchError(
                            f"input {row.input_id!r}{name}: a {row.kind} sketch is already "
                            "stored (pass on_conflict='skip' to skip stored inputs); nothing "
                            "of this batch was written"
                        ) from None
                    if first is None:
                        first = cur.lastrowid if cur.rowcount == 1 else None
                        if first is None:  # overall sketch already stored: skip the record
                            break
                if first is not None and graph_json is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO graphs VALUES (?, ?)",
                        (rows[0].input_id, graph_json),
                    )
                ids.append(first)
        logger.debug("added %d sketches to %s", sum(i is not None for i in ids), self.path)
        return ids

    def touch(self, ids: Iterable[int]) -> None:
        """Record an access to ``ids`` now (the recency an LRU policy reads).

        A no-op on a read-only repository.
        """
        ids = [int(i) for i in ids]
        if not ids or self.mode == "r" or self._snapshot_depth:
            return
        with self._write() as conn:
            clock = self._tick(conn)
            conn.executemany(
                "UPDATE sketches SET last_access=? WHERE id=?", [(clock, i) for i in ids]
            )

    def truncate(self, kept: Mapping[int, int]) -> int:
        """Keep only the first ``kept[id]`` coordinates of each given sketch (graceful erasure).

        All in one transaction. A sketch is never lengthened: a length at or above the stored
        one leaves it unchanged. Returns the number of sketches shortened.

        Notes
        -----
        The file does not shrink until :meth:`vacuum`; SQLite reuses the freed pages.
        """
        changes = {int(i): int(k) for i, k in kept.items()}
        for i, k in changes.items():
            if k < 1:
                raise ValueError(f"sketch {i}: kept length must be >= 1; got {k}")
        n = 0
        item = self._dtype.itemsize
        with self._write() as conn:
            for i, k in changes.items():
                row = conn.execute("SELECT kept, vector, checksum FROM sketches WHERE id=?", (i,))
                row = row.fetchone()
                if row is None:
                    raise RepositoryError(f"no sketch with id {i}")
                old, blob, crc = row
                self._verify(i, old, blob, crc)
                if k >= old:
                    continue
                data = bytes(blob[: k * item])
                conn.execute(
                    "UPDATE sketches SET kept=?, vector=?, checksum=? WHERE id=?",
                    (k, data, zlib.crc32(data), i),
                )
                n += 1
        return n

    def delete(self, ids: Iterable[int]) -> int:
        """Delete sketches by id (one transaction); return how many were deleted."""
        ids = [(int(i),) for i in ids]
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM sketches WHERE id=?", ids)
            return conn.total_changes - before

    def vacuum(self) -> None:
        """Rebuild the file to return freed space to the file system."""
        if self.mode == "r":
            raise RepositoryError(f"{self.path}: the repository is open read-only")
        try:
            self._db().execute("VACUUM")
        except sqlite3.Error as exc:
            raise _wrap_sqlite(self.path, exc) from None

    # ------------------------------------------------------------------ reading
    def _verify(self, i: int, kept: int, blob: bytes, crc: int) -> None:
        if len(blob) != kept * self._dtype.itemsize or kept > self.d:
            raise RepositoryFileError(
                f"{self.path}: sketch {i} is damaged: {len(blob)} bytes stored for {kept} kept "
                f"coordinates of {self._dtype.name}"
            )
        if zlib.crc32(blob) != crc:
            raise RepositoryFileError(f"{self.path}: sketch {i} is damaged (checksum mismatch)")

    def ids(self, kind: str = "overall") -> np.ndarray:
        """Ids of the sketches of ``kind``, increasing (insertion order)."""
        rows = self._query("SELECT id FROM sketches WHERE kind=? ORDER BY id", (_kind(kind),))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def input_ids(self, kind: str = "overall") -> set[str]:
        """The input ids already stored (what a resumed batch job skips)."""
        rows = self._query("SELECT input_id FROM sketches WHERE kind=?", (_kind(kind),))
        return {r[0] for r in rows}

    def table(self, kind: str = "overall", *, expand_fields: bool = True) -> pd.DataFrame:
        """Metadata of every sketch of ``kind`` as a DataFrame indexed by id.

        Columns: ``input_id``, ``object_name``, ``module``, ``label``, ``time``, ``kept``,
        ``nbytes``, ``added``, ``last_access``, then one column per free-form field (or a
        ``fields`` column of dicts when ``expand_fields`` is False).
        """
        rows = self._query(
            "SELECT id, input_id, object_name, module, label, time, kept, length(vector), added, "
            "last_access, fields FROM sketches WHERE kind=? ORDER BY id",
            (_kind(kind),),
        )
        cols = ["id", "input_id", "object_name", "module", "label", "time", "kept", "nbytes",
                "added", "last_access"]
        df = pd.DataFrame([r[:-1] for r in rows], columns=cols).set_index("id")
        fields = [json.loads(r[-1]) for r in rows]
        if expand_fields:
            extra = pd.DataFrame(fields, index=df.index)
            extra = extra[[c for c in extra.columns if c not in df.columns]]
            df = pd.concat([df, extra], axis=1)
        else:
            df["fields"] = fields
        return df

    def get(self, sketch_id: int) -> StoredSketch:
        """One stored sketch with its metadata (a prefix-erased :class:`Sketch` if truncated)."""
        rows = self._query(
            "SELECT id, input_id, kind, object_name, module, label, time, fields, kept, vector, "
            "checksum FROM sketches WHERE id=?",
            (int(sketch_id),),
        )
        if not rows:
            raise KeyError(f"no sketch with id {sketch_id} in {self.path}")
        i, input_id, kind, name, module, label, time, fields, kept, blob, crc = rows[0]
        self._verify(i, kept, blob, crc)
        values = np.frombuffer(blob, dtype=self._dtype).astype(np.float64)
        sketch = Sketch(values, self._bank, None if kept == self.d else np.arange(kept))
        return StoredSketch(i, input_id, kind, name, module, label, time, json.loads(fields),
                            kept, sketch)

    def sketch(self, sketch_id: int) -> Sketch:
        """The stored :class:`Sketch` of ``sketch_id``."""
        return self.get(sketch_id).sketch

    def find(self, input_id: Hashable, kind: str = "overall", object_name: str = "") -> int:
        """Id of the sketch of ``input_id`` (and object name, for object sketches)."""
        rows = self._query(
            "SELECT id FROM sketches WHERE input_id=? AND kind=? AND object_name=?",
            (str(input_id), _kind(kind), str(object_name)),
        )
        if not rows:
            raise KeyError(f"no {kind} sketch for input {str(input_id)!r} in {self.path}")
        return int(rows[0][0])

    def matrix(
        self, ids: Sequence[int] | None = None, kind: str = "overall", *, expanded: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stored vectors as one array.

        Parameters
        ----------
        ids : sequence of int, optional
            Which sketches, in this order; default every sketch of ``kind`` by id.
        expanded : bool, default=False
            False: ``(n, d)`` in the storage dtype, zeros beyond each kept prefix. True:
            float64, the kept coordinates multiplied by d/d' (:meth:`Sketch.expanded`), the
            form the estimators read.

        Returns
        -------
        ids : (n,) int ndarray
        V : (n, d) ndarray
        kept : (n,) int ndarray
        """
        if ids is None:
            rows = self._query(
                "SELECT id, kept, vector, checksum FROM sketches WHERE kind=? ORDER BY id",
                (_kind(kind),),
            )
        else:
            wanted = [int(i) for i in ids]
            found: dict[int, tuple] = {}
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for r in self._query(
                    f"SELECT id, kept, vector, checksum FROM sketches WHERE id IN ({marks})", chunk
                ):
                    found[r[0]] = r
            missing = [i for i in wanted if i not in found]
            if missing:
                raise KeyError(f"no sketch with id {missing[0]} in {self.path}")
            rows = [found[i] for i in wanted]
        n = len(rows)
        V = np.zeros((n, self.d), dtype=np.float64 if expanded else self._dtype.newbyteorder("="))
        out_ids = np.empty(n, dtype=np.int64)
        kept = np.empty(n, dtype=np.int64)
        for r, (i, k, blob, crc) in enumerate(rows):
            self._verify(i, k, blob, crc)
            V[r, :k] = np.frombuffer(blob, dtype=self._dtype)
            out_ids[r], kept[r] = i, k
        if expanded:
            V *= (self.d / kept)[:, None]
        return out_ids, V, kept

    def graph(self, input_id: Hashable) -> CommunicationGraph | None:
        """The stored communication graph of ``input_id``, or None if none was stored."""
        rows = self._query("SELECT graph FROM graphs WHERE input_id=?", (str(input_id),))
        if not rows:
            return None
        return loads_graph(rows[0][0], "json", source=f"{self.path}[graph {input_id!r}]")

    @property
    def nbytes(self) -> int:
        """Bytes of all stored vectors (metadata and SQLite overhead excluded)."""
        return int(self._query("SELECT COALESCE(SUM(length(vector)), 0) FROM sketches")[0][0])

    def check_integrity(self) -> dict:
        """Run SQLite's integrity check and verify every vector's checksum.

        Returns
        -------
        dict
            ``{"sqlite": "ok", "sketches": n}`` when all is well.

        Raises
        ------
        RepositoryFileError
            Naming the first problem found.
        """
        result = self._query("PRAGMA integrity_check")
        if [r[0] for r in result] != ["ok"]:
            raise RepositoryFileError(f"{self.path}: integrity check failed: {result[:3]}")
        n = 0
        for i, k, blob, crc in self._query("SELECT id, kept, vector, checksum FROM sketches"):
            self._verify(i, k, blob, crc)
            n += 1
        return {"sqlite": "ok", "sketches": n}

    # ------------------------------------------------------------------ questions
    def build_index(self, method: str = "exact", metric: str = "cosine", **params):
        """A nearest-neighbour index over the overall sketches; see :mod:`.index`."""
        from .index import build_index

        return build_index(self, method=method, metric=metric, **params)

    def nearest(self, query, k: int = 10, metric: str = "cosine", index=None, **kwargs):
        """Top-k stored sketches nearest ``query`` as a DataFrame; see :func:`.index.nearest`."""
        from .index import nearest

        return nearest(self, query, k=k, metric=metric, index=index, **kwargs)


def _kind(kind: str) -> str:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}")
    return kind


def _identity_json(identity: BankIdentity) -> dict:
    return {
        "family": identity.family,
        "d": identity.d,
        "seed": identity.seed,
        "params": [[k, v] for k, v in identity.params],
    }


def _identity_from_json(data: dict) -> BankIdentity:
    params = tuple((str(k), v) for k, v in data.get("params", []))
    return BankIdentity(str(data["family"]), int(data["d"]), int(data["seed"]), params)
