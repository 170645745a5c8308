"""Summary statistics over many stored sketches (Theorem 3; SPEC sections 4 and 5).

The overall sketch is affine in the attribute vectors, so the sum of the overall sketches of a
selection is the sketch of their union: every SPEC §4 estimator applied to ``S = sum_i s_i``
estimates the corresponding sum over the selection. With ``c(h) = 2^-(4(h-1)+1)``:

* ``<R_{M,2} e_1, S> / (c(h) w)`` estimates ``sum_i sum_{theta in M} w_theta / w``: the number
  of M's objects in the selection when they all have effective weight w;
* ``R_{M,1}^T S / <R_{M,2} e_1, S>`` estimates the weighted mean attribute vector
  ``sum w_theta x_theta / sum w_theta`` over the selection.

Error bars. Each :class:`~sketch_explorer.recovery.Estimate` carries ``error_scale``
``||S|| / (sqrt(d) C)``, the predicted standard deviation over the random matrices for the
summed sketch read as one sketch. The matrices are the same for every sketch of the repository,
so the cross-talk of objects common to all inputs (the room's walls) adds up coherently: the
error of a sum of n similar sketches grows like n, not sqrt(n), and a count over a year has
about the relative error of one day. The formula says so by itself, since ``||S||`` grows like
n for similar sketches.

Beyond the paper (labelled where used): :func:`per_sketch_frequency` reads every sketch on its
own, :func:`two_group_split` separates the days with an object from the days without (the
coherent cross-talk is common to both groups and cancels in the split), and
:func:`contrast_sketch` subtracts the average sketch of the second group from the first, which
removes most of the coherent cross-talk before reading attributes.

Sketches truncated by forgetting are read expanded (kept coordinates times d/d'), an unbiased
reading of the unerased sketch whose larger noise the norm in ``error_scale`` reflects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..matrices import MatrixBank
from ..recovery import (
    Estimate,
    depth_coefficient,
    estimate_frequency,
    estimate_mean_attributes,
    estimate_summed_attributes,
)
from ..sketch import Sketch

__all__ = [
    "SummaryAnswer",
    "summed_sketch",
    "contrast_sketch",
    "selection_frequency",
    "selection_mean_attributes",
    "selection_summed_attributes",
    "per_sketch_frequency",
    "per_sketch_attributes",
    "two_group_split",
    "ratio_estimate",
    "typical_effective_weight",
    "room_memory_answers",
    "digits_class_answers",
]


@dataclass(frozen=True)
class SummaryAnswer:
    """An answer to a memory question, its predicted error bar and the truth beside it.

    Attributes
    ----------
    question : str
    estimate : float
    error_scale : float
        Predicted standard deviation of the estimate.
    truth : float or None
        The same quantity computed from the inputs (what the estimator targets).
    target : str
        What exactly is estimated (the definition both ``estimate`` and ``truth`` follow).
    method : str
        "paper" (sum, then a SPEC §4 estimator) or "beyond the paper: ...".
    n_sketches : int
    plain_truth : float or None
        The everyday answer (e.g. the plain number of days with a cat), where the target's
        definition differs from it.
    z : float, default=2.0
        Half-width of the error bar in standard deviations.
    """

    question: str
    estimate: float
    error_scale: float
    truth: float | None
    target: str
    method: str
    n_sketches: int
    plain_truth: float | None = None
    z: float = 2.0

    @property
    def lower(self) -> float:
        return self.estimate - self.z * self.error_scale

    @property
    def upper(self) -> float:
        return self.estimate + self.z * self.error_scale

    @property
    def contains_truth(self) -> bool | None:
        if self.truth is None:
            return None
        return bool(self.lower <= self.truth <= self.upper)

    def as_row(self, digits: int = 3) -> dict:
        """A dict for a DataFrame row, numbers rounded to ``digits`` decimals."""
        r = lambda v: None if v is None else round(float(v), digits)  # noqa: E731
        return {
            "question": self.question,
            "estimate": r(self.estimate),
            "error bar (2 sd)": r(self.z * self.error_scale),
            "truth": r(self.truth),
            "contains truth": self.contains_truth,
            "plain truth": r(self.plain_truth),
            "method": self.method,
            "target": self.target,
        }


# ---------------------------------------------------------------------------- sums
def _ids(repo, ids) -> np.ndarray:
    return repo.ids() if ids is None else np.asarray(list(ids), dtype=np.int64)


def summed_sketch(repo, ids: Sequence[int] | None = None) -> Sketch:
    """The sum of the selected overall sketches, as one unerased :class:`Sketch`.

    ``S = sum_i expanded(s_i)``; for unerased sketches this is the plain sum (what
    :meth:`Sketch.sum` computes), for truncated ones each is read as in
    :meth:`Sketch.expanded`.

    Parameters
    ----------
    repo : SketchRepository
    ids : sequence of int, optional
        Default every overall sketch.
    """
    ids = _ids(repo, ids)
    if ids.size == 0:
        raise ValueError("the selection is empty: nothing to sum")
    _ids_out, V, _kept = repo.matrix(ids, expanded=True)
    return Sketch(V.sum(axis=0), repo.bank, meta={"n_summed": int(ids.size)})


def contrast_sketch(repo, ids_a: Sequence[int], ids_b: Sequence[int]) -> Sketch:
    """``C = sum_{i in A} s_i - (|A| / |B|) sum_{j in B} s_j`` (beyond the paper).

    If A and B differ only in whether an object is present, C is about the sketch of the
    objects A has more of, while the cross-talk of what both groups share (the walls) cancels
    up to its variation between inputs. Reading C with the §4 estimators then targets
    ``sum_A - (|A|/|B|) sum_B`` of the same quantity.
    """
    a, b = _ids(repo, ids_a), _ids(repo, ids_b)
    if a.size == 0 or b.size == 0:
        raise ValueError("both groups of a contrast need at least one sketch")
    SA, SB = summed_sketch(repo, a), summed_sketch(repo, b)
    values = SA.values - (a.size / b.size) * SB.values
    return Sketch(values, repo.bank, meta={"contrast": (int(a.size), int(b.size))})


def _bank(repo, bank: MatrixBank | None) -> MatrixBank:
    if bank is None:
        return repo.matrix_bank()
    repo.bank.check_same(bank.identity, "the bank and the repository")
    return bank


def selection_frequency(repo, module: str, depth: int, weight: float,
                        ids: Sequence[int] | None = None, bank: MatrixBank | None = None
                        ) -> Estimate:
    """Theorem 3(i) on the summed sketch: ``<R_{M,2} e_1, S> / (c(h) w)``."""
    return estimate_frequency(summed_sketch(repo, ids), _bank(repo, bank), module, depth, weight)


def selection_summed_attributes(repo, module: str, depth: int, weight: float,
                                ids: Sequence[int] | None = None, bank: MatrixBank | None = None,
                                dim: int | None = None) -> Estimate:
    """Theorem 3(ii) on the summed sketch: ``R_{M,1}^T S / (c(h) w)``."""
    return estimate_summed_attributes(summed_sketch(repo, ids), _bank(repo, bank), module, depth,
                                      weight, dim)


def selection_mean_attributes(repo, module: str, ids: Sequence[int] | None = None,
                              bank: MatrixBank | None = None, dim: int | None = None
                              ) -> Estimate:
    """Weighted mean attributes on the summed sketch: ``R_{M,1}^T S / <R_{M,2} e_1, S>``."""
    return estimate_mean_attributes(summed_sketch(repo, ids), _bank(repo, bank), module, dim)


# ---------------------------------------------------------------------------- per sketch
def per_sketch_frequency(repo, module: str, depth: int, weight: float,
                         ids: Sequence[int] | None = None, bank: MatrixBank | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Theorem 3(i) on every selected sketch at once (beyond the paper's use).

    Returns
    -------
    values : (n,) ndarray
        ``<R_{M,2} e_1, s_i> / (c(h) w)``; their sum is :func:`selection_frequency`.
    error_scales : (n,) ndarray
        ``||s_i|| / (sqrt(d) c(h) w)``.
    """
    bank = _bank(repo, bank)
    _ids_out, V, _kept = repo.matrix(_ids(repo, ids), expanded=True)
    e1 = np.zeros(bank.d)
    e1[0] = 1.0
    marker = bank.module(module, 2).apply(e1)
    coef = depth_coefficient(depth) * float(weight)
    return V @ marker / coef, np.linalg.norm(V, axis=1) / math.sqrt(bank.d) / coef


def per_sketch_attributes(repo, module: str, ids: Sequence[int] | None = None,
                          bank: MatrixBank | None = None, dim: int | None = None) -> np.ndarray:
    """``R_{M,1}^T s_i`` for every selected sketch, ``(n, dim)`` (unscaled projections)."""
    bank = _bank(repo, bank)
    _ids_out, V, _kept = repo.matrix(_ids(repo, ids), expanded=True)
    Y = bank.module(module, 1).apply_t(V)
    return Y[:, : (bank.d if dim is None else int(dim))]


def two_group_split(values, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split per-sketch scores into a high and a low group (beyond the paper).

    A two-component 1-d Gaussian mixture (scikit-learn) fitted to ``values``.

    Returns
    -------
    high : (n,) bool ndarray
        Membership of the component with the larger mean.
    p_high : (n,) ndarray
        Posterior probability of that component; ``sqrt(sum p (1 - p))`` is the model's
        standard deviation of ``high.sum()``.

    Notes
    -----
    The cross-talk that every sketch shares shifts both components equally, so the split
    does not depend on it; it fails when the two groups overlap (too small d) or when one
    group is absent (then the "groups" are arbitrary halves of one).
    """
    from sklearn.mixture import GaussianMixture

    x = np.asarray(values, dtype=float).reshape(-1, 1)
    if x.shape[0] < 4 or not np.all(np.isfinite(x)):
        raise ValueError("two_group_split needs at least 4 finite values")
    gm = GaussianMixture(2, random_state=seed, n_init=3).fit(x)
    hi = int(np.argmax(gm.means_.ravel()))
    p = gm.predict_proba(x)[:, hi]
    return p > 0.5, p


def ratio_estimate(num: float, den: float, sd: float) -> tuple[float, float]:
    """``num / den`` and its delta-method standard deviation when both have noise ``sd``.

    ``sd(num/den) ~ sd * sqrt(1 + (num/den)^2) / |den|`` for independent errors of equal
    scale (two coordinates of one estimated vector).
    """
    ratio = num / den
    return ratio, sd * math.sqrt(1.0 + ratio**2) / abs(den)


def typical_effective_weight(graphs, module: str) -> float:
    """Mean effective weight of ``module``'s objects over some graphs (where present).

    What the designer of a network knows about its weighting rule, measured on calibration
    inputs that are not in the repository.
    """
    ws = [g.effective_weight(n) for g in graphs if module in g.modules
          for n in g.objects_of(module)]
    if not ws:
        raise ValueError(f"module {module!r} has no object in the calibration graphs")
    return float(np.mean(ws))


# ---------------------------------------------------------------------------- rooms
def room_memory_answers(repo, scenes, calibration_scenes, bank: MatrixBank | None = None,
                        ids: Sequence[int] | None = None, contrast: bool = True
                        ) -> list[SummaryAnswer]:
    """The room questions answered from the stored sketches, with the truth beside.

    Parameters
    ----------
    repo : SketchRepository
        Overall sketches of ``scenes``, ``input_id = day``.
    scenes : sequence of RoomScene
        The same days, for the truth only.
    calibration_scenes : sequence of RoomScene
        Other scenes (another room) giving the typical cat effective weight ``w_ref``.
    ids : sequence of int, optional
        The selection (default all); ``scenes`` must be the same days in the same order.
    contrast : bool, default=True
        Add the beyond-the-paper answers (per-sketch split and contrast sketch).

    Returns
    -------
    list of SummaryAnswer

    Notes
    -----
    *How often was the cat there?* Theorem 3(i) needs one effective weight, but the cat's
    weight varies with its salience each day. On the summed sketch it estimates
    ``sum_days w_cat(day) / w_ref``: the number of cat days, each counted by its weight
    relative to a typical one. The truth is computed with this definition (the plain day
    count is close when the weight varies little; both are in the notebook). Beyond the paper,
    each day's own estimate is split into two groups (:func:`two_group_split`): the size of
    the high group counts the cat days directly.

    *How big is the cat?* The weighted mean cat attribute vector, read as
    ``size = x[1] / x[0]`` (entry 0 is the constant presence), i.e.
    ``sum w x_size / sum w x_presence`` over the cat objects; the truth uses the same formula.

    *Morning or night?* The walls' weighted mean brightness ``b = x[7] / x[0]`` (paper),
    turned into a share of mornings by unmixing, ``(b - b_night) / (b_morning - b_night)``,
    with the two levels measured on the calibration room; and, beyond the paper, the share of
    days in the brighter of two groups of per-day wall brightness.
    """
    from ..datasets.rooms import ROOM_ATTRIBUTES

    bank = _bank(repo, bank)
    ids = _ids(repo, ids)
    scenes = list(scenes)
    if len(scenes) != ids.size:
        raise ValueError(f"{len(scenes)} scenes given for a selection of {ids.size} sketches")
    stored = repo.table().loc[ids, "input_id"].tolist()
    if stored != [str(s.day) for s in scenes]:
        raise ValueError("scenes must be the selected days, in the order of ids")
    n = int(ids.size)
    size_i, bright_i = ROOM_ATTRIBUTES.index("size"), ROOM_ATTRIBUTES.index("brightness")
    w_ref = typical_effective_weight([s.graph for s in calibration_scenes], "cat")
    h_cat = 2
    answers = []

    # truth, with the estimators' own definitions
    cat_w = np.array([s.graph.effective_weight("cat") if s.has_cat else 0.0 for s in scenes])
    X_cat = sum(s.graph.effective_weight("cat") * s.graph.attributes("cat")
                for s in scenes if s.has_cat)
    X_wall = sum(s.graph.effective_weight(n) * s.graph.attributes(n)
                 for s in scenes for n in s.graph.objects_of("wall"))
    morning = np.array([s.time_of_day == "morning" for s in scenes])

    # 1. how many days had a cat (paper: sum, then Theorem 3(i))
    S = summed_sketch(repo, ids)
    f = estimate_frequency(S, bank, "cat", h_cat, w_ref)
    answers.append(SummaryAnswer(
        "days with a cat", f.value, f.error_scale, float(cat_w.sum() / w_ref),
        "sum over days of w_cat / w_ref", "paper: summed sketch, Theorem 3(i)", n,
        float(cat_w.astype(bool).sum())))

    # 2. mean cat size (paper: summed sketch, mean attributes)
    m = estimate_mean_attributes(S, bank, "cat", dim=len(ROOM_ATTRIBUTES))
    size, sd = ratio_estimate(m.value[size_i], m.value[0], m.error_scale)
    truth_size = float(X_cat[size_i] / X_cat[0]) if isinstance(X_cat, np.ndarray) else None
    plain_size = [s.raw_attributes().loc["cat", "size"] for s in scenes if s.has_cat]
    plain_size = float(np.mean(plain_size)) if plain_size else None
    answers.append(SummaryAnswer(
        "mean cat size", size, sd, truth_size, "sum w x_size / sum w x_presence over cats",
        "paper: summed sketch, Theorem 3(ii) mean", n, plain_size))

    # 3. mean brightness of the walls (paper)
    m = estimate_mean_attributes(S, bank, "wall", dim=len(ROOM_ATTRIBUTES))
    b, sd = ratio_estimate(m.value[bright_i], m.value[0], m.error_scale)
    answers.append(SummaryAnswer(
        "mean wall brightness", b, sd, float(X_wall[bright_i] / X_wall[0]),
        "sum w x_brightness / sum w x_presence over walls",
        "paper: summed sketch, Theorem 3(ii) mean", n,
        float(np.mean([s.brightness for s in scenes]))))

    # 3b. share of mornings: unmix the mean brightness with the calibration room's levels
    cal = list(calibration_scenes)
    levels = {}
    for tod in ("morning", "night"):
        group = [_wall_sum(s) for s in cal if s.time_of_day == tod]
        if not group:
            raise ValueError(f"the calibration scenes hold no {tod} scene")
        X = np.sum(group, axis=0)
        levels[tod] = float(X[bright_i] / X[0])
    gap = levels["morning"] - levels["night"]
    truth_b = float(X_wall[bright_i] / X_wall[0])
    answers.append(SummaryAnswer(
        "share of morning scenes", (b - levels["night"]) / gap, sd / abs(gap),
        (truth_b - levels["night"]) / gap,
        "(mean wall brightness - night level) / (morning level - night level), levels from "
        "the calibration room", "paper: summed sketch, Theorem 3(ii) mean, unmixed", n,
        float(morning.mean())))
    if not contrast:
        return answers

    # 4. beyond the paper: per-day estimates, split into two groups
    values, _scales = per_sketch_frequency(repo, "cat", h_cat, w_ref, ids, bank)
    high, p = two_group_split(values)
    answers.append(SummaryAnswer(
        "days with a cat", float(high.sum()), float(np.sqrt(np.sum(p * (1 - p)))),
        float(cat_w.astype(bool).sum()), "number of days with a cat",
        "beyond the paper: per-day Theorem 3(i), two-group split", n))

    # 5. beyond the paper: mean cat size from the contrast of cat days against the others
    if 0 < high.sum() < n:
        C = contrast_sketch(repo, ids[high], ids[~high])
        m = estimate_mean_attributes(C, bank, "cat", dim=len(ROOM_ATTRIBUTES))
        size, sd = ratio_estimate(m.value[size_i], m.value[0], m.error_scale)
        answers.append(SummaryAnswer(
            "mean cat size", size, sd, truth_size, "sum w x_size / sum w x_presence over cats",
            "beyond the paper: contrast sketch (cat days minus the others), mean", n,
            plain_size))

    # 6. beyond the paper: share of mornings, from a threshold on per-day wall brightness
    Y = per_sketch_attributes(repo, "wall", ids, bank, dim=len(ROOM_ATTRIBUTES))
    bright = Y[:, bright_i] / np.where(np.abs(Y[:, 0]) > 1e-12, Y[:, 0], 1e-12)
    high_b, p_b = two_group_split(bright)
    answers.append(SummaryAnswer(
        "share of morning scenes", float(high_b.mean()),
        float(np.sqrt(np.sum(p_b * (1 - p_b)))) / n, float(morning.mean()),
        "share of mornings (error bar: the mixture model's own, which ignores days whose true "
        "brightness groups overlap)", "beyond the paper: per-day wall brightness, two-group "
        "split", n))
    return answers


def _wall_sum(scene) -> np.ndarray:
    """``sum w x`` over the walls of one scene."""
    g = scene.graph
    return sum(g.effective_weight(n) * g.attributes(n) for n in g.objects_of("wall"))


def digits_class_answers(repo, net, ids: Sequence[int] | None = None,
                         bank: MatrixBank | None = None) -> pd.DataFrame:
    """How often each digit class appeared, from the summed sketch of the selection.

    The digit object sits at depth 2 with effective weight 1 and attributes ``p / ||p||``
    (class probabilities), so Theorem 3(ii) on the summed sketch,
    ``R_{digit,1}^T S / c(2)``, estimates ``sum_i p_i / ||p_i||``: for a confident network
    about the number of images predicted as each class. The truth with that definition and
    the true label counts are beside it.

    Beyond the paper, ``per-sketch argmax`` reads every sketch on its own
    (``R_{digit,1}^T s_i``), subtracts the mean reading over the selection (the cross-talk all
    digit sketches share, the same for every image) and counts the argmax classes; compare
    it with ``network predictions``, the classes the network itself predicted.

    Returns
    -------
    pandas.DataFrame
        Index class 0..9; columns ``estimate``, ``error bar (2 sd)``, ``truth`` (same
        definition), ``contains truth``, ``labels`` (true label count), ``per-sketch argmax``,
        ``network predictions``.
    """
    from ..datasets.digits import DIGIT_MODULE

    bank = _bank(repo, bank)
    ids = _ids(repo, ids)
    table = repo.table().loc[ids]
    images = [int(i) for i in table["input_id"]]
    est = estimate_summed_attributes(summed_sketch(repo, ids), bank, DIGIT_MODULE, 2, 1.0, 10)
    truth = np.zeros(10)
    labels = np.zeros(10, dtype=int)
    for i in images:
        g = net.graph(i)
        truth += g.attributes(DIGIT_MODULE)
        labels[net.label(i)] += 1
    bar = 2 * est.error_scale

    # beyond the paper: read each sketch, centre (the shared cross-talk), take the argmax
    Y = per_sketch_attributes(repo, DIGIT_MODULE, ids, bank, dim=10)
    read = np.bincount((Y - Y.mean(axis=0)).argmax(axis=1), minlength=10)
    predicted = np.bincount([net.prediction(i) for i in images], minlength=10)
    return pd.DataFrame(
        {
            "estimate": est.value,
            "error bar (2 sd)": np.full(10, bar),
            "truth": truth,
            "contains truth": np.abs(est.value - truth) <= bar,
            "labels": labels,
            "per-sketch argmax": read,
            "network predictions": predicted,
        },
        index=pd.Index(range(10), name="class"),
    )
