"""Tests of the trained digits network and its communication graphs."""

import warnings

import numpy as np
import pytest

from sketch_explorer.datasets.digits import (
    GRID,
    STROKE_ATTRIBUTES,
    DigitsNetwork,
    class_probabilities,
    load_digits_network,
    stroke_raw_attributes,
)
from sketch_explorer.graph import CommunicationGraph

SAMPLE = range(0, 1797, 60)  # 30 images spread over the dataset


@pytest.fixture(scope="module")
def net():
    return DigitsNetwork.train(seed=0)


def _signature(g: CommunicationGraph):
    """Everything a graph holds, as plain values that compare exactly."""
    rows = []
    for node in (g.output, *g.objects):
        x = () if node == g.output else tuple(g.attributes(node))
        rows.append((node, x, tuple(g.inputs(node))))
    return rows


def _stroke_nodes(g):
    return [n for n in g.objects if g.module(n).startswith("stroke_")]


def test_accuracy_and_training_time(net):
    assert net.accuracy_ >= 0.90
    assert net.training_seconds_ < 20.0
    assert len(net.test_indices_) + len(net.train_indices_) == net.n_images == 1797
    assert not np.intersect1d(net.test_indices_, net.train_indices_).size


def test_other_seed_is_accurate_too():
    other = DigitsNetwork.train(seed=1)
    assert other.accuracy_ >= 0.90
    assert not np.array_equal(other.test_indices_, DigitsNetwork.train(seed=0).test_indices_)


def test_cache_returns_one_object(net):
    assert DigitsNetwork.train(seed=0) is net
    assert load_digits_network(0) is net


def test_deterministic_for_a_seed(net):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # training converges without warnings
        fresh = DigitsNetwork(seed=0)
    assert fresh is not net
    assert fresh.accuracy_ == net.accuracy_
    np.testing.assert_array_equal(fresh.templates_, net.templates_)
    for i in (0, 5, 1000):
        assert _signature(fresh.graph(i)) == _signature(net.graph(i))
        assert _signature(net.graph(i)) == _signature(net.graph(i))


def test_graphs_validate_without_warnings(net):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graphs = [net.graph(i) for i in SAMPLE]
        for g in graphs:
            CommunicationGraph(g.to_networkx())  # re-validation is silent too
    for g in graphs:
        for node in g.objects:
            x = g.attributes(node)
            assert g.attribute_norm(node) == pytest.approx(1.0, abs=1e-12)
            assert np.all(x >= 0) and len(x) <= 16
        for node in (g.output, *g.objects):
            w = [wc for _c, wc in g.inputs(node)]
            if w:
                assert min(w) >= 0 and sum(w) == pytest.approx(1.0, abs=1e-9)


def test_levels_and_modules(net):
    assert len(net.modules) >= 6
    assert sum(m.startswith("stroke_") for m in net.modules) >= 6
    seen = set()
    for i in SAMPLE:
        g = net.graph(i)
        assert g.max_depth == 3
        assert g.depth("digit") == 2
        assert g.inputs(g.output) == [("digit", 1.0)]
        assert all(g.depth(n) == 3 for n in _stroke_nodes(g))
        seen |= set(g.modules)
    assert seen == set(net.modules)


def test_weights_are_evidence_shares_not_uniform(net):
    for i in SAMPLE:
        g = net.graph(i)
        w = np.array([wc for _c, wc in g.inputs("digit")])
        assert len(w) >= 2
        assert w.max() - w.min() > 1e-3  # not uniform
        assert np.all(np.diff(w) <= 0)  # position 1 = most important

    # the weights are |beta[c, f] a_f| normalised, c the predicted class
    g = net.graph(7)
    c = net.prediction(7)
    info = net.object_info(7)
    evidence = info["evidence"].drop("digit").abs()
    np.testing.assert_allclose(info["weight"].drop("digit"), evidence / evidence.sum())
    assert int(info.loc["digit", "predicted"]) == c


def test_classifier_sees_only_the_fired_objects(net):
    # rebuild the classifier's input from the graph alone and recompute the probabilities
    k = net.n_strokes
    for i in (3, 400, 1500):
        g = net.graph(i)
        F = np.zeros(GRID * GRID * k)
        for node in _stroke_nodes(g):
            m = int(g.module(node).split("_")[1])
            raw = stroke_raw_attributes(g.attributes(node))
            r, c = round(raw["row"] * (GRID - 1)), round(raw["col"] * (GRID - 1))
            F[(r * GRID + c) * k + m] = raw["strength"]
        z = net.coef_ @ F + net.intercept_
        p = np.exp(z - z.max())
        p /= p.sum()
        np.testing.assert_allclose(p, class_probabilities(g.attributes("digit")), atol=1e-9)


def test_graphs_differ_between_images(net):
    a, b = net.graph(0), net.graph(1)
    assert net.label(0) != net.label(1)
    assert set(a.objects) != set(b.objects)
    assert not np.allclose(a.attributes("digit"), b.attributes("digit"))


def test_probabilities_round_trip(net):
    for i in (0, 11, 222):
        g = net.graph(i)
        p = class_probabilities(g.attributes("digit"))
        q = net.predict_proba(net.image(i))[0]
        np.testing.assert_allclose(p, q, atol=1e-10)
        assert p.sum() == pytest.approx(1.0)
        assert int(p.argmax()) == net.prediction(i)
    images = np.stack([net.image(i) for i in SAMPLE])
    np.testing.assert_array_equal(net.predict(images.reshape(len(images), 64)),
                                  [net.prediction(i) for i in SAMPLE])


def test_object_info_matches_the_graph(net):
    i = 42
    g = net.graph(i)
    info = net.object_info(i)
    assert list(info.index) == ["digit"] + [c for c, _w in g.inputs("digit")]
    for node in _stroke_nodes(g):
        raw = stroke_raw_attributes(g.attributes(node))
        assert set(raw) == set(STROKE_ATTRIBUTES)
        assert raw["presence"] == pytest.approx(1.0)
        for name in ("strength", "ink", "share"):
            assert raw[name] == pytest.approx(info.loc[node, name])
        row = info.loc[node]
        assert node == f"{row['module']}@({row['row']},{row['col']})"
        assert row["activation"] >= row["threshold"]


def test_image_and_label(net):
    img = net.image(0)
    assert img.shape == (8, 8) and img.max() <= 16
    assert net.label(0) == 0
    assert 0 <= net.prediction(0) <= 9
    assert net.is_test(int(net.test_indices_[0]))


def test_errors(net):
    with pytest.raises(ValueError, match=r"i must be in 0\.\.1796; got 1797"):
        net.graph(1797)
    with pytest.raises(TypeError, match="i must be an int; got float"):
        net.image(1.0)
    with pytest.raises(ValueError, match="fire_quantile must lie strictly between 0 and 1"):
        DigitsNetwork.train(0, fire_quantile=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0; got -1"):
        load_digits_network(-1)
    with pytest.raises(ValueError, match="positive sum"):
        class_probabilities(np.zeros(10))
    with pytest.raises(ValueError, match=r"images must have shape"):
        net.predict_proba(np.zeros((3, 7, 7)))
    with pytest.raises(ValueError, match="6 entries"):
        stroke_raw_attributes(np.ones(5))
