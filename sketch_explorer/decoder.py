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
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

from .graph import CommunicationGraph
from .matrices import MatrixBank
from .recovery import (
    Estimate,
    estimate_frequency,
    factor_sequence,
    recover_attributes,
    recover_attributes_on_path,
    word_multiplicity,
)
from .sketch import Sketch

__all__ = ["GraphDecoder", "ESTIMATORS"]

#: Attribute estimators by name: module known (Theorem 1(i)), path known (Theorem 1(ii)).
ESTIMATORS = ("module", "path")


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
    """

    def __init__(self, graph: CommunicationGraph, sketch: Sketch, bank: MatrixBank) -> None:
        if not isinstance(graph, CommunicationGraph):
            raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
        if not isinstance(sketch, Sketch):
            raise TypeError(f"sketch must be a Sketch; got {type(sketch).__name__}")
        bank.identity.check_same(sketch.bank, "the sketch and the matrix bank")
        self.graph = graph
        self.sketch = sketch
        self.bank = bank
        self._cache: dict = {}

    # ------------------------------------------------------------------ per object
    def module_dim(self, module: str) -> int:
        """Longest attribute vector among the objects of ``module``."""
        return max(self.graph.attributes(n).size for n in self.graph.objects_of(module))

    def default_path(self, name: Hashable) -> tuple[int, ...]:
        """The heaviest input-position path of ``name`` (ties: the first)."""
        paths = self.graph.paths(name)
        return max(paths, key=lambda pw: pw[1])[0]

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
        x = self.graph.attributes(name)
        out = np.zeros(self.module_dim(self.graph.module(name)))
        out[: x.size] = x
        return out

    def expected_attributes(
        self, name: Hashable, estimator: str = "module", path: tuple[int, ...] | None = None
    ) -> np.ndarray:
        """Exact expectation of the estimator under this graph (see the module docstring)."""
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
        rows = []
        for name in self.graph.objects:
            if self.graph.effective_weight(name) == 0.0:
                rows.append({"object": name, "module": self.graph.module(name),
                             "depth": self.graph.depth(name), "effective_weight": 0.0,
                             "linf_error": np.nan, "linf_noise": np.nan,
                             "predicted_linf": np.nan})
                continue
            est = self.attributes(name, estimator)
            rows.append(
                {
                    "object": name,
                    "module": self.graph.module(name),
                    "depth": self.graph.depth(name),
                    "effective_weight": self.graph.effective_weight(name),
                    "linf_error": float(np.abs(est.value - self.true_attributes(name)).max()),
                    "linf_noise": float(
                        np.abs(est.value - self.expected_attributes(name, estimator)).max()
                    ),
                    "predicted_linf": est.predicted_linf,
                }
            )
        return pd.DataFrame(rows)

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
