"""Recursive sketches of a communication graph (SPEC section 3).

With ``T_i = (I + R_i)/2`` and ``W_M = (I + R_{M,0})/2``::

    tuple(s_1..s_k; w_1..w_k) = sum_i w_i T_i s_i            (tuple of nothing = 0)
    attr(theta)    = 1/2 R_{M,1} x_theta + 1/2 R_{M,2} e_1    (M = module of theta)
    input(theta)   = tuple(object(theta_1)..object(theta_k); w_1..w_k)
    object(theta)  = W_M tuple(attr(theta), input(theta); 1/2, 1/2)
    overall        = input(output pseudo-object)

:func:`sketch_graph` computes these level by level from the deepest objects up, in batches: the
attribute vectors of all objects of one module are multiplied by ``R_{M,1}`` together, the inputs
at one tuple position by ``R_i`` together, and the objects of one module by ``R_{M,0}`` together.
It returns every object sketch and the overall sketch, each a :class:`Sketch` that carries the
identity of the matrix bank that made it.

A :class:`Sketch` also records graceful erasure: which coordinates are kept (a prefix or any
subset). Estimators read an erased sketch through :meth:`Sketch.expanded`, which puts zeros at
the erased coordinates and multiplies the kept ones by d/d' (SPEC section 4, erasure).

The map from attribute vectors to the overall sketch is affine (linear plus the frequency-marker
terms), and for orthonormal families every factor has operator norm <= 1, so
``||overall(x) - overall(x')|| <= 1/2 max_theta ||x_theta - x'_theta||`` (Theorem 2(iii)).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .graph import CommunicationGraph
from .matrices import BankIdentity, MatrixBank

__all__ = [
    "Sketch",
    "RecursiveSketch",
    "sketch_graph",
    "tuple_sketch",
    "attribute_sketch",
    "object_sketch",
    "check_same_bank",
    "sketch_attributes",
]


@dataclass(frozen=True, eq=False)
class Sketch:
    """A sketch vector with the identity of its matrix bank and its erasure state.

    Parameters
    ----------
    values : (n_kept,) ndarray
        The kept coordinates, in the order of ``kept``.
    bank : BankIdentity
        Family, d, seed and parameters of the matrices that made the sketch.
    kept : (n_kept,) int ndarray, optional
        Indices of the kept coordinates in ``0..d-1``, increasing; None when nothing is erased.
    """

    values: np.ndarray
    bank: BankIdentity
    kept: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        values = np.array(self.values, dtype=float)  # a private copy: the caller keeps theirs
        if values.ndim != 1:
            raise ValueError(f"sketch values must be 1-d; got shape {values.shape}")
        n = self.bank.d if self.kept is None else len(self.kept)
        if values.size != n:
            raise ValueError(
                f"sketch has {values.size} values but {n} kept coordinates (d={self.bank.d})"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError("sketch values must be finite; got NaN or inf")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        if self.kept is not None:
            kept = np.asarray(self.kept, dtype=np.int64)
            kept.setflags(write=False)
            object.__setattr__(self, "kept", kept)

    @property
    def d(self) -> int:
        """Full dimension d of the sketch (before erasure)."""
        return self.bank.d

    @property
    def n_kept(self) -> int:
        """Number d' of kept coordinates."""
        return self.bank.d if self.kept is None else int(self.kept.size)

    @property
    def is_erased(self) -> bool:
        return self.kept is not None and self.kept.size < self.bank.d

    def __repr__(self) -> str:
        erased = f", kept {self.n_kept}/{self.d}" if self.is_erased else ""
        return f"Sketch(d={self.d}, family={self.bank.family!r}, seed={self.bank.seed}{erased})"

    def full(self) -> np.ndarray:
        """The sketch as a ``(d,)`` vector with zeros at erased coordinates (no rescaling)."""
        if self.kept is None:
            return self.values.copy()
        out = np.zeros(self.d)
        out[self.kept] = self.values
        return out

    def expanded(self) -> np.ndarray:
        """``(d,)`` vector for the estimators: zeros where erased, kept values times d/d'.

        For any fixed vector v and a uniformly random kept set of size d',
        ``E[<v, expanded>] = <v, s>``; for a prefix this holds when the sketch's coordinates
        are exchangeable, as they are for the rotation-invariant families. For the ``block``
        family they are not: a short prefix falls inside one or two row blocks and is noisier
        than a random mask of the same size.
        """
        if self.kept is None:
            return self.values.copy()
        return self.full() * (self.d / max(self.n_kept, 1))

    def erase_prefix(self, d_prime: int) -> "Sketch":
        """Keep only coordinates ``0..d_prime-1`` (graceful erasure by prefix)."""
        if isinstance(d_prime, bool) or not isinstance(d_prime, (int, np.integer)):
            raise TypeError(f"erasure prefix d' must be an int; got {d_prime!r}")
        if not 1 <= d_prime <= self.d:
            raise ValueError(f"erasure prefix d' must be in 1..{self.d}; got {d_prime}")
        return self._keep(np.arange(d_prime))

    def erase_mask(self, mask: np.ndarray) -> "Sketch":
        """Keep the coordinates where ``mask`` (a ``(d,)`` bool array) is True."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.d,):
            raise ValueError(
                f"erasure mask must be a bool array of shape ({self.d},); got dtype "
                f"{mask.dtype} and shape {mask.shape}"
            )
        if not mask.any():
            raise ValueError("erasure mask keeps no coordinate; keep at least one")
        return self._keep(np.flatnonzero(mask))

    def _keep(self, idx: np.ndarray) -> "Sketch":
        current = np.arange(self.d) if self.kept is None else self.kept
        kept = np.intersect1d(current, idx)
        if kept.size == 0:
            raise ValueError("erasure leaves no coordinate of this sketch")
        values = self.full()[kept]
        return Sketch(values, self.bank, None if kept.size == self.d else kept, dict(self.meta))

    def __add__(self, other: "Sketch") -> "Sketch":
        """Sum of two unerased sketches of one bank (summary statistics sum sketches)."""
        if not isinstance(other, Sketch):
            return NotImplemented
        self.bank.check_same(other.bank, "summed sketches")
        if self.is_erased or other.is_erased:
            raise ValueError("only unerased sketches can be summed")
        return Sketch(self.values + other.values, self.bank)

    @staticmethod
    def sum(sketches: Sequence["Sketch"]) -> "Sketch":
        """Sum of many unerased sketches of one bank."""
        sketches = list(sketches)
        if not sketches:
            raise ValueError("cannot sum an empty list of sketches")
        total = sketches[0]
        for s in sketches[1:]:
            total = total + s
        return total


@dataclass(frozen=True, eq=False)
class RecursiveSketch:
    """The result of :func:`sketch_graph`: the overall sketch and every object sketch.

    Attributes
    ----------
    graph : CommunicationGraph
    overall : Sketch
    object_sketches : (n_objects, d) ndarray
        Row r is the object sketch of ``graph.objects[r]``.
    """

    graph: CommunicationGraph
    overall: Sketch
    object_sketches: np.ndarray

    @property
    def bank(self) -> BankIdentity:
        return self.overall.bank

    def object_sketch(self, name: Hashable) -> Sketch:
        """Object sketch of ``name`` as a :class:`Sketch`."""
        return Sketch(self.object_sketches[self.graph.index(name)], self.overall.bank)


# ---------------------------------------------------------------------------- primitives
def _check_bank(bank) -> MatrixBank:
    if not isinstance(bank, MatrixBank):
        raise TypeError(f"bank must be a MatrixBank; got {type(bank).__name__}")
    return bank


def _T(bank: MatrixBank, i: int, V: np.ndarray) -> np.ndarray:
    """``T_i V = (V + R_i V)/2`` for a batch of rows V."""
    return 0.5 * V + 0.5 * bank.position(i).apply(V)


def tuple_sketch(bank: MatrixBank, sketches: Sequence[np.ndarray], weights: Sequence[float]):
    """``tuple(s_1..s_k; w_1..w_k) = sum_i w_i T_i s_i`` (zero for an empty tuple).

    Parameters
    ----------
    bank : MatrixBank
    sketches : sequence of (d,) ndarray
    weights : sequence of float, same length

    Returns
    -------
    (d,) ndarray
    """
    bank = _check_bank(bank)
    if len(sketches) != len(weights):
        raise ValueError(
            f"tuple has {len(sketches)} sketches but {len(weights)} weights"
        )
    out = np.zeros(bank.d)
    for i, (s, w) in enumerate(zip(sketches, weights), start=1):
        out += w * _T(bank, i, np.asarray(s, dtype=float))
    return out


def _pad(x: np.ndarray, d: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.size > d:
        raise ValueError(f"attribute vector has {x.size} entries; must be <= d={d}")
    out = np.zeros(d)
    out[: x.size] = x
    return out


def attribute_sketch(bank: MatrixBank, module: str, x: np.ndarray) -> np.ndarray:
    """``attr = 1/2 R_{M,1} x + 1/2 R_{M,2} e_1`` with x zero-padded to d."""
    bank = _check_bank(bank)
    e1 = np.zeros(bank.d)
    e1[0] = 1.0
    return 0.5 * bank.module(module, 1).apply(_pad(x, bank.d)) + 0.5 * bank.module(
        module, 2
    ).apply(e1)


def object_sketch(bank: MatrixBank, module: str, x: np.ndarray, input_sketch: np.ndarray):
    """``object = W_M (1/2 T_1 attr + 1/2 T_2 input)`` for one object.

    The unbatched definition, kept for reading and for checking :func:`sketch_graph`.
    """
    a = attribute_sketch(bank, module, x)
    inner = 0.5 * _T(bank, 1, a) + 0.5 * _T(bank, 2, np.asarray(input_sketch, dtype=float))
    return 0.5 * inner + 0.5 * bank.module(module, 0).apply(inner)


# ---------------------------------------------------------------------------- the engine
def sketch_graph(
    graph: CommunicationGraph, bank: MatrixBank, *, progress: bool | None = None
) -> RecursiveSketch:
    """Sketch every object of ``graph`` and the whole graph, level by level.

    Parameters
    ----------
    graph : CommunicationGraph
    bank : MatrixBank
    progress : bool, optional
        Show a progress bar over the objects sketched. Default: for graphs of more than 2,000
        objects, and for the ``haar`` family from d = 1024 on, whose O(d^3) draws take seconds.

    Returns
    -------
    RecursiveSketch

    Raises
    ------
    GraphValidationError
        If an attribute vector is longer than ``bank.d``.

    Notes
    -----
    Work per level: one ``(n_M, d) x (d, d)`` product per module for attributes and another
    for the object wrapper, and one per tuple position for the inputs; with dense families
    each is a BLAS matrix product.

    Examples
    --------
    >>> from sketch_explorer import CommunicationGraph, MatrixBank
    >>> g = CommunicationGraph.from_objects({"cat": ("cat", [1.0])}, {"output": [("cat", 1)]})
    >>> rs = sketch_graph(g, MatrixBank(32, "fast", seed=0))
    >>> rs.overall.d
    32
    """
    if not isinstance(graph, CommunicationGraph):
        raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
    bank = _check_bank(bank)
    graph.check_dimension(bank.d)
    X = np.zeros((len(graph), bank.d))
    for r, name in enumerate(graph.objects):
        x = graph.attributes(name)
        X[r, : x.size] = x
    if progress is None:
        progress = len(graph) > 2000 or (bank.family == "haar" and bank.d >= 1024)
    overall, O = _propagate(graph, bank, X, progress)
    meta = {"n_objects": len(graph)}
    return RecursiveSketch(graph, Sketch(overall, bank.identity, meta=meta), O)


def sketch_attributes(graph: CommunicationGraph, bank: MatrixBank, X: np.ndarray) -> np.ndarray:
    """Overall sketch of ``graph``'s structure with other attribute vectors put in.

    Parameters
    ----------
    X : (n_objects, d) ndarray
        Row r replaces the attributes of ``graph.objects[r]``. Any finite values: this is the
        affine map ``X -> overall`` itself, for linearity checks (Theorem 2(iii)) and for the
        joint least-squares decoder; rows are not normalised or checked for sign.

    Returns
    -------
    (d,) ndarray
    """
    bank = _check_bank(bank)
    X = np.asarray(X, dtype=float)
    if X.shape != (len(graph), bank.d):
        raise ValueError(
            f"X must have shape (n_objects, d) = ({len(graph)}, {bank.d}); got {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    return _propagate(graph, bank, X, progress=False)[0]


def _propagate(graph, bank, X, progress):
    """Level-by-level engine: overall sketch and object sketches for attribute rows X."""
    d = bank.d
    objects = graph.objects
    row = {name: r for r, name in enumerate(objects)}
    O = np.zeros((len(objects), d))
    e1 = np.zeros(d)
    e1[0] = 1.0

    by_level: dict[int, list] = defaultdict(list)
    for name in objects:
        by_level[graph.depth(name)].append(name)
    bar = tqdm(total=len(objects), desc="sketching", unit="obj", disable=not progress)

    for h in sorted(by_level, reverse=True):
        names = by_level[h]
        local = {name: k for k, name in enumerate(names)}
        rows = np.array([row[n] for n in names])

        # modules of this level, each a batch of objects
        members: dict[str, list[int]] = defaultdict(list)
        for k, name in enumerate(names):
            members[graph.module(name)].append(k)

        # attribute sketches: 1/2 R_{M,1} X + 1/2 R_{M,2} e_1, one product per module
        A = np.zeros((len(names), d))
        for module, ks in members.items():
            marker = bank.module(module, 2).apply(e1)
            A[ks] = 0.5 * bank.module(module, 1).apply(X[rows[ks]]) + 0.5 * marker

        # input sketches: one product per tuple position; each parent has one input there
        U = _tuple_batch(graph, bank, names, local, row, O, len(names))

        # object sketches: W_M (1/2 T_1 A + 1/2 T_2 U), one product per module
        inner = 0.5 * _T(bank, 1, A) + 0.5 * _T(bank, 2, U)
        for module, ks in members.items():
            Z = inner[ks]
            O[rows[ks]] = 0.5 * Z + 0.5 * bank.module(module, 0).apply(Z)
            bar.update(len(ks))
    bar.close()

    overall = _tuple_batch(graph, bank, [graph.output], {graph.output: 0}, row, O, 1)[0]
    return overall, O


def _tuple_batch(graph, bank, parents, local, row, O, n_parents) -> np.ndarray:
    """Input sketches of ``parents``: ``sum_i w_i T_i object(child_i)``, batched by position."""
    U = np.zeros((n_parents, bank.d))
    by_pos: dict[int, tuple[list, list, list]] = defaultdict(lambda: ([], [], []))
    for parent in parents:
        for pos, (child, w) in enumerate(graph.inputs(parent), start=1):
            p_list, c_list, w_list = by_pos[pos]
            p_list.append(local[parent])
            c_list.append(row[child])
            w_list.append(w)
    for pos, (p_list, c_list, w_list) in sorted(by_pos.items()):
        V = np.asarray(w_list)[:, None] * O[c_list]
        U[p_list] += _T(bank, pos, V)  # no parent repeats at one position
    return U


def check_same_bank(*sketches: Sketch) -> BankIdentity:
    """Raise :class:`BankMismatchError` unless all sketches share one bank identity."""
    if not sketches:
        raise ValueError("no sketch given")
    first = sketches[0].bank
    for s in sketches[1:]:
        if not isinstance(s, Sketch):
            raise TypeError(f"expected a Sketch; got {type(s).__name__}")
        first.check_same(s.bank)
    return first

