"""A small trained modular network over scikit-learn's bundled 8x8 digits.

The network has two kinds of learned module and the output:

* ``stroke_0`` .. ``stroke_{k-1}`` (depth 3): stroke detectors. A non-negative matrix
  factorisation (NMF) of the 4x4 patches of the training images learns ``k`` templates; each
  template is one module. The image is cut into 4x4 patches on a 3x3 grid (stride 2) and every
  patch is encoded as a non-negative combination of the templates (exact non-negative least
  squares). Module ``m`` *fires* at a grid cell when its activation ``h`` is positive and
  reaches the threshold ``t_m``, the ``fire_quantile`` quantile of its activations over all
  training patches. Each firing is one object, named ``"stroke_m@(row,col)"``.
* ``digit`` (depth 2): a multinomial logistic regression whose only inputs are the fired
  strokes' strengths (a stroke that did not fire contributes exactly zero), so the
  communication graph is faithful to the computation. Its one object carries the ten class
  probabilities.
* ``output`` (depth 1): the sink; its single input is the digit object, weight 1.

NMF was chosen over k-means or signed sparse coding because its parts are additive and
non-negative: a patch is explained as a sum of stroke pieces, activations are non-negative (so
they fit the paper's non-negative attribute vectors without any shift), and several modules can
fire on one patch, as several detectors would in a modular network.

Attribute vectors (all non-negative, divided by their l2 norm before they enter the graph):

* a stroke object, 6 entries (:data:`STROKE_ATTRIBUTES`):

  0. ``presence``: the constant 1. Dividing a unit-norm vector by this entry recovers the raw
     values below exactly (:func:`stroke_raw_attributes`).
  1. ``strength``: activation ``h`` divided by the module's scale (its largest fired
     activation on the training set), so about 0..1. This is the classifier's feature.
  2. ``row``: grid row / 2, in {0, 0.5, 1} (top to bottom).
  3. ``col``: grid column / 2, in {0, 0.5, 1} (left to right).
  4. ``ink``: mean pixel intensity of the patch, 0..1.
  5. ``share``: ``h`` divided by the sum of all modules' activations on the patch, 0..1.

* the digit object, 10 entries: ``p / ||p||_2`` with ``p`` the predicted class probabilities
  (entry ``c`` is class ``c``); :func:`class_probabilities` turns it back into ``p``.

Weights. The digit object's inputs are its fired strokes, weighted by their share of the
evidence for the predicted class ``c``: ``|beta[c, f] * a_f|`` normalised to sum to one, with
``beta`` the logistic-regression coefficients and ``a_f`` the stroke strength. If all shares
are zero (possible only if every such coefficient is exactly zero) the strokes get equal
weights. Inputs are ordered by decreasing weight (position 1 is the most important), ties by
node name.

What this module does not do: it is a teaching network, not a strong classifier (held-out
accuracy 93-96%, against 96-97% for a logistic regression on raw pixels); activations
below threshold are dropped, which is where the lost accuracy goes. If no module reaches its
threshold anywhere in an image, the single strongest activation (relative to its threshold)
fires instead, so every non-blank image has at least one stroke; an all-blank image has none,
and then the digit object has no inputs. Nothing is downloaded: the data are the 1797 images
shipped with scikit-learn.

References
----------
.. [1] B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep Learning",
   ICML 2019, section 2 (modules, objects, communication graph).
"""

from __future__ import annotations

import functools
import logging
import numbers
import time

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from ..graph import OUTPUT_MODULE, CommunicationGraph
from ._presence import raw_from_presence

__all__ = [
    "DigitsNetwork",
    "load_digits_network",
    "class_probabilities",
    "stroke_raw_attributes",
    "STROKE_ATTRIBUTES",
    "DIGIT_MODULE",
    "PATCH_SIZE",
    "STRIDE",
    "GRID",
]

logger = logging.getLogger(__name__)

#: Names of the entries of a stroke object's attribute vector, in order.
STROKE_ATTRIBUTES = ("presence", "strength", "row", "col", "ink", "share")
#: Module name of the classifier.
DIGIT_MODULE = "digit"
#: Side of a square patch, in pixels.
PATCH_SIZE = 4
#: Step between neighbouring patches, in pixels.
STRIDE = 2
#: Patches per side: (8 - PATCH_SIZE) // STRIDE + 1.
GRID = (8 - PATCH_SIZE) // STRIDE + 1

_N_CLASSES = 10
_MAX_PIXEL = 16.0  # the dataset's pixel values run 0..16


# ---------------------------------------------------------------------- helpers
def class_probabilities(attributes) -> np.ndarray:
    """Class probabilities from a digit object's attribute vector.

    Parameters
    ----------
    attributes : (10,) array_like
        Non-negative vector proportional to the probabilities (the graph stores ``p / ||p||_2``;
        an estimate recovered from a sketch may be given too).

    Returns
    -------
    p : (10,) ndarray
        ``attributes / sum(attributes)``; entries sum to one.

    Raises
    ------
    ValueError
        If the vector is not 1-d or its sum is not positive.

    Notes
    -----
    A sketch estimate may have small negative entries; they are clipped to zero first.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.7, 0.2, 0.1] + [0.0] * 7)
    >>> np.allclose(class_probabilities(p / np.linalg.norm(p)), p)
    True
    """
    x = np.clip(np.asarray(attributes, dtype=float), 0.0, None)
    if x.ndim != 1:
        raise ValueError(f"attributes must be a 1-d vector; got shape {x.shape}")
    total = x.sum()
    if not total > 0:
        raise ValueError(
            f"attributes must have a positive sum to be turned into probabilities; got {total}"
        )
    return x / total


def stroke_raw_attributes(attributes) -> dict[str, float]:
    """Raw stroke attributes from a unit-norm stroke attribute vector.

    Parameters
    ----------
    attributes : (6,) array_like
        A stroke object's attribute vector (entries as in :data:`STROKE_ATTRIBUTES`).

    Returns
    -------
    dict
        Entry name -> raw value, i.e. the vector divided by its ``presence`` entry.

    Raises
    ------
    ValueError
        If the vector does not have 6 entries or its first entry is not positive.

    Examples
    --------
    >>> raw = np.array([1.0, 0.5, 0.0, 1.0, 0.25, 0.8])
    >>> stroke_raw_attributes(raw / np.linalg.norm(raw))["strength"]
    0.5
    """
    return raw_from_presence(attributes, STROKE_ATTRIBUTES, "stroke")


def _patches(images: np.ndarray) -> np.ndarray:
    """Cut ``(n, 8, 8)`` images into ``(n, GRID, GRID, PATCH_SIZE**2)`` patches."""
    n = images.shape[0]
    out = np.empty((n, GRID, GRID, PATCH_SIZE * PATCH_SIZE))
    for r in range(GRID):
        for c in range(GRID):
            top, left = r * STRIDE, c * STRIDE
            block = images[:, top : top + PATCH_SIZE, left : left + PATCH_SIZE]
            out[:, r, c] = block.reshape(n, -1)
    return out


def _encode(patches: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Non-negative least-squares activations of each patch on the templates.

    Solved patch by patch, so an image's activations do not depend on the batch it is in.
    """
    shape = patches.shape[:-1]
    flat = patches.reshape(-1, patches.shape[-1])
    H = np.zeros((flat.shape[0], templates.shape[0]))
    A = templates.T
    for j in np.flatnonzero(flat.any(axis=1)):  # blank patches stay at zero
        H[j] = nnls(A, flat[j])[0]
    return H.reshape(*shape, templates.shape[0])


def _fire(H: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Boolean firing map ``(n, GRID, GRID, k)``: positive and at least the threshold.

    An image where nothing fires gets its one strongest activation, relative to the threshold,
    fired instead (unless it is blank).
    """
    n = H.shape[0]
    flat_H = H.reshape(n, -1)
    fired = (flat_H > 0) & (flat_H >= np.tile(thresholds, flat_H.shape[1] // thresholds.size))
    silent = np.flatnonzero(~fired.any(axis=1))
    if silent.size:
        rel = H[silent] / np.where(thresholds > 0, thresholds, 1.0)
        best = rel.reshape(silent.size, -1).argmax(axis=1)
        fired[silent, best] = flat_H[silent, best] > 0
    return fired.reshape(H.shape)


def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {allowed}; got {value}")
    return value


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float; got {type(value).__name__}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value}")
    return value


def _check_params(seed, n_strokes, fire_quantile, test_size, C):
    """Validate and normalise the training parameters."""
    seed = _check_int(seed, "seed", 0)
    n_strokes = _check_int(n_strokes, "n_strokes", 1, PATCH_SIZE * PATCH_SIZE)
    fire_quantile = _check_fraction(fire_quantile, "fire_quantile")
    test_size = _check_fraction(test_size, "test_size")
    if isinstance(C, bool) or not isinstance(C, numbers.Real):
        raise TypeError(f"C must be a float; got {type(C).__name__}")
    C = float(C)
    if not (C > 0 and np.isfinite(C)):
        raise ValueError(f"C must be a positive finite float; got {C}")
    return seed, n_strokes, fire_quantile, test_size, C


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


# ---------------------------------------------------------------------- the network
class DigitsNetwork:
    """Stroke detectors plus a digit classifier, trained on the bundled 8x8 digits.

    Constructing the object trains it (about half a second on 2 cores). Use
    :meth:`DigitsNetwork.train` or :func:`load_digits_network` to reuse a network already
    trained in this process with the same parameters.

    Parameters
    ----------
    seed : int, default=0
        Seeds the stratified train/test split and the NMF solver. Same seed, same network.
    n_strokes : int, default=8
        Number of stroke modules k (NMF components), 1..16.
    fire_quantile : float, default=0.6
        A module fires where its activation reaches this quantile of its training activations
        (zeros included). Higher values give fewer objects and lower accuracy.
    test_size : float, default=0.25
        Fraction of the 1797 images held out to measure :attr:`accuracy_`.
    C : float, default=1.0
        Inverse l2 regularisation strength of the logistic regression.

    Attributes
    ----------
    accuracy_ : float
        Accuracy on the held-out images.
    modules : list of str
        ``["digit", "stroke_0", ..., "stroke_{k-1}"]`` (the output module is not listed).
    n_images : int
        Number of images in the dataset (1797).
    train_indices_, test_indices_ : (n,) ndarray of int
        Dataset indices of the training and held-out images.
    templates_ : (k, 4, 4) ndarray
        The stroke templates (unit l2 norm), ordered by decreasing total training activation.
    thresholds_ : (k,) ndarray
        Firing threshold of each stroke module (in activation units).
    scales_ : (k,) ndarray
        Largest fired training activation of each module; ``strength = h / scale``.
    coef_ : (10, GRID * GRID * k) ndarray
        Logistic-regression coefficients on the strength features; feature
        ``(row * GRID + col) * k + m`` is module ``m`` at grid cell ``(row, col)``.
    intercept_ : (10,) ndarray
        Logistic-regression intercepts.
    training_seconds_ : float
        Wall-clock time the training took.

    Notes
    -----
    The classifier computes ``p = softmax(beta a + b)``, with ``a_f`` the strength of a fired
    stroke and 0 for a stroke that did not fire, so the fired stroke objects carry everything
    it sees. The evidence weight of fired stroke ``f`` for predicted class ``c`` is
    ``|beta[c, f] a_f| / sum_g |beta[c, g] a_g|``.

    References
    ----------
    .. [1] B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep Learning",
       ICML 2019, section 2.

    Examples
    --------
    >>> net = DigitsNetwork.train(seed=0)
    >>> net.accuracy_ > 0.9
    True
    >>> g = net.graph(0)
    >>> g.max_depth
    3
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        n_strokes: int = 8,
        fire_quantile: float = 0.6,
        test_size: float = 0.25,
        C: float = 1.0,
    ) -> None:
        seed, n_strokes, fire_quantile, test_size, C = _check_params(
            seed, n_strokes, fire_quantile, test_size, C
        )
        self.seed = seed
        self.n_strokes = n_strokes
        self.fire_quantile = fire_quantile
        self.test_size = test_size
        self.C = C
        start = time.perf_counter()

        # data and split
        data = load_digits()
        self._images = _readonly(data.images.astype(float))
        self._labels = _readonly(data.target.astype(int))
        self.n_images = int(self._labels.size)
        tr, te = train_test_split(
            np.arange(self.n_images),
            test_size=test_size,
            random_state=seed,
            stratify=self._labels,
        )
        self.train_indices_ = _readonly(np.sort(tr))
        self.test_indices_ = _readonly(np.sort(te))

        # stroke templates: NMF of the training patches, unit-norm, most used first
        P = _patches(self._images / _MAX_PIXEL)
        nmf = NMF(
            n_components=n_strokes, init="nndsvda", max_iter=1000, tol=1e-4, random_state=seed
        )
        usage = nmf.fit_transform(P[self.train_indices_].reshape(-1, P.shape[-1])).sum(axis=0)
        templates = nmf.components_ / np.linalg.norm(nmf.components_, axis=1, keepdims=True)
        order = np.argsort(-usage * np.linalg.norm(nmf.components_, axis=1), kind="stable")
        templates = templates[order]
        self.templates_ = _readonly(templates.reshape(n_strokes, PATCH_SIZE, PATCH_SIZE))
        self._templates_flat = templates

        # activations, thresholds, firing, strengths
        H = _encode(P, templates)
        H_train = H[self.train_indices_].reshape(-1, n_strokes)
        self.thresholds_ = _readonly(np.quantile(H_train, fire_quantile, axis=0))
        fired = _fire(H, self.thresholds_)
        fired_train = fired[self.train_indices_].reshape(-1, n_strokes)
        scales = np.where(fired_train, H_train, 0.0).max(axis=0)
        self.scales_ = _readonly(np.where(scales > 0, scales, 1.0))
        A = np.where(fired, H / self.scales_, 0.0)
        self._H = _readonly(H)
        self._fired = _readonly(fired)
        self._ink = _readonly(P.mean(axis=-1))
        self._A = _readonly(A)

        # the classifier sees only the fired strokes' strengths
        F = A.reshape(self.n_images, -1)
        clf = LogisticRegression(C=C, max_iter=5000)
        clf.fit(F[self.train_indices_], self._labels[self.train_indices_])
        self._clf = clf
        self.coef_ = _readonly(clf.coef_.copy())
        self.intercept_ = _readonly(clf.intercept_.copy())
        self._proba = _readonly(clf.predict_proba(F))
        pred = self._proba.argmax(axis=1)
        test = self.test_indices_
        self.accuracy_ = float(np.mean(pred[test] == self._labels[test]))

        self.modules = [DIGIT_MODULE] + [f"stroke_{m}" for m in range(n_strokes)]
        self.training_seconds_ = time.perf_counter() - start
        logger.info(
            "trained DigitsNetwork(seed=%d, n_strokes=%d): held-out accuracy %.4f in %.2f s",
            seed,
            n_strokes,
            self.accuracy_,
            self.training_seconds_,
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def train(
        cls,
        seed: int = 0,
        *,
        n_strokes: int = 8,
        fire_quantile: float = 0.6,
        test_size: float = 0.25,
        C: float = 1.0,
    ) -> "DigitsNetwork":
        """The network for these parameters, trained once per process and then reused.

        Parameters are those of :class:`DigitsNetwork`. The returned object is shared between
        callers; its arrays are read-only.

        Returns
        -------
        DigitsNetwork
        """
        params = _check_params(seed, n_strokes, fire_quantile, test_size, C)
        return _train_cached(*params)

    def __repr__(self) -> str:
        return (
            f"DigitsNetwork(seed={self.seed}, n_strokes={self.n_strokes}, "
            f"fire_quantile={self.fire_quantile}, accuracy_={self.accuracy_:.4f})"
        )

    # ------------------------------------------------------------------ data access
    def _check_index(self, i) -> int:
        return _check_int(i, "i", 0, self.n_images - 1)

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` of the dataset, ``(8, 8)`` ndarray, pixel values 0..16 (read-only)."""
        return self._images[self._check_index(i)]

    def label(self, i: int) -> int:
        """True class of image ``i``."""
        return int(self._labels[self._check_index(i)])

    def prediction(self, i: int) -> int:
        """Class the network predicts for image ``i``."""
        return int(self._proba[self._check_index(i)].argmax())

    def is_test(self, i: int) -> bool:
        """Whether image ``i`` was held out from training."""
        i = self._check_index(i)
        return bool(np.isin(i, self.test_indices_))

    # ------------------------------------------------------------------ inference
    def _features(self, images) -> np.ndarray:
        X = np.asarray(images, dtype=float)
        if X.shape in ((8, 8), (64,)):
            X = X[None]
        if X.ndim == 2 and X.shape[1] == 64:
            X = X.reshape(-1, 8, 8)
        if X.ndim != 3 or X.shape[1:] != (8, 8):
            raise ValueError(
                f"images must have shape (n, 8, 8), (n, 64), (8, 8) or (64,); got {X.shape}"
            )
        if not np.all(np.isfinite(X)) or X.min(initial=0.0) < 0:
            raise ValueError("images must hold finite, non-negative pixel values (0..16)")
        H = _encode(_patches(X / _MAX_PIXEL), self._templates_flat)
        fired = _fire(H, self.thresholds_)
        return np.where(fired, H / self.scales_, 0.0).reshape(X.shape[0], -1)

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities for new images.

        Parameters
        ----------
        images : (n, 8, 8) or (n, 64) array_like
            Pixel values on the dataset's 0..16 scale. A single ``(8, 8)`` image is accepted.

        Returns
        -------
        p : (n, 10) ndarray
            Rows sum to one.
        """
        return self._clf.predict_proba(self._features(images))

    def predict(self, images) -> np.ndarray:
        """Predicted classes for new images, ``(n,)`` ndarray of int."""
        return self.predict_proba(images).argmax(axis=1)

    # ------------------------------------------------------------------ communication graph
    def _objects(self, i: int) -> tuple[list[dict], np.ndarray, int]:
        """Fired strokes of image ``i`` with their raw attributes and evidence weights."""
        k = self.n_strokes
        p = self._proba[i]
        c = int(p.argmax())
        H, fired, A = self._H[i], self._fired[i], self._A[i]
        total = H.sum(axis=-1)
        strokes = []
        for r, col, m in zip(*np.nonzero(fired)):
            f = (r * GRID + col) * k + m
            raw = np.array(
                [
                    1.0,
                    A[r, col, m],
                    r / (GRID - 1),
                    col / (GRID - 1),
                    self._ink[i, r, col],
                    H[r, col, m] / total[r, col],
                ]
            )
            strokes.append(
                {
                    "node": f"stroke_{m}@({r},{col})",
                    "module": f"stroke_{m}",
                    "row": int(r),
                    "col": int(col),
                    "activation": float(H[r, col, m]),
                    "raw": raw,
                    "evidence": float(self.coef_[c, f] * A[r, col, m]),
                }
            )

        # evidence shares for the predicted class; equal weights if all are zero
        mags = np.array([abs(s["evidence"]) for s in strokes])
        if strokes:
            weights = mags / mags.sum() if mags.sum() > 0 else np.full(len(strokes), 1 / len(mags))
            for s, w in zip(strokes, weights):
                s["weight"] = float(w)
            strokes.sort(key=lambda s: (-s["weight"], s["node"]))
        return strokes, p, c

    def graph(self, i: int) -> CommunicationGraph:
        """Communication graph of image ``i``.

        Parameters
        ----------
        i : int
            Dataset index, ``0 <= i < n_images``.

        Returns
        -------
        CommunicationGraph
            ``output <- digit <- stroke_m@(r,c)`` for every fired stroke; depths 1, 2, 3.
            Attribute vectors are unit-norm (entries in the module docstring); the digit's
            inputs are ordered by decreasing evidence weight.
        """
        i = self._check_index(i)
        strokes, p, _c = self._objects(i)
        objects = {DIGIT_MODULE: (DIGIT_MODULE, p / np.linalg.norm(p))}
        for s in strokes:
            objects[s["node"]] = (s["module"], s["raw"] / np.linalg.norm(s["raw"]))
        inputs = {
            "output": [(DIGIT_MODULE, 1.0)],
            DIGIT_MODULE: [(s["node"], s["weight"]) for s in strokes],
        }
        return CommunicationGraph.from_objects(
            objects, inputs, output="output", output_module=OUTPUT_MODULE
        )

    def object_info(self, i: int) -> pd.DataFrame:
        """What a UI may show about each object of image ``i``'s graph.

        Returns
        -------
        pandas.DataFrame
            One row per object, indexed by node name, digit first then strokes by position.
            Columns: ``module``, ``depth``, ``position`` (input position at the consumer),
            ``weight`` (input weight), ``row``, ``col`` (grid cell), ``top``, ``left`` (pixel
            offset of the patch), ``activation``, ``threshold``, the raw stroke attributes
            (``strength``, ``ink``, ``share``), ``evidence`` (signed ``beta[c, f] a_f``),
            ``predicted`` and ``probability`` (digit row only). Stroke-only columns are NaN on
            the digit row and vice versa.
        """
        i = self._check_index(i)
        strokes, p, c = self._objects(i)
        rows = [
            {
                "node": DIGIT_MODULE,
                "module": DIGIT_MODULE,
                "depth": 2,
                "position": 1,
                "weight": 1.0,
                "predicted": c,
                "probability": float(p[c]),
            }
        ]
        for pos, s in enumerate(strokes, start=1):
            m = int(s["module"].split("_")[1])
            raw = dict(zip(STROKE_ATTRIBUTES, s["raw"]))
            rows.append(
                {
                    "node": s["node"],
                    "module": s["module"],
                    "depth": 3,
                    "position": pos,
                    "weight": s["weight"],
                    "row": s["row"],
                    "col": s["col"],
                    "top": s["row"] * STRIDE,
                    "left": s["col"] * STRIDE,
                    "activation": s["activation"],
                    "threshold": float(self.thresholds_[m]),
                    "strength": raw["strength"],
                    "ink": raw["ink"],
                    "share": raw["share"],
                    "evidence": s["evidence"],
                }
            )
        columns = [
            "module", "depth", "position", "weight", "row", "col", "top", "left",
            "activation", "threshold", "strength", "ink", "share", "evidence",
            "predicted", "probability",
        ]  # fmt: skip
        table = pd.DataFrame(rows).set_index("node").reindex(columns=columns)
        integer = ["depth", "position", "row", "col", "top", "left", "predicted"]
        return table.astype({name: "Int64" for name in integer})


@functools.lru_cache(maxsize=8)
def _train_cached(seed, n_strokes, fire_quantile, test_size, C) -> DigitsNetwork:
    return DigitsNetwork(
        seed, n_strokes=n_strokes, fire_quantile=fire_quantile, test_size=test_size, C=C
    )


def load_digits_network(seed: int = 0, **params) -> DigitsNetwork:
    """The trained digits network for ``seed``, cached per process.

    Parameters
    ----------
    seed : int, default=0
        See :class:`DigitsNetwork`.
    **params
        ``n_strokes``, ``fire_quantile``, ``test_size``, ``C`` as in :class:`DigitsNetwork`.

    Returns
    -------
    DigitsNetwork
        Same object as :meth:`DigitsNetwork.train` with the same arguments.
    """
    return DigitsNetwork.train(seed, **params)
