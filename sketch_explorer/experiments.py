"""Seeded experiments that measure the sketch's properties beside their predictions.

The notebooks ``10_attribute_recovery`` to ``14_joint_decoder`` call these functions; the tests
in ``tests/test_experiments.py`` call them too, so what a notebook plots is what CI checks.
Every function here is pure: it takes a graph (or builds one from a seed), a list of
dimensions and a list of seeds, draws one :class:`~sketch_explorer.matrices.MatrixBank` per
``(family, d, seed)``, and returns a long :class:`pandas.DataFrame` with one row per
measurement and, on the same row, the value the theory predicts for it (SPEC section 4):

* attribute recovery (Theorem 1): ``linf_error`` against ``predicted_linf``, the expected
  maximum of ``k`` Gaussian errors of scale ``||s|| / (sqrt(d) c(h) w)``;
* summary statistics (Theorem 3): the estimated count against the true one, with its
  ``error_scale``; summed and mean attributes against their ``predicted_linf``;
* similarity (Theorem 2): the inner product of two sketches against
  :func:`~sketch_explorer.expectation.expected_inner_product`, and the change of the sketch
  under a change of attributes against the bound ``1/2 max ||dx||`` of Theorem 2(iii);
* graceful erasure: the same recovery errors for a kept prefix or a random mask of d'
  coordinates, predicted to grow like ``1/sqrt(d')``;
* the joint least-squares decoder of :mod:`sketch_explorer.joint` (beyond the paper) beside
  the paper's one-pass estimators.

:func:`quantile_summary` reduces a long table to median and quartiles per group, and
:func:`band_figure` draws such a summary as measured points with a spread next to a
predicted curve.

What is not checked: that the dimensions and seed counts asked for fit the time available
(``haar`` draws cost O(d^3); at d = 4096 about a minute per matrix on two cores).

References
----------
.. [1] B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep Learning",
   ICML 2019, section 3 (Theorems 1-3, graceful erasure).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from .decoder import GraphDecoder
from .exceptions import SingularSystemWarning
from .expectation import expected_inner_product
from .graph import CommunicationGraph
from .joint import attribute_operator, joint_least_squares
from .matrices import FAMILIES, MatrixBank, nearest_block_dimension
from .recovery import (
    estimate_frequency,
    estimate_mean_attributes,
    estimate_summed_attributes,
    expected_max_abs_normal,
    similarity,
)
from .sketch import Sketch, sketch_attributes, sketch_graph

__all__ = [
    "flat_graph",
    "chain_graph",
    "prototype_graph",
    "repeated_module_graph",
    "valid_dimension",
    "recovery_trials",
    "erasure_trials",
    "statistics_trials",
    "pooled_mean_trials",
    "similarity_trials",
    "perturbation_trials",
    "operator_norms",
    "joint_trials",
    "exact_count_probability",
    "quantile_summary",
    "band_figure",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- graphs
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _check_weights(weights: Sequence[float]) -> list[float]:
    weights = [float(w) for w in weights]
    if not weights or min(weights) <= 0 or abs(sum(weights) - 1.0) > 1e-9:
        raise ValueError(f"weights must be positive and sum to 1; got {weights}")
    return weights


def flat_graph(
    weights: Sequence[float],
    *,
    modules: Sequence[str] | None = None,
    k: int = 16,
    seed: int = 0,
) -> CommunicationGraph:
    """A graph of top-level objects only (depth 2), one per weight.

    Parameters
    ----------
    weights : sequence of float
        Input weights of the output, in position order; positive, summing to 1.
    modules : sequence of str, optional
        Module of each object. Default ``"M1", "M2", ...``: one module per object.
    k : int, default=16
        Attribute length.
    seed : int, default=0
        Seed of the attribute vectors (uniform entries, then unit l2 norm).

    Returns
    -------
    CommunicationGraph
        Objects ``"o1", "o2", ...`` in position order.

    Examples
    --------
    >>> g = flat_graph([0.5, 0.5], k=4)
    >>> g.effective_weight("o2"), g.depth("o2")
    (0.5, 2)
    """
    weights = _check_weights(weights)
    modules = [f"M{i}" for i in range(1, len(weights) + 1)] if modules is None else modules
    if len(modules) != len(weights):
        raise ValueError(f"got {len(modules)} modules for {len(weights)} weights")
    rng = np.random.default_rng(seed)
    names = [f"o{i}" for i in range(1, len(weights) + 1)]
    objects = {n: (str(m), _unit(rng.random(k))) for n, m in zip(names, modules)}
    return CommunicationGraph.from_objects(objects, {"output": list(zip(names, weights))})


def chain_graph(
    max_depth: int = 4, *, weight: float = 0.5, k: int = 16, seed: int = 0
) -> CommunicationGraph:
    """A chain of objects of equal effective weight at depths 2..max_depth.

    The output has two inputs: ``"h2"`` with weight ``weight`` and ``"rest"`` with the
    remainder; ``"h2"`` has the single input ``"h3"`` (weight 1), which has ``"h4"``, and so on.
    Every object of the chain has effective weight ``weight`` and a module of its own
    (``"H2"``, ``"H3"``, ...), so only the depth changes along it.

    Parameters
    ----------
    max_depth : int, default=4
        Depth of the deepest object (>= 2).
    weight : float, default=0.5
        Weight of ``"h2"`` at the output, in (0, 1).
    k : int, default=16
        Attribute length.
    seed : int, default=0
        Seed of the attribute vectors.

    Returns
    -------
    CommunicationGraph

    Examples
    --------
    >>> g = chain_graph(3)
    >>> [(g.depth(n), g.effective_weight(n)) for n in ("h2", "h3")]
    [(2, 0.5), (3, 0.5)]
    """
    if max_depth < 2:
        raise ValueError(f"max_depth must be >= 2; got {max_depth}")
    if not 0 < weight < 1:
        raise ValueError(f"weight must be in (0, 1); got {weight}")
    rng = np.random.default_rng(seed)
    objects = {f"h{h}": (f"H{h}", _unit(rng.random(k))) for h in range(2, max_depth + 1)}
    objects["rest"] = ("REST", _unit(rng.random(k)))
    inputs = {"output": [("h2", weight), ("rest", 1.0 - weight)]}
    for h in range(2, max_depth):
        inputs[f"h{h}"] = [(f"h{h + 1}", 1.0)]
    return CommunicationGraph.from_objects(objects, inputs)


def prototype_graph(k: int = 16, seed: int = 7) -> CommunicationGraph:
    """SPEC section 4's prototype: weights .5/.3/.2 at the top, two depth-3 children of ``a``.

    Objects ``a, b, c`` (modules A, B, C) are the output's inputs with weights .5, .3, .2;
    ``a`` has the inputs ``a1, a2`` (modules D, E) with weight .5 each (effective weight .25).

    Parameters
    ----------
    k : int, default=16
        Attribute length.
    seed : int, default=7
        Seed of the attribute vectors (uniform entries, then unit l2 norm).

    Returns
    -------
    CommunicationGraph
    """
    rng = np.random.default_rng(seed)
    objects = {
        name: (module, _unit(rng.random(k)))
        for name, module in (("a", "A"), ("b", "B"), ("c", "C"), ("a1", "D"), ("a2", "E"))
    }
    inputs = {"output": [("a", 0.5), ("b", 0.3), ("c", 0.2)], "a": [("a1", 0.5), ("a2", 0.5)]}
    return CommunicationGraph.from_objects(objects, inputs)


def repeated_module_graph(
    n: int, *, weight: float = 0.1, module: str = "wall", k: int = 8, seed: int = 0
) -> CommunicationGraph:
    """``n`` top-level objects of one module, all of weight ``weight``, and one other object.

    The other object (``"lamp"``, module ``"lamp"``) takes the remaining weight
    ``1 - n weight``, which must be positive: Theorem 3 assumes the module's objects share one
    effective weight, and this graph meets that assumption.

    Parameters
    ----------
    n : int
        Number of objects of ``module`` (>= 1).
    weight : float, default=0.1
        Weight of each of them at the output.
    module : str, default="wall"
    k : int, default=8
        Attribute length.
    seed : int, default=0
        Seed of the attribute vectors.

    Returns
    -------
    CommunicationGraph
        Objects ``"<module>1" .. "<module>n"`` and ``"lamp"``.
    """
    if n < 1 or n * weight >= 1:
        raise ValueError(f"need n >= 1 and n * weight < 1; got n={n}, weight={weight}")
    rng = np.random.default_rng(seed)
    names = [f"{module}{i}" for i in range(1, n + 1)]
    objects = {name: (module, _unit(rng.random(k))) for name in names}
    objects["lamp"] = ("lamp", _unit(rng.random(k)))
    top = [(name, weight) for name in names] + [("lamp", 1.0 - n * weight)]
    return CommunicationGraph.from_objects(objects, {"output": top})


def valid_dimension(family: str, d: int) -> int:
    """``d`` itself, or for the ``block`` family the nearest valid dimension (a multiple of b).

    Examples
    --------
    >>> valid_dimension("fast", 256), valid_dimension("block", 256)
    (256, 231)
    """
    return nearest_block_dimension(d)[0] if family == "block" else int(d)


def _bank(family: str, d: int, seed: int) -> MatrixBank:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    logger.debug("matrix bank: family=%s d=%d seed=%d", family, d, seed)
    return MatrixBank(valid_dimension(family, d), family, int(seed))


def _as_list(values, what: str) -> list[int]:
    out = [int(v) for v in np.atleast_1d(values)]
    if not out:
        raise ValueError(f"{what} must not be empty")
    return out


# ---------------------------------------------------------------------------- Theorem 1
def _object_rows(graph, sketch, bank, estimators, extra):
    decoder = GraphDecoder(graph, sketch, bank)
    frames = []
    for estimator in estimators:
        table = decoder.object_table(estimator)
        table.insert(0, "estimator", estimator)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    for key, value in reversed(list(extra.items())):
        out.insert(0, key, value)
    return out


def recovery_trials(
    graph: CommunicationGraph,
    ds: Iterable[int],
    seeds: Iterable[int],
    *,
    family: str = "fast",
    estimators: Sequence[str] = ("module",),
) -> pd.DataFrame:
    """Attribute recovery error of every object, per dimension and seed (Theorem 1).

    Parameters
    ----------
    graph : CommunicationGraph
    ds : iterable of int
        Sketch dimensions (for ``block``, each is moved to the nearest valid one).
    seeds : iterable of int
        One matrix bank per seed and dimension.
    family : str, default="fast"
    estimators : sequence of {"module", "path"}, default=("module",)

    Returns
    -------
    pandas.DataFrame
        Columns ``family, d, seed, estimator, object, module, depth, effective_weight,
        linf_error, linf_noise, predicted_linf`` (see
        :meth:`~sketch_explorer.decoder.GraphDecoder.object_table`): ``linf_error`` is against
        the true attributes, ``linf_noise`` against the estimator's exact expectation under the
        graph, ``predicted_linf`` the noise the theory predicts for this sketch.

    Examples
    --------
    >>> t = recovery_trials(flat_graph([0.5, 0.5], k=4), [64], [0, 1])
    >>> t.shape[0], bool((t["predicted_linf"] > 0).all())
    (4, True)
    """
    frames = []
    for d in _as_list(ds, "ds"):
        for seed in _as_list(seeds, "seeds"):
            bank = _bank(family, d, seed)
            sketch = sketch_graph(graph, bank, progress=False).overall
            extra = {"family": family, "d": bank.d, "seed": seed}
            frames.append(_object_rows(graph, sketch, bank, estimators, extra))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- erasure
def _random_mask(d: int, d_prime: int, seed: int) -> np.ndarray:
    """A uniformly random set of exactly ``d_prime`` of ``d`` coordinates, from the seed."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(d_prime), 0x3A5]))
    mask = np.zeros(d, dtype=bool)
    mask[rng.choice(d, size=d_prime, replace=False)] = True
    return mask


def erasure_trials(
    graph: CommunicationGraph,
    d: int,
    kept: Iterable[int],
    seeds: Iterable[int],
    *,
    family: str = "fast",
    modes: Sequence[str] = ("prefix", "mask"),
    estimators: Sequence[str] = ("module",),
) -> pd.DataFrame:
    """Recovery error after graceful erasure to d' kept coordinates.

    Parameters
    ----------
    graph : CommunicationGraph
    d : int
        Full sketch dimension.
    kept : iterable of int
        Numbers d' of kept coordinates, each in ``1..d``.
    seeds : iterable of int
    family : str, default="fast"
    modes : sequence of {"prefix", "mask"}
        ``prefix`` keeps coordinates ``0..d'-1``; ``mask`` keeps a uniformly random set of d'
        coordinates drawn from ``(seed, d')`` (the decoder is told which).
    estimators : sequence of {"module", "path"}, default=("module",)

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`recovery_trials` plus ``d_prime`` and ``mode``. The estimators
        rescale the kept coordinates by d/d', so ``predicted_linf`` grows like
        ``sqrt(d / d')``.
    """
    for mode in modes:
        if mode not in ("prefix", "mask"):
            raise ValueError(f"erasure mode must be 'prefix' or 'mask'; got {mode!r}")
    frames = []
    for seed in _as_list(seeds, "seeds"):
        bank = _bank(family, d, seed)
        full = sketch_graph(graph, bank, progress=False).overall
        for d_prime in _as_list(kept, "kept"):
            if not 1 <= d_prime <= bank.d:
                raise ValueError(f"kept d' must be in 1..{bank.d}; got {d_prime}")
            for mode in modes:
                if mode == "prefix":
                    sketch = full.erase_prefix(d_prime)
                else:
                    sketch = full.erase_mask(_random_mask(bank.d, d_prime, seed))
                extra = {"family": family, "d": bank.d, "d_prime": d_prime, "mode": mode,
                         "seed": seed}
                frames.append(_object_rows(graph, sketch, bank, estimators, extra))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- Theorem 3
def statistics_trials(
    graph: CommunicationGraph,
    module: str,
    ds: Iterable[int],
    seeds: Iterable[int],
    *,
    family: str = "fast",
) -> pd.DataFrame:
    """Frequency, summed and mean attributes of one module, per dimension and seed (Thm 3).

    The module's objects must share one effective weight w and one depth h (Theorem 3's
    assumption; see :func:`repeated_module_graph`).

    Parameters
    ----------
    graph : CommunicationGraph
    module : str
        The module whose objects are counted, summed and averaged.
    ds, seeds : iterables of int
        One matrix bank per dimension and seed.
    family : str, default="fast"

    Returns
    -------
    pandas.DataFrame
        One row per ``(d, seed)``: ``family, d, seed, n_true, n_hat, count_error_scale``
        (frequency, ``<R_{M,2} e_1, s> / (c(h) w)``), ``sum_linf_error, sum_predicted_linf``
        (``R_{M,1}^T s / (c(h) w)`` against the summed attributes) and ``mean_linf_error,
        mean_predicted_linf`` (the ratio ``R_{M,1}^T s / <R_{M,2} e_1, s>`` against the mean
        attribute vector; its prediction is first order, ignoring the noise of the ratio's
        denominator).
    """
    members = graph.objects_of(module)
    weights = {graph.effective_weight(n) for n in members}
    if max(weights) - min(weights) > 1e-12:
        raise ValueError(
            f"the objects of module {module!r} have different effective weights {sorted(weights)};"
            " Theorem 3 assumes one common weight"
        )
    w, h = weights.pop(), graph.modules[module]
    k = max(graph.attributes(n).size for n in members)
    X = np.zeros((len(members), k))
    for r, name in enumerate(members):
        X[r, : graph.attributes(name).size] = graph.attributes(name)
    total, mean = X.sum(axis=0), X.mean(axis=0)

    rows = []
    for d in _as_list(ds, "ds"):
        for seed in _as_list(seeds, "seeds"):
            bank = _bank(family, d, seed)
            s = sketch_graph(graph, bank, progress=False).overall
            n_hat = estimate_frequency(s, bank, module, h, w)
            summed = estimate_summed_attributes(s, bank, module, h, w, k)
            ratio = estimate_mean_attributes(s, bank, module, k)
            rows.append(
                {
                    "family": family,
                    "d": bank.d,
                    "seed": seed,
                    "n_true": len(members),
                    "n_hat": n_hat.value,
                    "count_error_scale": n_hat.error_scale,
                    "sum_linf_error": float(np.abs(summed.value - total).max()),
                    "sum_predicted_linf": summed.predicted_linf,
                    "mean_linf_error": float(np.abs(ratio.value - mean).max()),
                    "mean_predicted_linf": ratio.predicted_linf,
                }
            )
    return pd.DataFrame(rows)


def pooled_mean_trials(
    graphs: Sequence[CommunicationGraph],
    module: str,
    d: int,
    seeds: Iterable[int],
    *,
    family: str = "fast",
) -> pd.DataFrame:
    """Mean attributes of one module over many graphs, from the sum of their sketches.

    Summary statistics over a collection (the paper's "a room seen every day for a year"):
    sum the overall sketches made with one bank, then apply the ratio estimator
    ``R_{M,1}^T S / <R_{M,2} e_1, S>``. It targets the weighted mean
    ``sum w_theta x_theta / sum w_theta`` over every object of ``module`` in every graph
    (the module must sit at one depth wherever it appears). The same estimator applied to the
    first graph that holds the module, alone, is reported beside it.

    Parameters
    ----------
    graphs : sequence of CommunicationGraph
        The collection, e.g. one scene per day.
    module : str
    d : int
        Sketch dimension.
    seeds : iterable of int
        One matrix bank per seed; every graph is sketched with it.
    family : str, default="fast"

    Returns
    -------
    pandas.DataFrame
        One row per ``(seed, scope)`` with scope ``"pooled"`` or ``"first graph"``: ``family,
        d, seed, scope, n_objects, linf_error, predicted_linf, estimate, target`` (the last
        two are ``(k,)`` arrays).
    """
    graphs = list(graphs)
    holding = [g for g in graphs if module in g.modules]
    if not holding:
        raise ValueError(f"no graph holds an object of module {module!r}")
    depths = {g.modules[module] for g in holding}
    if len(depths) > 1:
        raise ValueError(f"module {module!r} sits at several depths {sorted(depths)}")
    k = max(g.attributes(n).size for g in holding for n in g.objects_of(module))

    def weighted(gs):
        num, den, count = np.zeros(k), 0.0, 0
        for g in gs:
            for n in g.objects_of(module):
                x = g.attributes(n)
                num[: x.size] += g.effective_weight(n) * x
                den += g.effective_weight(n)
                count += 1
        return num / den, count

    targets = {"pooled": weighted(holding), "first graph": weighted(holding[:1])}
    rows = []
    for seed in _as_list(seeds, "seeds"):
        bank = _bank(family, d, seed)
        sketches = [sketch_graph(g, bank, progress=False).overall for g in graphs]
        first = sketches[graphs.index(holding[0])]
        for scope, sketch in (("pooled", Sketch.sum(sketches)), ("first graph", first)):
            est = estimate_mean_attributes(sketch, bank, module, k)
            target, count = targets[scope]
            rows.append(
                {
                    "family": family,
                    "d": bank.d,
                    "seed": seed,
                    "scope": scope,
                    "n_objects": count,
                    "linf_error": float(np.abs(est.value - target).max()),
                    "predicted_linf": est.predicted_linf,
                    "estimate": est.value,
                    "target": target,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- Theorem 2
def similarity_trials(
    pairs: Mapping[str, tuple[CommunicationGraph, CommunicationGraph]],
    ds: Iterable[int],
    seeds: Iterable[int],
    *,
    family: str = "fast",
) -> pd.DataFrame:
    """Inner product and cosine of two sketches made with one bank (Theorem 2(i)-(ii)).

    Parameters
    ----------
    pairs : mapping name -> (graph_a, graph_b)
    ds, seeds : iterables of int
    family : str, default="fast"

    Returns
    -------
    pandas.DataFrame
        One row per ``(pair, d, seed)``: ``pair, family, d, seed, dot, cosine, norm_a,
        norm_b``, the prediction ``expected_dot`` (:func:`expected_inner_product`, the same
        for every d and seed) and ``noise_scale = norm_a norm_b / sqrt(d)``, the spread of the
        inner product of two independently rotated vectors of those norms.
    """
    expected = {name: expected_inner_product(a, b) for name, (a, b) in pairs.items()}
    rows = []
    for d in _as_list(ds, "ds"):
        for seed in _as_list(seeds, "seeds"):
            bank = _bank(family, d, seed)
            cache: dict[int, object] = {}  # a graph in several pairs is sketched once

            def overall(graph):
                if id(graph) not in cache:
                    cache[id(graph)] = sketch_graph(graph, bank, progress=False).overall
                return cache[id(graph)]

            for name, (a, b) in pairs.items():
                sa, sb = overall(a), overall(b)
                dot, cosine = similarity(sa, sb)
                na, nb = float(np.linalg.norm(sa.values)), float(np.linalg.norm(sb.values))
                rows.append(
                    {
                        "pair": name,
                        "family": family,
                        "d": bank.d,
                        "seed": seed,
                        "dot": dot,
                        "cosine": cosine,
                        "norm_a": na,
                        "norm_b": nb,
                        "expected_dot": expected[name],
                        "noise_scale": na * nb / math.sqrt(bank.d),
                    }
                )
    return pd.DataFrame(rows)


def perturbation_trials(
    graph: CommunicationGraph,
    d: int,
    seeds: Iterable[int],
    *,
    families: Sequence[str] = ("haar", "fast", "gaussian", "block"),
    epsilon: float = 0.1,
    n_directions: int = 20,
) -> pd.DataFrame:
    """How far the sketch moves when attributes move: Theorem 2(iii).

    For each bank, ``n_directions`` times: every object's attributes change by a random
    Gaussian direction of l2 norm ``epsilon`` (``"all"``), and one object, chosen in turn,
    changes alone (``"one"``). The bound is ``||s(x) - s(x')|| <= epsilon / 2``. Attribute
    vectors after the change need not be unit or non-negative: the map is the affine one of
    :func:`~sketch_explorer.sketch.sketch_attributes`.

    Parameters
    ----------
    graph : CommunicationGraph
    d : int
        Sketch dimension (for ``block``, moved to the nearest valid one).
    seeds : iterable of int
    families : sequence of str, default=("haar", "fast", "gaussian", "block")
    epsilon : float, default=0.1
        l2 size of each object's change.
    n_directions : int, default=20
        Random changes per bank.

    Returns
    -------
    pandas.DataFrame
        One row per change: ``family, d, seed, which, object, change, bound, ratio``
        (``change / bound``; the theorem says ``ratio <= 1`` for orthonormal families, with
        probability one). ``object`` is None for ``"all"``.
    """
    rows = []
    n = len(graph)
    for family in families:
        for seed in _as_list(seeds, "seeds"):
            bank = _bank(family, d, seed)
            X = np.zeros((n, bank.d))
            for r, name in enumerate(graph.objects):
                X[r, : graph.attributes(name).size] = graph.attributes(name)
            base = sketch_attributes(graph, bank, X)
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7E2]))
            for t in range(n_directions):
                D = np.zeros_like(X)
                for r, name in enumerate(graph.objects):
                    k = graph.attributes(name).size
                    D[r, :k] = epsilon * _unit(rng.standard_normal(k))
                one = t % n
                D_one = np.zeros_like(X)
                D_one[one] = D[one]
                for which, delta, obj in (("all", D, None), ("one", D_one, graph.objects[one])):
                    moved = sketch_attributes(graph, bank, X + delta)
                    change = float(np.linalg.norm(moved - base))
                    rows.append(
                        {
                            "family": family,
                            "d": bank.d,
                            "seed": seed,
                            "which": which,
                            "object": obj,
                            "change": change,
                            "bound": epsilon / 2,
                            "ratio": change / (epsilon / 2),
                        }
                    )
    return pd.DataFrame(rows)


def operator_norms(graph: CommunicationGraph, bank: MatrixBank) -> pd.DataFrame:
    """Largest singular value of each object's attribute-to-sketch map ``L_theta``.

    ``||s(x) - s(x')|| <= sum_theta ||L_theta|| ||dx_theta||``, so ``sum_theta ||L_theta||`` is
    the exact constant of Theorem 2(iii) for this graph and draw (when every object may
    change by epsilon), and ``max_theta ||L_theta||`` the constant when one object changes.
    The theorem's 1/2 bounds both for orthonormal families.

    Parameters
    ----------
    graph : CommunicationGraph
    bank : MatrixBank

    Returns
    -------
    pandas.DataFrame
        One row per object: ``object, depth, effective_weight, norm``.
    """
    rows = []
    for name in graph.objects:
        L = attribute_operator(graph, bank, name)
        rows.append(
            {
                "object": name,
                "depth": graph.depth(name),
                "effective_weight": graph.effective_weight(name),
                "norm": float(np.linalg.norm(L, 2)),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- joint
def _joint_prediction(graph, bank, kept, sigma):
    """Predicted l-inf error of each object's least-squares estimate under white noise.

    With noise of standard deviation sigma on every kept coordinate, the least-squares error
    has covariance ``sigma^2 (A^T A)^-1``; for object theta, ``sigma sqrt(mean of its diagonal
    block)`` times the expected maximum of k ``|N(0, 1)|`` (coordinates treated as independent,
    an approximation).
    """
    blocks = [attribute_operator(graph, bank, name) for name in graph.objects]
    A = np.hstack(blocks)[kept]
    diag = np.diag(np.linalg.pinv(A.T @ A))
    out, start = {}, 0
    for name, block in zip(graph.objects, blocks):
        k = block.shape[1]
        scale = sigma * math.sqrt(max(float(diag[start : start + k].mean()), 0.0))
        out[name] = scale * expected_max_abs_normal(k)
        start += k
    return out


def joint_trials(
    graph: CommunicationGraph,
    ds: Iterable[int],
    seeds: Iterable[int],
    *,
    family: str = "fast",
    kept: Iterable[int] | None = None,
    noise: Iterable[float] = (0.0,),
    estimators: Sequence[str] = ("module", "path"),
) -> pd.DataFrame:
    """The paper's estimators beside joint least squares (beyond the paper), per object.

    Parameters
    ----------
    graph : CommunicationGraph
    ds, seeds : iterables of int
    family : str, default="fast"
    kept : iterable of int, optional
        If given, each sketch is also erased to each of these prefixes d' (the joint decoder
        uses the kept rows; the paper's estimators rescale by d/d'). Default: no erasure.
    noise : iterable of float, default=(0.0,)
        Relative levels eta of white noise added to the kept coordinates before decoding:
        standard deviation ``eta ||s|| / sqrt(d')`` per coordinate (a stored sketch that was
        rounded or transmitted). At eta = 1 the added noise is as large, per coordinate, as
        the noise the paper's estimators already see from the sketch's other terms.
    estimators : sequence of {"module", "path"}
        The paper's estimators to run beside ``"joint"``.

    Returns
    -------
    pandas.DataFrame
        One row per ``(d, d', eta, seed, estimator, object)``: ``family, d, d_prime, noise,
        seed, estimator, object, depth, effective_weight, linf_error, predicted_linf`` and,
        for ``"joint"``, ``rank`` and ``n_unknowns`` of the stacked system (NaN for the
        paper's estimators). The joint prediction is ``sigma sqrt(diag (A^T A)^-1)`` scaled to
        an l-inf error (see :func:`_joint_prediction`); zero without noise. Rank deficient
        systems (``block``, or d' below the number of unknowns) are solved in the
        minimum-norm sense; their :class:`SingularSystemWarning` is recorded as
        ``rank < n_unknowns`` rather than raised.
    """
    rows = []
    levels = [float(v) for v in np.atleast_1d(noise)]
    if min(levels) < 0:
        raise ValueError(f"noise levels must be >= 0; got {levels}")
    for d in _as_list(ds, "ds"):
        for seed in _as_list(seeds, "seeds"):
            bank = _bank(family, d, seed)
            full = sketch_graph(graph, bank, progress=False).overall
            prefixes = [bank.d] if kept is None else _as_list(kept, "kept")
            for d_prime in prefixes:
                exact = full if d_prime >= bank.d else full.erase_prefix(d_prime)
                idx = np.arange(bank.d) if exact.kept is None else exact.kept
                for eta in levels:
                    sigma = eta * float(np.linalg.norm(exact.values)) / math.sqrt(idx.size)
                    rng = np.random.default_rng(
                        np.random.SeedSequence([int(seed), int(d_prime), 0x501])
                    )
                    values = exact.values + sigma * rng.standard_normal(idx.size)
                    sketch = Sketch(values, bank.identity, exact.kept)
                    rows.extend(
                        _joint_rows(graph, bank, sketch, idx, sigma, estimators,
                                    {"family": family, "d": bank.d, "d_prime": idx.size,
                                     "noise": eta, "seed": seed})
                    )
    return pd.DataFrame(rows)


def _joint_rows(graph, bank, sketch, idx, sigma, estimators, base):
    decoder = GraphDecoder(graph, sketch, bank)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularSystemWarning)
        sol = joint_least_squares(graph, sketch, bank)
    if sigma > 0:
        predicted = _joint_prediction(graph, bank, idx, sigma)
    else:
        predicted = dict.fromkeys(graph.objects, 0.0)
    rows = []
    for name in graph.objects:
        truth = graph.attributes(name)
        common = {
            "object": name,
            "depth": graph.depth(name),
            "effective_weight": graph.effective_weight(name),
        }
        for estimator in estimators:
            est = decoder.attributes(name, estimator)
            rows.append({**base, "estimator": estimator, **common,
                         "linf_error": float(np.abs(est.value[: truth.size] - truth).max()),
                         "predicted_linf": est.predicted_linf,
                         "rank": np.nan, "n_unknowns": np.nan})
        rows.append({**base, "estimator": "joint", **common,
                     "linf_error": float(np.abs(sol.attributes[name] - truth).max()),
                     "predicted_linf": predicted[name],
                     "rank": sol.rank, "n_unknowns": sol.n_unknowns})
    return rows


# ---------------------------------------------------------------------------- summaries
def quantile_summary(
    table: pd.DataFrame, by: str | Sequence[str], values: str | Sequence[str]
) -> pd.DataFrame:
    """Median and quartiles of ``values`` per group of ``by``.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``n_rows`` (rows in the group) and for each value
        column ``<v>_median``, ``<v>_q25``, ``<v>_q75``.

    Examples
    --------
    >>> t = pd.DataFrame({"d": [1, 1, 1, 2], "e": [1.0, 2.0, 3.0, 5.0]})
    >>> quantile_summary(t, "d", "e")["e_median"].tolist()
    [2.0, 5.0]
    """
    by = [by] if isinstance(by, str) else list(by)
    values = [values] if isinstance(values, str) else list(values)
    grouped = table.groupby(by, sort=True)
    out = grouped.size().rename("n_rows").to_frame()
    for v in values:
        out[f"{v}_median"] = grouped[v].median()
        out[f"{v}_q25"] = grouped[v].quantile(0.25)
        out[f"{v}_q75"] = grouped[v].quantile(0.75)
    return out.reset_index()


def exact_count_probability(error_scale: np.ndarray | float) -> np.ndarray | float:
    """Predicted probability that rounding the count estimate gives the true count.

    With a Gaussian error of standard deviation sigma, ``P(|N(0, sigma)| < 1/2)``
    ``= 2 Phi(1 / (2 sigma)) - 1``.

    Parameters
    ----------
    error_scale : float or ndarray
        sigma, e.g. ``Estimate.error_scale`` of :func:`estimate_frequency`.

    Returns
    -------
    float or ndarray
    """
    sigma = np.asarray(error_scale, dtype=float)
    return 2.0 * stats.norm.cdf(0.5 / sigma) - 1.0


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def band_figure(
    summary: pd.DataFrame,
    x: str,
    measured: str,
    *,
    predicted: str | None = None,
    group: str | None = None,
    title: str = "",
    x_title: str | None = None,
    y_title: str = "",
    log_x: bool = True,
    log_y: bool = True,
    hlines: Sequence[tuple[float, str]] = (),
    digits: int = 4,
) -> go.Figure:
    """Measured medians with quartile bars beside a predicted curve, one colour per group.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`quantile_summary` with ``<measured>_median/_q25/_q75`` columns and,
        if ``predicted`` is given, ``<predicted>_median``.
    x : str
        Column for the horizontal axis.
    measured, predicted : str
        Value names as passed to :func:`quantile_summary`.
    group : str, optional
        Column whose values get one colour each.
    hlines : sequence of (y, label), optional
        Horizontal reference lines, dotted, drawn across the data's x range and named in
        the legend (plotly's own ``add_hline`` annotations land in the wrong place on log
        axes).
    digits : int, default=4
        Significant digits kept in the figure's data, which keeps the stored notebook small.

    Returns
    -------
    plotly.graph_objects.Figure
        Markers with error bars (measured) and dashed lines (predicted).
    """

    def sig(v):
        v = np.asarray(v)
        if not np.issubdtype(v.dtype, np.number):
            return v.tolist()  # categories, e.g. family names
        return [float(f"{t:.{digits}g}") for t in v.astype(float)]

    fig = go.Figure()
    groups = [(None, summary)] if group is None else list(summary.groupby(group, sort=False))
    for i, (key, part) in enumerate(groups):
        colour = _COLOURS[i % len(_COLOURS)]
        label = "" if key is None else f"{key}: "
        med = part[f"{measured}_median"].to_numpy()
        fig.add_trace(
            go.Scatter(
                x=sig(part[x]),
                y=sig(med),
                mode="markers",
                marker={"color": colour, "size": 8},
                name=f"{label}measured (median, quartiles)",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": sig(part[f"{measured}_q75"].to_numpy() - med),
                    "arrayminus": sig(med - part[f"{measured}_q25"].to_numpy()),
                },
            )
        )
        if predicted is not None:
            fig.add_trace(
                go.Scatter(
                    x=sig(part[x]),
                    y=sig(part[f"{predicted}_median"]),
                    mode="lines",
                    line={"color": colour, "dash": "dash"},
                    name=f"{label}predicted",
                )
            )
    xs = list(dict.fromkeys(summary[x].tolist()))  # data order, for categories
    if np.issubdtype(np.asarray(xs).dtype, np.number):
        xs = sorted(xs)
    for y, label in hlines:
        fig.add_trace(
            go.Scatter(
                x=sig([xs[0], xs[-1]]),
                y=[float(y)] * 2,
                mode="lines",
                line={"color": "grey", "dash": "dot", "width": 1.5},
                name=label,
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=x if x_title is None else x_title,
        yaxis_title=y_title,
        width=720,
        height=420,
        template="none",  # no embedded template: keeps stored notebooks small
        plot_bgcolor="white",
        legend={"font": {"size": 10}},
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
    )
    fig.update_xaxes(showline=True, linecolor="#444", gridcolor="#e5e5e5", ticks="outside")
    fig.update_yaxes(showline=True, linecolor="#444", gridcolor="#e5e5e5", ticks="outside")
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig
