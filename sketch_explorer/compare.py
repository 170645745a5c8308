"""Comparing two sketches and drilling down into why they are alike (Theorem 2, section 1.1).

The paper's interpretability use: two overall sketches are similar; which objects made them
so? :class:`SketchComparison` answers at three depths of detail:

1. the similarity itself, measured (:func:`~sketch_explorer.recovery.similarity`) and predicted
   from the two graphs (:mod:`sketch_explorer.expectation`);
2. module by module: which modules both sketches hold (estimated counts from each sketch,
   Theorem 3(i)), how well their recovered attributes agree (cosine of the module-known
   estimates, Theorem 1(i)), and each module's predicted share of the similarity;
3. object by object: both sketches unrolled position by position into estimated object
   sketches (``(2/w_i) R_i^T s``), the matrix of cosines between the two sides' unrolled
   sketches beside the same matrix for the true object sketches, and a step down into any pair
   (``8 R_2^T`` gives an object's input sketch, which unrolls again).

The graphs are used for what a sketch cannot tell by itself (the tuple weights to unroll with,
the true object sketches to compare against); the estimates read the sketches only.

Known limitation, in plain words: each level of unrolling multiplies the noise by about 16/w,
so at the d the explorer offers the first level (the top-level objects) is readable and the
second is mostly noise. The truth columns make that visible rather than hiding it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .decoder import GraphDecoder
from .expectation import expected_inner_product, expected_inner_product_by_module
from .graph import CommunicationGraph
from .matrices import MatrixBank
from .recovery import _marker, input_subsketch, similarity, unroll_position
from .sketch import RecursiveSketch, Sketch, sketch_graph

__all__ = ["SketchComparison", "DrillLevel"]


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 0.0


def _snr(dec: GraphDecoder, name) -> float:
    """Norm of what the module-known estimator targets over the norm of its predicted noise."""
    est = dec.attributes(name)
    target = dec.expected_attributes(name)
    return float(np.linalg.norm(target) / (est.error_scale * np.sqrt(target.size)))


@dataclass(frozen=True)
class DrillLevel:
    """One level of a drill-down: the children of node ``a`` and of node ``b``.

    Attributes
    ----------
    path_a, path_b : tuple of int
        Input positions from the output down to the node on each side (() = the output).
    children_a, children_b : list
        Object names at positions 1..k under each node.
    estimated : (k_a, k_b) ndarray
        Cosines between the unrolled (estimated) object sketches.
    true : (k_a, k_b) ndarray
        Cosines between the true object sketches.
    same_module : (k_a, k_b) bool ndarray
        Whether the two objects come from one module (the ground truth of "they match").
    parent_cosine : float
        Cosine of the two sketches being unrolled. For orthonormal families ``R_i^T`` is an
        isometry, so every same-position entry of ``estimated`` equals it exactly: only the
        entries off the diagonal say something about one pair in particular.
    identified_a, identified_b : list of str
        The module each unrolled sketch reads as, from the sketch alone: the candidate module
        M whose frequency marker ``16 <R_{M,2} e_1, o_hat>`` is largest (candidates: the
        modules of both graphs).
    """

    path_a: tuple
    path_b: tuple
    children_a: list
    children_b: list
    estimated: np.ndarray
    true: np.ndarray
    same_module: np.ndarray
    parent_cosine: float
    identified_a: list
    identified_b: list

    def table(self) -> pd.DataFrame:
        """Long table: one row per pair, best estimated matches first."""
        rows = []
        for i, ca in enumerate(self.children_a):
            for j, cb in enumerate(self.children_b):
                rows.append({"position_a": i + 1, "object_a": ca, "position_b": j + 1,
                             "object_b": cb, "estimated_cosine": self.estimated[i, j],
                             "true_cosine": self.true[i, j],
                             "same_module": bool(self.same_module[i, j]),
                             "identified_a": self.identified_a[i],
                             "identified_b": self.identified_b[j]})
        return pd.DataFrame(rows).sort_values("estimated_cosine", ascending=False,
                                               ignore_index=True)


class SketchComparison:
    """Compare the sketches of two graphs made with one bank.

    Parameters
    ----------
    graph_a, graph_b : CommunicationGraph
    bank : MatrixBank
    erasure_prefix : int, optional
        Keep only this many leading coordinates of both overall sketches.
    """

    def __init__(
        self,
        graph_a: CommunicationGraph,
        graph_b: CommunicationGraph,
        bank: MatrixBank,
        erasure_prefix: int | None = None,
    ) -> None:
        self.graph_a, self.graph_b, self.bank = graph_a, graph_b, bank
        self.rs_a: RecursiveSketch = sketch_graph(graph_a, bank, progress=False)
        self.rs_b: RecursiveSketch = sketch_graph(graph_b, bank, progress=False)
        self.sketch_a: Sketch = self.rs_a.overall
        self.sketch_b: Sketch = self.rs_b.overall
        if erasure_prefix is not None:
            self.sketch_a = self.sketch_a.erase_prefix(erasure_prefix)
            self.sketch_b = self.sketch_b.erase_prefix(erasure_prefix)

    # ------------------------------------------------------------------ overall
    def similarity(self) -> dict:
        """Measured dot and cosine, with the predictions from the two graphs."""
        dot, cos = similarity(self.sketch_a, self.sketch_b)
        aa = expected_inner_product(self.graph_a, self.graph_a)
        bb = expected_inner_product(self.graph_b, self.graph_b)
        ab = expected_inner_product(self.graph_a, self.graph_b)
        return {"dot": dot, "cosine": cos, "predicted_dot": ab,
                "predicted_cosine": ab / np.sqrt(aa * bb)}

    def module_table(self) -> pd.DataFrame:
        """Module by module: presence, counts (true and estimated), attribute agreement.

        Columns: module, depth, true_count_a/b, estimated_count_a/b with their predicted
        error (count_error_a/b), attribute_cosine (of the module-known estimates, when the
        module is in both), true_attribute_cosine (of the true weighted sums), readable (both
        estimates stand at least two predicted noise norms above zero; otherwise the cosine
        mostly compares noise, which two similar sketches share), predicted_share (the
        module's predicted part of the inner product).
        """
        dec_a = GraphDecoder(self.graph_a, self.sketch_a, self.bank)
        dec_b = GraphDecoder(self.graph_b, self.sketch_b, self.bank)
        counts_a = dec_a.counts().set_index("module")
        counts_b = dec_b.counts().set_index("module")
        shares = expected_inner_product_by_module(self.graph_a, self.graph_b)
        modules = list(dict.fromkeys([*self.graph_a.modules, *self.graph_b.modules]))
        rows = []
        for m in modules:
            in_a, in_b = m in counts_a.index, m in counts_b.index
            row = {
                "module": m,
                "depth": (self.graph_a.modules if in_a else self.graph_b.modules)[m],
                "true_count_a": int(counts_a.loc[m, "true_count"]) if in_a else 0,
                "true_count_b": int(counts_b.loc[m, "true_count"]) if in_b else 0,
                "estimated_count_a": float(counts_a.loc[m, "estimated_count"]) if in_a else None,
                "estimated_count_b": float(counts_b.loc[m, "estimated_count"]) if in_b else None,
                "count_error_a": float(counts_a.loc[m, "error_scale"]) if in_a else None,
                "count_error_b": float(counts_b.loc[m, "error_scale"]) if in_b else None,
                "attribute_cosine": None,
                "true_attribute_cosine": None,
                "readable": False,
                "predicted_share": shares.get(m, 0.0),
            }
            if in_a and in_b:
                first_a = self.graph_a.objects_of(m)[0]
                first_b = self.graph_b.objects_of(m)[0]
                ea = dec_a.attributes(first_a).value * self.graph_a.effective_weight(first_a)
                eb = dec_b.attributes(first_b).value * self.graph_b.effective_weight(first_b)
                ta = dec_a.expected_attributes(first_a) * self.graph_a.effective_weight(first_a)
                tb = dec_b.expected_attributes(first_b) * self.graph_b.effective_weight(first_b)
                n = min(ea.size, eb.size)
                row["attribute_cosine"] = _cosine(ea[:n], eb[:n])
                row["true_attribute_cosine"] = _cosine(ta[:n], tb[:n])
                row["readable"] = bool(
                    _snr(dec_a, first_a) >= 2 and _snr(dec_b, first_b) >= 2
                )
            rows.append(row)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ drill-down
    def _node_at(self, graph: CommunicationGraph, path: tuple) -> Hashable:
        node = graph.output
        for k, pos in enumerate(path):
            inputs = graph.inputs(node)
            if not 1 <= pos <= len(inputs):
                raise ValueError(
                    f"position {pos} at step {k + 1} of path {path} does not exist: "
                    f"{node!r} has {len(inputs)} inputs"
                )
            node = inputs[pos - 1][0]
        return node

    def _tuple_sketch_at(self, graph, overall: Sketch, path: tuple) -> Sketch:
        """Estimated tuple (input) sketch of the node at ``path``, from the overall sketch."""
        s, node = overall, graph.output
        for pos in path:
            child, w = graph.inputs(node)[pos - 1]
            s = input_subsketch(unroll_position(s, self.bank, pos, w), self.bank)
            node = child
        return s

    def drill(self, path_a: tuple = (), path_b: tuple = ()) -> DrillLevel:
        """Unroll both sketches at the given nodes and compare their children.

        Parameters
        ----------
        path_a, path_b : tuple of int
            Input positions from the output down; ``()`` is the overall sketch, ``(1,)`` the
            first top-level object, and so on.
        """
        path_a, path_b = tuple(path_a), tuple(path_b)
        candidates = list(dict.fromkeys([*self.graph_a.modules, *self.graph_b.modules]))
        markers = np.stack([_marker(self.bank, m) for m in candidates])
        sides, parents = [], []
        for graph, overall, rs, path in ((self.graph_a, self.sketch_a, self.rs_a, path_a),
                                         (self.graph_b, self.sketch_b, self.rs_b, path_b)):
            node = self._node_at(graph, path)
            inputs = graph.inputs(node)
            if not inputs:
                raise ValueError(f"{node!r} has no inputs to drill into")
            s = self._tuple_sketch_at(graph, overall, path)
            parents.append(s.expanded())
            est = [unroll_position(s, self.bank, i, w).values
                   for i, (_c, w) in enumerate(inputs, start=1)]
            true = [rs.object_sketches[graph.index(c)] for c, _w in inputs]
            # which module each unrolled sketch reads as: 16 <R_{M,2} e_1, o_hat> ~ 1 for M
            readings = 16.0 * np.stack(est) @ markers.T
            identified = [candidates[k] for k in readings.argmax(axis=1)]
            sides.append(([c for c, _ in inputs], est, true, graph, identified))
        (ca, ea, ta, ga, ia), (cb, eb, tb, gb, ib) = sides
        estimated = np.array([[_cosine(u, v) for v in eb] for u in ea])
        true = np.array([[_cosine(u, v) for v in tb] for u in ta])
        same = np.array([[ga.module(x) == gb.module(y) for y in cb] for x in ca])
        return DrillLevel(path_a, path_b, ca, cb, estimated, true, same,
                          _cosine(*parents), ia, ib)
