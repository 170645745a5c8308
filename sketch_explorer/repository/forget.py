"""Graceful forgetting: a least-recently-used policy that truncates instead of deleting.

The paper (section 1.1) suggests a repository that follows "a generalization of a least
recently used policy, taking advantage of the graceful erasure property to only partially
forget old sketches". :class:`LRUForgetting` does that under a byte budget for the stored
vectors. Sketches are ranked by recency (the repository's logical clock of the last add or
access; ties by id, older first), and kept lengths fall in tiers:

    rank r (0 = most recent) keeps  d                      for r < r0,
                                    d / 2^t   for r0 * 2^(t-1) <= r < r0 * 2^t  (t >= 1),

never below ``min_kept``. The most recent r0 sketches stay whole, the next r0 keep half, the
next 2 r0 a quarter, and so on: a log-structured memory where the kept length of a sketch is
about ``d r0 / r``. r0 is the largest value whose total fits the budget (found by bisection;
the total is monotone in r0). A sketch is never lengthened: its new length is the minimum of
the tier's and its current one, so forgetting is irreversible and repeated application is
safe.

Erasure costs accuracy as SPEC §4 says: every estimator's noise grows like ``sqrt(d / d')``.
:func:`recall_by_bucket` and the stats functions measure what that does to retrieval and to
summary statistics against a sketch's age (the notebooks plot it).

Not guaranteed: the budget counts vector bytes only (metadata, indexes and SQLite's page
overhead are extra), and the file shrinks only after :meth:`SketchRepository.vacuum`. If even
``min_kept`` coordinates for every sketch exceed the budget, the policy truncates everything
to ``min_kept`` and warns.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import SketchExplorerWarning
from .index import ExactIndex, recall_at_k

__all__ = [
    "ForgettingBudgetWarning",
    "LRUForgetting",
    "tier_lengths",
    "age_buckets",
    "recall_by_bucket",
]

logger = logging.getLogger(__name__)


class ForgettingBudgetWarning(SketchExplorerWarning):
    """The byte budget cannot be met even with every sketch at its minimum length."""


def tier_lengths(n: int, d: int, r0: int, min_kept: int) -> np.ndarray:
    """Kept length of the sketch of each recency rank ``0..n-1`` (0 = most recent).

    ``d`` for ranks below r0, then halving each time the rank doubles, floored at
    ``min_kept``.
    """
    r = np.arange(n, dtype=np.float64)
    if r0 <= 0:
        return np.full(n, min_kept, dtype=np.int64)
    t = np.where(r < r0, 0, np.floor(np.log2(np.maximum(r, 1) / r0)) + 1)
    lengths = np.floor(d / 2.0**t).astype(np.int64)
    return np.maximum(lengths, min(min_kept, d))


@dataclass
class LRUForgetting:
    """Truncate the least recently used sketches to shorter prefixes under a byte budget.

    Parameters
    ----------
    budget_bytes : int
        Bytes allowed for all stored vectors of the chosen kinds.
    min_kept : int, default=64
        No sketch is truncated below this many coordinates.
    kinds : tuple of str, default=("overall", "object")

    Examples
    --------
    >>> policy = LRUForgetting(budget_bytes=2**20)                # doctest: +SKIP
    >>> plan = policy.apply(repo)                                  # doctest: +SKIP
    >>> plan[["kept_before", "kept_after"]].describe()             # doctest: +SKIP
    """

    budget_bytes: int
    min_kept: int = 64
    kinds: tuple = ("overall", "object")

    def __post_init__(self):
        if isinstance(self.budget_bytes, bool) or not isinstance(self.budget_bytes, int) or (
            self.budget_bytes < 0
        ):
            raise ValueError(f"budget_bytes must be an int >= 0; got {self.budget_bytes!r}")
        if isinstance(self.min_kept, bool) or not isinstance(self.min_kept, int) or (
            self.min_kept < 1
        ):
            raise ValueError(f"min_kept must be an int >= 1; got {self.min_kept!r}")

    def plan(self, repo) -> pd.DataFrame:
        """The truncation the policy would make now, without making it.

        Returns
        -------
        pandas.DataFrame
            Indexed by sketch id, most recent first: ``kind``, ``last_access``, ``rank``,
            ``kept_before``, ``kept_after``. ``attrs["r0"]`` holds the number kept whole.
        """
        frames = []
        for kind in self.kinds:
            t = repo.table(kind, expand_fields=False)[["last_access", "kept"]]
            t["kind"] = kind
            frames.append(t)
        table = pd.concat(frames)
        table = table.reset_index().sort_values(["last_access", "id"], ascending=False)
        table = table.set_index("id")
        n, d, item = len(table), repo.d, repo.dtype.itemsize
        current = table["kept"].to_numpy()

        def total(r0: int) -> int:
            return int(np.minimum(current, tier_lengths(n, d, r0, self.min_kept)).sum()) * item

        if total(n) <= self.budget_bytes:
            r0 = n
        else:
            lo, hi = 0, n  # total(lo) may fit, total(hi) does not
            if total(0) > self.budget_bytes:
                warnings.warn(
                    f"the budget of {self.budget_bytes} bytes cannot hold {n} sketches of "
                    f"{self.min_kept} coordinates; all are truncated to min_kept",
                    ForgettingBudgetWarning, stacklevel=3)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if total(mid) <= self.budget_bytes:
                    lo = mid
                else:
                    hi = mid
            r0 = lo
        after = np.minimum(current, tier_lengths(n, d, r0, self.min_kept))
        out = pd.DataFrame(
            {
                "kind": table["kind"].to_numpy(),
                "last_access": table["last_access"].to_numpy(),
                "rank": np.arange(n),
                "kept_before": current,
                "kept_after": after,
            },
            index=table.index,
        )
        out.attrs["r0"] = int(r0)
        out.attrs["bytes_after"] = int(after.sum()) * item
        return out

    def apply(self, repo) -> pd.DataFrame:
        """Make the truncation of :meth:`plan` (one transaction) and return the plan."""
        plan = self.plan(repo)
        change = plan[plan["kept_after"] < plan["kept_before"]]
        if len(change):
            repo.truncate(dict(zip(change.index.tolist(), change["kept_after"].tolist())))
        logger.info("forgetting: %d sketches truncated, r0=%d, %d bytes", len(change),
                    plan.attrs["r0"], plan.attrs["bytes_after"])
        return plan


def age_buckets(repo, n_buckets: int = 5, by: str = "time") -> pd.Series:
    """Assign each overall sketch to one of ``n_buckets`` age groups (0 = newest).

    Parameters
    ----------
    by : {"time", "last_access"}, default="time"
        Age by the stored time (newest = largest) or by recency of access.

    Returns
    -------
    pandas.Series
        Bucket per sketch id (equal-count buckets).
    """
    table = repo.table(expand_fields=False)
    key = table[by].astype(float)
    order = (-key).rank(method="first").to_numpy() - 1  # 0 = newest
    bucket = np.floor(order * n_buckets / max(len(table), 1)).astype(int)
    return pd.Series(bucket, index=table.index, name="age bucket")


def recall_by_bucket(ids, V_full, repo, queries, buckets: pd.Series, k: int = 10,
                     metric: str = "cosine") -> pd.DataFrame:
    """Retrieval recall@k of the truncated repository against the unerased sketches, per age.

    For each age bucket B and each query, the exact top-k within B using the unerased
    vectors ``V_full`` is the truth; the exact top-k within B over the repository as stored
    now (truncated) is the answer. Recall@k measures how much forgetting disturbs retrieval
    of memories of that age.

    Parameters
    ----------
    ids : (n,) int array_like
        Ids of the rows of ``V_full`` (the repository before forgetting).
    V_full : (n, d) array_like
    repo : SketchRepository
        After forgetting.
    queries : (nq, d) array_like
        Unerased query sketches (new inputs).
    buckets : pandas.Series
        From :func:`age_buckets`.

    Returns
    -------
    pandas.DataFrame
        Per bucket: ``mean_kept``, ``recall@k``.
    """
    ids = np.asarray(ids)
    V_full = np.asarray(V_full)
    pos = {int(i): r for r, i in enumerate(ids)}
    rows = []
    for b in sorted(buckets.unique()):
        members = buckets.index[buckets == b].to_numpy()
        kk = min(k, members.size)
        full = ExactIndex(metric, backend="numpy").fit(V_full[[pos[i] for i in members]],
                                                       ids=members)
        _i, V, kept = repo.matrix(members)
        now = ExactIndex(metric, backend="numpy").fit(V, kept, members)
        _s, truth = full.search(queries, kk)
        _s, found = now.search(queries, kk)
        rows.append({"age bucket": int(b), "mean_kept": float(kept.mean()),
                     f"recall@{k}": recall_at_k(found, truth)})
    return pd.DataFrame(rows).set_index("age bucket")

