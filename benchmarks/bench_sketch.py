"""Benchmark: sketching time against a dense matrix product of the same flops, and memory.

For d in (1024, 4096) and layered graphs of 1,000 and 10,000 objects (fan-in 8, four modules
per level), this times :func:`sketch_graph` with its matrices already drawn (draw time is
reported on its own), and in the same run a plain dense product ``(n_rows, d) @ (d, d)`` with
n_rows equal to the number of vectors the sketch pushed through its matrices, i.e. the flops
a dense family needs. The ratio sketch / dense tells how close the engine gets to BLAS speed
(dense families) or how much a structured family saves (fast, block). Medians over repeats;
these machines are shared, so read ratios rather than absolute times.

Dense families (haar, gaussian) are run at d = 1024 only: a layered graph here uses about 70
matrices, which at d = 4096 take 9 GB dense; that is what the ``fast`` family is for.

Run: ``python benchmarks/bench_sketch.py`` (add ``--quick`` for a small smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time

import networkx as nx
import numpy as np

from sketch_explorer import CommunicationGraph, MatrixBank, nearest_block_dimension, sketch_graph


def layered_graph(n_objects: int, fan_in: int = 8, modules_per_level: int = 4, seed: int = 0):
    """A tree with ``n_objects`` objects, fan-in ``fan_in``, 16-dim attributes."""
    rng = np.random.default_rng(seed)
    G = nx.DiGraph()
    G.add_node("out", module="output")
    frontier, made, level = ["out"], 0, 0
    while made < n_objects:
        level += 1
        nxt = []
        for parent in frontier:
            k = min(fan_in, n_objects - made)
            if k <= 0:
                break
            w = rng.random(k) + 0.1
            w /= w.sum()
            for pos in range(1, k + 1):
                name = f"o{made}"
                x = rng.random(16)
                G.add_node(name, module=f"L{level}M{made % modules_per_level}",
                           attributes=x / np.linalg.norm(x))
                G.add_edge(name, parent, weight=float(w[pos - 1]), position=pos)
                nxt.append(name)
                made += 1
        frontier = nxt
    return CommunicationGraph(G)


class CountingBank(MatrixBank):
    """A bank that counts the vectors pushed through its matrices (for the flop baseline)."""

    rows = 0

    def get(self, role):
        R = super().get(role)
        bank = self

        class Counted:
            d = R.d

            def apply(self, X):
                bank.rows += 1 if np.ndim(X) == 1 else len(X)
                return R.apply(X)

            def apply_t(self, X):
                bank.rows += 1 if np.ndim(X) == 1 else len(X)
                return R.apply_t(X)

        return Counted()


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(quick: bool = False) -> None:
    sizes = [300] if quick else [1_000, 10_000]
    dims = [256] if quick else [1024, 4096]
    repeats = 1 if quick else 3
    print("sketch_graph against a dense product of the same flops (median of "
          f"{repeats} runs)")
    print(f"{'family':>8} {'d':>5} {'objects':>7} {'draw s/mat':>10} {'sketch s':>9} "
          f"{'dense s':>8} {'ratio':>6} {'MB/matrix':>9}")
    for d0 in dims:
        for family in ["haar", "gaussian", "fast", "block"]:
            if family in ("haar", "gaussian") and d0 > 1024:
                continue
            d = nearest_block_dimension(d0)[0] if family == "block" else d0
            for n in sizes:
                g = layered_graph(n)
                bank = CountingBank(d, family, 0, max_dense_bytes=4 * 2**30)
                t0 = time.perf_counter()
                sketch_graph(g, bank, progress=False)  # draws every matrix once
                draw_per = (time.perf_counter() - t0) / max(bank.draws, 1)
                bank.rows = 0
                t_sketch = median_time(lambda: sketch_graph(g, bank, progress=False), repeats)
                rows = bank.rows // repeats
                A = np.random.default_rng(1).standard_normal((rows, d))
                R = np.random.default_rng(2).standard_normal((d, d))
                t_dense = median_time(lambda: A @ R, repeats)
                mb = MatrixBank(d, family, 0).matrix_bytes() / 2**20
                print(f"{family:>8} {d:>5} {n:>7} {draw_per:>10.4f} {t_sketch:>9.3f} "
                      f"{t_dense:>8.3f} {t_sketch / t_dense:>6.2f} {mb:>9.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    main(parser.parse_args().quick)
