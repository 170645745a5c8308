"""Joint least-squares decoding of all attributes at once. BEYOND THE PAPER.

The paper's estimators (:mod:`sketch_explorer.recovery`) read one object at a time in one pass
and treat everything else in the sketch as noise. When the communication graph is known, the
overall sketch is an affine function of all attribute vectors together::

    s = b + sum_theta L_theta x_theta

with ``b`` the frequency-marker terms (the sketch of the structure with every attribute zero)
and ``L_theta`` the d x k_theta map of object theta's attributes (its own ``1/2 R_{M,1}``
pushed up every path to the output). Solving ``min ||[L_theta]_theta z - (s - b)||_2`` gives
every attribute at once; it is exact when the stacked map has full column rank (orthonormal
families with d comfortably above the number of unknowns) and shows how much the sketch still
holds that the one-pass estimators leave behind.

Not guaranteed for the ``block`` family: its matrices are singular (rank about 2d/3), so the
system can be rank deficient; a :class:`~sketch_explorer.exceptions.SingularSystemWarning` says
so and the minimum-norm solution is returned. Under erasure only the kept rows are used (no
rescaling is needed). Cost: one d x d product per object per level above it, and a dense
least-squares solve of size d x (sum of attribute lengths).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from .exceptions import SingularSystemWarning
from .graph import CommunicationGraph
from .matrices import MatrixBank
from .sketch import Sketch, _T, sketch_attributes

__all__ = ["JointSolution", "attribute_operator", "joint_least_squares"]


@dataclass(frozen=True)
class JointSolution:
    """Result of :func:`joint_least_squares`.

    Attributes
    ----------
    attributes : dict
        Object name -> recovered attribute vector (its own length).
    rank : int
        Rank of the stacked system.
    n_unknowns : int
        Sum of attribute lengths.
    residual : float
        ``||A z - (s - b)||`` on the kept coordinates.
    """

    attributes: dict
    rank: int
    n_unknowns: int
    residual: float


def attribute_operator(graph: CommunicationGraph, bank: MatrixBank, name: Hashable) -> np.ndarray:
    """``L_theta``: the ``(d, k)`` map from object ``name``'s attributes to the overall sketch.

    Pushes the k columns ``1/2 R_{M,1} e_j`` up through the object's own wrapper and every path
    to the output, summing over paths.
    """
    k = graph.attributes(name).size
    module = graph.module(name)

    # the object's own sketch as a function of its attributes: W_M (1/2 T_1 (1/2 R_{M,1} x))
    E = np.eye(k, bank.d)
    A = 0.5 * bank.module(module, 1).apply(E)
    inner = 0.5 * _T(bank, 1, A)
    pending: dict = defaultdict(lambda: 0.0)
    pending[name] = 0.5 * inner + 0.5 * bank.module(module, 0).apply(inner)
    total = np.zeros((k, bank.d))

    # up the ancestors, deepest first; each level adds w T_pos, then the parent's wrapper
    while pending:
        node = max(pending, key=graph.depth)
        C = pending.pop(node)
        for parent, pos, w in graph.parents(node):
            contrib = w * _T(bank, pos, C)
            if parent == graph.output:
                total += contrib
            else:
                Z = 0.5 * _T(bank, 2, contrib)
                pm = graph.module(parent)
                pending[parent] = pending[parent] + 0.5 * Z + 0.5 * bank.module(pm, 0).apply(Z)
    return total.T


def joint_least_squares(
    graph: CommunicationGraph, sketch: Sketch, bank: MatrixBank
) -> JointSolution:
    """Solve for every attribute vector of ``graph`` from its overall sketch. Beyond the paper.

    Parameters
    ----------
    graph : CommunicationGraph
        The structure (modules, weights, positions) that made the sketch; its attribute values
        are not used.
    sketch : Sketch
        The overall sketch, possibly erased.
    bank : MatrixBank

    Returns
    -------
    JointSolution
    """
    bank.identity.check_same(sketch.bank, "the sketch and the matrix bank")
    d = bank.d
    offset = sketch_attributes(graph, bank, np.zeros((len(graph), d)))
    blocks = [attribute_operator(graph, bank, name) for name in graph.objects]
    A = np.hstack(blocks)
    kept = np.arange(d) if sketch.kept is None else sketch.kept
    rhs = sketch.values - offset[kept]
    z, _res, rank, _sv = np.linalg.lstsq(A[kept], rhs, rcond=None)
    if rank < A.shape[1]:
        warnings.warn(
            f"the joint system has rank {rank} for {A.shape[1]} unknowns (kept coordinates: "
            f"{kept.size}); the minimum-norm solution is returned and is not unique",
            SingularSystemWarning,
            stacklevel=2,
        )
    out, start = {}, 0
    for name, block in zip(graph.objects, blocks):
        out[name] = z[start : start + block.shape[1]]
        start += block.shape[1]
    residual = float(np.linalg.norm(A[kept] @ z - rhs))
    return JointSolution(out, int(rank), int(A.shape[1]), residual)
