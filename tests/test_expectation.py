"""The word expansion predicts the mean similarity of two sketches (Theorem 2)."""

import math

import numpy as np
import pytest

from conftest import prototype_graph
from sketch_explorer import CommunicationGraph, MatrixBank, depth_coefficient, similarity, sketch_graph
from sketch_explorer.expectation import (
    expected_cosine,
    expected_inner_product,
    expected_inner_product_by_module,
    sketch_words,
)

X = np.array([0.6, 0.8, 0.0])
Y = np.array([0.0, 0.6, 0.8])


def one_level(objects, weights):
    return CommunicationGraph.from_objects(objects, {"output": list(zip(objects, weights))})


PAIRS = {
    "shared module, same position": (
        one_level({"cat": ("cat", X), "a": ("a", Y)}, [0.5, 0.5]),
        one_level({"kitty": ("cat", X), "b": ("b", Y)}, [0.5, 0.5]),
    ),
    "shared module, other position": (
        one_level({"cat": ("cat", X), "a": ("a", Y)}, [0.5, 0.5]),
        one_level({"b": ("b", Y), "kitty": ("cat", X)}, [0.5, 0.5]),
    ),
    "nothing shared": (
        one_level({"cat": ("cat", X), "a": ("a", Y)}, [0.5, 0.5]),
        one_level({"dog": ("dog", X), "b": ("b", Y)}, [0.5, 0.5]),
    ),
    "a deep graph with itself": (prototype_graph(), prototype_graph()),
}


CASES = [("fast", pair) for pair in PAIRS] + [("haar", "shared module, other position")]


@pytest.mark.parametrize("family, pair", CASES)
def test_mean_inner_product_matches_the_prediction(family, pair):
    """Mean of <s, s'> over 200 banks within 3 standard errors of the prediction; the
    neglected O(1/d) terms are far below one standard error at d = 256."""
    a, b = PAIRS[pair]
    n = 200
    v = np.array([
        similarity(sketch_graph(a, bank).overall, sketch_graph(b, bank).overall)[0]
        for bank in (MatrixBank(256, family, s) for s in range(n))
    ])
    se = v.std(ddof=1) / math.sqrt(n)
    assert abs(v.mean() - expected_inner_product(a, b)) < 3 * se


def test_leading_term_of_spec_is_a_lower_bound():
    a, b = PAIRS["shared module, other position"]
    lead = depth_coefficient(2) ** 2 * 0.25 * (1 + X @ X)
    assert expected_inner_product(a, b) >= lead
    assert expected_inner_product_by_module(*PAIRS["nothing shared"]) == {}


def test_word_count_and_coefficient_sum():
    g = prototype_graph()
    words = sketch_words(g)
    # per path 2 * 2^(3(h-1)) terms; words of different objects may coincide
    assert len(words) <= 2 * (3 * 2**3 + 2 * 2**6)
    assert expected_cosine(g, g) == pytest.approx(1.0)


def test_too_deep_graph_is_refused():
    objects = {f"n{k}": (f"M{k}", [1.0]) for k in range(5)}
    inputs = {"output": [("n0", 1.0)], **{f"n{k}": [(f"n{k + 1}", 1.0)] for k in range(4)}}
    g = CommunicationGraph.from_objects(objects, inputs)
    with pytest.raises(ValueError, match="depth 6 exceeds 5"):
        sketch_words(g)
