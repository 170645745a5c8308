"""Estimators that read a sketch when its matrices are known (SPEC section 4).

Expanding every ``(I + R)/2`` of the sketch into ``I/2 + R/2``, the term that takes ``I/2``
everywhere carries ``R_{M,1} x_theta`` unrotated, with coefficient ``c(h) w_theta`` where

    c(h) = 2^-(4(h-1)+1)        (h = 2: 1/32, h = 3: 1/512)

and every other term is rotated by at least one independent matrix, acting as noise of about
``||s|| / sqrt(d)`` per coordinate. Each estimator here divides the matching projection by that
coefficient and reports, beside its value, the predicted noise scale it implies for this very
sketch (:class:`Estimate`), so plots can draw the theory line next to the measurement.

Erasure: every estimator reads ``sketch.expanded()``, the sketch with zeros at erased
coordinates and the kept ones multiplied by d/d'. That is the same as applying the matrices to
the kept coordinates only and rescaling; the noise grows like 1/sqrt(d').

What is not checked: that the module, depth, weight or path passed in are those of the graph
that made the sketch. :mod:`sketch_explorer.decoder` reads them from a graph.

References
----------
.. [1] Ghazi, Panigrahy, Wang, "Recursive Sketches for Modular Deep Learning", ICML 2019:
   Theorem 1 (attribute recovery), Theorem 2 (similarity), Theorem 3 (summary statistics),
   section 3 (graceful erasure).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from .matrices import MatrixBank
from .sketch import Sketch, check_same_bank

__all__ = [
    "Estimate",
    "depth_coefficient",
    "factor_sequence",
    "word_multiplicity",
    "expected_max_abs_normal",
    "recover_attributes",
    "recover_attributes_on_path",
    "recover_object_attributes",
    "estimate_frequency",
    "estimate_summed_attributes",
    "estimate_mean_attributes",
    "unroll",
    "unroll_position",
    "input_subsketch",
    "attribute_subsketch",
    "similarity",
]


@dataclass(frozen=True)
class Estimate:
    """An estimate with its predicted error.

    Attributes
    ----------
    value : ndarray or float
        The estimate.
    error_scale : float
        Predicted standard deviation of the error of each coordinate (of the value itself for a
        scalar), from the norm of the sketch actually read: ``||s_expanded|| / (sqrt(d) * C)``
        with C the coefficient the estimator divides by.
    predicted_linf : float
        Predicted l-infinity error over the returned coordinates: ``error_scale`` times the
        expected maximum of that many independent ``|N(0, 1)|`` (for a scalar, times
        sqrt(2/pi), the mean of one ``|N(0, 1)|``).
    coefficient : float
        The coefficient C divided by (``m c(h) w`` for attributes).

    Notes
    -----
    The prediction treats every rotated term as spread evenly over the coordinates, which is
    exact on average for orthonormal families (``haar``, ``fast``). For ``gaussian`` and
    ``block`` matrices ``R^T R`` is not the identity, and measured errors sit above the
    prediction: about 1.1x for gaussian and 1.5-3x for block with the path-known estimator
    (measured in ``notebooks/10_attribute_recovery.ipynb``).
    """

    value: np.ndarray | float
    error_scale: float
    predicted_linf: float
    coefficient: float


def depth_coefficient(h: int) -> float:
    """``c(h) = 2^-(4(h-1)+1)``: the coefficient of the unrotated term of an object at depth h.

    Examples
    --------
    >>> depth_coefficient(2), depth_coefficient(3)
    (0.03125, 0.001953125)
    """
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 2:
        raise ValueError(f"depth h must be an int >= 2 (the output has depth 1); got {h!r}")
    return 2.0 ** -(4 * (int(h) - 1) + 1)


def factor_sequence(positions: Sequence[int]) -> list[int]:
    """Tuple-position matrices met along a path, outermost first.

    For input positions ``i_1..i_{h-1}`` (output down) the path to the object's attributes
    passes ``T_{i_1}, W, T_2, T_{i_2}, W, T_2, ..., T_{i_{h-1}}, W, T_1``: each level's tuple
    position, the input marker ``T_2`` between levels, and the attribute marker ``T_1`` at the
    end. The W factors (module matrices) never match a position word and are left out.
    """
    positions = [int(i) for i in positions]
    if not positions or min(positions) < 1:
        raise ValueError(f"a path is a non-empty sequence of positions >= 1; got {positions}")
    seq: list[int] = []
    for level, i in enumerate(positions):
        seq.append(i)
        seq.append(2 if level < len(positions) - 1 else 1)
    return seq


def word_multiplicity(positions: Sequence[int], sequence: Sequence[int] | None = None) -> int:
    """Number m of ways the word ``R_{i_1} ... R_{i_{h-1}}`` arises from a factor sequence.

    Counts the subsequences of ``sequence`` (default: :func:`factor_sequence` of ``positions``)
    equal to ``positions``: every such choice of R's (I/2 from all other factors) contributes
    the same unrotated term, so the path-known estimator divides by m.

    Examples
    --------
    >>> word_multiplicity([1]), word_multiplicity([2]), word_multiplicity([1, 2])
    (2, 1, 1)
    """
    target = [int(i) for i in positions]
    seq = factor_sequence(target) if sequence is None else [int(i) for i in sequence]
    # ways[j] = number of embeddings of target[:j] in the prefix of seq read so far
    ways = [1] + [0] * len(target)
    for f in seq:
        for j in range(len(target), 0, -1):
            if target[j - 1] == f:
                ways[j] += ways[j - 1]
    return ways[-1]


@functools.lru_cache(maxsize=256)
def expected_max_abs_normal(k: int) -> float:
    """``E[max_{j<=k} |Z_j|]`` for k independent standard normals.

    Computed as ``int_0^inf 1 - (2 Phi(t) - 1)^k dt``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    value, _err = integrate.quad(lambda t: 1.0 - (2.0 * stats.norm.cdf(t) - 1.0) ** k, 0, np.inf)
    return float(value)


# ---------------------------------------------------------------------------- helpers
def _read(sketch: Sketch, bank: MatrixBank) -> np.ndarray:
    if not isinstance(sketch, Sketch):
        raise TypeError(f"sketch must be a Sketch; got {type(sketch).__name__}")
    if not isinstance(bank, MatrixBank):
        raise TypeError(f"bank must be a MatrixBank; got {type(bank).__name__}")
    bank.identity.check_same(sketch.bank, "the sketch and the matrix bank")
    return sketch.expanded()


def _check_weight(weight: float, what: str = "effective weight") -> float:
    w = float(weight)
    if not math.isfinite(w) or w <= 0:
        raise ValueError(
            f"{what} must be finite and > 0; got {weight!r} (an object of weight 0 leaves no "
            "trace in the sketch)"
        )
    return w


def _dim(dim: int | None, d: int) -> int:
    if dim is None:
        return d
    if not 1 <= int(dim) <= d:
        raise ValueError(f"dim must be in 1..{d}; got {dim}")
    return int(dim)


def _vector_estimate(y: np.ndarray, s: np.ndarray, coef: float, dim: int) -> Estimate:
    sigma = float(np.linalg.norm(s)) / math.sqrt(s.size) / abs(coef)
    return Estimate(y[:dim] / coef, sigma, sigma * expected_max_abs_normal(dim), coef)


# ---------------------------------------------------------------------------- attributes
def recover_attributes(
    sketch: Sketch,
    bank: MatrixBank,
    module: str,
    depth: int,
    effective_weight: float,
    dim: int | None = None,
) -> Estimate:
    """Attributes of an object whose module is known (Theorem 1(i)).

    ``x_hat = R_{M,1}^T s / (c(h) w_theta)``.

    Parameters
    ----------
    sketch : Sketch
        The overall sketch (possibly erased).
    bank : MatrixBank
        The bank that made it.
    module : str
    depth : int
        Depth h of the module's objects (>= 2).
    effective_weight : float
        w_theta, the sum over paths of the weight products.
    dim : int, optional
        Number of leading coordinates to return (the attribute length). Default d.

    Returns
    -------
    Estimate
        ``value`` has shape ``(dim,)``.

    Notes
    -----
    If several objects of M are present the estimate is of ``sum_theta' w_theta' x_theta' /
    w_theta``, their weighted sum; with equal weights, of the summed attributes.
    """
    s = _read(sketch, bank)
    coef = depth_coefficient(depth) * _check_weight(effective_weight)
    y = bank.module(module, 1).apply_t(s)
    return _vector_estimate(y, s, coef, _dim(dim, bank.d))


def recover_attributes_on_path(
    sketch: Sketch,
    bank: MatrixBank,
    module: str,
    positions: Sequence[int],
    path_weight: float,
    dim: int | None = None,
) -> Estimate:
    """Attributes of the object at a known input-position path (Theorem 1(ii)).

    ``x_hat = R_{M,1}^T R_{i_{h-1}}^T ... R_{i_1}^T s / (m c(h) w)`` with ``h = len(path)+1``,
    ``w`` the product of the weights along the path and ``m`` = :func:`word_multiplicity`.

    Notes
    -----
    ``R_1`` and ``R_2`` are also the attribute and input markers, so the word
    ``R_{i_1} ... R_{i_{h-1}}`` can arise in m > 1 ways: an object at position 1 of the output
    tuple has m = 2. Without m the estimate is biased by that factor. Other objects of the same
    module whose own factor sequence contains the word contribute too (see
    :meth:`sketch_explorer.decoder.GraphDecoder.expected_attributes`).
    """
    s = _read(sketch, bank)
    positions = [int(i) for i in positions]
    m = word_multiplicity(positions)
    coef = m * depth_coefficient(len(positions) + 1) * _check_weight(path_weight, "path weight")
    y = s
    for i in positions:
        y = bank.position(i).apply_t(y)
    y = bank.module(module, 1).apply_t(y)
    return _vector_estimate(y, s, coef, _dim(dim, bank.d))


def recover_object_attributes(
    object_sketch: Sketch, bank: MatrixBank, module: str, dim: int | None = None
) -> Estimate:
    """Attributes from an object sketch (exact or unrolled): ``x_hat = 16 R_{M,1}^T o``.

    In ``o = W_M (1/2 T_1 attr + 1/2 T_2 input)`` with ``attr = 1/2 R_{M,1} x + ...`` the
    unrotated term has coefficient 1/2 * 1/2 * 1/2 * 1/2 = 1/16.
    """
    s = _read(object_sketch, bank)
    y = bank.module(module, 1).apply_t(s)
    return _vector_estimate(y, s, 1.0 / 16.0, _dim(dim, bank.d))


# ---------------------------------------------------------------------------- statistics
def _marker(bank: MatrixBank, module: str) -> np.ndarray:
    e1 = np.zeros(bank.d)
    e1[0] = 1.0
    return bank.module(module, 2).apply(e1)


def estimate_frequency(
    sketch: Sketch, bank: MatrixBank, module: str, depth: int, weight: float
) -> Estimate:
    """Number of objects of ``module`` (Theorem 3(i)).

    ``n_hat = <R_{M,2} e_1, s> / (c(h) w)``, with w the common effective weight of the module's
    objects. In general it estimates ``sum_theta w_theta / w``, so passing the mean effective
    weight of the module's objects gives their count.
    """
    s = _read(sketch, bank)
    coef = depth_coefficient(depth) * _check_weight(weight, "weight")
    value = float(_marker(bank, module) @ s) / coef
    sigma = float(np.linalg.norm(s)) / math.sqrt(s.size) / coef
    return Estimate(value, sigma, sigma * math.sqrt(2 / math.pi), coef)


def estimate_summed_attributes(
    sketch: Sketch,
    bank: MatrixBank,
    module: str,
    depth: int,
    weight: float,
    dim: int | None = None,
) -> Estimate:
    """Sum of the attribute vectors of a module's objects (Theorem 3(ii)).

    ``R_{M,1}^T s / (c(h) w)`` estimates ``sum_theta x_theta`` when all objects of M share the
    effective weight w (in general ``sum_theta w_theta x_theta / w``). The same computation as
    :func:`recover_attributes`, read differently.
    """
    return recover_attributes(sketch, bank, module, depth, weight, dim)


def estimate_mean_attributes(
    sketch: Sketch, bank: MatrixBank, module: str, dim: int | None = None
) -> Estimate:
    """Mean attribute vector of a module's objects, without knowing w or h (Theorem 3(ii)).

    ``R_{M,1}^T s / <R_{M,2} e_1, s>`` estimates ``sum w_theta x_theta / sum w_theta``, the
    weighted mean. It is a ratio of two unbiased estimates: consistent, with a bias of the
    order of the squared relative noise of the denominator, large when the module is faint.
    """
    s = _read(sketch, bank)
    denom = float(_marker(bank, module) @ s)
    if denom == 0.0:
        raise ValueError(f"the frequency marker of module {module!r} reads exactly 0")
    y = bank.module(module, 1).apply_t(s)
    return _vector_estimate(y, s, denom, _dim(dim, bank.d))


# ---------------------------------------------------------------------------- unrolling
def unroll_position(sketch: Sketch, bank: MatrixBank, i: int, weight: float) -> Sketch:
    """Estimate of the sketch at position i of a tuple: ``(2 / w_i) R_i^T s``.

    From ``s = sum_i w_i (s_i + R_i s_i) / 2``, ``R_i^T s`` holds ``w_i s_i / 2`` plus terms
    rotated by other matrices. Each level of unrolling multiplies the noise by about 16 / w.
    """
    s = _read(sketch, bank)
    w = _check_weight(weight, f"weight of position {i}")
    values = (2.0 / w) * bank.position(i).apply_t(s)
    return Sketch(values, bank.identity, meta={"unrolled_from": "tuple", "position": int(i)})


def unroll(sketch: Sketch, bank: MatrixBank, weights: Sequence[float]) -> list[Sketch]:
    """Unroll a tuple sketch position by position (the recursive-sketch property).

    Parameters
    ----------
    weights : sequence of float
        ``w_1..w_k`` of the tuple; where they are unknown, 1/k each is the usual guess.

    Returns
    -------
    list of Sketch
        Estimated object sketches at positions 1..k.
    """
    return [unroll_position(sketch, bank, i, w) for i, w in enumerate(weights, start=1)]


def input_subsketch(object_sketch: Sketch, bank: MatrixBank) -> Sketch:
    """Estimate of an object's input sketch from its object sketch: ``8 R_2^T o``."""
    s = _read(object_sketch, bank)
    return Sketch(8.0 * bank.position(2).apply_t(s), bank.identity, meta={"unrolled_from": "input"})


def attribute_subsketch(object_sketch: Sketch, bank: MatrixBank) -> Sketch:
    """Estimate of an object's attribute sketch from its object sketch: ``8 R_1^T o``."""
    s = _read(object_sketch, bank)
    return Sketch(8.0 * bank.position(1).apply_t(s), bank.identity, meta={"unrolled_from": "attr"})


# ---------------------------------------------------------------------------- similarity
def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """Inner product and cosine of two sketches of one bank (Theorem 2).

    Over the coordinates both keep; the inner product is rescaled by d / (number kept), so it
    estimates the inner product of the unerased sketches.

    Returns
    -------
    (dot, cosine) : tuple of float
    """
    check_same_bank(a, b)
    d = a.d
    ka = np.arange(d) if a.kept is None else a.kept
    kb = np.arange(d) if b.kept is None else b.kept
    both = np.intersect1d(ka, kb)
    if both.size == 0:
        raise ValueError("the two sketches keep no coordinate in common")
    va, vb = a.full()[both], b.full()[both]
    dot = float(va @ vb) * d / both.size
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    cosine = float(va @ vb) / (na * nb) if na > 0 and nb > 0 else 0.0
    return dot, cosine
