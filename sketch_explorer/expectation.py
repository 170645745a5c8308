"""What two sketches are expected to share: the word expansion of the overall sketch.

Expanding every ``(I + R)/2`` of SPEC section 3 into ``I/2 + R/2`` writes the overall sketch as
a sum of terms ``coef * R_word v``: ``R_word`` is the product of the matrices chosen (a *word*,
ending in ``R_{M,1}`` for the attribute part or ``R_{M,2}`` for the frequency marker), v is
``x_theta`` or ``e_1``, and ``coef = c(h) w_path`` for every term of an object at depth h on a
path of weight ``w_path``. For orthonormal matrices two terms with the same word have inner
product ``coef coef' <v, v'>`` exactly, and terms with different words are rotated apart (their
inner product has mean zero, up to O(1/d) terms such as ``E[R^2]`` for Haar matrices). Hence

    E <s, s'>  ~=  sum over words u of < V_u(s), V_u(s') >,   V_u = sum of coef * v over terms
                                                               with word u

which is the predicted similarity of Theorem 2, including the extra agreement that shared
positions and the R_1/R_2 markers bring (SPEC section 4 gives its leading term,
``c(h)^2 w w' (1 + <x, x'>)``). Every word ends in a module's matrix, so the sum splits by
module: that is the module-by-module decomposition of a similarity.

Cost: 2^(3(h-1)) words per path of an object at depth h (8 at depth 2, 64 at depth 3, 512 at
depth 4). Graphs deeper than 5 are refused rather than enumerated.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from .graph import CommunicationGraph
from .recovery import depth_coefficient

__all__ = [
    "sketch_words",
    "expected_inner_product",
    "expected_inner_product_by_module",
    "expected_cosine",
]

_MAX_DEPTH = 5


def _factors(graph: CommunicationGraph, name, positions):
    """Matrices met from the output down to ``name`` along ``positions`` (outermost first)."""
    factors, node = [], graph.output
    for level, pos in enumerate(positions):
        node = graph.inputs(node)[pos - 1][0]
        factors.append(("R", pos))
        factors.append(("W", graph.module(node)))
        factors.append(("R", 2) if level < len(positions) - 1 else ("R", 1))
    assert node == name
    return factors


def sketch_words(graph: CommunicationGraph, dim: int | None = None) -> dict[tuple, np.ndarray]:
    """Group the terms of ``graph``'s overall sketch by word.

    Parameters
    ----------
    graph : CommunicationGraph
    dim : int, optional
        Length of the vectors (at least the longest attribute vector). The frequency marker
        e_1 and the attribute vectors are zero-padded to it.

    Returns
    -------
    dict
        word (a tuple of matrix roles, outermost first) -> ``V_u``, shape ``(dim,)``.
    """
    if graph.max_depth > _MAX_DEPTH:
        raise ValueError(
            f"graph depth {graph.max_depth} exceeds {_MAX_DEPTH}: the word expansion has "
            f"2^(3(h-1)) terms per path and is not enumerated that deep"
        )
    longest = max(graph.attributes(n).size for n in graph.objects)
    dim = longest if dim is None else int(dim)
    if dim < longest:
        raise ValueError(f"dim={dim} is shorter than the longest attribute vector ({longest})")
    e1 = np.zeros(dim)
    e1[0] = 1.0
    words: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(dim))
    for name in graph.objects:
        module = graph.module(name)
        x = np.zeros(dim)
        x[: graph.attributes(name).size] = graph.attributes(name)
        coef0 = depth_coefficient(graph.depth(name))
        for positions, w_path in graph.paths(name):
            factors = _factors(graph, name, positions)
            for choice in itertools.product((False, True), repeat=len(factors)):
                word = tuple(f for f, keep in zip(factors, choice) if keep)
                words[word + (("M1", module),)] += coef0 * w_path * x
                words[word + (("M2", module),)] += coef0 * w_path * e1
    return dict(words)


def _pair(a: CommunicationGraph, b: CommunicationGraph):
    dim = max(max(g.attributes(n).size for n in g.objects) for g in (a, b))
    return sketch_words(a, dim), sketch_words(b, dim)


def expected_inner_product_by_module(
    a: CommunicationGraph, b: CommunicationGraph
) -> dict[str, float]:
    """Predicted ``<s_a, s_b>`` split by the module whose matrix ends each shared word.

    Modules that appear in only one graph contribute nothing and are left out.
    """
    wa, wb = _pair(a, b)
    out: dict[str, float] = defaultdict(float)
    for word, va in wa.items():
        vb = wb.get(word)
        if vb is not None:
            out[word[-1][1]] += float(va @ vb)
    return dict(out)


def expected_inner_product(a: CommunicationGraph, b: CommunicationGraph) -> float:
    """Predicted ``<s_a, s_b>`` for sketches of ``a`` and ``b`` made with one bank."""
    return float(sum(expected_inner_product_by_module(a, b).values()))


def expected_cosine(a: CommunicationGraph, b: CommunicationGraph) -> float:
    """Predicted cosine: the predicted inner product over the predicted norms."""
    ab = expected_inner_product(a, b)
    aa, bb = expected_inner_product(a, a), expected_inner_product(b, b)
    return ab / np.sqrt(aa * bb)
