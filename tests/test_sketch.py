"""The sketch of SPEC section 3: the batched engine, linearity, Theorem 2(iii), erasure."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import prototype_graph
from sketch_explorer import BankMismatchError, MatrixBank, Sketch, sketch_graph
from sketch_explorer.sketch import object_sketch, sketch_attributes, tuple_sketch

FAMILY_DIMS = [("haar", 128), ("gaussian", 128), ("fast", 128), ("block", 132)]


@pytest.mark.parametrize("family, d", FAMILY_DIMS)
def test_engine_matches_the_definition(family, d):
    g = prototype_graph()
    bank = MatrixBank(d, family, seed=4)
    rs = sketch_graph(g, bank)

    # SPEC §3 written out object by object
    zero = np.zeros(d)
    o = {n: object_sketch(bank, g.module(n), g.attributes(n), zero) for n in ["a1", "a2", "b", "c"]}
    o["a"] = object_sketch(
        bank, "A", g.attributes("a"), tuple_sketch(bank, [o["a1"], o["a2"]], [0.5, 0.5])
    )
    overall = tuple_sketch(bank, [o["a"], o["b"], o["c"]], [0.5, 0.3, 0.2])

    np.testing.assert_allclose(rs.overall.values, overall, atol=1e-14)
    for n in g.objects:
        np.testing.assert_allclose(rs.object_sketch(n).values, o[n], atol=1e-14)
    assert rs.overall.bank == bank.identity


def test_tuple_of_nothing_is_zero():
    bank = MatrixBank(16, "fast", 0)
    assert not tuple_sketch(bank, [], []).any()


@pytest.mark.parametrize("family, d", FAMILY_DIMS)
def test_sketch_is_affine_in_the_attributes(family, d, seed):
    g = prototype_graph()
    bank = MatrixBank(d, family, seed)
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((2, len(g), d))
    a, b = 0.7, -1.3
    f = lambda Z: sketch_attributes(g, bank, Z)  # noqa: E731
    lhs = f(a * X + b * Y)
    rhs = a * f(X) + b * f(Y) + (1 - a - b) * f(np.zeros_like(X))
    np.testing.assert_allclose(lhs, rhs, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    family=st.sampled_from(["haar", "fast"]),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 10),
)
def test_theorem_2_iii_exact_bound(family, seed, scale):
    """||overall(x) - overall(x')|| <= 1/2 max ||x - x'|| for orthonormal families."""
    g = prototype_graph()
    bank = MatrixBank(64, family, seed % 7)
    rng = np.random.default_rng(seed)
    X = np.zeros((len(g), 64))
    for r, n in enumerate(g.objects):
        X[r, :16] = g.attributes(n)
    delta = scale * rng.standard_normal(X.shape)
    gap = np.linalg.norm(sketch_attributes(g, bank, X + delta) - sketch_attributes(g, bank, X))
    assert gap <= 0.5 * np.linalg.norm(delta, axis=1).max() * (1 + 1e-12)


@pytest.mark.parametrize("family", ["haar", "fast"])
def test_operator_norm_per_depth(family):
    """Per object the map x -> overall has norm <= w (1/2)^(h-1) (1/2): 1/4 at depth 2 and
    weight 1. Summed over depths this gives Theorem 2(iii)'s 1/2."""
    from sketch_explorer import CommunicationGraph

    d = 64
    g = CommunicationGraph.from_objects({"x": ("X", [1.0])}, {"output": [("x", 1.0)]})
    bank = MatrixBank(d, family, 0)
    base = sketch_attributes(g, bank, np.zeros((1, d)))
    L = np.stack([sketch_attributes(g, bank, e[None, :]) - base for e in np.eye(d)], axis=1)
    assert np.linalg.norm(L, 2) <= 0.25 * (1 + 1e-12)


def test_caller_arrays_are_not_modified_or_aliased():
    bank = MatrixBank(8, "fast", 0)
    v = np.arange(8.0)
    s = Sketch(v, bank.identity)
    v[0] = 99
    assert s.values[0] == 0
    with pytest.raises(ValueError):
        s.values[1] = 5  # read-only


def test_sketch_rejects_bad_values():
    bank = MatrixBank(8, "fast", 0)
    with pytest.raises(ValueError, match="finite"):
        Sketch(np.full(8, np.nan), bank.identity)
    with pytest.raises(ValueError, match="7 values but 8 kept"):
        Sketch(np.zeros(7), bank.identity)


def test_erasure_prefix_and_mask():
    bank = MatrixBank(10, "fast", 0)
    s = Sketch(np.arange(1.0, 11.0), bank.identity)
    p = s.erase_prefix(4)
    assert p.n_kept == 4 and p.is_erased
    np.testing.assert_array_equal(p.full(), [1, 2, 3, 4, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(p.expanded(), np.r_[[1, 2, 3, 4], np.zeros(6)] * 10 / 4)
    mask = np.zeros(10, bool)
    mask[[1, 3, 8]] = True
    m = s.erase_mask(mask)
    np.testing.assert_array_equal(m.kept, [1, 3, 8])
    assert p.erase_mask(mask).n_kept == 2  # erasures compose
    with pytest.raises(ValueError, match="in 1..10"):
        s.erase_prefix(0)
    with pytest.raises(ValueError, match="bool array of shape"):
        s.erase_mask(np.ones(9, bool))


def test_summing_sketches_checks_the_bank():
    a = Sketch(np.ones(8), MatrixBank(8, "fast", 0).identity)
    b = Sketch(np.ones(8), MatrixBank(8, "fast", 1).identity)
    with pytest.raises(BankMismatchError, match="seed 0 != 1"):
        a + b
    assert (Sketch.sum([a, a, a]).values == 3).all()


def test_attribute_longer_than_d_is_rejected():
    from sketch_explorer import GraphValidationError

    g = prototype_graph(k=16)
    with pytest.raises(GraphValidationError, match="16 attributes but the sketch dimension is d=8"):
        sketch_graph(g, MatrixBank(8, "fast", 0))
