"""Tests of the seeded experiments behind notebooks 10-14 (sketch_explorer.experiments).

Shapes and columns are checked exactly; statistical checks use the fast family with enough
seeds that the stated tolerances follow from the spread of a median of n draws (about
1.25 sd / sqrt(n) relative to the spread of one draw), not from the outcome.
"""

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from sketch_explorer import MatrixBank
from sketch_explorer.experiments import (
    band_figure,
    chain_graph,
    erasure_trials,
    exact_count_probability,
    flat_graph,
    joint_trials,
    operator_norms,
    perturbation_trials,
    pooled_mean_trials,
    prototype_graph,
    quantile_summary,
    recovery_trials,
    repeated_module_graph,
    similarity_trials,
    statistics_trials,
    valid_dimension,
)


def test_graph_builders_have_the_stated_structure():
    g = flat_graph([0.4, 0.35, 0.25], k=8, seed=3)
    assert [g.effective_weight(n) for n in ("o1", "o2", "o3")] == [0.4, 0.35, 0.25]
    assert set(g.modules) == {"M1", "M2", "M3"}
    c = chain_graph(4, weight=0.5)
    assert [c.depth(f"h{h}") for h in (2, 3, 4)] == [2, 3, 4]
    assert {c.effective_weight(f"h{h}") for h in (2, 3, 4)} == {0.5}
    p = prototype_graph()
    assert p.effective_weight("a1") == pytest.approx(0.25)
    r = repeated_module_graph(3, weight=0.2)
    assert len(r.objects_of("wall")) == 3
    assert r.effective_weight("lamp") == pytest.approx(0.4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: flat_graph([0.5, 0.6]), "sum to 1"),
        (lambda: flat_graph([0.5, 0.5], modules=["A"]), "1 modules for 2 weights"),
        (lambda: chain_graph(1), "max_depth"),
        (lambda: repeated_module_graph(10, weight=0.1), "n \\* weight < 1"),
    ],
)
def test_graph_builders_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_valid_dimension_moves_only_the_block_family():
    assert valid_dimension("fast", 256) == 256
    assert valid_dimension("block", 256) == 231


def test_recovery_trials_columns_and_prediction():
    """Median measured/predicted l-inf error of the w = .5 object over 40 seeds is within 20%
    of 1 (the median of 40 draws has a relative spread of about 5% here)."""
    g = flat_graph([0.5, 0.3, 0.2])
    t = recovery_trials(g, [1024], range(40), estimators=("module", "path"))
    assert len(t) == 40 * 3 * 2
    for column in ("family", "d", "seed", "estimator", "object", "depth", "linf_error",
                   "linf_noise", "predicted_linf"):
        assert column in t
    one = t[(t.object == "o1") & (t.estimator == "module")]
    ratio = one.linf_error.median() / one.predicted_linf.median()
    assert 0.8 < ratio < 1.2, ratio


def test_erasure_trials_prefix_and_mask_keep_d_prime():
    g = flat_graph([0.5, 0.5], k=4)
    t = erasure_trials(g, 256, [64, 256], range(3))
    assert set(t["mode"]) == {"prefix", "mask"}
    assert set(t.d_prime) == {64, 256}
    # the prediction grows like sqrt(d / d')
    pred = t.groupby("d_prime").predicted_linf.median()
    assert pred[64] / pred[256] == pytest.approx(2.0, rel=0.25)
    with pytest.raises(ValueError, match="erasure mode"):
        erasure_trials(g, 256, [64], [0], modes=("suffix",))
    with pytest.raises(ValueError, match="kept d'"):
        erasure_trials(g, 256, [300], [0])


def test_statistics_trials_count_is_unbiased():
    """Mean of 60 count estimates within 3 standard errors of the true count."""
    g = repeated_module_graph(3)
    t = statistics_trials(g, "wall", [1024], range(60))
    se = t.n_hat.std(ddof=1) / math.sqrt(len(t))
    assert abs(t.n_hat.mean() - 3) < 3 * se
    assert (t.n_true == 3).all()


def test_statistics_trials_refuses_unequal_weights():
    g = flat_graph([0.6, 0.4], modules=["wall", "wall"])
    with pytest.raises(ValueError, match="different effective weights"):
        statistics_trials(g, "wall", [64], [0])


def test_similarity_trials_unrelated_near_zero_and_shared_near_prediction():
    a = flat_graph([0.5, 0.5], modules=["cat", "wall"], k=8, seed=1)
    b = flat_graph([0.5, 0.5], modules=["dog", "door"], k=8, seed=2)
    c = flat_graph([0.5, 0.5], modules=["cat", "door"], k=8, seed=2)
    t = similarity_trials({"unrelated": (a, b), "shared": (a, c)}, [1024], range(40))
    for pair, part in t.groupby("pair"):
        se = part["dot"].std(ddof=1) / math.sqrt(len(part))
        assert abs(part["dot"].mean() - part.expected_dot.iloc[0]) < 3 * se, pair
    assert t[t.pair == "unrelated"].expected_dot.eq(0).all()
    assert t[t.pair == "shared"].expected_dot.gt(0).all()


def test_perturbation_stays_within_theorem_2_iii_for_orthonormal_families():
    g = prototype_graph(k=8)
    t = perturbation_trials(g, 64, [0, 1], families=("haar", "fast"), n_directions=5)
    assert (t.ratio <= 1.0).all()
    assert set(t.which) == {"all", "one"}


def test_operator_norms_sum_below_one_half_for_orthonormal():
    g = prototype_graph(k=8)
    norms = operator_norms(g, MatrixBank(64, "fast", 0))
    assert list(norms.object) == list(g.objects)
    assert norms.norm.sum() <= 0.5


def test_joint_trials_exact_without_noise_and_predicted_with_noise():
    g = prototype_graph(k=8)
    t = joint_trials(g, [256], range(6), noise=[0.0, 0.1])
    joint = t[t.estimator == "joint"]
    assert (joint[joint.noise == 0].linf_error < 1e-9).all()
    assert (joint["rank"] == joint["n_unknowns"]).all()
    noisy = joint[joint.noise == 0.1]
    ratio = noisy.linf_error.median() / noisy.predicted_linf.median()
    assert 0.5 < ratio < 2.0, ratio
    with pytest.raises(ValueError, match="noise levels"):
        joint_trials(g, [64], [0], noise=[-1.0])


def test_joint_trials_records_rank_deficiency_below_the_unknowns():
    g = prototype_graph(k=8)
    t = joint_trials(g, [256], [0], kept=[20, 256], estimators=())
    ranks = t.groupby("d_prime")["rank"].max()
    assert ranks[20] == 20 and ranks[256] == 40


def test_quantile_summary_and_band_figure():
    t = pd.DataFrame({"d": [1, 1, 1, 1, 2, 2], "e": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0],
                      "p": [2.0] * 4 + [6.0] * 2})
    s = quantile_summary(t, "d", ["e", "p"])
    assert s.n_rows.tolist() == [4, 2]
    assert s.e_median.tolist() == [2.5, 6.0]
    assert s.e_q25.tolist() == [1.75, 5.5]
    fig = band_figure(s, "d", "e", predicted="p", title="t")
    assert isinstance(fig, go.Figure)
    assert [tr.mode for tr in fig.data] == ["markers", "lines"]
    assert list(fig.data[0].error_y.array) == [0.75, 0.5]
    fig = band_figure(s, "d", "e", hlines=[(1.0, "error 1")])
    assert fig.data[-1].name == "error 1" and list(fig.data[-1].x) == [1.0, 2.0]


def test_exact_count_probability():
    assert exact_count_probability(1e-6) == pytest.approx(1.0)
    # sigma = 1/2: P(|Z| < 1) = 0.6827
    assert exact_count_probability(0.5) == pytest.approx(0.6827, abs=1e-4)
    assert np.asarray(exact_count_probability([0.1, 10.0])).shape == (2,)


def test_pooled_mean_trials_targets_the_weighted_mean():
    graphs = [repeated_module_graph(n, weight=0.2, k=4, seed=n) for n in (1, 2, 3)]
    t = pooled_mean_trials(graphs, "wall", 1024, range(30))
    pooled = t[t["scope"] == "pooled"]
    assert (pooled["n_objects"] == 6).all()
    target = pooled["target"].iloc[0]
    assert target == pytest.approx(
        np.mean([g.attributes(n) for g in graphs for n in g.objects_of("wall")], axis=0)
    )
    ratio = pooled["linf_error"].median() / pooled["predicted_linf"].median()
    assert 0.6 < ratio < 1.6, ratio
    with pytest.raises(ValueError, match="no graph holds"):
        pooled_mean_trials(graphs, "cat", 64, [0])
