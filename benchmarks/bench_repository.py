"""Benchmark: a repository of 100,000 sketches at d = 1024, exact and approximate top-10.

The sketches are real: overall sketches (``fast`` family, d = 1024) of room scenes, 365 days
each of as many rooms as needed. Room sketches are very alike (cosine about 0.9 between any two
days), which makes the nearest-neighbour problem hard for approximate indexes: their order is
decided by small differences. Queries are scenes of rooms not in the repository.

Measured in one run, medians over repeats (the machines are shared; read the ratios):

* adding: sketches per second into SQLite, in transactions of 1,000;
* loading the vectors back, building each index;
* top-10 query time, one query at a time and per query in a batch of 100;
* memory of each index (its vectors included) and the process's peak RSS;
* recall@10 of each approximate index against the exact answer of the same run.

Targets from the issue: exact top-10 over 100k in 50 ms or less; an approximate index at
recall@10 >= 0.95 at least 10x faster than exact. The script prints whether each holds; it
asserts nothing.

Run: ``python benchmarks/bench_repository.py`` (``--n 20000`` for a shorter run).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sketch_explorer import MatrixBank, sketch_graph
from sketch_explorer.datasets import room_year
from sketch_explorer.repository import (
    ExactIndex,
    HNSWIndex,
    LSHIndex,
    SketchRecord,
    SketchRepository,
    recall_at_k,
)


def scenes(n: int, first_room: int):
    """n room scenes: 365 days of room ``first_room``, then of the next rooms, ..."""
    room = first_room
    while n > 0:
        year = room_year(room, min(365, n))
        yield from year
        n -= len(year)
        room += 1


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    bank = MatrixBank(args.d, "fast", seed=0)
    k = 10

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        repo = SketchRepository(path, bank)

        # sketch and add, 1,000 per transaction
        sketch_s, add_s, batch = 0.0, 0.0, []
        for s in tqdm(scenes(args.n, 0), total=args.n, desc="sketching"):
            t = time.perf_counter()
            batch.append(SketchRecord(f"{s.seed}/{s.day}", sketch_graph(s.graph, bank).overall,
                                      time=float(s.day)))
            sketch_s += time.perf_counter() - t
            if len(batch) == 1000:
                t = time.perf_counter()
                repo.add_many(batch)
                add_s += time.perf_counter() - t
                batch = []
        if batch:
            t = time.perf_counter()
            repo.add_many(batch)
            add_s += time.perf_counter() - t
        mib = repo.nbytes / 2**20
        print(f"\nn = {len(repo)} sketches, d = {args.d}, float32 vectors {mib:.0f} MiB, "
              f"file {path.stat().st_size / 2**20:.0f} MiB")
        print(f"sketching: {args.n / sketch_s:,.0f} sketches/s; adding to SQLite: "
              f"{args.n / add_s:,.0f} sketches/s")

        t = time.perf_counter()
        ids, V, kept = repo.matrix()
        print(f"loading all vectors (checksums verified): {time.perf_counter() - t:.2f} s")
        Q = np.array([sketch_graph(s.graph, bank).overall.values
                      for s in room_year(10_000, args.queries)])

        indexes = {"exact faiss": ExactIndex("cosine"),
                   "exact numpy": ExactIndex("cosine", backend="numpy")}
        for nbits, cand in ((1024, 200), (1024, 2000)):
            indexes[f"lsh {nbits} bits, {cand} cand."] = LSHIndex(nbits=nbits, n_candidates=cand)
        indexes["hnsw M=32"] = HNSWIndex(M=32, ef_construction=80)

        rows, truth, exact_single = [], None, None
        for name, index in indexes.items():
            t = time.perf_counter()
            index.fit(V, kept, ids)
            build = time.perf_counter() - t
            settings = [None] if "hnsw" not in name else [16, 32, 64, 128, 256]
            for ef in settings:
                if ef is not None:
                    index.ef_search = ef
                label = name if ef is None else f"{name}, ef={ef}"
                single = median_time(lambda: [index.search(q, k) for q in Q[:20]], 3) / 20
                batched = median_time(lambda: index.search(Q, k), 3) / len(Q)
                found = index.search(Q, k)[1]
                if truth is None:
                    truth, exact_single = found, single
                rows.append((label, build, single, batched, recall_at_k(found, truth),
                             index.nbytes))

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n{'index':34s} {'build s':>8s} {'1 query ms':>11s} {'batched ms':>11s} "
              f"{'speed-up':>9s} {'recall@10':>10s} {'MiB':>7s}")
        for label, build, single, batched, recall, nbytes in rows:
            print(f"{label:34s} {build:8.2f} {1e3 * single:11.3f} {1e3 * batched:11.3f} "
                  f"{exact_single / single:9.1f} {recall:10.3f} {nbytes / 2**20:7.0f}")
        print(f"peak RSS of this process: {peak:.0f} MiB")

        exact_ms = 1e3 * exact_single
        print(f"\ntarget: exact top-10 over {len(repo)} in <= 50 ms: {exact_ms:.1f} ms per single "
              f"query -> {'met' if exact_ms <= 50 else 'NOT met'}")
        good = [r for r in rows if r[4] >= 0.95 and "exact" not in r[0]]
        best = max(good, key=lambda r: exact_single / r[2], default=None)
        if best is None:
            print("target: no approximate index reached recall@10 >= 0.95 -> NOT met")
        else:
            ratio = exact_single / best[2]
            print(f"target: approximate at recall@10 >= 0.95 and >= 10x faster: {best[0]} at "
                  f"recall {best[4]:.3f}, {ratio:.1f}x -> {'met' if ratio >= 10 else 'NOT met'}")
        repo.close()


if __name__ == "__main__":
    main()
