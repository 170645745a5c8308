"""Sketch-to-sketch similarity (Theorem 2) and the bank checks on comparisons."""

import math

import numpy as np
import pytest

from sketch_explorer import (
    BankMismatchError,
    CommunicationGraph,
    MatrixBank,
    depth_coefficient,
    similarity,
    sketch_graph,
)

N = 200


def one_level(objects, weights):
    names = list(objects)
    return CommunicationGraph.from_objects(
        objects, {"output": list(zip(names, weights))}
    )


def dots(g1, g2, d=256, family="fast"):
    out = []
    for s in range(N):
        bank = MatrixBank(d, family, s)
        out.append(similarity(sketch_graph(g1, bank).overall, sketch_graph(g2, bank).overall)[0])
    return np.array(out)


X = np.array([0.6, 0.8, 0.0])
Y = np.array([0.0, 0.6, 0.8])


def test_unrelated_sketches_are_near_orthogonal():
    """No module in common: every term of <s, s'> is rotated by an independent matrix, so
    the mean over banks is 0 within 3 standard errors."""
    g1 = one_level({"cat": ("cat", X), "wall": ("wall", Y)}, [0.5, 0.5])
    g2 = one_level({"dog": ("dog", X), "door": ("door", Y)}, [0.5, 0.5])
    v = dots(g1, g2)
    assert abs(v.mean()) < 3 * v.std(ddof=1) / math.sqrt(N)


def test_shared_module_adds_similarity():
    """A shared module at the same depth adds at least c(2)^2 w w' (1 + <x, x'>) on average,
    more at the same position; agreement of attributes adds more."""
    c2 = depth_coefficient(2)
    same = dots(one_level({"cat": ("cat", X), "a": ("a", Y)}, [0.5, 0.5]),
                one_level({"kitty": ("cat", X), "b": ("b", Y)}, [0.5, 0.5]))
    moved = dots(one_level({"cat": ("cat", X), "a": ("a", Y)}, [0.5, 0.5]),
                 one_level({"b": ("b", Y), "kitty": ("cat", X)}, [0.5, 0.5]))
    differ = dots(one_level({"cat": ("cat", X), "a": ("a", Y)}, [0.5, 0.5]),
                  one_level({"kitty": ("cat", np.array([0, 0, 1.0])), "b": ("b", Y)},
                            [0.5, 0.5]))
    se = lambda v: v.std(ddof=1) / math.sqrt(N)  # noqa: E731
    floor = c2**2 * 0.25 * (1 + X @ X)
    assert same.mean() - 3 * se(same) > floor
    assert moved.mean() - 3 * se(moved) > floor
    assert same.mean() - moved.mean() > 3 * math.hypot(se(same), se(moved))
    assert same.mean() - differ.mean() > 3 * math.hypot(se(same), se(differ))


def test_cosine_of_a_sketch_with_itself_and_under_erasure():
    g = one_level({"cat": ("cat", X)}, [1.0])
    bank = MatrixBank(512, "fast", 0)
    s = sketch_graph(g, bank).overall
    dot, cos = similarity(s, s)
    assert cos == pytest.approx(1.0)
    assert dot == pytest.approx(float(s.values @ s.values))
    dot_e, cos_e = similarity(s.erase_prefix(256), s)
    assert cos_e == pytest.approx(1.0)
    assert dot_e == pytest.approx(dot, rel=0.3)  # rescaled by d/d'


def test_comparing_sketches_of_different_banks_names_the_field():
    g = one_level({"cat": ("cat", X)}, [1.0])
    a = sketch_graph(g, MatrixBank(64, "fast", 0)).overall
    with pytest.raises(BankMismatchError, match="seed 0 != 1"):
        similarity(a, sketch_graph(g, MatrixBank(64, "fast", 1)).overall)
    with pytest.raises(BankMismatchError, match="family 'fast' != 'haar'"):
        similarity(a, sketch_graph(g, MatrixBank(64, "haar", 0)).overall)
    with pytest.raises(BankMismatchError, match="d 64 != 128"):
        similarity(a, sketch_graph(g, MatrixBank(128, "fast", 0)).overall)
