"""The repository as a knowledge graph (the paper's section 1.1; Theorem 2).

By the sketch-to-sketch similarity property, stored sketches that share modules and similar
objects are close. :func:`knn_graph` links each stored sketch to its k nearest others (cosine
or inner product, through any index of :mod:`.index`) as a networkx graph;
:func:`draw_knowledge_graph` draws it with plotly; :class:`KnowledgeExplorer` is a widget in
which clicking a stored sketch shows its neighbours and, where it was stored, its
communication graph.

Guarantees: node names are the repository's integer ids (safe for every networkx layout);
the widget's click handler writes into widget state (an HTML table, a figure, a status line),
never to stdout, and shows its own errors in the status line.

Not guaranteed: layouts of large graphs (thousands of nodes) take seconds; draw a sample.
"""

from __future__ import annotations

import html
import logging
import traceback

import networkx as nx
import plotly.graph_objects as go

from .index import ExactIndex, SketchIndex

__all__ = ["knn_graph", "draw_knowledge_graph", "draw_communication_graph", "KnowledgeExplorer"]

logger = logging.getLogger(__name__)

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def knn_graph(repo, k: int = 5, metric: str = "cosine", index: SketchIndex | None = None,
              ids=None) -> nx.Graph:
    """The k-nearest-neighbour graph of stored overall sketches.

    Parameters
    ----------
    repo : SketchRepository
    k : int, default=5
    metric : {"cosine", "ip"}, default="cosine"
    index : SketchIndex, optional
        Used for the search (default an exact numpy index over ``ids``).
    ids : sequence of int, optional
        Which sketches (default all).

    Returns
    -------
    networkx.Graph
        Nodes: ids, with ``input_id``, ``label`` and ``time``. Edges: ``i -- j`` when j is
        among the k nearest of i or i among those of j; ``weight`` is the score.
    """
    ids_all, V, kept = repo.matrix(ids)
    if index is None:
        index = ExactIndex(metric, backend="numpy").fit(V, kept, ids_all)
    scores, nbrs = index.search(V, k + 1, kept)
    table = repo.table().loc[ids_all]
    G = nx.Graph()
    for i, row in table.iterrows():
        G.add_node(int(i), input_id=row["input_id"], label=row["label"], time=row["time"])
    for i, srow, nrow in zip(ids_all, scores, nbrs):
        for s, j in zip(srow, nrow):
            if j < 0 or j == i or j not in G:
                continue
            if G.has_edge(int(i), int(j)):
                G.edges[int(i), int(j)]["weight"] = max(G.edges[int(i), int(j)]["weight"], s)
            else:
                G.add_edge(int(i), int(j), weight=float(s))
    return G


def _colours(values) -> list[str]:
    cats = sorted({str(v) for v in values})
    lookup = {c: _PALETTE[r % len(_PALETTE)] for r, c in enumerate(cats)}
    return [lookup[str(v)] for v in values]


def draw_knowledge_graph(G: nx.Graph, color_by: str = "label", seed: int = 0,
                         widget: bool = False, title: str | None = None):
    """Draw a knowledge graph: a spring layout (seeded), edges grey, nodes coloured.

    Parameters
    ----------
    G : networkx.Graph
        From :func:`knn_graph`.
    color_by : str, default="label"
        Node attribute giving the colour (categorical).
    seed : int, default=0
        Seed of the layout.
    widget : bool, default=False
        Return a ``plotly.graph_objects.FigureWidget`` (clickable) instead of a Figure.

    Returns
    -------
    plotly Figure or FigureWidget
        Trace 0: edges; trace 1: nodes, ``customdata`` the ids.
    """
    nodes = list(G.nodes)
    pos = nx.spring_layout(G, seed=seed) if nodes else {}
    ex, ey = [], []
    for u, v in G.edges:
        ex += [pos[u][0], pos[v][0], None]
        ey += [pos[u][1], pos[v][1], None]
    values = [G.nodes[n].get(color_by) for n in nodes]
    text = [f"id {n}<br>input {G.nodes[n].get('input_id')}<br>{color_by}: {v}"
            for n, v in zip(nodes, values)]
    cls = go.FigureWidget if widget else go.Figure
    fig = cls(
        data=[
            go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#cccccc", width=0.6),
                       hoverinfo="skip", name="neighbours"),
            go.Scatter(x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes],
                       mode="markers", marker=dict(size=7, color=_colours(values),
                                                   line=dict(width=0.5, color="white")),
                       customdata=nodes, text=text, hoverinfo="text", name="sketches"),
        ],
        layout=go.Layout(title=title or f"k-NN graph of {len(nodes)} sketches",
                         showlegend=False, height=450, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis=dict(visible=False), yaxis=dict(visible=False)),
    )
    return fig


def draw_communication_graph(graph, fig=None):
    """Draw a communication graph by depth (output at the top), into ``fig`` if given."""
    depth = {graph.output: 1, **{n: graph.depth(n) for n in graph.objects}}
    layers: dict[int, list] = {}
    for n in (graph.output, *graph.objects):
        layers.setdefault(depth[n], []).append(n)
    pos = {}
    for h, names in layers.items():
        for r, n in enumerate(names):
            pos[n] = ((r + 1) / (len(names) + 1), -h)
    ex, ey = [], []
    for n in graph.objects:
        for parent, _p, _w in graph.parents(n):
            ex += [pos[n][0], pos[parent][0], None]
            ey += [pos[n][1], pos[parent][1], None]
    names = list(pos)
    labels = [str(n) for n in names]
    data = [
        go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#999999", width=1),
                   hoverinfo="skip"),
        go.Scatter(x=[pos[n][0] for n in names], y=[pos[n][1] for n in names],
                   mode="markers+text", text=labels, textposition="top center",
                   marker=dict(size=9, color="#1f77b4"), hoverinfo="text"),
    ]
    if fig is None:
        fig = go.Figure(data=data)
    else:
        with fig.batch_update():
            for trace, new in zip(fig.data, data):
                trace.x, trace.y = new.x, new.y
                trace.mode, trace.text = new.mode, new.text
    fig.update_layout(showlegend=False, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      height=300, margin=dict(l=10, r=10, t=30, b=10))
    return fig


class KnowledgeExplorer:
    """A clickable knowledge graph: neighbours and communication graph of the chosen sketch.

    Parameters
    ----------
    repo : SketchRepository
    G : networkx.Graph, optional
        Default :func:`knn_graph` of the whole repository.
    k : int, default=5
        Neighbours listed for a selected sketch.
    metric : {"cosine", "ip"}, default="cosine"
    color_by : str, default="label"

    Attributes
    ----------
    figure : plotly.graph_objects.FigureWidget
        The knowledge graph; clicking a node calls :meth:`select`.
    neighbours : ipywidgets.HTML
        Table of the selected sketch's neighbours.
    graph_figure : plotly.graph_objects.FigureWidget
        Its communication graph, when stored (empty otherwise).
    status : ipywidgets.HTML
        What was selected, or the error a click raised.
    widget : ipywidgets.VBox
        Everything, for display.

    Examples
    --------
    >>> ex = KnowledgeExplorer(repo)             # doctest: +SKIP
    >>> ex.widget                                # doctest: +SKIP
    >>> ex.select(12)                            # what a click on sketch 12 does
    """

    def __init__(self, repo, G: nx.Graph | None = None, k: int = 5, metric: str = "cosine",
                 color_by: str = "label") -> None:
        import ipywidgets as widgets

        self.repo = repo
        self.k = int(k)
        self.metric = metric
        self.G = knn_graph(repo, k, metric) if G is None else G
        self.figure = draw_knowledge_graph(self.G, color_by, widget=True)
        self.graph_figure = go.FigureWidget(
            data=[go.Scatter(x=[], y=[], mode="lines"), go.Scatter(x=[], y=[], mode="markers")]
        )
        self.graph_figure.update_layout(height=300, title="communication graph",
                                        showlegend=False)
        self.neighbours = widgets.HTML("<i>click a sketch</i>")
        self.status = widgets.HTML("")
        self.selected: int | None = None
        self.figure.data[1].on_click(self._on_click)
        self.widget = widgets.VBox([
            self.figure,
            widgets.HBox([self.neighbours, self.graph_figure]),
            self.status,
        ])

    def _on_click(self, trace, points, _state) -> None:
        try:
            if points.point_inds:
                self.select(int(trace.customdata[points.point_inds[0]]))
        except Exception as exc:  # noqa: BLE001 - a callback's error must be seen, not lost
            logger.debug("knowledge explorer click failed", exc_info=True)
            self.status.value = (
                f"<span style='color:#b00'>error: {html.escape(str(exc))}</span><pre>"
                f"{html.escape(traceback.format_exc(limit=2))}</pre>"
            )

    def select(self, sketch_id: int) -> None:
        """Show ``sketch_id``'s neighbours and its communication graph (if stored)."""
        table = self.repo.nearest(int(sketch_id), k=self.k, metric=self.metric, touch=False)
        cols = [c for c in ("rank", "id", "score", "input_id", "label", "time") if c in table]
        shown = table[cols].copy()
        shown["score"] = shown["score"].round(4)
        self.neighbours.value = shown.to_html(index=False, border=0)
        stored = self.repo.get(int(sketch_id))
        graph = self.repo.graph(stored.input_id)
        with self.graph_figure.batch_update():
            if graph is None:
                self.graph_figure.data[0].x, self.graph_figure.data[0].y = [], []
                self.graph_figure.data[1].x, self.graph_figure.data[1].y = [], []
                self.graph_figure.layout.title = "communication graph not stored"
            else:
                draw_communication_graph(graph, self.graph_figure)
                self.graph_figure.layout.title = f"communication graph of {stored.input_id}"
        self.selected = int(sketch_id)
        self.status.value = (f"selected sketch {sketch_id} (input {html.escape(stored.input_id)}"
                             f", label {html.escape(str(stored.label))})")

