"""Validation of communication graphs: every rule of SPEC section 1 has a clear message."""

import math
import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketch_explorer import (
    AttributeNormalizationWarning,
    CommunicationGraph,
    GraphValidationError,
    UnreachableObjectWarning,
    WeightRenormalizationWarning,
)


def base():
    G = nx.DiGraph()
    G.add_node("out", module="output")
    G.add_node("cat", module="cat", attributes=[0.6, 0.8])
    G.add_node("head", module="head", attributes=[1.0])
    G.add_node("tail", module="tail", attributes=[1.0])
    G.add_edge("cat", "out", weight=1.0, position=1)
    G.add_edge("head", "cat", weight=0.7, position=1)
    G.add_edge("tail", "cat", weight=0.3, position=2)
    return G


def test_valid_graph_derived_quantities():
    g = CommunicationGraph(base())
    assert g.objects == ("cat", "head", "tail")
    assert g.depth("cat") == 2 and g.depth("head") == 3
    assert g.modules == {"cat": 2, "head": 3, "tail": 3}
    assert g.effective_weight("head") == pytest.approx(0.7)
    assert g.paths("tail") == [((1, 2), pytest.approx(0.3))]
    assert g.inputs("out") == [("cat", 1.0)]


def test_effective_weight_sums_over_paths():
    G = base()
    G.add_node("dog", module="cat", attributes=[1.0, 0.0])
    G["cat"]["out"]["weight"] = 0.4
    G.add_edge("dog", "out", weight=0.6, position=2)
    G.add_edge("tail", "dog", weight=1.0, position=1)
    g = CommunicationGraph(G)
    assert g.effective_weight("tail") == pytest.approx(0.4 * 0.3 + 0.6 * 1.0)
    assert sorted(p for p, _ in g.paths("tail")) == [(1, 2), (2, 1)]
    assert math.fsum(w for _, w in g.paths("tail")) == pytest.approx(g.effective_weight("tail"))


def test_cycle_is_named():
    G = base()
    G.add_edge("cat", "head", weight=1.0, position=1)
    with pytest.raises(GraphValidationError, match="cycle: .*'cat'.*'head'"):
        CommunicationGraph(G)


@pytest.mark.parametrize("n_outputs, match", [(0, "no output sink"), (2, "2 output sinks")])
def test_zero_or_several_sinks(n_outputs, match):
    G = base()
    if n_outputs == 0:
        G.nodes["out"]["module"] = "room"
    else:
        G.add_node("out2", module="output")
    with pytest.raises(GraphValidationError, match=match):
        CommunicationGraph(G)


def test_output_must_be_sink():
    G = base()
    G.add_edge("out", "tail", weight=1.0, position=1)
    with pytest.raises(GraphValidationError, match="must be the sink.*'out' -> 'tail'"):
        CommunicationGraph(G)


def test_unreachable_objects_warn_and_are_omitted():
    G = base()
    G.add_node("lost", module="cat", attributes=[1.0])
    with pytest.warns(UnreachableObjectWarning, match="'lost'"):
        g = CommunicationGraph(G)
    assert "lost" not in g and len(g) == 3


@pytest.mark.parametrize(
    "weight, match",
    [(-0.2, "weight is -0.2"), (float("nan"), "weight is nan"), ("heavy", "must be a number")],
)
def test_bad_weights_name_the_edge(weight, match):
    G = base()
    G["tail"]["cat"]["weight"] = weight
    with pytest.raises(GraphValidationError, match=f"'tail' -> 'cat'.*{match}"):
        CommunicationGraph(G)


def test_non_summing_weights_rejected_or_renormalised():
    G = base()
    G["tail"]["cat"]["weight"] = 0.8
    with pytest.raises(GraphValidationError, match="weights of 'cat' sum to 1.5"):
        CommunicationGraph(G)
    with pytest.warns(WeightRenormalizationWarning, match="'cat' summed to 1.5"):
        g = CommunicationGraph(G, renormalize_weights=True)
    assert g.effective_weight("tail") == pytest.approx(0.8 / 1.5)


@pytest.mark.parametrize(
    "attrs, match",
    [
        ([0.5, -0.5], "attribute 1 is -0.5.*non-negative"),
        ([float("nan"), 1.0], "attribute 0 is nan.*finite"),
        ([0.0, 0.0], "all zeros"),
        ([], "non-empty"),
        ("abc", "sequence of numbers"),
        (None, "no attribute vector"),
    ],
)
def test_bad_attributes_name_the_object(attrs, match):
    G = base()
    G.nodes["head"]["attributes"] = attrs
    with pytest.raises(GraphValidationError, match=f"'head'.*{match}|{match}.*'head'"):
        CommunicationGraph(G)


def test_unnormalised_attributes_are_rescaled_with_a_warning():
    G = base()
    G.nodes["cat"]["attributes"] = [3.0, 4.0]
    with pytest.warns(AttributeNormalizationWarning, match="'cat'.*norm 5"):
        g = CommunicationGraph(G)
    np.testing.assert_allclose(g.attributes("cat"), [0.6, 0.8])
    assert g.attribute_norm("cat") == pytest.approx(5.0)


def test_attribute_longer_than_d():
    g = CommunicationGraph(base())
    with pytest.raises(GraphValidationError, match="'cat' has 2 attributes.*d=1"):
        g.check_dimension(1)


def test_module_at_two_depths():
    G = base()
    G.nodes["tail"]["module"] = "cat"
    with pytest.raises(GraphValidationError, match="module 'cat' appears at two depths: 2"):
        CommunicationGraph(G)


def test_object_at_two_depths():
    G = base()
    G.add_edge("tail", "out", weight=0.5, position=2)
    G["cat"]["out"]["weight"] = 0.5
    with pytest.raises(GraphValidationError, match="'tail' lies at two depths, 2 and 3"):
        CommunicationGraph(G)


def test_unknown_module_name():
    with pytest.raises(GraphValidationError, match="unknown module 'head'"):
        CommunicationGraph(base(), modules=["cat", "tail"])


def test_missing_module_and_wrong_types():
    G = base()
    del G.nodes["tail"]["module"]
    with pytest.raises(GraphValidationError, match="'tail' has no module name"):
        CommunicationGraph(G)
    with pytest.raises(TypeError, match="DiGraph"):
        CommunicationGraph(nx.MultiDiGraph(base()))
    with pytest.raises(TypeError, match="DiGraph"):
        CommunicationGraph(nx.Graph(base()))


@pytest.mark.parametrize(
    "positions, match",
    [((1, 1), r"positions \[1, 1\]"), ((1, 3), r"positions \[1, 3\]"), ((1, 1.5), "integer")],
)
def test_bad_positions(positions, match):
    G = base()
    G["head"]["cat"]["position"], G["tail"]["cat"]["position"] = positions
    with pytest.raises(GraphValidationError, match=match):
        CommunicationGraph(G)


def test_partial_weights_or_positions_rejected():
    G = base()
    del G["tail"]["cat"]["weight"]
    with pytest.raises(GraphValidationError, match="'tail' -> 'cat' has no 'weight'"):
        CommunicationGraph(G)


def test_defaults_uniform_weights_and_edge_order():
    G = nx.DiGraph()
    G.add_node("o", module="output")
    for name in ["x", "y", "z"]:
        G.add_node(name, module=name, attributes=[1.0])
        G.add_edge(name, "o")
    g = CommunicationGraph(G)
    assert g.inputs("o") == [("x", 1 / 3), ("y", 1 / 3), ("z", 1 / 3)]


def test_unusual_names_are_kept():
    G = nx.DiGraph()
    names = ["a:b", "with space", "ünï", "<img src=x onerror=alert(1)>", 7]
    G.add_node("out", module="output")
    for k, n in enumerate(names):
        G.add_node(n, module=f"m{k}", attributes=[1.0])
        G.add_edge(n, "out", weight=0.2, position=k + 1)
    g = CommunicationGraph(G)
    assert set(g.objects) == set(names)


# -------------------------------------------------------------------- property tests
@st.composite
def random_trees(draw):
    """Layered random graphs (trees and DAGs) with valid weights."""
    n_levels = draw(st.integers(1, 3))
    G = nx.DiGraph()
    G.add_node("out", module="output")
    previous = ["out"]
    for level in range(n_levels):
        n = draw(st.integers(1, 4))
        names = [f"L{level}:{k}" for k in range(n)]
        for name in names:
            k = draw(st.integers(1, 5))
            x = draw(st.lists(st.floats(0.01, 10), min_size=k, max_size=k))
            G.add_node(name, module=f"M{level}", attributes=list(np.array(x) / np.linalg.norm(x)))
        for parent in previous:
            children = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
            raw = draw(st.lists(st.floats(0.05, 1), min_size=len(children), max_size=len(children)))
            w = np.array(raw) / sum(raw)
            for pos, (c, wi) in enumerate(zip(children, w), start=1):
                G.add_edge(c, parent, weight=float(wi), position=pos)
        previous = names
    return G


@settings(max_examples=60, deadline=None)
@given(random_trees())
def test_effective_weights_match_path_sums(G):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableObjectWarning)
        g = CommunicationGraph(G)
    for name in g.objects:
        total = math.fsum(w for _, w in g.paths(name))
        assert g.effective_weight(name) == pytest.approx(total, rel=1e-9)
        assert all(len(p) == g.depth(name) - 1 for p, _ in g.paths(name))
    # effective weights of one depth sum to 1 when every object feeds someone
    by_depth = {}
    for name in g.objects:
        by_depth.setdefault(g.depth(name), 0.0)
        by_depth[g.depth(name)] += g.effective_weight(name)
    assert by_depth[2] == pytest.approx(1.0)
    assert all(v <= 1 + 1e-9 for v in by_depth.values())
