"""Shared fixtures: small communication graphs and a seed fixture."""

import numpy as np
import pytest

from sketch_explorer import CommunicationGraph


def unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def prototype_graph(k: int = 16, seed: int = 7) -> CommunicationGraph:
    """SPEC section 4's prototype: three top-level objects (weights .5/.3/.2) with k-dim
    attributes; the first has two children of weight .5 each (depth 3)."""
    rng = np.random.default_rng(seed)
    objects = {
        "a": ("A", unit(rng.random(k))),
        "b": ("B", unit(rng.random(k))),
        "c": ("C", unit(rng.random(k))),
        "a1": ("D", unit(rng.random(k))),
        "a2": ("E", unit(rng.random(k))),
    }
    inputs = {"output": [("a", 0.5), ("b", 0.3), ("c", 0.2)], "a": [("a1", 0.5), ("a2", 0.5)]}
    return CommunicationGraph.from_objects(objects, inputs)


@pytest.fixture
def proto():
    return prototype_graph()


@pytest.fixture(params=[0, 1, 2])
def seed(request):
    """Tests that take this fixture must pass for any seed."""
    return request.param
