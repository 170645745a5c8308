"""The explorer widget: controls, figures and panels around one :class:`ExplorerController`.

Pick an input (a digit image, a room scene or a graph file), choose the sketch (d, matrix
family, seed), erase it to a prefix of d' coordinates and pick an attribute estimator; the
communication graph, the recovery-error plot, the object counts and the detail panel of the
selected object follow every control.

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
  :meth:`Explorer.select_object`, the same method tests and notebooks call.
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
    ExplorerController,
    InputSource,
    Settings,
    digit_source,
    file_source,
    graph_source,
    room_source,
)

__all__ = ["Explorer"]

logger = logging.getLogger(__name__)

_N_DIGIT_IMAGES = 1797  # images in scikit-learn's bundled digits dataset
_FAMILY_LABELS = {
    "fast": "fast orthonormal",
    "haar": "haar (dense, slow to draw)",
    "gaussian": "gaussian (dense)",
    "block": "block D(b, q, d)",
}
_SOURCE_KINDS = (("digit image", "digit"), ("room scene", "room"), ("graph file", "graph"))


def _signature(traces) -> list[tuple]:
    """What must match for traces to be updated in place rather than replaced."""
    out = []
    for t in traces:
        keys = frozenset(t.to_plotly_json()) - {"uid"}
        out.append((t.type, t.name, keys))
    return out


class Explorer:
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
    widget : ipywidgets.VBox
        The whole explorer; displaying the Explorer displays it.
    source_kind, digit_index, room_seed, room_day, room_cat, upload : ipywidgets
        Input controls.
    dimension, family, seed, estimator, erasure : ipywidgets
        Sketch controls; set ``.value`` to drive the explorer.
    graph_figure, image_figure, detail_figure, error_figure : plotly FigureWidget
    detail_text, counts_table, status, error_area : ipywidgets.HTML
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
        self._build(room_seed=room if room is not None else 0, room_day=room_day)
        self._wire()

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
            style={"button_width": "100px"},
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

        # text panels
        self.status = widgets.HTML()
        self.error_area = widgets.HTML(layout=widgets.Layout(display="none"))
        self.detail_text = widgets.HTML(layout=widgets.Layout(width="360px"))
        self.counts_table = widgets.HTML(layout=widgets.Layout(width="380px"))

        # figures, built with their first data and layout (Voila keeps only these)
        parts = self._parts("source")
        self.graph_figure = go.FigureWidget(
            data=parts["graph"][0], layout={**figures.GRAPH_LAYOUT, **parts["graph"][1]}
        )
        self.image_figure = go.FigureWidget(
            data=parts["image"][0], layout={**figures.IMAGE_LAYOUT, **parts["image"][1]}
        )
        self.detail_figure = go.FigureWidget(
            data=parts["detail"][0], layout={**figures.DETAIL_LAYOUT, **parts["detail"][1]}
        )
        self.error_figure = go.FigureWidget(
            data=parts["error"][0], layout={**figures.ERROR_LAYOUT, **parts["error"][1]}
        )
        for fig in (self.graph_figure, self.error_figure):
            self._register_clicks(fig)
        self._write_panels(parts)
        self._image_box = widgets.VBox([self.image_figure])

        self.widget = widgets.VBox(
            [
                widgets.HBox([self.source_kind, self._digit_box, self._room_box, self._graph_box]),
                widgets.HBox([self.dimension, self.family, self.seed, self.estimator]),
                self.erasure,
                self.status,
                self.error_area,
                widgets.HBox([self.graph_figure, self._image_box]),
                widgets.HBox([self.detail_text, self.detail_figure]),
                widgets.HBox([self.error_figure, self.counts_table]),
            ]
        )
        self._show_input_controls()

    def _wire(self) -> None:
        self.source_kind.observe(self._on_source_kind, names="value")
        self.digit_index.observe(self._on_digit, names="value")
        for w in (self.room_seed, self.room_day, self.room_cat):
            w.observe(self._on_room, names="value")
        self.upload.observe(self._on_upload, names="value")
        for name in ("dimension", "family", "seed", "estimator", "erasure"):
            getattr(self, name).observe(self._on_setting, names="value")

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

    def clear_error(self) -> None:
        """Empty and hide the error area."""
        self.error_area.value = ""
        self.error_area.layout.display = "none"

    def _set_source(self, source: InputSource) -> None:
        with self._all_or_nothing():
            self.controller.set_source(source)
            self._render("source")
        self._sources[source.kind] = source
        self._sync_controls()

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
    @contextmanager
    def _reporting(self, action: str):
        """Run a callback's work; show an exception in the error area instead of losing it."""
        try:
            yield
        except Exception as exc:  # every callback error goes to the UI
            self.last_error = exc
            logger.debug("explorer callback failed while %s", action, exc_info=True)
            self.error_area.value = figures.error_html(action, exc)
            self.error_area.layout.display = None
            try:
                self._sync_controls()
            except Exception:  # the first error is the one to show
                logger.debug("could not re-sync the controls", exc_info=True)
        else:
            self.clear_error()

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
        try:
            with self._reporting(f"loading {name}"):
                self.load_file(name, bytes(upload["content"]))
        finally:
            with self._quietly():  # so the same file can be uploaded again
                self.upload.value = ()

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
            "detail_text": figures.detail_html(detail, probabilities),
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
                c.object_table(), c.settings.estimator, c.d, c.erasure_prefix
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
        if not self.controller.is_sketched:  # say what the wait is for before it starts
            note = self.controller.draw_time_note()
            self.status.value = figures.status_html(
                [f"sketching at d = {self.controller.d} …"], [note] if note else []
            )
        parts = self._parts(scope, detail)
        changed = [self.detail_figure]
        if scope != "analysis":  # settings leave the graph and the selection as they are
            changed.append(self.graph_figure)
            with self.graph_figure.batch_update():
                if "graph" in parts:
                    _replace(self.graph_figure, *parts["graph"])
                    self._register_clicks(self.graph_figure)
                else:
                    ring = figures.selection_trace(parts["selection"])
                    self.graph_figure.data[-1].update(x=ring.x, y=ring.y)
        if "image" in parts:
            changed.append(self.image_figure)
            with self.image_figure.batch_update():
                _replace(self.image_figure, *parts["image"])
        if "error" in parts:
            changed.append(self.error_figure)
            with self.error_figure.batch_update():
                if _replace(self.error_figure, *parts["error"]):
                    self._register_clicks(self.error_figure)
        with self.detail_figure.batch_update():
            _replace(self.detail_figure, *parts["detail"])
        for fig in changed:
            _publish_state(fig)
        self._write_panels(parts)
        self._show_input_controls()


def _replace(fig: go.FigureWidget, traces: list, layout: dict) -> bool:
    """Put ``traces`` and ``layout`` into ``fig`` (call inside ``fig.batch_update()``).

    Traces of the same type, name and properties are updated in place, so the browser
    restyles them; otherwise all traces are replaced. Returns whether they were replaced (the
    new traces then need their click handlers).
    """
    replaced = _signature(fig.data) != _signature(traces)
    if replaced:
        fig.data = ()
        fig.add_traces(traces)
    else:
        for old, new in zip(fig.data, traces):
            old.update(new.to_plotly_json(), overwrite=True)
    fig.layout.update(layout)
    return replaced


def _publish_state(fig: go.FigureWidget) -> None:
    """Make the state that new views of ``fig`` start from equal to its current state.

    A plotly FigureWidget syncs its whole data and layout (the ``_widget_data`` and
    ``_widget_layout`` traits) only when it is built or displayed on its own; later changes
    travel as one-off messages that only views already open receive. A view opened later
    starts from the stale state: Voila, whose page connects after the whole notebook ran,
    showed the explorer's first figures beside controls that had moved on. plotly's own
    display hook refreshes the two traits the same way; open views ignore the change.
    """
    state = fig.to_plotly_json()
    fig._widget_layout = state["layout"]
    fig._widget_data = state["data"]
