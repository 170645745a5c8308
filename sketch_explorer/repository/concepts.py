"""Clusters in sketch space, emerging concepts, and learning a new module from a cluster.

The paper (section 1.1, "Learning New Modules") proposes to watch a repository for emerging
clusters of sketches and to train a new module on a cluster's members. This module provides:

* :func:`cluster_sketches`: k-means (scikit-learn) on sketches scaled to unit norm, so the
  squared distance is ``2 - 2 cos``; :func:`cluster_timeline` counts members over time.
* :func:`novelty_scores` and :func:`emerging_concepts` (beyond the paper): sketches of inputs
  that hold a new kind of object have a component outside the span of earlier sketches. A PCA
  fitted on a reference period gives each later sketch's relative residual
  ``||s - P s|| / ||s||``; the residuals above what held-out reference sketches reach are
  clustered by direction, and each cluster's first time is its onset. Plain clustering of
  overall sketches often misses a new object of small weight, because the differences it makes
  are smaller than those between ordinary inputs (the notebook shows both).
* :func:`learn_module` trains a small classifier (logistic regression) that tells a cluster's
  members from the other inputs, on the inputs' own features; :func:`graph_with_module` adds
  its object to a communication graph as a new top-level module, so the new module's objects
  appear in new sketches, where Theorem 3(i) counts them.

Not guaranteed: the novelty threshold is an empirical quantile; a concept whose sketches stay
inside the reference span (a new mix of known objects) is not novel by this measure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..graph import CommunicationGraph

__all__ = [
    "EmergingConcept",
    "LearnedModule",
    "cluster_sketches",
    "cluster_timeline",
    "novelty_scores",
    "emerging_concepts",
    "learn_module",
    "graph_with_module",
]

logger = logging.getLogger(__name__)


def _matrix(source) -> np.ndarray:
    if hasattr(source, "matrix"):
        return source.matrix(expanded=True)[1]
    V = np.asarray(source, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"sketches must be an (n, d) array or a repository; got {V.shape}")
    return V


def _unit(V: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(V, axis=1, keepdims=True)
    return V / np.where(n > 0, n, 1.0)


def cluster_sketches(source, n_clusters: int, seed: int = 0, normalize: bool = True
                     ) -> np.ndarray:
    """k-means cluster labels of sketches.

    Parameters
    ----------
    source : SketchRepository or (n, d) array_like
        A repository (its overall sketches, by id, read expanded) or the sketches.
    n_clusters : int
    seed : int, default=0
    normalize : bool, default=True
        Cluster directions (cosine geometry) rather than raw vectors.

    Returns
    -------
    (n,) int ndarray
    """
    from sklearn.cluster import KMeans

    V = _matrix(source)
    X = _unit(V) if normalize else V
    return KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(X)


def cluster_timeline(labels, times, n_bins: int = 12) -> pd.DataFrame:
    """Members of each cluster per time bin (rows: bins, columns: clusters)."""
    labels, times = np.asarray(labels), np.asarray(times, dtype=float)
    edges = np.linspace(times.min(), times.max() + 1e-9, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, n_bins - 1)
    table = pd.crosstab(pd.Series(edges[bins], name="from time"),
                        pd.Series(labels, name="cluster"))
    return table


def novelty_scores(V, reference: np.ndarray, variance: float = 0.999, seed: int = 0,
                   alpha: float = 0.05) -> tuple[np.ndarray, float, np.ndarray]:
    """Relative residual of each sketch outside the span of reference sketches.

    Parameters
    ----------
    V : (n, d) array_like
    reference : (n,) bool array_like
        The reference period (e.g. the first months). All of it fits the PCA; scores of each
        fifth under a PCA fitted on the other four fifths calibrate the threshold (slightly
        larger than the full fit's, so the threshold errs towards fewer alarms).
    variance : float, default=0.999
        Share of the reference variance the PCA keeps.
    alpha : float, default=0.05
        Chance of one or more false alarms among the sketches after the reference period.

    Returns
    -------
    scores : (n,) ndarray
        ``||s - P s|| / ||s||`` with P the projection onto the reference span (after
        centring on the reference mean).
    threshold : float
        ``exp(m + z sd)`` with m, sd the mean and standard deviation of the held-out log
        scores of the reference sketches and ``z = Phi^-1(1 - alpha / n_later)``: under a
        log-normal model of ordinary scores, the chance that any of the ``n_later`` sketches
        after the reference period passes it by chance is about ``alpha``.
    residuals : (n, d) ndarray
        ``s - P s``.
    """
    from sklearn.decomposition import PCA

    V = np.asarray(V, dtype=np.float64)
    ref = np.flatnonzero(np.asarray(reference, dtype=bool))
    if ref.size < 10:
        raise ValueError(f"the reference period needs at least 10 sketches; got {ref.size}")

    def residual(fit_rows, X):
        pca = PCA(n_components=variance, svd_solver="full", random_state=seed).fit(V[fit_rows])
        R = X - pca.inverse_transform(pca.transform(X))
        return R, np.linalg.norm(R, axis=1) / np.maximum(np.linalg.norm(X, axis=1), 1e-300)

    # all reference sketches span the subspace; 5-fold held-out scores calibrate the threshold
    R, scores = residual(ref, V)
    held_scores = np.empty(ref.size)
    for fold in np.array_split(np.arange(ref.size), 5):
        rest = np.setdiff1d(np.arange(ref.size), fold)
        held_scores[fold] = residual(ref[rest], V[ref[fold]])[1]
    from scipy.stats import norm

    logs = np.log(np.maximum(held_scores, 1e-300))
    n_later = max(int(V.shape[0] - ref.size), 1)
    z = float(norm.ppf(1.0 - alpha / n_later))
    threshold = float(np.exp(logs.mean() + z * logs.std(ddof=1)))
    return scores, threshold, R


@dataclass(frozen=True)
class EmergingConcept:
    """A cluster of novel sketches that forms after the reference period.

    Attributes
    ----------
    cluster : int
    members : (m,) int ndarray
        Row positions (or repository ids, when found from a repository) of the members.
    onset : float
        Time of the first member.
    share_after : float
        Members divided by the number of sketches from the onset on.
    """

    cluster: int
    members: np.ndarray = field(repr=False)
    onset: float
    share_after: float

    @property
    def size(self) -> int:
        return int(self.members.size)


def emerging_concepts(source, times, reference_until: float, max_concepts: int = 1,
                      min_size: int = 5, seed: int = 0, ids=None
                      ) -> tuple[list[EmergingConcept], pd.DataFrame]:
    """Find clusters of sketches that appear only after a reference period (beyond the paper).

    Parameters
    ----------
    source : SketchRepository or (n, d) array_like
    times : (n,) array_like
        Time of each sketch (for a repository: its ``time`` column, in id order).
    reference_until : float
        Sketches with ``time < reference_until`` form the reference period.
    max_concepts : int, default=1
        Most clusters the novel sketches are split into (the number is chosen by silhouette;
        one if no split reaches a silhouette of 0.25). Larger values look for sub-concepts,
        the paper's hierarchical clustering.
    min_size : int, default=5
        Clusters with fewer members are ignored.
    ids : (n,) array_like, optional
        Identifiers reported as members (default row positions; repository ids when
        ``source`` is a repository).

    Returns
    -------
    concepts : list of EmergingConcept
        Largest first.
    table : pandas.DataFrame
        Per sketch: ``time``, ``novelty``, ``novel`` (above threshold), ``concept`` (-1 none).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if ids is None and hasattr(source, "ids"):
        ids = source.ids()
    V = _matrix(source)
    times = np.asarray(times, dtype=float)
    if times.shape != (V.shape[0],):
        raise ValueError(f"times must have shape ({V.shape[0]},); got {times.shape}")
    ids = np.arange(V.shape[0]) if ids is None else np.asarray(ids)
    reference = times < reference_until
    scores, threshold, R = novelty_scores(V, reference, seed=seed)
    novel = (scores > threshold) & ~reference
    concept = np.full(V.shape[0], -1)
    concepts: list[EmergingConcept] = []
    rows = np.flatnonzero(novel)
    if rows.size >= min_size:
        X = _unit(R[rows])
        best_k, best_labels, best_s = 1, np.zeros(rows.size, dtype=int), 0.25
        for k in range(2, min(max_concepts, rows.size - 1) + 1):
            labels = KMeans(k, n_init=10, random_state=seed).fit_predict(X)
            s = silhouette_score(X, labels)
            if s > best_s:
                best_k, best_labels, best_s = k, labels, s
        for c in range(best_k):
            members = rows[best_labels == c]
            if members.size < min_size:
                continue
            onset = float(times[members].min())
            share = members.size / max(int(np.sum(times >= onset)), 1)
            concepts.append(EmergingConcept(c, ids[members], onset, float(share)))
            concept[members] = c
    concepts.sort(key=lambda e: -e.size)
    logger.info("emerging concepts: %d (threshold %.4g, %d novel sketches)", len(concepts),
                threshold, rows.size)
    table = pd.DataFrame({"time": times, "novelty": scores, "novel": novel, "concept": concept},
                         index=pd.Index(ids, name="id"))
    table.attrs["threshold"] = threshold
    return concepts, table


# ---------------------------------------------------------------------------- new module
@dataclass
class LearnedModule:
    """A module learned from a cluster: a classifier and the object it produces.

    Attributes
    ----------
    name : str
        Module name (must be new to the network).
    classifier : sklearn estimator
        ``predict_proba(features)[:, 1]`` is the probability of the concept.
    threshold : float
        The module fires (produces an object) where that probability reaches it.
    weight : float
        Input weight of its object at the output (other top-level objects share ``1 - w``).
    """

    name: str
    classifier: object
    threshold: float = 0.5
    weight: float = 0.25

    def probability(self, features) -> np.ndarray:
        """Probability of the concept for each row of ``features``."""
        return self.classifier.predict_proba(np.asarray(features, dtype=float))[:, 1]

    def attributes(self, p: float) -> np.ndarray:
        """The object's attribute vector ``[1, p] / ||[1, p]||`` (presence, confidence)."""
        x = np.array([1.0, float(p)])
        return x / np.linalg.norm(x)

    def extend(self, graph: CommunicationGraph, features) -> tuple[CommunicationGraph, bool]:
        """``graph`` with this module's object added if it fires on ``features`` (one input)."""
        p = float(self.probability(np.asarray(features, dtype=float).reshape(1, -1))[0])
        if p < self.threshold:
            return graph, False
        return graph_with_module(graph, self.name, self.attributes(p), self.weight), True


def learn_module(features, members, name: str, *, weight: float = 0.25, seed: int = 0,
                 C: float = 1.0) -> LearnedModule:
    """Train a small classifier that recognises a cluster's members (the paper's proposal).

    Parameters
    ----------
    features : (n, p) array_like
        The inputs' own features (pixels, raw attributes): what a module sees.
    members : (n,) bool array_like
        Which inputs belong to the cluster.
    name : str
        Name of the new module.
    weight : float, default=0.25
        Input weight of its object at the output.

    Returns
    -------
    LearnedModule
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(features, dtype=float)
    y = np.asarray(members, dtype=bool)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"features must be (n, p) and members (n,); got {X.shape}, {y.shape}")
    if y.all() or not y.any():
        raise ValueError("members must mark some inputs, and not all of them")
    if not 0 < weight < 1:
        raise ValueError(f"weight must lie strictly between 0 and 1; got {weight}")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000,
                                                             random_state=seed))
    clf.fit(X, y)
    return LearnedModule(name, clf, 0.5, float(weight))


def graph_with_module(graph: CommunicationGraph, module: str, attributes, weight: float
                      ) -> CommunicationGraph:
    """Add one object of ``module`` as the last input of the output, with weight ``weight``.

    The output's other inputs keep their order and share ``1 - weight`` in proportion, so
    the weights still sum to one. The object is named after the module.

    Raises
    ------
    ValueError
        If the graph already has a node of that name or the weight is not in (0, 1).
    """
    if not 0 < weight < 1:
        raise ValueError(f"weight must lie strictly between 0 and 1; got {weight}")
    G = graph.to_networkx()
    if module in G:
        raise ValueError(f"the graph already has a node named {module!r}")
    out = graph.output
    top = graph.inputs(out)
    for child, w in top:
        G.edges[child, out]["weight"] = w * (1.0 - weight)
    x = np.asarray(attributes, dtype=float)
    G.add_node(module, module=module, attributes=(x / np.linalg.norm(x)).tolist())
    G.add_edge(module, out, weight=float(weight), position=len(top) + 1)
    return CommunicationGraph(G, output_module=graph.output_module)
