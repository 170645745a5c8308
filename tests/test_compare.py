"""Comparing two sketches: similarity with its prediction, modules, drill-down."""

import numpy as np
import pytest

from sketch_explorer import MatrixBank
from sketch_explorer.compare import SketchComparison
from sketch_explorer.datasets import load_digits_network, room_scene


@pytest.fixture(scope="module")
def rooms():
    a, b = room_scene(1, day=3), room_scene(1, day=4)
    return SketchComparison(a.graph, b.graph, MatrixBank(4096, "fast", 0))


def test_similarity_is_close_to_its_prediction(rooms):
    sim = rooms.similarity()
    assert sim["cosine"] == pytest.approx(sim["predicted_cosine"], abs=0.1)
    assert sim["dot"] == pytest.approx(sim["predicted_dot"], rel=0.25)


def test_module_table_counts_and_readability(rooms):
    table = rooms.module_table().set_index("module")
    walls = table.loc["wall"]
    for side in "ab":
        # depth-2 counts are within 4 predicted errors of the truth
        err = abs(walls[f"estimated_count_{side}"] - walls[f"true_count_{side}"])
        assert err < 4 * walls[f"count_error_{side}"]
    # depth-3 parts are never declared readable at d = 4096
    assert not table.loc[["cat_head", "cat_body", "cat_tail"], "readable"].any()


def test_drill_down_identifies_modules_and_the_isometry(rooms):
    level = rooms.drill()
    assert level.identified_a == [rooms.graph_a.module(c) for c in level.children_a]
    assert level.identified_b == [rooms.graph_b.module(c) for c in level.children_b]
    k = min(len(level.children_a), len(level.children_b))
    # R_i^T is an isometry: same-position cosines equal the parent cosine
    np.testing.assert_allclose(np.diag(level.estimated[:k, :k]), level.parent_cosine, atol=1e-9)
    # truth: objects of one module are alike, of different modules are not
    assert (level.true[level.same_module] > 0.9).all()
    assert (np.abs(level.true[~level.same_module]) < 0.2).all()
    table = level.table()
    assert set(table.columns) >= {"estimated_cosine", "true_cosine", "same_module"}


def test_drill_one_level_down_and_bad_paths(rooms):
    cat = [i + 1 for i, c in enumerate(rooms.graph_a.inputs(rooms.graph_a.output))
           if c[0] == "cat"][0]
    cat_b = [i + 1 for i, c in enumerate(rooms.graph_b.inputs(rooms.graph_b.output))
             if c[0] == "cat"][0]
    level = rooms.drill((cat,), (cat_b,))
    assert sorted(level.children_a) == ["cat_body", "cat_head", "cat_tail"]
    with pytest.raises(ValueError, match="position 99 at step 1"):
        rooms.drill((99,), (1,))
    with pytest.raises(ValueError, match="has no inputs"):
        rooms.drill((1,), (1,))  # a wall has no inputs


def test_digits_same_class_more_similar_than_different():
    """Images 0 and 10 are both zeros, image 1 is a one (scikit-learn's order)."""
    net = load_digits_network(0)
    bank = MatrixBank(2048, "fast", 0)
    same = SketchComparison(net.graph(0), net.graph(10), bank).similarity()
    diff = SketchComparison(net.graph(0), net.graph(1), bank).similarity()
    assert net.label(0) == net.label(10) != net.label(1)
    assert same["cosine"] > diff["cosine"] + 0.2
