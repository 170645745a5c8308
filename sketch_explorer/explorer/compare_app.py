"""The comparison widget: two inputs side by side, their similarity, and the drill-down.

Pick two inputs (two digit images, two room scenes, two graph files, or the explorer's graph):
:class:`Comparison` shows both communication graphs, the similarity of their sketches measured
and predicted (Theorem 2), a module-by-module decomposition, and the drill-down of the paper's
section 1.1: both overall sketches unrolled position by position, the matrix of cosines
between the unrolled object sketches beside the same matrix for the true object sketches, and
a click on a cell to step down into that pair (a button goes back up).

Built like the explorer (STYLE item 9): state and caches in
:class:`~.comparing.ComparisonController`, figure contents from pure builders
(:mod:`.compare_figures`, :mod:`.figures`), each FigureWidget built with its layout and changed
inside one ``batch_update`` per event, every callback inside the error guard.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as widgets

from ..graph import CommunicationGraph
from ..matrices import FAMILIES
from . import compare_figures, figures
from .comparing import CompareSettings, ComparisonController
from .controller import (
    DIMENSIONS,
    FAMILY_LABELS,
    SOURCE_BUTTON_WIDTH,
    SOURCE_KINDS,
    InputSource,
    digit_source,
    file_source,
    graph_source,
    room_source,
)
from .download import Download
from .export import page_html
from .sync import (
    ErrorReporting,
    make_figure,
    publish_state,
    replace_traces,
    sent_figure,
    update_trace,
)

__all__ = ["Comparison"]

logger = logging.getLogger(__name__)

_N_DIGIT_IMAGES = 1797
_KINDS = SOURCE_KINDS


def _as_source(value, label: str) -> InputSource:
    if isinstance(value, InputSource):
        return value
    if isinstance(value, CommunicationGraph):
        return graph_source(value, label)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        return file_source(path.name, path.read_bytes())
    raise TypeError(
        f"an input must be an InputSource, a CommunicationGraph or a graph file path; got "
        f"{type(value).__name__}"
    )


class _SidePicker:
    """Controls choosing one side's input: kind, digit index, room seed and day, a file."""

    def __init__(self, side: str, source: InputSource) -> None:
        self.side = side
        self.kind = widgets.ToggleButtons(options=_KINDS, value=source.kind,
                                          style={"button_width": SOURCE_BUTTON_WIDTH})
        self.digit = widgets.BoundedIntText(
            value=source.key[2] if source.kind == "digit" else 0, min=0,
            max=_N_DIGIT_IMAGES - 1, description="image", layout=widgets.Layout(width="160px"))
        self.room_seed = widgets.BoundedIntText(
            value=source.key[1] if source.kind == "room" else 0, min=0, max=10**6,
            description="room", layout=widgets.Layout(width="150px"))
        day = source.key[2] if source.kind == "room" and source.key[2] is not None else 0
        self.room_day = widgets.BoundedIntText(value=day, min=0, max=364, description="day",
                                               layout=widgets.Layout(width="140px"))
        self.upload = widgets.FileUpload(accept=".json,.graphml,.xml", multiple=False,
                                         description="graph file")
        self.widget = widgets.HBox([
            widgets.HTML(f"<b>input {side.upper()}</b>", layout=widgets.Layout(width="60px")),
            self.kind, self.digit, self.room_seed, self.room_day, self.upload,
        ])
        self.widget.add_class(f"se-compare-input-{side}")
        self.show_kind(source.kind)

    def show_kind(self, kind: str) -> None:
        for w, shown in ((self.digit, kind == "digit"), (self.room_seed, kind == "room"),
                         (self.room_day, kind == "room"), (self.upload, kind == "graph")):
            w.layout.display = None if shown else "none"


class Comparison(ErrorReporting):
    """Compare the sketches of two inputs and drill down into why they are alike.

    Parameters
    ----------
    a, b : InputSource, CommunicationGraph or path-like, optional
        The two inputs. Default: digit images 0 and 10 (both zeros in scikit-learn's order).
    d : int, default=4096
        Requested sketch dimension (dense families are capped, block rounds it).
    family : {"fast", "haar", "gaussian", "block"}, default="fast"
    seed : int, default=0
        Seed of the matrix bank both inputs are sketched with.
    network_seed : int, default=0
        Seed of the digits network (for digit inputs chosen in the widget).
    explorer : Explorer, optional
        When given, buttons put the explorer's current input on either side.

    Attributes
    ----------
    controller : ComparisonController
    widget : ipywidgets.VBox
        The whole panel (CSS class ``se-compare``).
    graph_a_figure, graph_b_figure, drill_figure : plotly FigureWidget
    similarity_panel, modules_panel, drill_text, status, error_area : ipywidgets.HTML
    up_button, top_button : ipywidgets.Button
    CELL_TRACE : str
        Name of the drill figure's clickable cell traces.

    Examples
    --------
    >>> from sketch_explorer import CommunicationGraph
    >>> g = CommunicationGraph.from_objects({"cat": ("cat", [0.6, 0.8])},
    ...                                     {"output": [("cat", 1.0)]})
    >>> cmp = Comparison(g, g, d=256)
    >>> round(cmp.controller.similarity()["cosine"], 6)
    1.0
    """

    CELL_TRACE = compare_figures.CELL_TRACE

    @classmethod
    def digits(cls, index_a: int, index_b: int, network_seed: int = 0, **kwargs):
        """Compare two digit images of scikit-learn's digits (0..1796)."""
        return cls(digit_source(index_a, network_seed), digit_source(index_b, network_seed),
                   network_seed=network_seed, **kwargs)

    @classmethod
    def rooms(cls, room_a: tuple[int, int], room_b: tuple[int, int], **kwargs):
        """Compare two room scenes given as ``(seed, day)``."""
        return cls(room_source(*room_a), room_source(*room_b), **kwargs)

    def __init__(
        self,
        a=None,
        b=None,
        *,
        d: int = 4096,
        family: str = "fast",
        seed: int = 0,
        network_seed: int = 0,
        explorer=None,
    ) -> None:
        self._network_seed = network_seed
        source_a = digit_source(0, network_seed) if a is None else _as_source(a, "graph A")
        source_b = digit_source(10, network_seed) if b is None else _as_source(b, "graph B")
        self.controller = ComparisonController(source_a, source_b,
                                               CompareSettings(d, family, seed))
        self._explorer = explorer
        self._quiet = 0
        self._positions: dict = {}
        self.last_error = None
        self._build()
        self._wire()

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        """Display the live widget (never a static copy)."""
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        c = self.controller
        return (f"Comparison({c.source_a.label!r} vs {c.source_b.label!r}, d={c.d}, "
                f"family={c.settings.family!r}, seed={c.settings.seed}, "
                f"level {c.depth + 1})")

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        c = self.controller
        s = c.settings
        self.pick_a = _SidePicker("a", c.source_a)
        self.pick_b = _SidePicker("b", c.source_b)
        self.dimension = widgets.Dropdown(options=sorted(set(DIMENSIONS) | {s.d}), value=s.d,
                                          description="d", layout=widgets.Layout(width="150px"))
        self.family = widgets.Dropdown(options=[(FAMILY_LABELS[f], f) for f in FAMILIES],
                                       value=s.family, description="matrices",
                                       layout=widgets.Layout(width="290px"))
        self.seed = widgets.BoundedIntText(value=s.seed, min=0, max=2**31 - 1,
                                           description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.use_explorer_a = widgets.Button(description="A ← explorer's graph",
                                             layout=widgets.Layout(width="auto"))
        self.use_explorer_a.add_class("se-compare-use-explorer-a")
        self.use_explorer_b = widgets.Button(description="B ← explorer's graph",
                                             layout=widgets.Layout(width="auto"))
        self.use_explorer_b.add_class("se-compare-use-explorer-b")
        explorer_buttons = [self.use_explorer_a, self.use_explorer_b] if self._explorer else []

        self.status = widgets.HTML()
        self.status.add_class("se-compare-status")
        self.error_area = widgets.HTML(layout=widgets.Layout(display="none"))
        self.error_area.add_class("se-compare-error")
        self.similarity_panel = widgets.HTML(layout=widgets.Layout(width="460px"))
        self.similarity_panel.add_class("se-compare-similarity")
        self.modules_panel = widgets.HTML()
        self.modules_panel.add_class("se-compare-modules")
        self.drill_text = widgets.HTML()
        self.drill_text.add_class("se-compare-drill-text")
        self.up_button = widgets.Button(description="⬆ up one level", disabled=True)
        self.up_button.add_class("se-compare-up")
        self.top_button = widgets.Button(description="⤒ back to the top", disabled=True)
        self.top_button.add_class("se-compare-top")
        self.export_button = widgets.Button(description="export view as HTML",
                                            layout=widgets.Layout(width="auto"))
        self.export_button.add_class("se-compare-export")
        self.export_download = Download(filename="sketch_comparison.html", mime="text/html",
                                        label="⬇ comparison.html",
                                        empty_text="(press export to make the file)")
        self.export_download.add_class("se-compare-export-download")

        parts = self._parts("all")
        base = compare_figures.COMPARE_GRAPH_LAYOUT
        self.graph_a_figure = make_figure(parts["graph_a"][0], base, parts["graph_a"][1])
        self.graph_b_figure = make_figure(parts["graph_b"][0], base, parts["graph_b"][1])
        self.drill_figure = make_figure(parts["drill"][0], compare_figures.DRILL_LAYOUT,
                                        parts["drill"][1])
        self.graph_a_figure.add_class("se-compare-graph-a")
        self.graph_b_figure.add_class("se-compare-graph-b")
        self.drill_figure.add_class("se-compare-drill")
        self._register_clicks()
        self._write_panels(parts)

        self.widget = widgets.VBox([
            self.pick_a.widget,
            self.pick_b.widget,
            widgets.HBox([self.dimension, self.family, self.seed, *explorer_buttons]),
            self.status,
            self.error_area,
            widgets.HBox([self.graph_a_figure, self.graph_b_figure],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.similarity_panel, self.modules_panel],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.up_button, self.top_button]),
            self.drill_figure,
            self.drill_text,
            widgets.HBox([self.export_button, self.export_download],
                         layout=widgets.Layout(align_items="center")),
        ])
        self.widget.add_class("se-compare")

    def _wire(self) -> None:
        for pick in (self.pick_a, self.pick_b):
            pick.kind.observe(lambda ch, p=pick: self._on_kind(p, ch), names="value")
            for w in (pick.digit, pick.room_seed, pick.room_day):
                w.observe(lambda ch, p=pick: self._on_pick(p), names="value")
            pick.upload.observe(lambda ch, p=pick: self._on_upload(p, ch), names="value")
        for w in (self.dimension, self.family, self.seed):
            w.observe(self._on_setting, names="value")
        self.up_button.on_click(lambda _b: self._guarded("going up one level", self.up))
        self.top_button.on_click(lambda _b: self._guarded("going back to the top", self.top))
        self.export_button.on_click(lambda _b: self._guarded("exporting the view",
                                                             self._offer_export))
        if self._explorer is not None:
            self.use_explorer_a.on_click(
                lambda _b: self._guarded("using the explorer's graph", self.use_explorer, "a"))
            self.use_explorer_b.on_click(
                lambda _b: self._guarded("using the explorer's graph", self.use_explorer, "b"))

    def _register_clicks(self) -> None:
        for trace in self.drill_figure.data:
            if trace.name == self.CELL_TRACE:
                trace.on_click(self._on_cell)

    # ------------------------------------------------------------------ public actions
    def set_inputs(self, a=None, b=None) -> None:
        """Compare other inputs (InputSource, CommunicationGraph or file path; None keeps)."""
        sa = None if a is None else _as_source(a, "graph A")
        sb = None if b is None else _as_source(b, "graph B")
        with self._all_or_nothing():
            self.controller.set_sources(sa, sb)
            self._render("all")
        self._sync_controls()

    def compare_digits(self, index_a: int, index_b: int) -> None:
        """Compare digit images ``index_a`` and ``index_b``."""
        self.set_inputs(digit_source(index_a, self._network_seed),
                        digit_source(index_b, self._network_seed))

    def load_file(self, side: str, name: str, content: bytes) -> None:
        """Put the graph in a file's bytes on side ``"a"`` or ``"b"`` (what an upload does)."""
        source = file_source(name, content)
        self.set_inputs(**{self._side(side): source})

    def use_explorer(self, side: str) -> None:
        """Put the explorer's current input on side ``"a"`` or ``"b"``."""
        if self._explorer is None:
            raise ValueError("this comparison is not attached to an explorer")
        self.set_inputs(**{self._side(side): self._explorer.controller.source})

    def update(self, **changes) -> CompareSettings:
        """Change ``d``, ``family`` or ``seed`` and redraw; the controls follow."""
        with self._all_or_nothing():
            settings = self.controller.update(**changes)
            self._render("all")
        self._sync_controls()
        return settings

    def descend(self, i: int, j: int):
        """Step into child ``i`` of A and child ``j`` of B (0-based): what a cell click does.

        Returns
        -------
        DrillLevel
            The new level.
        """
        with self._all_or_nothing():
            level = self.controller.descend(i, j)
            self._render("drill")
        return level

    def up(self):
        """Go back up one level; returns the level now shown."""
        with self._all_or_nothing():
            level = self.controller.up()
            self._render("drill")
        return level

    def top(self):
        """Go back to the overall sketches; returns that level."""
        with self._all_or_nothing():
            self.controller.top()
            self._render("drill")
        return self.controller.level()

    def export_html(self, path: str | os.PathLike | None = None) -> str:
        """The comparison as a standalone HTML page; written to ``path`` when given."""
        html = page_html("Recursive sketches: comparison", self.html_blocks(),
                         note=f"{self.controller.source_a.label} against "
                              f"{self.controller.source_b.label}.")
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html

    def html_blocks(self) -> list:
        """The panel's figures and texts as :func:`~.export.page_html` blocks."""
        return [
            ("html", self.status.value),
            ("row", [("figure", sent_figure(self.graph_a_figure)),
                     ("figure", sent_figure(self.graph_b_figure))]),
            ("row", [("html", self.similarity_panel.value),
                     ("html", self.modules_panel.value)]),
            ("figure", sent_figure(self.drill_figure)),
            ("html", self.drill_text.value),
        ]

    @staticmethod
    def _side(side: str) -> str:
        if side not in ("a", "b"):
            raise ValueError(f"side must be 'a' or 'b'; got {side!r}")
        return side

    # ------------------------------------------------------------------ callbacks
    @contextmanager
    def _all_or_nothing(self):
        snapshot = self.controller.snapshot()
        try:
            yield
        except Exception:
            self.controller.restore(snapshot)
            raise

    def _after_error(self) -> None:
        self._sync_controls()

    def _guarded(self, what: str, act, *args) -> None:
        with self._reporting(what):
            act(*args)

    def _on_cell(self, trace, points, _state) -> None:
        if self._quiet or not points.point_inds:
            return
        with self._reporting("descending into the clicked pair"):
            i, j = trace.customdata[points.point_inds[0]]
            self.descend(int(i), int(j))

    def _on_kind(self, pick: _SidePicker, change) -> None:
        if self._quiet:
            return
        pick.show_kind(change["new"])
        if change["new"] != "graph":  # a graph file waits for its upload
            self._on_pick(pick)

    def _on_pick(self, pick: _SidePicker) -> None:
        if self._quiet:
            return
        with self._reporting(f"choosing input {pick.side.upper()}"):
            kind = pick.kind.value
            if kind == "digit":
                source = digit_source(pick.digit.value, self._network_seed)
            elif kind == "room":
                source = room_source(pick.room_seed.value, pick.room_day.value)
            else:
                return
            self.set_inputs(**{pick.side: source})

    def _on_upload(self, pick: _SidePicker, change) -> None:
        if self._quiet or not change["new"]:
            return
        item = change["new"][-1]
        name = item.get("name", "uploaded file")
        try:
            with self._reporting(f"loading {name}"):
                self.load_file(pick.side, name, bytes(item["content"]))
        finally:
            with self._quietly():
                pick.upload.value = ()

    def _on_setting(self, change) -> None:
        if self._quiet:
            return
        names = {self.dimension: "d", self.family: "family", self.seed: "seed"}
        setting = names[change["owner"]]
        with self._reporting(f"changing {setting}"):
            self.update(**{setting: change["new"]})

    @contextmanager
    def _quietly(self):
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _offer_export(self) -> None:
        html = self.export_html().encode("utf-8")
        self.export_download.offer(html, note=f"{len(html) / 2**20:.1f} MB, self-contained")

    # ------------------------------------------------------------------ rendering
    def _sync_controls(self) -> None:
        c = self.controller
        with self._quietly():
            s = c.settings
            if s.d not in self.dimension.options:
                self.dimension.options = sorted(set(self.dimension.options) | {s.d})
            self.dimension.value, self.family.value, self.seed.value = s.d, s.family, s.seed
            for pick, source in ((self.pick_a, c.source_a), (self.pick_b, c.source_b)):
                pick.kind.value = source.kind
                if source.kind == "digit":
                    pick.digit.value = source.key[2]
                elif source.kind == "room":
                    pick.room_seed.value = source.key[1]
                    if source.key[2] is not None:
                        pick.room_day.value = source.key[2]
                pick.show_kind(source.kind)
        self.up_button.disabled = self.top_button.disabled = c.depth == 0

    def _positions_for(self, source: InputSource) -> dict:
        if source.key not in self._positions:
            if len(self._positions) > 8:
                self._positions.clear()
            self._positions[source.key] = figures.graph_positions(source.graph)
        return self._positions[source.key]

    def _graph_parts(self, source: InputSource, parent, side: str) -> tuple:
        positions = self._positions_for(source)
        traces = figures.graph_traces(source.graph, positions)
        traces[-1] = figures.selection_trace(positions[parent])
        g = source.graph
        layout = dict(title=dict(
            text=f"{side}: {figures.escape(source.label)}<br><sup>{len(g)} objects, "
                 f"{len(g.modules)} modules; ring: the node being unrolled</sup>",
            font=dict(size=12)))
        return traces, layout

    def _parts(self, scope: str) -> dict:
        """Contents of what ``scope`` changes: ``"all"`` or ``"drill"`` (the path moved)."""
        c = self.controller
        level = c.level()
        parent_a, parent_b = c.parents()
        parts: dict = {
            "drill": compare_figures.drill_parts(level, c.graph_a, c.graph_b),
            "drill_text": compare_figures.drill_html(
                level, c.graph_a, c.graph_b, d=c.d, family=c.settings.family,
                orthonormal=c.is_orthonormal),
            "rings": (self._positions_for(c.source_a)[parent_a],
                      self._positions_for(c.source_b)[parent_b]),
        }
        if scope == "all":
            parts["graph_a"] = self._graph_parts(c.source_a, parent_a, "A")
            parts["graph_b"] = self._graph_parts(c.source_b, parent_b, "B")
            s = c.settings
            parts["similarity"] = compare_figures.similarity_html(c.similarity(), c.d,
                                                                  s.family, s.seed)
            parts["modules"] = compare_figures.module_table_html(c.module_table())
            notes = list(c.dimension.notes)
            parts["status"] = figures.status_html(
                [f"A: {c.source_a.label}", f"B: {c.source_b.label}",
                 f"d = {c.d}, {s.family}, seed {s.seed}"], notes)
        return parts

    def _write_panels(self, parts: dict) -> None:
        self.drill_text.value = parts["drill_text"]
        for key, panel in (("similarity", self.similarity_panel),
                           ("modules", self.modules_panel), ("status", self.status)):
            if key in parts:
                panel.value = parts[key]
        self.up_button.disabled = self.top_button.disabled = self.controller.depth == 0
        self.export_download.clear("(press export to make the file)")

    def _render(self, scope: str) -> None:
        """Redraw what ``scope`` changes; each figure inside one ``batch_update``."""
        parts = self._parts(scope)
        for fig, key, ring in ((self.graph_a_figure, "graph_a", parts["rings"][0]),
                               (self.graph_b_figure, "graph_b", parts["rings"][1])):
            with fig.batch_update():
                if key in parts:
                    replace_traces(fig, *parts[key])
                else:
                    update_trace(fig, len(fig.data) - 1, x=[ring[0]], y=[ring[1]])
            publish_state(fig)
        with self.drill_figure.batch_update():
            if replace_traces(self.drill_figure, *parts["drill"]):
                self._register_clicks()
        publish_state(self.drill_figure)
        self._write_panels(parts)
