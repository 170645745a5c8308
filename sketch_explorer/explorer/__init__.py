"""An interactive explorer of recursive sketches, for Jupyter (ipywidgets + plotly).

``Explorer()`` shows a digit image's communication graph, its sketch, and what the paper's
estimators recover from it; its graph editor builds and edits graphs by hand (with JSON and
GraphML import and export), and its "Compare two inputs" tab is a :class:`Comparison`: two
sketches' similarity, its module-by-module decomposition and the drill-down of the paper's
section 1.1.

Modules: :mod:`.app` (the Explorer widget), :mod:`.controller` (its state and computation,
importable and testable without a browser), :mod:`.figures` (figure builders), :mod:`.editing` (the draft graph and its edits),
:mod:`.edit_app` (the editor's widgets), :mod:`.comparing` and
:mod:`.compare_figures` (the comparison's state and figures), :mod:`.compare_app` (the
Comparison widget), :mod:`.download` (a download link widget), :mod:`.export` (standalone
HTML pages) and :mod:`.sync` (figure updates and the callbacks' error guard).

Examples
--------
>>> from sketch_explorer.explorer import Explorer, Comparison
>>> explorer = Explorer(digit=5)                 # doctest: +SKIP
>>> explorer                                     # doctest: +SKIP
>>> Comparison.digits(0, 10)                     # doctest: +SKIP
"""

from .app import CSS_CLASSES, Explorer
from .compare_app import Comparison
from .comparing import ORTHONORMAL_FAMILIES, CompareSettings, ComparisonController
from .controller import (
    DIMENSION_LIMITS,
    DIMENSIONS,
    ESTIMATOR_LABELS,
    DimensionChoice,
    ExplorerController,
    InputSource,
    ObjectDetail,
    Settings,
    digit_source,
    edited_source,
    file_source,
    graph_digest,
    graph_source,
    matrix_count,
    resolve_dimension,
    room_source,
)
from ..decoder import GraphFacts, decode_all
from .download import Download
from .edit_app import GraphEditor
from .editing import EDIT_OPERATIONS, WEIGHT_RULE, EditError, GraphDraft, parse_attributes
from .export import page_html

__all__ = [
    "CSS_CLASSES",
    "DIMENSIONS",
    "DIMENSION_LIMITS",
    "EDIT_OPERATIONS",
    "ESTIMATOR_LABELS",
    "ORTHONORMAL_FAMILIES",
    "WEIGHT_RULE",
    "CompareSettings",
    "Comparison",
    "ComparisonController",
    "DimensionChoice",
    "Download",
    "EditError",
    "Explorer",
    "ExplorerController",
    "GraphDraft",
    "GraphEditor",
    "GraphFacts",
    "InputSource",
    "ObjectDetail",
    "Settings",
    "decode_all",
    "digit_source",
    "edited_source",
    "file_source",
    "graph_digest",
    "graph_source",
    "matrix_count",
    "page_html",
    "parse_attributes",
    "resolve_dimension",
    "room_source",
]
