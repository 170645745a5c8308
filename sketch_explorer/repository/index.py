"""Nearest stored sketches by inner product or cosine: exact and approximate (SPEC section 5).

Scores follow :func:`sketch_explorer.similarity` (Theorem 2). For a query q and a stored
sketch v that keeps a prefix of g coordinates, with L = min(kept(q), g):

* ``"ip"``: ``<q[:L], v[:L]> * d / L``, an estimate of the inner product of the unerased
  sketches (exactly ``similarity(q, v)[0]``);
* ``"cosine"``: ``<q[:L], v[:L]> / (||q[:L]|| ||v[:g]||)``, exactly ``similarity(q, v)[1]``
  when the query keeps at least g coordinates (always, for a full query).

Stored sketches are grouped by kept length (a forgetting repository has a few lengths); each
group has its own index over its g coordinates, and the groups' answers are merged.

Methods
-------
``exact``
    Every score computed (``backend="faiss"``: FAISS ``IndexFlatIP``; ``"numpy"``: a BLAS
    product). float32 arithmetic: ties closer than about 1e-6 relative may swap.
``lsh``
    The paper's suggestion: FAISS ``IndexLSH`` (signed random projections after a random
    rotation, Hamming distance), which approximates the angle; the ``n_candidates`` nearest by
    Hamming distance are re-scored exactly, so the returned scores are exact and only the
    candidate set is approximate.
``hnsw``
    FAISS ``IndexHNSWFlat`` (hierarchical navigable small-world graph) over inner products, a
    graph index that reaches high recall; ``ef_search`` trades speed for recall.

What is not guaranteed: an index is a snapshot of the repository when it was built; sketches
added or truncated later are not seen until it is rebuilt. Approximate methods carry no recall
guarantee; measure it with :func:`recall_at_k` (see ``benchmarks/bench_repository.py``).
"""

from __future__ import annotations

import logging
import numbers

import numpy as np
import pandas as pd

from ..sketch import Sketch

__all__ = [
    "METRICS",
    "METHODS",
    "SketchIndex",
    "ExactIndex",
    "LSHIndex",
    "HNSWIndex",
    "build_index",
    "nearest",
    "recall_at_k",
]

logger = logging.getLogger(__name__)

METRICS = ("ip", "cosine")
METHODS = ("exact", "lsh", "hnsw")


def _faiss():
    import faiss  # imported lazily: it loads OpenMP and BLAS threads

    return faiss


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    return metric


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an int >= 1; got {k!r}")
    return int(k)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


class SketchIndex:
    """Base class: groups stored sketches by kept length, one sub-index per group.

    Parameters
    ----------
    metric : {"ip", "cosine"}, default="cosine"

    Attributes
    ----------
    ids_ : (n,) int ndarray
        Repository ids of the indexed sketches.
    d_ : int
        Sketch dimension.
    """

    method = "base"

    def __init__(self, metric: str = "cosine") -> None:
        self.metric = _check_metric(metric)
        self._groups: list[tuple[int, np.ndarray, object]] = []

    # -------------------------------------------------------------- building
    def fit(self, V: np.ndarray, kept: np.ndarray | None = None, ids=None) -> "SketchIndex":
        """Index the rows of V.

        Parameters
        ----------
        V : (n, d) array_like
            Stored sketches, zero beyond each kept prefix.
        kept : (n,) int array_like, optional
            Kept length of each row; default d for all.
        ids : (n,) int array_like, optional
            Identifiers returned by :meth:`search`; default ``0..n-1``.
        """
        V = np.asarray(V)
        if V.ndim != 2 or V.shape[0] == 0:
            raise ValueError(f"V must be a non-empty (n, d) array; got shape {V.shape}")
        n, d = V.shape
        kept = np.full(n, d, dtype=np.int64) if kept is None else np.asarray(kept, dtype=np.int64)
        ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if kept.shape != (n,) or ids.shape != (n,):
            raise ValueError(f"kept and ids must have shape ({n},)")
        if kept.min() < 1 or kept.max() > d:
            raise ValueError(f"kept lengths must lie in 1..{d}")
        if not np.all(np.isfinite(V)):
            raise ValueError("V must be finite")
        self.d_ = d
        self.ids_ = ids
        self._groups = []
        for g in np.unique(kept)[::-1]:
            rows = np.flatnonzero(kept == g)
            X = np.ascontiguousarray(V[rows, :g], dtype=np.float32)
            if self.metric == "cosine":
                X = _unit_rows(X)
            self._groups.append((int(g), rows, self._build(X)))
        logger.debug("%s index over %d sketches in %d groups", self.method, n, len(self._groups))
        return self

    def _build(self, X: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _search(self, part, Q: np.ndarray, k: int):  # pragma: no cover - abstract
        raise NotImplementedError

    # -------------------------------------------------------------- searching
    def search(self, Q, k: int = 10, q_kept=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k stored sketches for each query.

        Parameters
        ----------
        Q : (nq, d) or (d,) array_like
            Queries, zero beyond each kept prefix.
        k : int
        q_kept : (nq,) int array_like, optional
            Kept length of each query; default d.

        Returns
        -------
        scores : (nq, k) float ndarray
            Best first; ``-inf`` where fewer than k sketches exist.
        ids : (nq, k) int ndarray
            Repository ids; -1 where fewer than k sketches exist.
        """
        if not self._groups:
            raise RuntimeError("the index is empty; call fit() first")
        k = _check_k(k)
        Q = np.asarray(Q, dtype=np.float64)
        if Q.ndim == 1:
            Q = Q[None]
        if Q.ndim != 2 or Q.shape[1] != self.d_:
            raise ValueError(f"queries must have shape (nq, {self.d_}); got {Q.shape}")
        if not np.all(np.isfinite(Q)):
            raise ValueError("queries must be finite")
        nq = Q.shape[0]
        q_kept = np.full(nq, self.d_) if q_kept is None else np.asarray(q_kept, dtype=np.int64)
        all_s, all_i = [], []
        for g, rows, part in self._groups:
            Qg = Q[:, :g].copy()
            if self.metric == "ip":
                Qg *= (self.d_ / np.minimum(q_kept, g))[:, None]
            else:
                Qg = _unit_rows(Qg)
            kk = min(k, rows.size)
            s, r = self._search(part, np.ascontiguousarray(Qg, dtype=np.float32), kk)
            valid = r >= 0
            all_s.append(np.where(valid, s, -np.inf))
            all_i.append(np.where(valid, self.ids_[rows[np.where(valid, r, 0)]], -1))
        S = np.concatenate(all_s, axis=1).astype(np.float64)
        I = np.concatenate(all_i, axis=1)
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]
        S = np.take_along_axis(S, order, axis=1)
        I = np.take_along_axis(I, order, axis=1)
        if S.shape[1] < k:
            pad = k - S.shape[1]
            S = np.pad(S, ((0, 0), (0, pad)), constant_values=-np.inf)
            I = np.pad(I, ((0, 0), (0, pad)), constant_values=-1)
        return S, I

    @property
    def n(self) -> int:
        """Number of indexed sketches."""
        return int(self.ids_.size) if self._groups else 0

    @property
    def nbytes(self) -> int:
        """Approximate memory of the index structures (vectors included)."""
        return sum(self._part_bytes(part) for _g, _rows, part in self._groups)

    def _part_bytes(self, part) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metric={self.metric!r}, n={self.n})"


def _faiss_bytes(index) -> int:
    faiss = _faiss()
    return int(faiss.serialize_index(index).size)


class ExactIndex(SketchIndex):
    """Every score computed: FAISS ``IndexFlatIP`` or a numpy product.

    Parameters
    ----------
    metric : {"ip", "cosine"}, default="cosine"
    backend : {"numpy", "faiss"}, default="numpy"
        Measured on these 2-core machines (100,000 sketches, d = 1024, one query): numpy's
        matrix-vector product about 31 ms, FAISS flat 90-230 ms (its OpenMP threads contend
        on a shared machine). Both read every stored coordinate, so the time is set by memory
        bandwidth; batch queries to amortise it.
    """

    method = "exact"

    def __init__(self, metric: str = "cosine", backend: str = "numpy") -> None:
        super().__init__(metric)
        if backend not in ("faiss", "numpy"):
            raise ValueError(f"backend must be 'faiss' or 'numpy'; got {backend!r}")
        self.backend = backend

    def _build(self, X):
        if self.backend == "numpy":
            return X
        index = _faiss().IndexFlatIP(X.shape[1])
        index.add(X)
        return index

    def _search(self, part, Q, k):
        if self.backend == "faiss":
            return part.search(Q, k)
        S = Q @ part.T
        top = np.argpartition(-S, k - 1, axis=1)[:, :k]
        s = np.take_along_axis(S, top, axis=1)
        order = np.argsort(-s, axis=1, kind="stable")
        return np.take_along_axis(s, order, axis=1), np.take_along_axis(top, order, axis=1)

    def _part_bytes(self, part):
        return int(part.nbytes) if self.backend == "numpy" else int(part.ntotal * part.d * 4)


class LSHIndex(SketchIndex):
    """Signed-random-projection LSH (FAISS ``IndexLSH``) with exact re-scoring.

    Parameters
    ----------
    metric : {"ip", "cosine"}, default="cosine"
    nbits : int, default=512
        Hash bits per sketch. The probability that one bit differs for two vectors at angle
        ``phi`` is ``phi / pi``, so more bits sort candidates by angle more finely.
    n_candidates : int, default=200
        Candidates (nearest by Hamming distance) re-scored exactly per query; at least k.
    seed : int, default=0
        Not used by FAISS's LSH rotation, whose seed is fixed; kept for the record.

    Notes
    -----
    The hash sees only the direction of a sketch; for ``metric="ip"`` the candidates are
    the nearest in angle, re-scored by inner product, so sketches of large norm but wider
    angle can be missed.
    """

    method = "lsh"

    def __init__(self, metric: str = "cosine", nbits: int = 512, n_candidates: int = 200,
                 seed: int = 0) -> None:
        super().__init__(metric)
        self.nbits = int(nbits)
        self.n_candidates = int(n_candidates)
        self.seed = int(seed)

    def _build(self, X):
        faiss = _faiss()
        index = faiss.IndexLSH(X.shape[1], self.nbits, True, False)
        index.train(X)
        index.add(X)
        return (index, X)

    def _search(self, part, Q, k):
        index, X = part
        m = min(max(self.n_candidates, k), X.shape[0])
        _dist, cand = index.search(Q, m)
        S = np.full(cand.shape, -np.inf, dtype=np.float32)
        for q in range(Q.shape[0]):
            ok = cand[q] >= 0
            S[q, ok] = X[cand[q, ok]] @ Q[q]
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(S, order, axis=1), np.take_along_axis(cand, order, axis=1)

    def _part_bytes(self, part):
        index, X = part
        return int(index.ntotal * self.nbits // 8 + X.nbytes)


class HNSWIndex(SketchIndex):
    """FAISS ``IndexHNSWFlat`` over inner products.

    Parameters
    ----------
    metric : {"ip", "cosine"}, default="cosine"
    M : int, default=32
        Neighbours per node in the graph.
    ef_construction : int, default=80
    ef_search : int, default=64
        Candidate list length at query time (larger: slower, higher recall).
    """

    method = "hnsw"

    def __init__(self, metric: str = "cosine", M: int = 32, ef_construction: int = 80,
                 ef_search: int = 64) -> None:
        super().__init__(metric)
        self.M = int(M)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)

    def _build(self, X):
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(X.shape[1], self.M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        index.add(X)
        return index

    def _search(self, part, Q, k):
        part.hnsw.efSearch = max(self.ef_search, k)
        return part.search(Q, k)

    def _part_bytes(self, part):
        return int(part.ntotal * (part.d * 4 + self.M * 2 * 4 * 1.1))


_CLASSES = {"exact": ExactIndex, "lsh": LSHIndex, "hnsw": HNSWIndex}


def build_index(repo, method: str = "exact", metric: str = "cosine", kind: str = "overall",
                **params) -> SketchIndex:
    """Build an index over the sketches of a repository.

    Parameters
    ----------
    repo : SketchRepository
    method : {"exact", "lsh", "hnsw"}, default="exact"
    metric : {"ip", "cosine"}, default="cosine"
    kind : {"overall", "object"}, default="overall"
    **params
        Passed to the index class (e.g. ``ef_search``, ``nbits``, ``backend``).

    Returns
    -------
    SketchIndex
    """
    if method not in _CLASSES:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    index = _CLASSES[method](metric=metric, **params)
    ids, V, kept = repo.matrix(kind=kind)
    if ids.size == 0:
        raise ValueError(f"{repo.path}: no {kind} sketch to index")
    index.fit(V, kept, ids)
    index.repository_count_ = repo.count(kind)
    return index


def _query_vector(repo, query):
    """(vector (d,), kept, stored id or None) for a Sketch, stored id or array."""
    if isinstance(query, Sketch):
        repo.bank.check_same(query.bank, "the query and the repository")
        kept = query.n_kept
        if query.kept is not None and not np.array_equal(query.kept, np.arange(kept)):
            return query.full(), repo.d, None  # a non-prefix mask: read as zeros
        return query.full(), kept, None
    if isinstance(query, numbers.Integral) and not isinstance(query, bool):
        stored = repo.get(int(query))
        return stored.sketch.full(), stored.kept, int(query)
    q = np.asarray(query, dtype=np.float64)
    if q.shape != (repo.d,):
        raise ValueError(f"query must be a Sketch, a stored id or a ({repo.d},) array; got "
                         f"shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("query must be finite")
    return q, repo.d, None


def nearest(repo, query, k: int = 10, metric: str = "cosine", index: SketchIndex | None = None,
            *, exclude_self: bool = True, touch: bool = True) -> pd.DataFrame:
    """The k stored sketches nearest a query, with their metadata and scores.

    Parameters
    ----------
    repo : SketchRepository
    query : Sketch, int or (d,) array_like
        A sketch of the repository's bank, the id of a stored sketch, or a vector.
    k : int, default=10
    metric : {"ip", "cosine"}, default="cosine"
        Ignored when ``index`` is given (the index's metric is used).
    index : SketchIndex, optional
        Default: an exact numpy scan of the whole repository, built for this call.
    exclude_self : bool, default=True
        When the query is a stored id, leave that sketch out of the answer.
    touch : bool, default=True
        Record an access to the returned sketches (what the LRU forgetting policy reads).

    Returns
    -------
    pandas.DataFrame
        One row per neighbour, best first: ``rank``, ``id``, ``score`` and the metadata of
        :meth:`SketchRepository.table`.

    Examples
    --------
    >>> # repo.nearest(repo.find("day 3"), k=5, metric="cosine")   # doctest: +SKIP
    """
    k = _check_k(k)
    q, q_kept, self_id = _query_vector(repo, query)
    if index is None:
        index = build_index(repo, "exact", _check_metric(metric), backend="numpy")
    elif index.n and getattr(index, "repository_count_", None) not in (None, repo.count()):
        logger.warning("the index was built over %s sketches; the repository now holds %d",
                       index.repository_count_, repo.count())
    extra = 1 if (self_id is not None and exclude_self) else 0
    S, I = index.search(q, k + extra, np.array([q_kept]))
    S, I = S[0], I[0]
    keep = (I >= 0) & ~((I == self_id) if extra else np.zeros_like(I, dtype=bool))
    S, I = S[keep][:k], I[keep][:k]
    table = repo.table()
    out = table.loc[I].reset_index()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.insert(2, "score", S)
    if touch and len(I):
        repo.touch(I.tolist())
    return out


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of ``|found_q ∩ truth_q| / |truth_q|`` (ids; -1 entries ignored).

    Parameters
    ----------
    found, truth : (nq, k) int ndarray
        Approximate and exact top-k ids.
    """
    found, truth = np.asarray(found), np.asarray(truth)
    if found.shape[0] != truth.shape[0]:
        raise ValueError("found and truth must have the same number of queries")
    total = 0.0
    for f, t in zip(found, truth):
        t = t[t >= 0]
        if t.size:
            total += np.intersect1d(f[f >= 0], t).size / t.size
        else:
            total += 1.0
    return total / max(found.shape[0], 1)

