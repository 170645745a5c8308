"""Nearest neighbours: exact backends agree with `similarity`, approximate ones reach recall."""

import numpy as np
import pytest

from sketch_explorer import MatrixBank, Sketch, similarity
from sketch_explorer.repository import (
    ExactIndex,
    HNSWIndex,
    LSHIndex,
    SketchRecord,
    SketchRepository,
    recall_at_k,
)

D = 128


def _clustered(n, d, seed, n_centres=20, spread=0.5):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_centres, d))
    return centres[rng.integers(0, n_centres, n)] + spread * rng.standard_normal((n, d))


@pytest.fixture
def repo(tmp_path):
    bank = MatrixBank(D, "fast", seed=0)
    V = _clustered(300, D, 1)
    with SketchRepository(tmp_path / "r.sqlite", bank, dtype="float64") as r:
        r.add_many([SketchRecord(i, v, label=i % 3, time=float(i)) for i, v in enumerate(V)])
        # forget part of the repository: two more kept lengths
        r.truncate({i: 32 for i in range(1, 100)} | {i: 64 for i in range(100, 200)})
        yield r


@pytest.mark.parametrize("metric", ["ip", "cosine"])
@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_exact_scores_equal_similarity(repo, metric, backend):
    index = repo.build_index("exact", metric, backend=backend)
    q = Sketch(_clustered(1, D, 9)[0], repo.bank)
    table = repo.nearest(q, k=10, index=index)
    want = []
    for i in repo.ids():
        dot, cos = similarity(q, repo.sketch(i))
        want.append((dot if metric == "ip" else cos, i))
    want.sort(key=lambda t: -t[0])
    np.testing.assert_allclose(table["score"], [w for w, _i in want[:10]], rtol=1e-5)
    assert list(table["rank"]) == list(range(1, 11))
    assert {"input_id", "label", "time", "kept"} <= set(table.columns)


def test_stored_id_query_excludes_itself(repo):
    table = repo.nearest(250, k=5)
    assert 250 not in table["id"].tolist() and len(table) == 5


@pytest.fixture(scope="module")
def hard_case():
    """20 clusters of 150 points in 128 dimensions: within a cluster the neighbours are
    nearly equidistant, so the order of the top 10 is hard for any approximate search."""
    V = _clustered(3000, D, 2)
    Q = _clustered(50, D, 3)
    _s, truth = ExactIndex("cosine").fit(V).search(Q, 10)
    return V, Q, truth


def test_lsh_rescoring_everything_is_exact(hard_case):
    V, Q, truth = hard_case
    _s, found = LSHIndex(nbits=64, n_candidates=len(V)).fit(V).search(Q, 10)
    assert recall_at_k(found, truth) == 1.0


def test_hnsw_recall_grows_with_ef_search(hard_case):
    V, Q, truth = hard_case
    index = HNSWIndex(M=16, ef_search=16).fit(V)
    recalls = []
    for ef in (16, 64, 1024):
        index.ef_search = ef
        recalls.append(recall_at_k(index.search(Q, 10)[1], truth))
    assert recalls[0] <= recalls[1] + 0.02 <= recalls[2] + 0.04
    # with a candidate list a third of the data, the graph search is close to exhaustive
    assert recalls[2] >= 0.97


def test_bad_queries(repo):
    with pytest.raises(ValueError, match=r"query must be a Sketch, a stored id or a \(128,\)"):
        repo.nearest(np.ones(5))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        repo.nearest(1, k=0)
    with pytest.raises(ValueError, match="metric must be one of"):
        repo.build_index("exact", "euclid")


def test_recall_at_k():
    assert recall_at_k(np.array([[1, 2, 3]]), np.array([[3, 2, 9]])) == pytest.approx(2 / 3)
