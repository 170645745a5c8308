"""Decoding a sketch with its communication graph at hand: recovered beside true values.

The estimators of :mod:`sketch_explorer.recovery` need a module, a depth, a weight or a path.
:class:`GraphDecoder` reads them from the graph that made the sketch, and also computes what each
estimator targets exactly under that graph (its expectation over the random matrices), which
can differ from the object's own attributes:

* module known: ``E[x_hat_theta] = sum_{theta' in M} w_theta' x_theta' / w_theta``, the weighted
  sum of all objects of the module (Theorem 1(i) assumes one object per module);
* path known: ``E[x_hat] = sum_{theta' in M} sum_{paths p'} e(p, p') w_p' x_theta' / (m w_p)``
  with e(p, p') the number of ways the word of path p arises in the factor sequence of p'
  (m = e(p, p)).

Errors are reported both against the truth and against that expectation; the second is the
noise the theory predicts (``Estimate.predicted_linf``).

Decoding every object at once (:func:`decode_all`, behind :meth:`GraphDecoder.object_table`)
shares the work between objects: one product per module, one per path prefix, and the parts
that do not depend on the sketch (:class:`GraphFacts`) computed once per graph.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable

import numpy as np
import pandas as pd

from .graph import CommunicationGraph
from .matrices import MatrixBank
from .recovery import (
    Estimate,
    depth_coefficient,
    estimate_frequency,
    expected_max_abs_normal,
    factor_sequence,
    recover_attributes,
    recover_attributes_on_path,
    word_multiplicity,
)
from .sketch import Sketch

__all__ = ["GraphDecoder", "GraphFacts", "decode_all", "ESTIMATORS"]

#: Attribute estimators by name: module known (Theorem 1(i)), path known (Theorem 1(ii)).
ESTIMATORS = ("module", "path")


_TABLE_COLUMNS = (
    "object",
    "module",
    "depth",
    "effective_weight",
    "linf_error",
    "linf_noise",
    "predicted_linf",
)


class GraphFacts:
    """What decoding a graph needs that does not depend on the sketch, computed once.

    Shared by every :class:`GraphDecoder` of one graph (every erasure prefix, every seed), so
    a slider move re-reads the sketch only.

    Parameters
    ----------
    graph : CommunicationGraph

    Attributes
    ----------
    graph : CommunicationGraph
    members : dict
        Module name -> its objects, in canonical order.
    module_dim : dict
        Module name -> longest attribute vector among its objects (the estimate's length).
    true : dict
        Object name -> its attribute vector zero-padded to ``module_dim`` of its module.

    Notes
    -----
    The expectations (see the module docstring): module known,
    ``sum_{theta' in M} w_theta' x_theta' / w_theta``; path known,
    ``sum_{theta' in M} sum_{p'} e(p, p') w_p' x_theta' / (m w_p)`` with ``e(p, p')`` the number
    of ways the word of path p arises from the factor sequence of p' and ``m = e(p, p)``.
    """

    def __init__(self, graph: CommunicationGraph) -> None:
        if not isinstance(graph, CommunicationGraph):
            raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
        self.graph = graph
        self.members: dict[str, list[Hashable]] = defaultdict(list)
        for name in graph.objects:
            self.members[graph.module(name)].append(name)
        self.members = dict(self.members)
        self.module_dim = {
            m: max(graph.attributes(n).size for n in names) for m, names in self.members.items()
        }
        self.true: dict[Hashable, np.ndarray] = {}
        for name in graph.objects:
            x = np.zeros(self.module_dim[graph.module(name)])
            x[: graph.attributes(name).size] = graph.attributes(name)
            self.true[name] = x
        self._expected: dict[str, dict[Hashable, np.ndarray]] = {}
        self._paths: dict[Hashable, tuple[tuple[int, ...], float]] | None = None

    def default_path(self, name: Hashable) -> tuple[tuple[int, ...], float]:
        """The heaviest input-position path of ``name`` and its weight (ties: the first)."""
        if self._paths is None:
            self._paths = {
                n: max(self.graph.paths(n), key=lambda pw: pw[1]) for n in self.graph.objects
            }
        return self._paths[name]

    def expected(self, estimator: str) -> dict[Hashable, np.ndarray]:
        """Object name -> what ``estimator`` targets for it (its exact expectation)."""
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}")
        if estimator not in self._expected:
            build = self._expected_module if estimator == "module" else self._expected_path
            self._expected[estimator] = build()
        return self._expected[estimator]

    def _expected_module(self) -> dict[Hashable, np.ndarray]:
        g = self.graph
        out = {}
        for module, names in self.members.items():
            total = sum(g.effective_weight(n) * self.true[n] for n in names)
            for name in names:
                w = g.effective_weight(name)
                out[name] = total / w if w > 0 else np.full_like(total, np.nan)
        return out

    def _expected_path(self) -> dict[Hashable, np.ndarray]:
        g = self.graph
        out = {}
        for names in self.members.values():
            # every (path, weight, x) of the module, with the path's factor sequence
            terms = [
                (factor_sequence(p), w, self.true[n]) for n in names for p, w in g.paths(n)
            ]
            for name in names:
                path, w_path = self.default_path(name)
                total = np.zeros_like(self.true[name])
                for seq, w, x in terms:
                    e = word_multiplicity(path, seq)
                    if e:
                        total += e * w * x
                m = word_multiplicity(path)
                out[name] = total / (m * w_path) if w_path > 0 else np.full_like(total, np.nan)
        return out


def _path_words(facts: GraphFacts, s: np.ndarray, bank: MatrixBank) -> dict[tuple, np.ndarray]:
    """``R_{i_k}^T ... R_{i_1}^T s`` for every prefix ``(i_1..i_k)`` of every default path.

    One level at a time; the prefixes of one level that end in the same position go through
    that position's matrix in one batch.
    """
    paths = {facts.default_path(n)[0] for n in facts.graph.objects}
    words: dict[tuple, np.ndarray] = {(): s}
    depth = max(len(p) for p in paths)
    for level in range(1, depth + 1):
        prefixes = sorted({p[:level] for p in paths if len(p) >= level})
        by_position: dict[int, list[tuple]] = defaultdict(list)
        for prefix in prefixes:
            by_position[prefix[-1]].append(prefix)
        for i, group in by_position.items():
            X = np.stack([words[p[:-1]] for p in group])
            Y = bank.position(i).apply_t(X)
            for p, y in zip(group, Y):
                words[p] = y
    return words


def decode_all(
    facts: GraphFacts, sketch: Sketch, bank: MatrixBank, estimator: str = "module"
) -> tuple[pd.DataFrame, dict[Hashable, Estimate]]:
    """Estimates of every object and the object table, in a few batched products.

    Module known (Theorem 1(i)): ``R_{M,1}^T s`` is the same vector for every object of
    module M, so it is computed once per module and divided by each object's
    ``c(h) w_theta``. Path known (Theorem 1(ii)): the words ``R_{i_1}^T``,
    ``R_{i_2}^T R_{i_1}^T``, ... are shared by every path with that prefix; each prefix is
    computed once, and the vectors of one step that need the same matrix go through it in one
    batch. The numbers equal the one-object estimators up to floating-point rounding.

    Parameters
    ----------
    facts : GraphFacts
        Of the graph that made ``sketch``.
    sketch : Sketch
        The overall sketch, possibly erased (read through :meth:`Sketch.expanded`).
    bank : MatrixBank
        The bank that made it.
    estimator : {"module", "path"}

    Returns
    -------
    table : pandas.DataFrame
        Columns object, module, depth, effective_weight, linf_error, linf_noise,
        predicted_linf; one row per object in canonical order; objects of effective weight 0
        get NaN errors.
    estimates : dict
        Object name -> :class:`~sketch_explorer.recovery.Estimate`, as
        :meth:`GraphDecoder.attributes` returns it (objects of weight 0 are left out).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}")
    bank.identity.check_same(sketch.bank, "the sketch and the matrix bank")
    g = facts.graph
    s = sketch.expanded()
    noise = float(np.linalg.norm(s)) / math.sqrt(s.size)  # ||s|| / sqrt(d), before / C

    # the projections R_{M,1}^T (word) s, one batch per module
    projected: dict[Hashable, np.ndarray] = {}
    coefficient: dict[Hashable, float] = {}
    words = _path_words(facts, s, bank) if estimator == "path" else None
    for module, names in facts.members.items():
        live = [n for n in names if g.effective_weight(n) > 0]
        if not live:
            continue
        dim = facts.module_dim[module]
        R = bank.module(module, 1)
        if estimator == "module":
            y = R.apply_t(s)[:dim]
            for n in live:
                projected[n] = y
                coefficient[n] = depth_coefficient(g.depth(n)) * g.effective_weight(n)
        else:
            paths = [facts.default_path(n) for n in live]
            Y = R.apply_t(np.stack([words[p] for p, _w in paths]))[:, :dim]
            for n, (p, w), y in zip(live, paths, Y):
                projected[n] = y
                coefficient[n] = word_multiplicity(p) * depth_coefficient(len(p) + 1) * w

    # divide by the coefficients; compare with the truth and with the target
    expected = facts.expected(estimator)
    estimates: dict[Hashable, Estimate] = {}
    rows = []
    for name in g.objects:
        module, w = g.module(name), g.effective_weight(name)
        row = {"object": name, "module": module, "depth": g.depth(name),
               "effective_weight": w}
        if name not in projected:
            row.update(linf_error=np.nan, linf_noise=np.nan, predicted_linf=np.nan)
            rows.append(row)
            continue
        coef = coefficient[name]
        sigma = noise / abs(coef)
        dim = facts.module_dim[module]
        est = Estimate(projected[name] / coef, sigma, sigma * expected_max_abs_normal(dim), coef)
        estimates[name] = est
        row.update(
            linf_error=float(np.abs(est.value - facts.true[name]).max()),
            linf_noise=float(np.abs(est.value - expected[name]).max()),
            predicted_linf=est.predicted_linf,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(_TABLE_COLUMNS)), estimates


class GraphDecoder:
    """Recover attributes and counts from ``sketch`` using ``graph`` for the structure.

    Parameters
    ----------
    graph : CommunicationGraph
        The graph that made the sketch.
    sketch : Sketch
        Its overall sketch, possibly erased.
    bank : MatrixBank
        The bank that made it (checked against ``sketch.bank``).
    facts : GraphFacts, optional
        Precomputed facts of ``graph``, to share between decoders of one graph.
    """

    def __init__(
        self,
        graph: CommunicationGraph,
        sketch: Sketch,
        bank: MatrixBank,
        facts: "GraphFacts | None" = None,
    ) -> None:
        if not isinstance(graph, CommunicationGraph):
            raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
        if not isinstance(sketch, Sketch):
            raise TypeError(f"sketch must be a Sketch; got {type(sketch).__name__}")
        bank.identity.check_same(sketch.bank, "the sketch and the matrix bank")
        if facts is not None and facts.graph is not graph:
            raise ValueError("facts were computed for another graph")
        self.graph = graph
        self.sketch = sketch
        self.bank = bank
        self.facts = GraphFacts(graph) if facts is None else facts
        self._cache: dict = {}

    # ------------------------------------------------------------------ per object
    def module_dim(self, module: str) -> int:
        """Longest attribute vector among the objects of ``module``."""
        return self.facts.module_dim[module]

    def default_path(self, name: Hashable) -> tuple[int, ...]:
        """The heaviest input-position path of ``name`` (ties: the first)."""
        return self.facts.default_path(name)[0]

    def _path_weight(self, name: Hashable, path: tuple[int, ...]) -> float:
        for p, w in self.graph.paths(name):
            if p == tuple(path):
                return w
        raise ValueError(f"{path} is not an input-position path of object {name!r}")

    def attributes(
        self, name: Hashable, estimator: str = "module", path: tuple[int, ...] | None = None
    ) -> Estimate:
        """Recovered attributes of object ``name``, first ``module_dim`` coordinates."""
        key = (name, estimator, path)
        if key in self._cache:
            return self._cache[key]
        g = self.graph
        module = g.module(name)
        dim = self.module_dim(module)
        if g.effective_weight(name) == 0.0:
            raise ValueError(
                f"object {name!r} has effective weight 0: it leaves no trace in the sketch, so "
                "its attributes cannot be recovered"
            )
        if estimator == "module":
            est = recover_attributes(
                self.sketch, self.bank, module, g.depth(name), g.effective_weight(name), dim
            )
        elif estimator == "path":
            path = self.default_path(name) if path is None else tuple(path)
            est = recover_attributes_on_path(
                self.sketch, self.bank, module, path, self._path_weight(name, path), dim
            )
        else:
            raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}")
        self._cache[key] = est
        return est

    def true_attributes(self, name: Hashable) -> np.ndarray:
        """The object's attribute vector, zero-padded to its module's dimension."""
        return self.facts.true[name].copy()

    def expected_attributes(
        self, name: Hashable, estimator: str = "module", path: tuple[int, ...] | None = None
    ) -> np.ndarray:
        """Exact expectation of the estimator under this graph (see the module docstring)."""
        if path is None or estimator == "module":
            return self.facts.expected(estimator)[name].copy()
        g = self.graph
        module = g.module(name)
        total = np.zeros(self.module_dim(module))
        if estimator == "module":
            for other in g.objects_of(module):
                x = g.attributes(other)
                total[: x.size] += g.effective_weight(other) * x
            return total / g.effective_weight(name)
        if estimator != "path":
            raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}")
        path = self.default_path(name) if path is None else tuple(path)
        for other in g.objects_of(module):
            x = g.attributes(other)
            for p, w in g.paths(other):
                e = word_multiplicity(path, factor_sequence(p))
                total[: x.size] += e * w * x
        return total / (word_multiplicity(path) * self._path_weight(name, path))

    # ------------------------------------------------------------------ tables
    def object_table(self, estimator: str = "module") -> pd.DataFrame:
        """One row per object: structure, errors against truth and expectation, prediction.

        Columns: object, module, depth, effective_weight, linf_error (against the true
        attributes), linf_noise (against the estimator's expectation), predicted_linf.
        Objects of effective weight 0 leave no trace in the sketch; their errors are NaN.
        """
        key = ("table", estimator)
        if key not in self._cache:
            table, estimates = decode_all(self.facts, self.sketch, self.bank, estimator)
            self._cache[key] = table
            for name, est in estimates.items():
                self._cache.setdefault((name, estimator, None), est)
        return self._cache[key].copy()

    def counts(self) -> pd.DataFrame:
        """True against estimated number of objects per module (Theorem 3(i)).

        The estimate divides by the mean effective weight of the module's objects, so its
        expectation is the true count. A module whose objects all have weight 0 gets NaN.
        """
        rows = []
        for module, depth in self.graph.modules.items():
            members = self.graph.objects_of(module)
            w = float(np.mean([self.graph.effective_weight(n) for n in members]))
            if w == 0.0:  # the module left no trace: nothing to estimate
                value = scale = np.nan
            else:
                est = estimate_frequency(self.sketch, self.bank, module, depth, w)
                value, scale = est.value, est.error_scale
            rows.append(
                {
                    "module": module,
                    "depth": depth,
                    "true_count": len(members),
                    "estimated_count": value,
                    "error_scale": scale,
                }
            )
        return pd.DataFrame(rows)
