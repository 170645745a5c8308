"""An interactive explorer of recursive sketches, for Jupyter (ipywidgets + plotly).

``Explorer()`` shows a digit image's communication graph, its sketch, and what the paper's
estimators recover from it; see :mod:`.app` for the widget, :mod:`.controller` for the state
and computation behind it (importable and testable without a browser) and :mod:`.figures`
for the figure builders.

Examples
--------
>>> from sketch_explorer.explorer import Explorer
>>> explorer = Explorer(digit=5)        # doctest: +SKIP
>>> explorer                            # doctest: +SKIP
"""

from .app import Explorer
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
    file_source,
    graph_source,
    matrix_count,
    resolve_dimension,
    room_source,
)

__all__ = [
    "DIMENSIONS",
    "DIMENSION_LIMITS",
    "ESTIMATOR_LABELS",
    "DimensionChoice",
    "Explorer",
    "ExplorerController",
    "InputSource",
    "ObjectDetail",
    "Settings",
    "digit_source",
    "file_source",
    "graph_source",
    "matrix_count",
    "resolve_dimension",
    "room_source",
]
