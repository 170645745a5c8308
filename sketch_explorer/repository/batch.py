"""Sketch a whole dataset into a repository, in resumable batches, locally or through Dask.

A :class:`DatasetSource` names the inputs (``keys``) and says how to make each one's
communication graph and metadata (``make``). :func:`ingest` sketches the inputs that are not
stored yet, batch by batch, each batch committed in one transaction, with a progress bar; a job
that is interrupted (an exception, Ctrl-C, a killed process) is resumed by calling it again,
and skips what is already stored. :func:`ingest_dask` does the sketching as Dask tasks (one per
batch): on the local scheduler by default, or on a ``distributed`` client when one is given;
the repository, in this process, ingests the results as they arrive.

Guarantees: every stored batch is complete (one transaction); a resumed job never stores an
input twice (the repository's uniqueness of ``(input_id, kind, object_name)``).

Not guaranteed: with a distributed client, ``source.make`` and its data must be serialisable
to the workers (Dask uses cloudpickle for transport; nothing is pickled into the repository).
Inputs are identified by ``str(key)``: two keys with the same text are the same input.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from ..matrices import BankIdentity, MatrixBank
from ..sketch import sketch_graph
from .store import SketchRecord, SketchRepository

__all__ = [
    "DatasetSource",
    "IngestReport",
    "digits_source",
    "rooms_source",
    "ingest",
    "ingest_dask",
    "sketch_batch",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetSource:
    """The inputs of a dataset and how to make each one's graph and metadata.

    Attributes
    ----------
    name : str
    keys : sequence of hashable
        Input ids, in arrival order.
    make : callable
        ``make(key) -> (graph, meta)`` with ``graph`` a CommunicationGraph and ``meta`` a dict
        that may hold ``label``, ``time`` and ``fields``.
    """

    name: str
    keys: Sequence[Hashable]
    make: Callable


@dataclass(frozen=True)
class IngestReport:
    """What a batch job did: sketches added, inputs skipped as already stored, batches, time."""

    added: int
    skipped: int
    batches: int
    seconds: float


class _DigitsMaker:
    """Picklable ``make`` for the digits network (re-trained on a worker if it must be)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, i):
        from ..datasets.digits import load_digits_network

        net = load_digits_network(self.seed)
        i = int(i)
        fields = {"prediction": net.prediction(i), "test": net.is_test(i)}
        return net.graph(i), {"label": net.label(i), "time": float(i), "fields": fields}


def digits_source(seed: int = 0, indices: Sequence[int] | None = None) -> DatasetSource:
    """The 1,797 digits through the digits network (label = true class, time = index).

    Parameters
    ----------
    seed : int, default=0
        Seed of :func:`~sketch_explorer.datasets.load_digits_network`.
    indices : sequence of int, optional
        Which images (default all).
    """
    from ..datasets.digits import load_digits_network

    net = load_digits_network(seed)
    keys = list(range(net.n_images)) if indices is None else [int(i) for i in indices]
    return DatasetSource(f"digits(seed={seed})", keys, _DigitsMaker(seed))


class _RoomsMaker:
    def __init__(self, scenes) -> None:
        self.scenes = {int(s.day): s for s in scenes}

    def __call__(self, day):
        s = self.scenes[int(day)]
        fields = {
            "time_of_day": s.time_of_day,
            "brightness": s.brightness,
            "has_cat": s.has_cat,
            "has_lamp": s.has_lamp,
            "has_new_object": s.has_new_object,
        }
        return s.graph, {"label": s.time_of_day, "time": float(s.day), "fields": fields}


def rooms_source(scenes) -> DatasetSource:
    """Daily room scenes (from :func:`~sketch_explorer.datasets.room_year`); time = day.

    The label is the time of day; fields hold the scene's truth (``has_cat``, ...), for
    checking answers, never read by the estimators.
    """
    scenes = list(scenes)
    if any(s.day is None for s in scenes):
        raise ValueError("rooms_source needs scenes of given days (from room_year)")
    return DatasetSource("rooms", [int(s.day) for s in scenes], _RoomsMaker(scenes))


_local = threading.local()


def _bank_for(identity: BankIdentity) -> MatrixBank:
    """One bank per thread and identity, so a worker draws each matrix once."""
    banks = getattr(_local, "banks", None)
    if banks is None:
        banks = _local.banks = {}
    if identity not in banks:
        banks[identity] = MatrixBank(
            identity.d, identity.family, identity.seed, **dict(identity.params)
        )
    return banks[identity]


def sketch_batch(identity: BankIdentity, keys: Sequence[Hashable], make: Callable,
                 keep_graph: bool = False) -> list[SketchRecord]:
    """Sketch the inputs ``keys`` with the bank of ``identity``: one record per input.

    A pure function of its arguments (the unit of work of :func:`ingest_dask`).
    """
    bank = _bank_for(identity)
    records = []
    for key in keys:
        graph, meta = make(key)
        rs = sketch_graph(graph, bank, progress=False)
        records.append(
            SketchRecord(
                key,
                rs if keep_graph else rs.overall,
                meta.get("label"),
                meta.get("time"),
                meta.get("fields"),
            )
        )
    return records


def _todo(repo: SketchRepository, source: DatasetSource, batch_size: int):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
    done = repo.input_ids()
    todo = [k for k in source.keys if str(k) not in done]
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    return todo, batches, len(source.keys) - len(todo)


def ingest(repo: SketchRepository, source: DatasetSource, bank: MatrixBank | None = None, *,
           batch_size: int = 128, progress: bool = True, store_objects: bool = False,
           store_graphs: bool = False) -> IngestReport:
    """Sketch every input of ``source`` not yet stored, one transaction per batch.

    Parameters
    ----------
    repo : SketchRepository
    source : DatasetSource
    bank : MatrixBank, optional
        Must have the repository's identity (default: a bank made from it).
    batch_size : int, default=128
    progress : bool, default=True
        A tqdm progress bar over inputs.
    store_objects, store_graphs : bool, default=False
        Also store object sketches / communication graphs.

    Returns
    -------
    IngestReport
    """
    start = time.perf_counter()
    if bank is None:
        bank = _bank_for(repo.bank)
    repo.bank.check_same(bank.identity, "the bank and the repository")
    todo, batches, skipped = _todo(repo, source, batch_size)
    keep = store_objects or store_graphs
    added = 0
    with tqdm(total=len(todo), desc=f"sketching {source.name}", unit="input",
              disable=not progress) as bar:
        for keys in batches:
            records = []
            for key in keys:
                graph, meta = source.make(key)
                rs = sketch_graph(graph, bank, progress=False)
                records.append(SketchRecord(key, rs if keep else rs.overall, meta.get("label"),
                                            meta.get("time"), meta.get("fields")))
            ids = repo.add_many(records, on_conflict="skip", store_objects=store_objects,
                                store_graphs=store_graphs)
            added += sum(i is not None for i in ids)
            bar.update(len(keys))
    report = IngestReport(added, skipped, len(batches), time.perf_counter() - start)
    logger.info("ingested %s: %s", source.name, report)
    return report


def ingest_dask(repo: SketchRepository, source: DatasetSource, *, batch_size: int = 128,
                client=None, scheduler: str | None = None, max_in_flight: int | None = None,
                progress: bool = True, store_objects: bool = False,
                store_graphs: bool = False) -> IngestReport:
    """Sketch the missing inputs as Dask tasks, one per batch, and ingest the results.

    Parameters
    ----------
    repo : SketchRepository
    source : DatasetSource
    batch_size : int, default=128
    client : distributed.Client, optional
        Run on this client; results are stored as they complete. Default: the local
        scheduler.
    scheduler : str, optional
        Local scheduler (``"threads"``, ``"processes"``, ``"synchronous"``); default Dask's
        default for delayed tasks (threads). Ignored with a client.
    max_in_flight : int, optional
        Local scheduler only: batches computed per round before they are stored (default
        4). Bounds memory and the work lost to an interruption.
    progress, store_objects, store_graphs
        As in :func:`ingest`.

    Returns
    -------
    IngestReport
    """
    import dask

    start = time.perf_counter()
    todo, batches, skipped = _todo(repo, source, batch_size)
    keep = store_objects or store_graphs
    identity = repo.bank
    tasks = [dask.delayed(sketch_batch, pure=True)(identity, keys, source.make, keep)
             for keys in batches]
    added = 0

    def store(records):
        ids = repo.add_many(records, on_conflict="skip", store_objects=store_objects,
                            store_graphs=store_graphs)
        return sum(i is not None for i in ids)

    with tqdm(total=len(todo), desc=f"sketching {source.name} (dask)", unit="input",
              disable=not progress) as bar:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(tasks)
            for future in as_completed(futures):
                records = future.result()
                added += store(records)
                bar.update(len(records))
        else:
            step = 4 if max_in_flight is None else max(1, int(max_in_flight))
            for r in range(0, len(tasks), step):
                results = dask.compute(*tasks[r : r + step], scheduler=scheduler)
                for records in results:
                    added += store(records)
                    bar.update(len(records))
    report = IngestReport(added, skipped, len(batches), time.perf_counter() - start)
    logger.info("ingested %s through dask: %s", source.name, report)
    return report
