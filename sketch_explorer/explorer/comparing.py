"""State behind the comparison panel: two inputs, one bank, and a drill-down path.

:class:`ComparisonController` holds two inputs (digit images, room scenes, graph files or
graphs from the editor), the matrix bank that sketches both, and where the drill-down stands:
one input-position path per side, from the output down. Everything it shows comes from
:class:`~sketch_explorer.compare.SketchComparison`, cached:

* one comparison per (input A, input B, d used, family, seed), least recently used out;
* its similarity and module table, computed once per comparison;
* one :class:`~sketch_explorer.compare.DrillLevel` per pair of paths.

Drilling (Theorem 2 and the recursive-sketch property, SPEC section 4): at the overall sketch,
both sides are unrolled position by position into estimated object sketches
``(2 / w_i) R_i^T s``; :meth:`ComparisonController.descend` takes one object of each side and
unrolls its input sketch (``8 R_2^T``) one level further. Each level multiplies the noise by
about 16/w, so the second level is mostly noise at the d offered here: the truth matrix beside
each level shows how far to trust it.

No widgets here; :mod:`.compare_app` draws this state.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from ..compare import DrillLevel, SketchComparison
from ..matrices import FAMILIES, MatrixBank
from .controller import DimensionChoice, InputSource, resolve_dimension

__all__ = ["CompareSettings", "ComparisonController", "ORTHONORMAL_FAMILIES"]

logger = logging.getLogger(__name__)

#: Families whose matrices are exactly orthonormal, so ``R_i^T`` is an isometry.
ORTHONORMAL_FAMILIES = ("haar", "fast")


@dataclass(frozen=True)
class CompareSettings:
    """The bank both inputs are sketched with.

    Attributes
    ----------
    d : int, default=4096
        Requested dimension (:func:`~.controller.resolve_dimension` gives the one used).
    family : {"fast", "haar", "gaussian", "block"}, default="fast"
    seed : int, default=0
    """

    d: int = 4096
    family: str = "fast"
    seed: int = 0


def _check(settings: CompareSettings) -> CompareSettings:
    d, family, seed = settings.d, settings.family, settings.seed
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 16:
        raise ValueError(f"d must be an int >= 16; got {d!r}")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return CompareSettings(int(d), family, int(seed))


class ComparisonController:
    """Two inputs, their sketches' comparison, and the drill-down position.

    Parameters
    ----------
    source_a, source_b : InputSource
    settings : CompareSettings, optional
    max_comparisons : int, default=4
        Comparisons kept (each holds both recursive sketches).

    Attributes
    ----------
    source_a, source_b : InputSource
    settings : CompareSettings
    path_a, path_b : tuple of int
        Where the drill-down stands on each side: input positions from the output down
        (``()`` is the overall sketch).
    stats : dict
        How often each stage ran: ``"comparisons"``, ``"similarities"``, ``"tables"``,
        ``"levels"``.

    Examples
    --------
    >>> from sketch_explorer import CommunicationGraph
    >>> from sketch_explorer.explorer import graph_source
    >>> g = CommunicationGraph.from_objects(
    ...     {"a": ("A", [1.0, 0.0]), "b": ("B", [0.0, 1.0])},
    ...     {"output": [("a", 0.5), ("b", 0.5)]})
    >>> c = ComparisonController(graph_source(g), graph_source(g), CompareSettings(d=256))
    >>> round(c.similarity()["cosine"], 6)
    1.0
    >>> c.level().estimated.shape
    (2, 2)
    """

    def __init__(
        self,
        source_a: InputSource,
        source_b: InputSource,
        settings: CompareSettings | None = None,
        *,
        max_comparisons: int = 4,
    ) -> None:
        self._max = int(max_comparisons)
        self._comparisons: OrderedDict[tuple, SketchComparison] = OrderedDict()
        self._similarity: dict[tuple, dict] = {}
        self._tables: dict[tuple, pd.DataFrame] = {}
        self._levels: dict[tuple, DrillLevel] = {}
        self._banks: OrderedDict[tuple, MatrixBank] = OrderedDict()
        self.stats = {"comparisons": 0, "similarities": 0, "tables": 0, "levels": 0}
        self.settings = _check(settings or CompareSettings())
        self._dimension = resolve_dimension(self.settings.d, self.settings.family)
        for s in (source_a, source_b):
            self._check_source(s)
        self.source_a, self.source_b = source_a, source_b
        self.path_a: tuple[int, ...] = ()
        self.path_b: tuple[int, ...] = ()
        self._history: list[tuple[tuple, tuple]] = []

    # ------------------------------------------------------------------ state changes
    def _check_source(self, source: InputSource) -> InputSource:
        if not isinstance(source, InputSource):
            raise TypeError(f"source must be an InputSource; got {type(source).__name__}")
        source.graph.check_dimension(self._dimension.used)
        return source

    def set_sources(self, a: InputSource | None = None, b: InputSource | None = None) -> None:
        """Compare other inputs (None keeps a side); the drill-down returns to the top."""
        a = self.source_a if a is None else self._check_source(a)
        b = self.source_b if b is None else self._check_source(b)
        self.source_a, self.source_b = a, b
        self.top()

    def update(self, **changes) -> CompareSettings:
        """Change d, family or seed; the drill-down returns to the top.

        Raises
        ------
        TypeError
            For a name that is not a field of :class:`CompareSettings`.
        ValueError
            For a bad value; nothing changes then.
        """
        names = [f.name for f in fields(CompareSettings)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; settings are {names}")
        new = _check(replace(self.settings, **changes))
        dimension = resolve_dimension(new.d, new.family)
        for s in (self.source_a, self.source_b):
            s.graph.check_dimension(dimension.used)
        self.settings, self._dimension = new, dimension
        self.top()
        return new

    def descend(self, i: int, j: int) -> DrillLevel:
        """Step down into child ``i`` of side A and child ``j`` of side B (0-based).

        Raises
        ------
        IndexError
            If ``i`` or ``j`` is not a child index of the current level.
        ValueError
            If either child has no inputs (a leaf: nothing to unroll); nothing changes.
        """
        level = self.level()
        i, j = int(i), int(j)
        if not 0 <= i < len(level.children_a) or not 0 <= j < len(level.children_b):
            raise IndexError(
                f"cell ({i}, {j}) is outside the {len(level.children_a)} × "
                f"{len(level.children_b)} matrix of this level"
            )
        leaves = [
            f"{name!r} (input {side}) has no inputs"
            for side, graph, name in (
                ("A", self.graph_a, level.children_a[i]),
                ("B", self.graph_b, level.children_b[j]),
            )
            if not graph.inputs(name)
        ]
        if leaves:
            raise ValueError(
                "cannot descend: " + " and ".join(leaves) + "; a leaf has no input sketch to "
                "unroll"
            )
        self._history.append((self.path_a, self.path_b))
        self.path_a, self.path_b = self.path_a + (i + 1,), self.path_b + (j + 1,)
        return self.level()

    def up(self) -> DrillLevel:
        """Go back up one level (at the top, stay there)."""
        if self._history:
            self.path_a, self.path_b = self._history.pop()
        return self.level()

    def top(self) -> None:
        """Return to the overall sketches."""
        self.path_a, self.path_b = (), ()
        self._history.clear()

    def snapshot(self) -> tuple:
        """The state :meth:`restore` returns to."""
        return (self.source_a, self.source_b, self.settings, self._dimension, self.path_a,
                self.path_b, tuple(self._history))

    def restore(self, snapshot: tuple) -> None:
        """Return to a state taken by :meth:`snapshot` (caches are kept)."""
        (self.source_a, self.source_b, self.settings, self._dimension, self.path_a,
         self.path_b, history) = snapshot
        self._history = list(history)

    # ------------------------------------------------------------------ derived state
    @property
    def graph_a(self):
        """Communication graph of input A."""
        return self.source_a.graph

    @property
    def graph_b(self):
        """Communication graph of input B."""
        return self.source_b.graph

    @property
    def dimension(self) -> DimensionChoice:
        """The d used and why it differs from the d requested."""
        return self._dimension

    @property
    def d(self) -> int:
        """The sketch dimension used."""
        return self._dimension.used

    @property
    def is_orthonormal(self) -> bool:
        """Whether ``R_i^T`` is an isometry for the current family."""
        return self.settings.family in ORTHONORMAL_FAMILIES

    @property
    def depth(self) -> int:
        """How many levels below the overall sketches the drill-down stands."""
        return len(self.path_a)

    def _key(self) -> tuple:
        return (self.source_a.key, self.source_b.key, self.d, self.settings.family,
                self.settings.seed)

    @property
    def bank(self) -> MatrixBank:
        """The bank of the current d, family and seed (the last two kept)."""
        key = (self.d, self.settings.family, self.settings.seed)
        if key not in self._banks:
            self._banks[key] = MatrixBank(*key)
            while len(self._banks) > 2:
                self._banks.popitem(last=False)
        self._banks.move_to_end(key)
        return self._banks[key]

    @property
    def comparison(self) -> SketchComparison:
        """:class:`SketchComparison` of the two inputs with the current bank (cached)."""
        key = self._key()
        if key in self._comparisons:
            self._comparisons.move_to_end(key)
            return self._comparisons[key]
        comparison = SketchComparison(self.graph_a, self.graph_b, self.bank)
        self.stats["comparisons"] += 1
        logger.info("compared %d and %d objects at d=%d", len(self.graph_a),
                    len(self.graph_b), self.d)
        self._comparisons[key] = comparison
        while len(self._comparisons) > self._max:
            old, _c = self._comparisons.popitem(last=False)
            self._similarity.pop(old, None)
            self._tables.pop(old, None)
            for k in [k for k in self._levels if k[0] == old]:
                del self._levels[k]
        return comparison

    def similarity(self) -> dict:
        """:meth:`SketchComparison.similarity`: measured and predicted dot and cosine."""
        key = self._key()
        if key not in self._similarity:
            self._similarity[key] = self.comparison.similarity()
            self.stats["similarities"] += 1
        return self._similarity[key]

    def module_table(self) -> pd.DataFrame:
        """:meth:`SketchComparison.module_table`: the similarity module by module."""
        key = self._key()
        if key not in self._tables:
            self._tables[key] = self.comparison.module_table()
            self.stats["tables"] += 1
        return self._tables[key]

    def level(self) -> DrillLevel:
        """:meth:`SketchComparison.drill` at the current paths (cached)."""
        key = (self._key(), self.path_a, self.path_b)
        if key not in self._levels:
            self._levels[key] = self.comparison.drill(self.path_a, self.path_b)
            self.stats["levels"] += 1
        return self._levels[key]

    def parents(self) -> tuple[Hashable, Hashable]:
        """The nodes whose children the current level shows (the output at the top)."""
        return _node_at(self.graph_a, self.path_a), _node_at(self.graph_b, self.path_b)

    def trail(self) -> tuple[list[Hashable], list[Hashable]]:
        """Nodes from the output down to the current parent, on each side."""
        return _trail(self.graph_a, self.path_a), _trail(self.graph_b, self.path_b)

    def has_inputs(self, side: str, name: Hashable) -> bool:
        """Whether object ``name`` of side ``"a"`` or ``"b"`` has inputs to drill into."""
        graph = self.graph_a if side == "a" else self.graph_b
        return bool(graph.inputs(name))


def _trail(graph, path: tuple) -> list[Hashable]:
    node, out = graph.output, [graph.output]
    for pos in path:
        node = graph.inputs(node)[pos - 1][0]
        out.append(node)
    return out


def _node_at(graph, path: tuple) -> Hashable:
    return _trail(graph, path)[-1]
