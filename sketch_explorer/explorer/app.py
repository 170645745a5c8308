"""The explorer widget: controls, figures and panels around one :class:`ExplorerController`.

Pick an input (a digit image, a room scene or a graph file), choose the sketch (d, matrix
family, seed), erase it to a prefix of d' coordinates and pick an attribute estimator; the
communication graph, the recovery-error plot, the object counts and the detail panel of the
selected object follow every control.

Two more tabs of work sit around that view:

* the graph editor (an accordion under the figures, :mod:`.edit_app`): add and remove modules
  and objects, set attributes, connect objects with renormalised weights, rename, undo; import
  and export node-link JSON and GraphML. Every edit that leaves a valid graph re-sketches it;
* the "Compare two inputs" tab (:class:`~.compare_app.Comparison`, built when first opened):
  two inputs' similarity, its module-by-module decomposition and the drill-down.

:meth:`Explorer.export_html` writes what is shown as a standalone HTML page; the "export view
as HTML" button offers the same page as a download.

How it is built (STYLE item 9):

* all state and computation live in the controller (:mod:`.controller`); figure contents come
  from pure builders (:mod:`.figures`); this module only wires widgets to them;
* each public method (:meth:`Explorer.select_object`, :meth:`Explorer.update`,
  :meth:`Explorer.show_digit`, :meth:`Explorer.load_file`, ...) raises on bad input and leaves
  the state unchanged; the widget callbacks call the same methods inside
  :meth:`Explorer._reporting`, which shows any exception in the explorer's error area instead
  of losing it (ipywidgets sends callback errors to a log console nobody reads); nothing is
  printed;
* every FigureWidget is built with its data and layout in the constructor (Voila drops
  relayouts sent before its page connects) and changes afterwards inside one
  ``batch_update`` per event; the live widget is displayed, never ``FigureWidget.show()``;
* the plotly click handler maps the clicked point to an object through the trace's
  ``customdata`` (the object's row in ``graph.objects``) and calls
  :meth:`Explorer.select_object`, the same method tests and notebooks call;
* the main panels carry CSS classes (``se-...``, listed in :data:`CSS_CLASSES`) so browser
  tests can find them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as widgets
import plotly.graph_objects as go

from ..graph import CommunicationGraph
from ..matrices import FAMILIES
from . import figures
from .controller import (
    DIMENSIONS,
    ESTIMATOR_LABELS,
    FAMILY_LABELS,
    SOURCE_BUTTON_WIDTH,
    SOURCE_KINDS,
    ExplorerController,
    InputSource,
    Settings,
    digit_source,
    file_source,
    graph_source,
    matrix_count,
    room_source,
)
from .download import Download, show_loaded_file
from .edit_app import GraphEditor
from .editing import GraphDraft
from .export import page_html
from .sync import ErrorReporting, make_figure, publish_state, replace_traces, update_trace

__all__ = ["CSS_CLASSES", "Explorer"]

#: CSS classes on the explorer's main parts (for browser tests), by the attribute holding them.
CSS_CLASSES = {
    "widget": "se-explorer",
    "explore_panel": "se-explore",
    "compare_panel": "se-compare-tab",
    "input_controls": "se-input-controls",
    "sketch_controls": "se-sketch-controls",
    "erasure": "se-erasure",
    "status": "se-status",
    "progress": "se-progress",
    "error_area": "se-error",
    "graph_figure": "se-graph",
    "image_figure": "se-image",
    "detail_text": "se-detail-text",
    "detail_figure": "se-detail",
    "error_figure": "se-error-plot",
    "counts_table": "se-counts",
    "editor_accordion": "se-editor-accordion",
    "export_button": "se-export-html",
    "export_download": "se-export-html-download",
}

logger = logging.getLogger(__name__)

_N_DIGIT_IMAGES = 1797  # images in scikit-learn's bundled digits dataset
_FAMILY_LABELS = FAMILY_LABELS
_SOURCE_KINDS = SOURCE_KINDS


class Explorer(ErrorReporting):
    """Interactive explorer of recursive sketches.

    Parameters
    ----------
    digit : int, optional
        Index of a digit image (0..1796) to start with. The default input is digit 0.
    room : int, optional
        Seed of a room scene to start with (day ``room_day``).
    graph : CommunicationGraph or path-like, optional
        A graph to start with, or the path of a ``.json`` / ``.graphml`` graph file.
    d : int, default=1024
    family : {"fast", "haar", "gaussian", "block"}, default="fast"
    seed : int, default=0
        Seed of the matrix bank.
    estimator : {"module", "path"}, default="module"
    erasure_prefix : int, optional
        Kept prefix d' (default: all d).
    room_day : int, default=0
    network_seed : int, default=0
        Seed of the trained digits network.

    Attributes
    ----------
    controller : ExplorerController
        State and computation; read figures' inputs from it.
    widget : ipywidgets.Tab
        The whole explorer, tabs "Explore" (:attr:`explore_panel`) and "Compare two inputs"
        (:attr:`compare_panel`, filled when first opened); displaying the Explorer displays
        it.
    source_kind, digit_index, room_seed, room_day, room_cat, upload : ipywidgets
        Input controls.
    dimension, family, seed, estimator, erasure : ipywidgets
        Sketch controls; set ``.value`` to drive the explorer.
    erasure_halve, erasure_double, erasure_all : ipywidgets.Button
        Halve or double the kept prefix d′, or keep all d (the slider moves by one).
    graph_figure, image_figure, detail_figure, error_figure : plotly FigureWidget
    detail_text, counts_table, status, error_area : ipywidgets.HTML
    progress : ipywidgets.IntProgress
        Matrices drawn so far, shown while a sketch is computed (Haar draws take seconds).
    editor : GraphEditor
        The graph editor's controls, downloads and import (in :attr:`editor_accordion`).
    tabs : ipywidgets.Tab
        "Explore" and "Compare two inputs"; the same object as :attr:`widget`.
    export_button : ipywidgets.Button
    export_download : Download
        The exported HTML page, after the export button is pressed.
    last_error : Exception or None
        The last exception a callback caught and showed.

    Raises
    ------
    ValueError
        If more than one of ``digit``, ``room`` and ``graph`` is given, or a setting is
        invalid.

    Examples
    --------
    >>> from sketch_explorer import CommunicationGraph
    >>> g = CommunicationGraph.from_objects({"cat": ("cat", [0.6, 0.8])},
    ...                                     {"output": [("cat", 1.0)]})
    >>> ex = Explorer(graph=g, d=256)
    >>> ex.select_object("cat").module
    'cat'
    """

    def __init__(
        self,
        *,
        digit: int | None = None,
        room: int | None = None,
        graph: CommunicationGraph | str | os.PathLike | None = None,
        d: int = 1024,
        family: str = "fast",
        seed: int = 0,
        estimator: str = "module",
        erasure_prefix: int | None = None,
        room_day: int = 0,
        network_seed: int = 0,
    ) -> None:
        given = [
            name
            for name, v in (("digit", digit), ("room", room), ("graph", graph))
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give at most one input (digit, room or graph); got {given}")
        self._network_seed = network_seed
        if graph is not None:
            if isinstance(graph, CommunicationGraph):
                source = graph_source(graph)
            else:
                path = Path(graph)
                source = file_source(path.name, path.read_bytes())
        elif room is not None:
            source = room_source(room, room_day)
        else:
            source = digit_source(0 if digit is None else digit, network_seed)
        settings = Settings(d, family, seed, erasure_prefix, estimator)
        self.controller = ExplorerController(source, settings)
        self._sources: dict[str, InputSource] = {source.kind: source}
        self._positions: tuple = (None, {})
        self._quiet = 0
        self.last_error: BaseException | None = None
        self._comparison = None
        self._build(room_seed=room if room is not None else 0, room_day=room_day)
        self._wire()
        self.editor.refresh()
        self.editor.refresh_downloads()

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        """Display the live widget (never a static copy)."""
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        c = self.controller
        return (
            f"Explorer({c.source.kind} input, {len(c.graph)} objects, d={c.d}, "
            f"family={c.settings.family!r}, seed={c.settings.seed}, d'={c.erasure_prefix}, "
            f"estimator={c.settings.estimator!r}, selected={c.selected!r})"
        )

    # ------------------------------------------------------------------ building
    def _build(self, room_seed: int, room_day: int) -> None:
        c = self.controller
        s = c.settings
        source = c.source
        wide = widgets.Layout(width="auto")

        # input controls
        self.source_kind = widgets.ToggleButtons(
            options=_SOURCE_KINDS,
            value=source.kind,
            description="input",
            style={"button_width": SOURCE_BUTTON_WIDTH},
        )
        digit_index = source.key[2] if source.kind == "digit" else 0
        self.digit_index = widgets.BoundedIntText(
            value=digit_index,
            min=0,
            max=_N_DIGIT_IMAGES - 1,
            description="image",
            layout=widgets.Layout(width="170px"),
        )
        self.room_seed = widgets.BoundedIntText(
            value=room_seed,
            min=0,
            max=10**6,
            description="room seed",
            layout=widgets.Layout(width="190px"),
        )
        self.room_day = widgets.BoundedIntText(
            value=room_day, min=0, max=364, description="day", layout=widgets.Layout(width="150px")
        )
        self.room_cat = widgets.Checkbox(
            value=True, description="cat in the room", indent=False, layout=wide
        )
        self.upload = widgets.FileUpload(
            accept=".json,.graphml", multiple=False, description="graph file"
        )
        self._digit_box = widgets.HBox([self.digit_index])
        self._room_box = widgets.HBox([self.room_seed, self.room_day, self.room_cat])
        hint = widgets.HTML(
            "<span style='color:#555'>node-link .json or .graphml (sketch_explorer.io)</span>"
        )
        self._graph_box = widgets.HBox([self.upload, hint])

        # sketch controls
        options = sorted(set(DIMENSIONS) | {s.d})
        self.dimension = widgets.Dropdown(
            options=options, value=s.d, description="d", layout=widgets.Layout(width="160px")
        )
        self.family = widgets.Dropdown(
            options=[(_FAMILY_LABELS[f], f) for f in FAMILIES],
            value=s.family,
            description="matrices",
            layout=widgets.Layout(width="290px"),
        )
        self.seed = widgets.BoundedIntText(
            value=s.seed,
            min=0,
            max=2**31 - 1,
            description="seed",
            layout=widgets.Layout(width="170px"),
        )
        self.estimator = widgets.ToggleButtons(
            options=[("module known", "module"), ("path known", "path")],
            value=s.estimator,
            description="estimator",
            tooltips=[ESTIMATOR_LABELS["module"], ESTIMATOR_LABELS["path"]],
            style={"button_width": "120px"},
        )
        self.erasure = widgets.IntSlider(
            value=c.erasure_prefix,
            min=1,
            max=c.d,
            description="kept prefix d′",
            continuous_update=False,
            style={"description_width": "100px"},
            layout=widgets.Layout(width="640px"),
        )

        # the slider moves one coordinate per key press; these move d' by factors of two
        small = widgets.Layout(width="auto")
        self.erasure_halve = widgets.Button(description="½ d′", layout=small,
                                            tooltip="halve the kept prefix d′")
        self.erasure_double = widgets.Button(description="2× d′", layout=small,
                                             tooltip="double the kept prefix d′ (at most d)")
        self.erasure_all = widgets.Button(description="all d", layout=small,
                                          tooltip="keep all d coordinates")

        # matrices drawn so far while a sketch is computed (shown only then)
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, description="matrices", bar_style="info",
            style={"description_width": "110px"},
            layout=widgets.Layout(width="420px", display="none"),
        )

        # text panels
        self.status = widgets.HTML()
        self.error_area = widgets.HTML(layout=widgets.Layout(display="none"))
        self.detail_text = widgets.HTML(layout=widgets.Layout(width="360px"))
        self.counts_table = widgets.HTML(layout=widgets.Layout(width="380px"))

        # figures, built with their first data and layout (Voila keeps only these)
        parts = self._parts("source")
        self.graph_figure = make_figure(parts["graph"][0], figures.GRAPH_LAYOUT,
                                        parts["graph"][1])
        self.image_figure = make_figure(parts["image"][0], figures.IMAGE_LAYOUT,
                                        parts["image"][1])
        self.detail_figure = make_figure(parts["detail"][0], figures.DETAIL_LAYOUT,
                                         parts["detail"][1])
        self.error_figure = make_figure(parts["error"][0], figures.ERROR_LAYOUT,
                                        parts["error"][1])
        for fig in (self.graph_figure, self.error_figure):
            self._register_clicks(fig)
        self._write_panels(parts)
        self._image_box = widgets.VBox([self.image_figure])

        # the graph editor, closed until opened
        self.editor = GraphEditor(self)
        self.editor_accordion = widgets.Accordion(
            children=[self.editor.widget],
            titles=("Edit the graph · import / export (JSON, GraphML)",),
        )
        self.editor_accordion.selected_index = None

        # export of the whole view
        self.export_button = widgets.Button(
            description="export view as HTML",
            tooltip="a standalone HTML page of the figures and panels shown",
            layout=widgets.Layout(width="auto"),
        )
        self.export_download = Download(
            filename="sketch_explorer_view.html",
            mime="text/html",
            label="⬇ sketch_explorer_view.html",
            empty_text="(press export to make the file)",
        )

        # figure rows wrap when the output area is narrower than they are (the image then
        # goes under the graph instead of being clipped); buttons and links keep a gap
        wrap = widgets.Layout(flex_flow="row wrap")
        spaced = widgets.Layout(align_items="center")
        self.input_controls = widgets.HBox(
            [self.source_kind, self._digit_box, self._room_box, self._graph_box]
        )
        self.sketch_controls = widgets.HBox(
            [self.dimension, self.family, self.seed, self.estimator]
        )
        self.explore_panel = widgets.VBox(
            [
                self.input_controls,
                self.sketch_controls,
                widgets.HBox([self.erasure, self.erasure_halve, self.erasure_double,
                              self.erasure_all]),
                self.status,
                self.progress,
                self.error_area,
                widgets.HBox([self.graph_figure, self._image_box], layout=wrap),
                widgets.HBox([self.detail_text, self.detail_figure], layout=wrap),
                widgets.HBox([self.error_figure, self.counts_table], layout=wrap),
                self.editor_accordion,
                widgets.HBox([self.export_button, self.export_download], layout=spaced),
            ]
        )
        self.compare_panel = widgets.VBox(
            [widgets.HTML("<i>Opening this tab builds the comparison (a few seconds).</i>")]
        )
        self.tabs = widgets.Tab(
            children=[self.explore_panel, self.compare_panel],
            titles=("Explore", "Compare two inputs"),
        )
        self.widget = self.tabs
        for attribute, css in CSS_CLASSES.items():
            getattr(self, attribute).add_class(css)
        self._show_input_controls()

    def _wire(self) -> None:
        self.source_kind.observe(self._on_source_kind, names="value")
        self.digit_index.observe(self._on_digit, names="value")
        for w in (self.room_seed, self.room_day, self.room_cat):
            w.observe(self._on_room, names="value")
        self.upload.observe(self._on_upload, names="value")
        for name in ("dimension", "family", "seed", "estimator", "erasure"):
            getattr(self, name).observe(self._on_setting, names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.export_button.on_click(self._on_export)
        for button, target in (
            (self.erasure_halve, lambda p, d: max(1, p // 2)),
            (self.erasure_double, lambda p, d: min(d, 2 * p)),
            (self.erasure_all, lambda p, d: d),
        ):
            button.on_click(lambda _b, target=target: self._on_erasure_step(target))

    def _register_clicks(self, fig: go.FigureWidget) -> None:
        for trace in fig.data:
            if trace.customdata is not None:
                trace.on_click(self._on_click)

    # ------------------------------------------------------------------ public actions
    def select_object(self, name: Hashable):
        """Select object ``name``: what a click on its node (or its error point) does.

        Returns
        -------
        ObjectDetail
            What the detail panel now shows.

        Raises
        ------
        KeyError
            If ``name`` is not an object of the current graph.
        """
        detail = self.controller.select(name)
        self._render("detail", detail)
        self.editor.follow_selection(name)
        return detail

    def update(self, **changes) -> Settings:
        """Change sketch settings and redraw; the controls follow.

        Parameters
        ----------
        **changes
            Any of ``d``, ``family``, ``seed``, ``erasure_prefix``, ``estimator``
            (see :class:`Settings`). What the sketch controls do when they move.

        Returns
        -------
        Settings
            The new, validated settings.

        Raises
        ------
        TypeError, ValueError
            For an unknown setting or a bad value; nothing changes then.
        """
        with self._all_or_nothing():
            settings = self.controller.update(**changes)
            self._render("analysis")
        self._sync_controls()
        return settings

    def show_digit(self, index: int) -> None:
        """Show digit image ``index`` (0..1796)."""
        self._set_source(digit_source(index, self._network_seed))

    def show_room(self, seed: int, day: int | None = 0, cat: bool = True) -> None:
        """Show the room scene of ``seed`` on ``day``, with or without the cat."""
        self._set_source(room_source(seed, day, 1.0 if cat else 0.0))

    def show_graph(self, graph: CommunicationGraph, label: str = "graph given in Python"):
        """Show a communication graph given in Python."""
        self._set_source(graph_source(graph, label))

    def load_file(self, name: str, content: bytes) -> None:
        """Show the graph in a file's bytes: what an upload does.

        Raises
        ------
        ValueError, GraphFileError, GraphValidationError
            For an unknown extension, an unreadable file or an invalid graph; the current
            graph stays.
        """
        self._set_source(file_source(name, content))

    # ------------------------------------------------------------------ editing
    @property
    def draft(self) -> GraphDraft:
        """The graph editor's draft (see :mod:`.editing`)."""
        return self.controller.draft

    def edit(self, operation: str, *args, **kwargs) -> GraphDraft:
        """Edit the graph: what the editor's buttons do.

        Parameters
        ----------
        operation : str
            One of :data:`~.editing.EDIT_OPERATIONS`: ``"add_module"``, ``"remove_module"``,
            ``"rename_module"``, ``"add_object"``, ``"remove_object"``, ``"rename"``,
            ``"set_attributes"``, ``"connect"``, ``"disconnect"``.
        *args, **kwargs
            Its arguments, as the :class:`~.editing.GraphDraft` method of that name takes
            them, e.g. ``edit("connect", "leg", "chair", 0.25)``.

        Returns
        -------
        GraphDraft
            The new draft. Its valid part is sketched and shown (see
            :meth:`ExplorerController.edit`).

        Raises
        ------
        EditError, GraphValidationError, ValueError
            If the edit is refused; the draft, the graph and every view stay as they were.

        Examples
        --------
        >>> from sketch_explorer import CommunicationGraph
        >>> g = CommunicationGraph.from_objects({"cat": ("cat", [1.0])},
        ...                                     {"output": [("cat", 1.0)]})
        >>> ex = Explorer(graph=g, d=256)
        >>> _ = ex.edit("add_object", "lamp", "lamp", "0.6, 0.8")
        >>> draft = ex.edit("connect", "lamp", "output", 0.25)
        >>> [round(w, 2) for _c, w in ex.controller.graph.inputs("output")]
        [0.75, 0.25]
        """
        with self._all_or_nothing():
            before = self.controller.source
            draft = self.controller.edit(operation, *args, **kwargs)
            if self.controller.source is not before:
                self._render("source")
        self._after_source_change()
        # the editor goes on with the node just made or renamed
        if operation in ("add_object", "rename"):
            new = kwargs.get("name" if operation == "add_object" else "new")
            if new is None and len(args) >= (1 if operation == "add_object" else 2):
                new = args[0] if operation == "add_object" else args[1]
            self.editor.follow_selection(new)
        return draft

    def undo_edit(self) -> GraphDraft:
        """Go back one edit or input change (the editor's undo button)."""
        with self._all_or_nothing():
            before = self.controller.source
            draft = self.controller.undo_edit()
            if self.controller.source is not before:
                self._render("source")
        self._after_source_change()
        return draft

    def new_graph(self, output: str = "output") -> GraphDraft:
        """Start an empty draft; the shown graph stays until the draft has a valid graph."""
        draft = self.controller.new_graph(output)
        self.editor.refresh()
        return draft

    # ------------------------------------------------------------------ export and comparison
    def export_html(self, path: str | os.PathLike | None = None) -> str:
        """The current view as a standalone HTML page; written to ``path`` when given.

        The page holds every figure shown (plotly.js inlined once, so it opens offline) and
        the text panels, names escaped; the comparison tab's figures and panels are included
        once it has been opened.

        Returns
        -------
        str
            The HTML document.
        """
        c = self.controller
        figs = self.export_figures()
        blocks = [
            ("html", self.status.value),
            ("row", [("figure", figs["graph"])]
             + ([("figure", figs["image"])] if c.source.image is not None else [])),
            ("row", [("html", self.detail_text.value), ("figure", figs["detail"])]),
            ("row", [("figure", figs["error"]), ("html", self.counts_table.value)]),
            ("html", self.editor.status.value),
        ]
        if self._comparison is not None:
            blocks += [("heading", "Comparison of two inputs"), *self._comparison.html_blocks()]
        html = page_html("Recursive sketches: explorer view", blocks,
                         note=f"{c.source.label}; d = {c.d}, {c.settings.family} matrices, "
                              f"seed {c.settings.seed}, kept prefix d' = {c.erasure_prefix}.")
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html

    def export_figures(self) -> dict[str, go.Figure]:
        """The figures of the current state, built afresh by the pure builders.

        What :meth:`export_html` writes: the complete figures for the controller's state, not
        the FigureWidgets, whose Python-side state is kept up to date by partial updates
        (:mod:`.sync`) and messages from the browser and so is no safe source of a full copy.

        Returns
        -------
        dict
            ``"graph"``, ``"image"``, ``"detail"`` and ``"error"`` figures.
        """
        parts = self._parts("source")
        bases = {
            "graph": figures.GRAPH_LAYOUT,
            "image": figures.IMAGE_LAYOUT,
            "detail": figures.DETAIL_LAYOUT,
            "error": figures.ERROR_LAYOUT,
        }
        return {
            key: go.Figure(data=parts[key][0], layout={**base, **parts[key][1]})
            for key, base in bases.items()
        }

    @property
    def comparison_built(self) -> bool:
        """Whether the comparison tab has been built (it is built when first opened)."""
        return self._comparison is not None

    @property
    def comparison(self):
        """The comparison tab's :class:`~.compare_app.Comparison` (built on first use)."""
        if self._comparison is None:
            from .compare_app import Comparison

            c = self.controller
            partner = _partner(c.source, self._network_seed)
            self._comparison = Comparison(c.source, partner, explorer=self,
                                          network_seed=self._network_seed)
            self.compare_panel.children = (self._comparison.widget,)
        return self._comparison

    def _set_source(self, source: InputSource) -> None:
        with self._all_or_nothing():
            self.controller.set_source(source)
            self._render("source")
        self._after_source_change()

    def _after_source_change(self) -> None:
        """Controls, editor and downloads follow the controller's input."""
        source = self.controller.source
        self._sources[source.kind] = source
        self._sync_controls()
        self.editor.refresh()
        self.editor.refresh_downloads()

    @contextmanager
    def _all_or_nothing(self):
        """Undo a state change whose views cannot be computed, so state and views agree.

        The views are computed before any figure changes (:meth:`_parts`), so a failure leaves
        every figure as it was; the controller goes back to its previous state too.
        """
        snapshot = self.controller.snapshot()
        try:
            yield
        except Exception:
            self.controller.restore(snapshot)
            raise

    # ------------------------------------------------------------------ callbacks
    def _after_error(self) -> None:
        """After an error is shown, the controls show the state that stayed."""
        self._sync_controls()

    def _on_tab(self, change) -> None:
        if change["new"] == 1 and self._comparison is None:
            with self._reporting("building the comparison"):
                self.comparison  # noqa: B018 - builds the tab

    def _on_export(self, _button) -> None:
        with self._reporting("exporting the view as HTML"):
            html = self.export_html().encode("utf-8")
            self.export_download.offer(
                html, note=f"{len(html) / 2**20:.1f} MB, self-contained (plotly.js inside)"
            )

    def _on_erasure_step(self, target) -> None:
        c = self.controller
        with self._reporting("changing the kept prefix d′"):
            self.update(erasure_prefix=target(c.erasure_prefix, c.d))

    def _on_draw(self, drawn: int, total: int) -> None:
        """Progress of a sketch: one more matrix drawn (the bar is visible meanwhile)."""
        self.progress.value = min(drawn, total)
        self.progress.description = f"{min(drawn, total)}/{total} matrices"

    @contextmanager
    def _quietly(self):
        """Set widget values without their callbacks acting on them."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _on_click(self, trace, points, _state) -> None:
        # plotly calls every trace's handlers on a click; only the clicked trace has points
        if self._quiet or not points.point_inds:
            return
        with self._reporting("selecting the clicked object"):
            row = int(trace.customdata[points.point_inds[0]])
            self.select_object(self.controller.graph.objects[row])

    def _on_source_kind(self, change) -> None:
        if self._quiet:
            return
        with self._reporting("switching the input"):
            kind = change["new"]
            if kind == "digit":
                self.show_digit(self.digit_index.value)
            elif kind == "room":
                self.show_room(self.room_seed.value, self.room_day.value, self.room_cat.value)
            elif kind in self._sources:
                self._set_source(self._sources[kind])
            else:  # no graph file yet: keep the current input and say so
                self._show_input_controls()
                self._render_status(
                    [
                        "no graph file loaded yet: upload a .json or .graphml "
                        "file; the previous input is still shown"
                    ]
                )

    def _on_digit(self, change) -> None:
        if not self._quiet:
            with self._reporting(f"showing digit image {change['new']}"):
                self.show_digit(change["new"])

    def _on_room(self, _change) -> None:
        if not self._quiet:
            with self._reporting("showing the room scene"):
                self.show_room(self.room_seed.value, self.room_day.value, self.room_cat.value)

    def _on_upload(self, change) -> None:
        if self._quiet or not change["new"]:
            return
        upload = change["new"][-1]
        name = upload.get("name", "uploaded file")
        if not len(upload.get("content", b"")):  # the record of a file already loaded
            return
        loaded = None
        try:
            with self._reporting(f"loading {name}"):
                self.load_file(name, bytes(upload["content"]))
                loaded = upload
        finally:
            with self._quietly():  # the button names the file; the same file can come again
                show_loaded_file(self.upload, loaded, "graph file")
                with self.editor.quietly():
                    show_loaded_file(self.editor.upload, None, "import file")

    def _on_setting(self, change) -> None:
        if self._quiet:
            return
        names = {
            self.dimension: "d",
            self.family: "family",
            self.seed: "seed",
            self.estimator: "estimator",
            self.erasure: "erasure_prefix",
        }
        setting = names[change["owner"]]
        with self._reporting(f"changing {setting}"):
            self.update(**{setting: change["new"]})

    # ------------------------------------------------------------------ rendering
    def _sync_controls(self) -> None:
        """Make every control show the controller's state, without triggering callbacks."""
        c = self.controller
        s = c.settings
        with self._quietly():
            if s.d not in self.dimension.options:
                self.dimension.options = sorted(set(self.dimension.options) | {s.d})
            self.dimension.value = s.d
            self.family.value = s.family
            self.seed.value = s.seed
            self.estimator.value = s.estimator
            if c.d >= self.erasure.max:
                self.erasure.max = c.d
                self.erasure.value = c.erasure_prefix
            else:
                self.erasure.value = c.erasure_prefix
                self.erasure.max = c.d
            self.source_kind.value = c.source.kind
            if c.source.kind == "digit":
                self.digit_index.value = c.source.key[2]
            elif c.source.kind == "room":
                _room, seed, day, cat_probability = c.source.key
                self.room_seed.value = seed
                if day is not None:
                    self.room_day.value = day
                self.room_cat.value = cat_probability > 0
        self._show_input_controls()

    def _show_input_controls(self) -> None:
        kind = self.source_kind.value
        for box, shown in (
            (self._digit_box, kind == "digit"),
            (self._room_box, kind == "room"),
            (self._graph_box, kind == "graph"),
        ):
            box.layout.display = None if shown else "none"
        self._image_box.layout.display = (
            None if self.controller.source.image is not None else "none"
        )

    def _detail_view(self, detail=None) -> tuple:
        """The selected object's detail, whether it is a digit object, its probabilities."""
        c = self.controller
        detail = c.detail() if detail is None else detail
        probabilities = None
        is_digit = False
        if c.source.kind == "digit":
            from ..datasets.digits import DIGIT_MODULE, class_probabilities

            is_digit = detail.module == DIGIT_MODULE
            if is_digit:
                try:
                    recovered = class_probabilities(detail.estimate.value)
                except ValueError:
                    recovered = None
                probabilities = (class_probabilities(detail.true), recovered)
        return detail, is_digit, probabilities

    def _positions_for(self, source: InputSource) -> dict:
        if self._positions[0] != source.key:
            self._positions = (source.key, figures.graph_positions(source.graph))
        return self._positions[1]

    def _parts(self, scope: str, detail=None) -> dict:
        """Contents of the figures and panels that ``scope`` changes.

        ``"source"``: everything; ``"analysis"`` (settings changed): all but the graph and
        the image; ``"detail"`` (selection changed): the detail panel, the selection ring and
        the image patch.
        """
        c = self.controller
        source = c.source
        positions = self._positions_for(source)
        detail, is_digit, probabilities = self._detail_view(detail)
        parts: dict = {
            "selection": positions[detail.name],
            "detail": figures.detail_parts(detail, is_digit),
            "detail_text": figures.detail_html(detail, probabilities, c.settings.family),
        }
        if scope == "source":
            traces = figures.graph_traces(source.graph, positions)
            traces[-1] = figures.selection_trace(positions[detail.name])
            parts["graph"] = (traces, figures.graph_layout(source))
        if scope in ("source", "detail"):
            patch = source.patches.get(detail.name)
            title = "input image" + (f" · patch of {detail.name}" if patch else "")
            parts["image"] = figures.image_parts(source.image, patch, title)
        if scope in ("source", "analysis"):
            parts["error"] = figures.error_parts(
                c.object_table(), c.settings.estimator, c.d, c.erasure_prefix, c.settings.family
            )
            parts["counts"] = figures.counts_html(c.counts())
            parts["status"] = self._status_lines()
        return parts

    def _status_lines(self) -> tuple[list[str], list[str]]:
        c = self.controller
        dim = c.dimension
        d_text = (
            f"d = {dim.requested}"
            if dim.used == dim.requested
            else (f"d = {dim.requested} requested, d used = {dim.used}")
        )
        if dim.block_size is not None:
            d_text += f" (block size b = {dim.block_size})"
        lines = [
            c.source.label,
            d_text,
            f"matrices: {c.settings.family}, seed {c.settings.seed}",
            f"kept prefix d′ = {c.erasure_prefix} of {c.d}",
        ]
        if c.sketch_seconds is not None:
            lines.append(f"sketched in {c.sketch_seconds:.2f} s")
        warnings = list(dim.notes)
        if c.draw_time_note():
            warnings.append(c.draw_time_note())
        return lines, warnings

    def _render_status(self, extra_warnings=()) -> None:
        lines, warnings = self._status_lines()
        self.status.value = figures.status_html(lines, [*warnings, *extra_warnings])

    def _write_panels(self, parts: dict) -> None:
        """HTML panels (not figures) from ``parts``."""
        self.detail_text.value = parts["detail_text"]
        if "counts" in parts:
            self.counts_table.value = parts["counts"]
        if "status" in parts:
            self.status.value = figures.status_html(*parts["status"])

    def _render(self, scope: str, detail=None) -> None:
        """Redraw what ``scope`` changes; each figure inside one ``batch_update``.

        ``detail`` is the selected object's :class:`ObjectDetail` when the caller has it.
        """
        c = self.controller
        if not c.is_sketched:  # say what the wait is for before it starts, then count draws
            note = c.draw_time_note()
            self.status.value = figures.status_html(
                [f"sketching at d = {c.d} …"], [note] if note else []
            )
            total = matrix_count(c.graph)
            self.progress.max, self.progress.value = total, 0
            self.progress.description = f"0/{total} matrices"
            self.progress.layout.display = None
            c.on_draw = self._on_draw
        try:
            parts = self._parts(scope, detail)
        finally:
            c.on_draw = None
            self.progress.layout.display = "none"
        changed = [self.detail_figure]
        if scope != "analysis":  # settings leave the graph and the selection as they are
            changed.append(self.graph_figure)
            with self.graph_figure.batch_update():
                if "graph" in parts:
                    if replace_traces(self.graph_figure, *parts["graph"]):
                        self._register_clicks(self.graph_figure)
                else:
                    ring = figures.selection_trace(parts["selection"])
                    update_trace(self.graph_figure, len(self.graph_figure.data) - 1,
                                 x=ring.x, y=ring.y)
        if "image" in parts:
            changed.append(self.image_figure)
            with self.image_figure.batch_update():
                replace_traces(self.image_figure, *parts["image"])
        if "error" in parts:
            changed.append(self.error_figure)
            with self.error_figure.batch_update():
                if replace_traces(self.error_figure, *parts["error"]):
                    self._register_clicks(self.error_figure)
        with self.detail_figure.batch_update():
            replace_traces(self.detail_figure, *parts["detail"])
        for fig in changed:
            publish_state(fig)
        self._write_panels(parts)
        self._show_input_controls()
        if self.export_download.content:  # the exported page shows another view now
            self.export_download.clear("(the view changed: press export again)")


def _partner(source: InputSource, network_seed: int) -> InputSource:
    """A second input to compare ``source`` with at first.

    A digit image: the next image of the same class in scikit-learn's order (index + 10); a
    room scene: the same room a day later; any other graph: itself.
    """
    if source.kind == "digit":
        index = source.key[2]
        return digit_source(index + 10 if index + 10 < _N_DIGIT_IMAGES else index - 10,
                            network_seed)
    if source.kind == "room":
        _room, seed, day, cat = source.key
        return room_source(seed, (day or 0) + 1 if (day or 0) < 364 else 0, cat)
    return source


# kept for code that imported the helpers from here
_replace = replace_traces
_publish_state = publish_state
