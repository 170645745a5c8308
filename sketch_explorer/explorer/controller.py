"""State and computation behind the explorer: no widgets, importable and testable headlessly.

The explorer shows one input (a digit image, a room scene or a graph file) as a communication
graph, sketches it with one matrix bank (d, family, seed; SPEC sections 2-3), erases the sketch
to a prefix of d' coordinates and decodes it with one of the paper's attribute estimators
(module known, Theorem 1(i); path known, Theorem 1(ii); SPEC section 4).

:class:`ExplorerController` owns that state and caches by event:

* the :class:`~sketch_explorer.sketch.RecursiveSketch` per (input, d used, family, seed), so
  moving the erasure slider or the estimator never sketches again;
* one :class:`~sketch_explorer.decoder.GraphDecoder` per erasure prefix of the current sketch,
  with its object table per estimator and its count table, so selecting an object reads
  estimates that are already there instead of decoding the whole graph again; the table is
  computed by :func:`sketch_explorer.decoder.decode_all`, which batches the products the decoder does one
  object at a time (the explorer's 100 ms budget per slider move at d = 4096, 200 objects);
* per input, the :class:`sketch_explorer.decoder.GraphFacts` that do not depend on the sketch (true and
  target attribute vectors, default paths), shared by every erasure prefix and bank;
* the matrix banks for the last few (d, family, seed), since their matrices are drawn lazily
  and dense ones are costly to draw.

Counters in :attr:`ExplorerController.stats` say how often each stage really ran.

What is not checked: that a graph given by the caller is the one a network produced; the
explorer decodes whatever graph it is given. Dense families (``haar``, ``gaussian``) are capped
at d = 1024 here and ``block`` at d ≤ 2048 (d = 2016, the largest multiple of its block size
below that): the digits graph needs about 60 matrices, which at larger d exceed the matrix
bank's cache and would be drawn again and again.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import PurePath

import numpy as np
import pandas as pd

from ..decoder import ESTIMATORS, GraphDecoder
from ..graph import OUTPUT_MODULE, CommunicationGraph
from ..io import dumps_graph, loads_graph
from ..matrices import FAMILIES, MatrixBank, nearest_block_dimension
from ..recovery import Estimate, depth_coefficient
from ..sketch import RecursiveSketch, sketch_graph
from ..decoder import GraphFacts, decode_all
from .editing import GraphDraft

__all__ = [
    "DIMENSIONS",
    "DIMENSION_LIMITS",
    "ESTIMATOR_LABELS",
    "DimensionChoice",
    "ExplorerController",
    "InputSource",
    "ObjectDetail",
    "Settings",
    "digit_source",
    "edited_source",
    "file_source",
    "graph_digest",
    "graph_source",
    "matrix_count",
    "resolve_dimension",
    "room_source",
]

logger = logging.getLogger(__name__)

#: Sketch dimensions the explorer offers.
DIMENSIONS = (128, 256, 512, 1024, 2048, 4096, 8192, 16384)

#: Largest d the explorer uses for each family (None: no limit). Dense matrices cost d^2 floats
#: each and a Haar draw O(d^3); the block family's sparse matrices grow like q d^2.
DIMENSION_LIMITS: dict[str, int | None] = {
    "haar": 1024,
    "gaussian": 1024,
    "block": 2048,
    "fast": None,
}

#: Labels of the matrix families in the explorer's and the comparison's dropdowns.
FAMILY_LABELS = {
    "fast": "fast orthonormal",
    "haar": "haar (dense, slow to draw)",
    "gaussian": "gaussian (dense)",
    "block": "block D(b, q, d)",
}

#: The input kinds' toggle buttons (label, kind), shared by both tabs, and their width.
SOURCE_KINDS = (("digit image", "digit"), ("room scene", "room"), ("graph file", "graph"))
SOURCE_BUTTON_WIDTH = "100px"

#: Plain-words names of the attribute estimators of :data:`sketch_explorer.decoder.ESTIMATORS`.
ESTIMATOR_LABELS = {
    "module": "module known (Theorem 1(i))",
    "path": "path known (Theorem 1(ii))",
}

# seconds to draw one Haar matrix at d = 1024 on the 2-core machines this was measured on
_HAAR_SECONDS_1024 = (0.1, 0.5)
_GRAPH_COUNTER = itertools.count(1)


# ---------------------------------------------------------------------------- the input
@dataclass(frozen=True, eq=False)
class InputSource:
    """One input of the explorer: its communication graph and what the UI shows beside it.

    Attributes
    ----------
    kind : {"digit", "room", "graph"}
        Where the graph comes from (a graph file or a graph given in Python is ``"graph"``).
    key : tuple
        Hashable cache key: equal keys mean the same graph.
    graph : CommunicationGraph
    label : str
        One line of plain text saying what the input is.
    image : (8, 8) ndarray, optional
        The digit image (pixel values 0..16), for digit inputs.
    patches : mapping, optional
        Object name -> ``(top, left, size)`` of the image patch a stroke object looked at.
    attribute_labels : mapping, optional
        Module name -> names of its attribute entries, used to label bar charts.
    """

    kind: str
    key: tuple
    graph: CommunicationGraph
    label: str
    image: np.ndarray | None = None
    patches: Mapping[Hashable, tuple[int, int, int]] = field(default_factory=dict)
    attribute_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def labels_for(self, module: str, size: int) -> tuple[str, ...]:
        """Names of the first ``size`` attribute entries of ``module`` (``x[k]`` if unknown)."""
        names = tuple(self.attribute_labels.get(module, ()))
        return tuple(names[k] if k < len(names) else f"x[{k}]" for k in range(size))


def digit_source(index: int, network_seed: int = 0) -> InputSource:
    """The communication graph of digit image ``index`` under the trained digits network.

    Parameters
    ----------
    index : int
        Dataset index, 0..1796.
    network_seed : int, default=0
        Seed of :func:`~sketch_explorer.datasets.digits.load_digits_network` (trained once per
        process and reused).

    Returns
    -------
    InputSource
        With the image, the stroke patches, class labels ``0..9`` for the digit object and the
        stroke attribute names for the stroke modules.
    """
    from ..datasets.digits import DIGIT_MODULE, STROKE_ATTRIBUTES, load_digits_network

    net = load_digits_network(network_seed)
    graph = net.graph(index)
    info = net.object_info(index)
    patches = {}
    for name, row in info.iterrows():
        if row["depth"] == 3 and not (pd.isna(row["top"]) or pd.isna(row["left"])):
            patches[name] = (int(row["top"]), int(row["left"]), 4)
    labels = {DIGIT_MODULE: tuple(str(c) for c in range(10))}
    labels.update({m: STROKE_ATTRIBUTES for m in net.modules if m != DIGIT_MODULE})
    split = "held out" if net.is_test(index) else "training image"
    label = (
        f"digit image {index}: true label {net.label(index)}, network predicts "
        f"{net.prediction(index)} ({split}; held-out accuracy {net.accuracy_:.3f})"
    )
    return InputSource(
        "digit",
        ("digit", int(network_seed), int(index)),
        graph,
        label,
        image=np.asarray(net.image(index)),
        patches=patches,
        attribute_labels=labels,
    )


def room_source(seed: int, day: int | None = 0, cat_probability: float = 1.0) -> InputSource:
    """A seeded room scene (:func:`~sketch_explorer.datasets.rooms.room_scene`).

    Parameters
    ----------
    seed : int
        Seed of the room.
    day : int or None, default=0
        Day of the year, or None for the single scene of the seed.
    cat_probability : float, default=1.0
        Probability of the cat; 1.0 makes its parts (depth 3) appear.
    """
    from ..datasets.rooms import ROOM_ATTRIBUTES, room_scene

    scene = room_scene(seed, day=day, cat_probability=cat_probability)
    graph = scene.graph
    when = "no day" if day is None else f"day {day}"
    label = (
        f"room {seed}, {when}: {scene.time_of_day}, cat {'yes' if scene.has_cat else 'no'}, "
        f"lamp {'yes' if scene.has_lamp else 'no'}, {len(graph)} objects"
    )
    labels = {m: ROOM_ATTRIBUTES for m in graph.modules}
    return InputSource(
        "room",
        ("room", int(seed), day, float(cat_probability)),
        graph,
        label,
        attribute_labels=labels,
    )


def graph_source(graph: CommunicationGraph, label: str = "graph given in Python") -> InputSource:
    """An input made from a :class:`CommunicationGraph` the caller already has."""
    if not isinstance(graph, CommunicationGraph):
        raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
    return InputSource("graph", ("graph", next(_GRAPH_COUNTER)), graph, label)


def graph_digest(graph: CommunicationGraph) -> str:
    """SHA-256 of the graph's node-link JSON: equal digests mean equal graphs."""
    try:
        payload = dumps_graph(graph, "json")
    except (TypeError, ValueError):  # names JSON cannot hold: fall back to their repr
        G = graph.to_networkx()
        payload = repr((sorted(map(repr, G.nodes(data=True))),
                        sorted(map(repr, G.edges(data=True))))).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def edited_source(draft: GraphDraft, label: str = "graph built in the editor") -> InputSource:
    """The input that shows ``draft.graph`` (the draft's connected, valid part).

    Raises
    ------
    ValueError
        If the draft has no valid graph yet (its output has no input).
    """
    if draft.graph is None:
        raise ValueError("the draft has no valid graph yet: connect an object to the output")
    return InputSource(
        "graph",
        ("edited", graph_digest(draft.graph)),
        draft.graph,
        label,
        attribute_labels=dict(draft.attribute_labels),
    )


def file_source(name: str, content: bytes) -> InputSource:
    """An input parsed from the bytes of a graph file (node-link ``.json`` or ``.graphml``).

    Parameters
    ----------
    name : str
        File name; its extension picks the format and it prefixes every error message.
    content : bytes

    Raises
    ------
    ValueError
        If the extension is neither ``.json`` nor ``.graphml`` (nor ``.xml``).
    GraphFileError
        If the file is not a readable graph file.
    GraphValidationError
        If the graph breaks a rule of SPEC section 1.
    """
    suffix = PurePath(str(name)).suffix.lower()
    formats = {".json": "json", ".graphml": "graphml", ".xml": "graphml"}
    if suffix not in formats:
        raise ValueError(
            f"graph file {str(name)!r}: unknown extension {suffix or '(none)'!r}; upload a "
            ".json (node-link) or .graphml file"
        )
    content = bytes(content)
    graph = loads_graph(content, formats[suffix], source=str(name))
    digest = hashlib.sha256(content).hexdigest()
    return InputSource("graph", ("file", digest), graph, f"graph file {name}")


# ---------------------------------------------------------------------------- the settings
@dataclass(frozen=True)
class Settings:
    """What the controls choose.

    Attributes
    ----------
    d : int, default=1024
        Requested sketch dimension (see :func:`resolve_dimension` for the one used).
    family : {"fast", "haar", "gaussian", "block"}, default="fast"
    seed : int, default=0
        Seed of the matrix bank.
    erasure_prefix : int or None, default=None
        Number d' of leading sketch coordinates kept; None keeps all d.
    estimator : {"module", "path"}, default="module"
    """

    d: int = 1024
    family: str = "fast"
    seed: int = 0
    erasure_prefix: int | None = None
    estimator: str = "module"


def _check_settings(s: Settings) -> Settings:
    """Validate every field; messages name the control, the allowed values and the value."""
    if isinstance(s.d, bool) or not isinstance(s.d, (int, np.integer)) or s.d < 16:
        raise ValueError(f"d must be an int >= 16; got {s.d!r}")
    if s.family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {s.family!r}")
    if isinstance(s.seed, bool) or not isinstance(s.seed, (int, np.integer)) or s.seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {s.seed!r}")
    if s.estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}; got {s.estimator!r}")
    prefix = s.erasure_prefix
    if prefix is not None:
        if isinstance(prefix, bool) or not isinstance(prefix, (int, np.integer)):
            raise ValueError(f"erasure prefix d' must be an int or None; got {prefix!r}")
        prefix = int(prefix)
    return Settings(int(s.d), s.family, int(s.seed), prefix, s.estimator)


@dataclass(frozen=True)
class DimensionChoice:
    """The d a family can use for a requested d, and why it differs.

    Attributes
    ----------
    requested : int
    used : int
    block_size : int or None
        b of the block family.
    notes : tuple of str
        Plain-words reasons, empty when ``used == requested`` and nothing needs saying.
    """

    requested: int
    used: int
    block_size: int | None
    notes: tuple[str, ...]


def resolve_dimension(d: int, family: str) -> DimensionChoice:
    """The sketch dimension the explorer uses for ``d`` and ``family``.

    Dense families are capped at :data:`DIMENSION_LIMITS`; the block family needs d to be a
    multiple of its block size b, so it uses
    :func:`~sketch_explorer.matrices.nearest_block_dimension`.

    Examples
    --------
    >>> resolve_dimension(1024, "block").used % resolve_dimension(1024, "block").block_size
    0
    >>> resolve_dimension(4096, "haar").used
    1024
    """
    notes = []
    used = int(d)
    limit = DIMENSION_LIMITS.get(family)
    capped = limit is not None and used > limit
    lowered = False  # the block family's nearest valid d lay above the limit
    if capped:
        used = limit
    b = None
    if family == "block":
        nearest, b = nearest_block_dimension(used)
        cand = used
        while limit is not None and nearest > limit:  # the nearest valid d may be above it
            cand -= 1
            nearest, b = nearest_block_dimension(cand)
            if not capped:
                lowered = True
        used = nearest
    if capped:
        why = f"the {family} family is limited to d ≤ {limit} in the explorer (its matrices are "
        why += "stored densely or drawn slowly)"
        if family == "block":
            why += (f" and needs d to be a multiple of its block size b = {b}; using d = {used},"
                    f" the largest such d ≤ {limit}")
        else:
            why += f"; using d = {used}"
        notes.append(why)
    elif family == "block" and used != int(d):
        nearest = f"the nearest such d ≤ {limit}, the explorer's limit" if lowered \
            else "the nearest such d"
        notes.append(
            f"the block family needs d to be a multiple of its block size b = {b}; "
            f"using d = {used}, {nearest}"
        )
    return DimensionChoice(int(d), used, b, tuple(notes))


def matrix_count(graph: CommunicationGraph) -> int:
    """Number of random matrices sketching ``graph`` draws.

    Three per module (R_{M,0}, R_{M,1}, R_{M,2}) and one per tuple position up to the largest
    number of inputs of any object (at least 2, for the attribute and input markers).
    """
    arity = max(len(graph.inputs(n)) for n in (graph.output, *graph.objects))
    return 3 * len(graph.modules) + max(2, arity)


class _ReportingBank(MatrixBank):
    """A matrix bank that calls ``on_draw()`` after each matrix it draws (for progress)."""

    on_draw = None

    def _draw(self, role: tuple):
        R = super()._draw(role)
        if self.on_draw is not None:
            self.on_draw()
        return R


# ---------------------------------------------------------------------------- one object
@dataclass(frozen=True, eq=False)
class ObjectDetail:
    """Everything the detail panel shows about one object.

    Attributes
    ----------
    name : hashable
    module : str
    depth : int
        h, the output being depth 1.
    effective_weight : float
        w_theta, the sum over paths of the weight products.
    paths : tuple of (positions, weight)
        Input-position paths to the output and their weight products.
    estimator : {"module", "path"}
    path : tuple of int or None
        The path the path-known estimator read (the heaviest), None for the module-known one.
    labels : tuple of str
        Names of the attribute entries (bar labels).
    true : (k,) ndarray
        The object's attribute vector x_theta.
    estimate : Estimate
        The decoder's estimate; ``estimate.value`` has shape ``(k,)``.
    expected : (k,) ndarray
        What the estimator targets under this graph (its expectation over the matrices).
    linf_error : float
        ``max |x_hat - x_theta|``.
    linf_noise : float
        ``max |x_hat - E[x_hat]|``, what ``estimate.predicted_linf`` predicts.
    depth_coefficient : float
        c(h) = 2^-(4(h-1)+1).
    module_size : int
        Number of objects of the module in the graph.
    note : str
        Plain words on why ``expected`` differs from ``true`` (empty when it does not).
    """

    name: Hashable
    module: str
    depth: int
    effective_weight: float
    paths: tuple[tuple[tuple[int, ...], float], ...]
    estimator: str
    path: tuple[int, ...] | None
    labels: tuple[str, ...]
    true: np.ndarray
    estimate: Estimate
    expected: np.ndarray
    linf_error: float
    linf_noise: float
    depth_coefficient: float
    module_size: int
    note: str

    @property
    def expected_differs(self) -> bool:
        """Whether the estimator targets something other than the object's own attributes."""
        return not np.allclose(self.expected, self.true, rtol=1e-9, atol=1e-12)


def _expectation_note(detail_module: str, size: int, estimator: str) -> str:
    """Plain words for a target that is not the object's own attribute vector."""
    if estimator == "module":
        return (
            f"Module {detail_module!r} has {size} objects in this graph. Knowing only the "
            "module, the estimator cannot tell them apart: it recovers their sum weighted by "
            "effective weight, divided by this object's weight (the 'estimator's target' bars), "
            "not this object alone."
        )
    return (
        f"Another object of module {detail_module!r} is reached through the same product of "
        "position matrices, so the path-known estimator mixes it in; the 'estimator's target' "
        "bars show that mixture."
    )


# ---------------------------------------------------------------------------- the controller
class _DecodedState:
    """One decoder (one erasure prefix of one sketch) and the tables read from it.

    ``estimates[estimator]`` maps each object to its :class:`Estimate`, filled with the table
    by :func:`~sketch_explorer.decoder.decode_all` (the same numbers as the decoder's, batched).
    """

    def __init__(self, decoder: GraphDecoder) -> None:
        self.decoder = decoder
        self.tables: dict[str, pd.DataFrame] = {}
        self.estimates: dict[str, dict[Hashable, Estimate]] = {}
        self.counts: pd.DataFrame | None = None


class ExplorerController:
    """The explorer's state and its cached computations.

    Parameters
    ----------
    source : InputSource
        The first input.
    settings : Settings, optional
        The first settings (default :class:`Settings`).
    max_sketches : int, default=8
        Recursive sketches kept, least recently used first out.
    max_banks : int, default=2
        Matrix banks kept (each caches its drawn matrices, up to 512 MiB).
    max_prefixes : int, default=16
        Decoders (erasure prefixes) kept for the current sketch.
    max_undo : int, default=50
        Edits and input changes :meth:`undo_edit` can go back through.

    Attributes
    ----------
    source : InputSource
    settings : Settings
        Validated; ``erasure_prefix`` is None or in 1..d used.
    selected : hashable
        Name of the selected object.
    draft : GraphDraft
        The graph editor's draft: a copy of the shown graph, or a graph being built.
    stats : dict
        How many times each stage ran: ``"sketches"``, ``"decoders"``, ``"tables"``,
        ``"counts"``, ``"details"``.
    sketch_seconds : float or None
        Wall-clock time the current sketch took when it was computed.

    Examples
    --------
    >>> from sketch_explorer import CommunicationGraph
    >>> g = CommunicationGraph.from_objects({"cat": ("cat", [1.0, 0.0])},
    ...                                     {"output": [("cat", 1.0)]})
    >>> c = ExplorerController(graph_source(g), Settings(d=256))
    >>> round(c.detail().effective_weight, 3)
    1.0
    >>> c.update(erasure_prefix=64).erasure_prefix, c.stats["sketches"]
    (64, 1)
    """

    def __init__(
        self,
        source: InputSource,
        settings: Settings | None = None,
        *,
        max_sketches: int = 8,
        max_banks: int = 2,
        max_prefixes: int = 16,
        max_undo: int = 50,
    ) -> None:
        self.on_draw = None  # called as on_draw(drawn, total) per matrix a sketch draws
        self._max_sketches = int(max_sketches)
        self._max_banks = int(max_banks)
        self._max_prefixes = int(max_prefixes)
        self._banks: OrderedDict[tuple, MatrixBank] = OrderedDict()
        self._sketches: OrderedDict[tuple, RecursiveSketch] = OrderedDict()
        self._decoded: OrderedDict[int, _DecodedState] = OrderedDict()
        self._decoded_for: tuple | None = None
        self._facts: OrderedDict[tuple, GraphFacts] = OrderedDict()
        self.stats = {"sketches": 0, "decoders": 0, "tables": 0, "counts": 0, "details": 0}
        self._sketch_seconds: dict[tuple, float] = {}
        self.settings = Settings()
        self._dimension = resolve_dimension(self.settings.d, self.settings.family)
        self.source = self._check_source(source)
        self.selected = self.default_object()
        self._max_undo = int(max_undo)
        self._undo: list[tuple] = []
        self._digest: tuple = (None, "")
        self._draft: GraphDraft = GraphDraft.from_graph(
            source.graph, source.attribute_labels, f"editing a copy of the {source.kind} input"
        )
        self.update(**asdict(settings or Settings()))

    # ------------------------------------------------------------------ state changes
    @staticmethod
    def _check_source(source: InputSource) -> InputSource:
        if not isinstance(source, InputSource):
            raise TypeError(f"source must be an InputSource; got {type(source).__name__}")
        return source

    @property
    def graph(self) -> CommunicationGraph:
        """The current communication graph."""
        return self.source.graph

    def default_object(self) -> Hashable:
        """The object selected after a new input: the heaviest top-level object."""
        graph = self.graph
        return max(graph.objects, key=lambda n: (-graph.depth(n), graph.effective_weight(n)))

    def set_source(self, source: InputSource) -> None:
        """Show a new input; the selection moves to its :meth:`default_object`.

        The graph editor's draft becomes a copy of the new graph; :meth:`undo_edit` goes back
        to the previous input and draft.

        Nothing changes if ``source`` is not an :class:`InputSource` (TypeError) or its graph
        has an attribute vector longer than the current d (GraphValidationError).
        """
        source = self._check_source(source)
        source.graph.check_dimension(self._dimension.used)
        self._push_undo()
        self.source = source
        self.selected = self.default_object()
        self._draft = GraphDraft.from_graph(
            source.graph, source.attribute_labels, f"editing a copy of the {source.kind} input"
        )

    # ------------------------------------------------------------------ editing
    @property
    def draft(self) -> GraphDraft:
        """The graph under construction in the editor (see :mod:`.editing`)."""
        return self._draft

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo_edit` has a state to go back to."""
        return bool(self._undo)

    def edit(self, operation: str, *args, **kwargs) -> GraphDraft:
        """Apply one edit to the draft and show the draft's valid graph.

        Parameters
        ----------
        operation : str
            One of :data:`~.editing.EDIT_OPERATIONS` (``"connect"``, ``"rename"``, ...).
        *args, **kwargs
            Its arguments (see the methods of :class:`~.editing.GraphDraft`).

        Returns
        -------
        GraphDraft
            The new draft. When its :attr:`~.editing.GraphDraft.graph` differs from the shown
            graph, that graph becomes the input (kind ``"graph"``, labelled "graph built in the
            editor"); when it is None (the output has no input yet) the shown graph stays.

        Raises
        ------
        EditError
            If the edit is refused; nothing changes.
        GraphValidationError
            If the draft's graph cannot be sketched at the current d (attributes too long).
        """
        new = self._draft.apply(operation, *args, **kwargs)
        selected = self.selected
        self._show_draft(new)
        if operation == "rename":  # the selection follows its object's new name
            old, to = (list(args) + [kwargs.get("name"), kwargs.get("new")][len(args):])[:2]
            if selected == old and to in self.graph:
                self.selected = to
        return new

    def new_graph(self, output: Hashable = "output") -> GraphDraft:
        """Start an empty draft (only the output); the shown graph stays until one is valid."""
        self._push_undo()
        self._draft = GraphDraft.empty(output, OUTPUT_MODULE)
        return self._draft

    def undo_edit(self) -> GraphDraft:
        """Go back to the input and draft before the last edit or input change.

        Raises
        ------
        ValueError
            If there is nothing to undo.
        """
        if not self._undo:
            raise ValueError("nothing to undo")
        source, draft, selected = self._undo.pop()
        self.source, self._draft = source, draft
        self.selected = selected if selected in source.graph else self.default_object()
        return draft

    def _push_undo(self) -> None:
        if getattr(self, "_draft", None) is not None:
            self._undo.append((self.source, self._draft, self.selected))
            del self._undo[: -self._max_undo]

    def _show_draft(self, new: GraphDraft) -> None:
        """Make ``new`` the draft; show its graph if it is valid and differs from the shown."""
        source = self.source
        if new.graph is not None and graph_digest(new.graph) != self._source_digest():
            source = edited_source(new)
            source.graph.check_dimension(self._dimension.used)
        self._push_undo()
        if source is not self.source:
            selected = self.selected
            self.source = source
            self.selected = selected if selected in source.graph else self.default_object()
        self._draft = new

    def _source_digest(self) -> str:
        key = self.source.key
        if key[0] == "edited":  # the key of an edited graph is its digest
            return key[1]
        if self._digest[0] != key:
            self._digest = (key, graph_digest(self.graph))
        return self._digest[1]

    def update(self, **changes) -> Settings:
        """Change some settings and return the new, validated ones.

        A change of ``d`` or ``family`` resets the erasure prefix to the full dimension unless
        ``erasure_prefix`` is given too. Nothing changes if a value is invalid.

        Raises
        ------
        TypeError
            For a name that is not a field of :class:`Settings`.
        ValueError
            For a value out of range, naming the control.
        """
        names = [f.name for f in fields(Settings)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; settings are {names}")
        new = replace(self.settings, **changes)
        if "erasure_prefix" not in changes and (new.d, new.family) != (
            self.settings.d,
            self.settings.family,
        ):
            new = replace(new, erasure_prefix=None)
        new = _check_settings(new)
        dimension = resolve_dimension(new.d, new.family)
        self.graph.check_dimension(dimension.used)
        if new.erasure_prefix is not None:
            if not 1 <= new.erasure_prefix <= dimension.used:
                raise ValueError(
                    f"erasure prefix d' must be in 1..{dimension.used} (the d used); got "
                    f"{new.erasure_prefix}"
                )
            if new.erasure_prefix == dimension.used:
                new = replace(new, erasure_prefix=None)
        self.settings, self._dimension = new, dimension
        return new

    def select(self, name: Hashable) -> ObjectDetail:
        """Select object ``name`` and return its :class:`ObjectDetail`.

        Raises
        ------
        KeyError
            If ``name`` is not an object of the current graph (the output is not an object).
        """
        if name not in self.graph:
            what = "the output pseudo-object" if name == self.graph.output else repr(name)
            raise KeyError(f"{what} is not an object of the current graph; pick an object")
        self.selected = name
        return self.detail()

    def snapshot(self) -> tuple:
        """The state :meth:`restore` returns to: input, settings, selection, draft, undo."""
        return (self.source, self.settings, self._dimension, self.selected, self._draft,
                tuple(self._undo))

    def restore(self, snapshot: tuple) -> None:
        """Return to a state taken by :meth:`snapshot` (caches are kept)."""
        (self.source, self.settings, self._dimension, self.selected, self._draft,
         undo) = snapshot
        self._undo = list(undo)

    # ------------------------------------------------------------------ derived state
    @property
    def dimension(self) -> DimensionChoice:
        """The d used for the current settings and the notes explaining it."""
        return self._dimension

    @property
    def d(self) -> int:
        """The sketch dimension actually used."""
        return self._dimension.used

    @property
    def erasure_prefix(self) -> int:
        """Number d' of kept coordinates (d when nothing is erased)."""
        prefix = self.settings.erasure_prefix
        return self.d if prefix is None else prefix

    def _bank_key(self) -> tuple:
        return (self.d, self.settings.family, self.settings.seed)

    def _sketch_key(self) -> tuple:
        return (self.source.key, *self._bank_key())

    @property
    def bank(self) -> MatrixBank:
        """Matrix bank of the current d, family and seed (cached)."""
        key = self._bank_key()
        if key in self._banks:
            self._banks.move_to_end(key)
            return self._banks[key]
        d, family, seed = key
        bank = _ReportingBank(d, family, seed)
        self._banks[key] = bank
        while len(self._banks) > self._max_banks:
            self._banks.popitem(last=False)
        return bank

    @property
    def is_sketched(self) -> bool:
        """Whether the sketch of the current input and bank is cached already."""
        return self._sketch_key() in self._sketches

    @property
    def recursive_sketch(self) -> RecursiveSketch:
        """Sketch of the current graph with the current bank (cached per input and bank)."""
        key = self._sketch_key()
        if key in self._sketches:
            self._sketches.move_to_end(key)
            return self._sketches[key]
        start = time.perf_counter()
        bank = self.bank
        if self.on_draw is not None:  # report each matrix drawn while this sketch runs
            total = matrix_count(self.graph)
            first = bank.draws
            bank.on_draw = lambda: self.on_draw(bank.draws - first, total)
        try:
            rs = sketch_graph(self.graph, bank)
        finally:
            bank.on_draw = None
        seconds = time.perf_counter() - start
        self.stats["sketches"] += 1
        logger.info(
            "sketched %d objects at d=%d (%s, seed %d) in %.2f s",
            len(self.graph),
            self.d,
            self.settings.family,
            self.settings.seed,
            seconds,
        )
        self._sketches[key] = rs
        self._sketch_seconds[key] = seconds
        while len(self._sketches) > self._max_sketches:
            old, _rs = self._sketches.popitem(last=False)
            del self._sketch_seconds[old]
        return rs

    @property
    def sketch_seconds(self) -> float | None:
        """Wall-clock seconds the current sketch took, None if it is not computed yet."""
        return self._sketch_seconds.get(self._sketch_key())

    def _state(self) -> _DecodedState:
        """Decoder of the current erasure prefix of the current sketch (cached)."""
        rs = self.recursive_sketch
        key = self._sketch_key()
        if key != self._decoded_for:
            self._decoded.clear()
            self._decoded_for = key
        prefix = self.erasure_prefix
        if prefix in self._decoded:
            self._decoded.move_to_end(prefix)
            return self._decoded[prefix]
        zero = [n for n in self.graph.objects if self.graph.effective_weight(n) == 0.0]
        if zero:
            shown = ", ".join(repr(n) for n in zero[:5])
            raise ValueError(
                f"{len(zero)} object(s) have effective weight 0 ({shown}): a weight-0 object "
                "leaves no trace in the sketch, and the estimators divide by its weight"
            )
        sketch = rs.overall if prefix == self.d else rs.overall.erase_prefix(prefix)
        state = _DecodedState(GraphDecoder(self.graph, sketch, self.bank))
        self.stats["decoders"] += 1
        self._decoded[prefix] = state
        while len(self._decoded) > self._max_prefixes:
            self._decoded.popitem(last=False)
        return state

    @property
    def decoder(self) -> GraphDecoder:
        """:class:`GraphDecoder` of the current sketch, erased to the current prefix."""
        return self._state().decoder

    @property
    def facts(self) -> GraphFacts:
        """What decoding the current graph needs apart from the sketch (cached per input)."""
        key = self.source.key
        if key in self._facts:
            self._facts.move_to_end(key)
            return self._facts[key]
        facts = GraphFacts(self.graph)
        self._facts[key] = facts
        while len(self._facts) > self._max_sketches:
            self._facts.popitem(last=False)
        return facts

    def object_table(self) -> pd.DataFrame:
        """:meth:`GraphDecoder.object_table` for the current estimator (cached).

        Computed by :func:`~sketch_explorer.decoder.decode_all`, which batches the products the decoder
        does one object at a time; the numbers are the same up to rounding.
        """
        state = self._state()
        estimator = self.settings.estimator
        if estimator not in state.tables:
            table, estimates = decode_all(
                self.facts, state.decoder.sketch, self.bank, estimator
            )
            state.tables[estimator] = table
            state.estimates[estimator] = estimates
            self.stats["tables"] += 1
        return state.tables[estimator]

    def estimate(self, name: Hashable) -> Estimate:
        """The current estimator's :class:`Estimate` of object ``name`` (from the table)."""
        self.object_table()
        estimates = self._state().estimates[self.settings.estimator]
        if name not in estimates:
            raise ValueError(
                f"object {name!r} has effective weight 0: it leaves no trace in the sketch"
            )
        return estimates[name]

    def counts(self) -> pd.DataFrame:
        """:meth:`GraphDecoder.counts`: true against estimated objects per module (cached)."""
        state = self._state()
        if state.counts is None:
            state.counts = state.decoder.counts()
            self.stats["counts"] += 1
        return state.counts

    def detail(self, name: Hashable | None = None) -> ObjectDetail:
        """:class:`ObjectDetail` of ``name`` (default: the selected object).

        Reads the estimate from the cached object table; it decodes nothing else.
        """
        name = self.selected if name is None else name
        graph, facts = self.graph, self.facts
        estimator = self.settings.estimator
        module = graph.module(name)
        estimate = self.estimate(name)
        true = facts.true[name]
        expected = facts.expected(estimator)[name]
        path = facts.default_path(name)[0] if estimator == "path" else None
        size = len(graph.objects_of(module))
        detail = ObjectDetail(
            name=name,
            module=module,
            depth=graph.depth(name),
            effective_weight=graph.effective_weight(name),
            paths=tuple(graph.paths(name)),
            estimator=estimator,
            path=path,
            labels=self.source.labels_for(module, true.size),
            true=true,
            estimate=estimate,
            expected=expected,
            linf_error=float(np.abs(estimate.value - true).max()),
            linf_noise=float(np.abs(estimate.value - expected).max()),
            depth_coefficient=depth_coefficient(graph.depth(name)),
            module_size=size,
            note="",
        )
        if detail.expected_differs:
            detail = replace(detail, note=_expectation_note(module, size, estimator))
        self.stats["details"] += 1
        return detail

    def draw_time_note(self) -> str:
        """A warning about Haar draw time for the current graph and d ('' if not Haar)."""
        if self.settings.family != "haar":
            return ""
        n = matrix_count(self.graph)
        scale = (self.d / 1024) ** 3
        lo, hi = (math.ceil(n * t * scale) for t in _HAAR_SECONDS_1024)
        return (
            f"haar draws cost O(d³): this graph needs {n} matrices of {self.d}×{self.d}, "
            f"about {lo}-{hi} s on 2 cores the first time (then cached)"
        )
