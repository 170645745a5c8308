"""Plotly figure parts and HTML snippets of the explorer (pure functions, no widgets).

Every builder returns plain plotly trace objects and a layout dict (or an HTML string); the
app puts them into its :class:`plotly.graph_objects.FigureWidget` objects. Building and
showing are kept apart so tests can check what a figure holds without a browser.

Names are data: node and module names may hold ``:``, spaces, unicode or HTML such as
``<img src=x onerror=alert(1)>``. Plotly renders a subset of HTML in hover text, labels and
legend entries, so every name goes through :func:`escape` before it reaches a figure or an
HTML widget. Layouts are computed on integer node indices (:func:`graph_positions`), never on
the names themselves.
"""

from __future__ import annotations

import html
import itertools
import math
import traceback
from collections.abc import Hashable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from ..graph import CommunicationGraph
from .comparing import ORTHONORMAL_FAMILIES
from .controller import ESTIMATOR_LABELS, InputSource, ObjectDetail

__all__ = [
    "DETAIL_LAYOUT",
    "ERROR_LAYOUT",
    "GRAPH_LAYOUT",
    "IMAGE_LAYOUT",
    "NOT_ORTHONORMAL_NOTE",
    "counts_html",
    "detail_html",
    "detail_parts",
    "error_html",
    "error_parts",
    "escape",
    "graph_layout",
    "graph_positions",
    "graph_traces",
    "image_parts",
    "module_colours",
    "selection_trace",
    "status_html",
]

_PALETTE = qualitative.Plotly + qualitative.D3 + qualitative.Set2
_EDGE_BINS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
_LABELLED_LAYER = 10  # label nodes on screen only in layers with at most this many nodes

#: Base layouts, passed to the FigureWidget constructors (Voila loses later relayouts).
GRAPH_LAYOUT = dict(
    width=760,
    height=440,
    margin=dict(l=10, r=10, t=70, b=10),
    hovermode="closest",
    clickmode="event",
    xaxis=dict(visible=False),
    yaxis=dict(visible=False),
    legend=dict(title=dict(text="module"), itemsizing="constant"),
    plot_bgcolor="white",
)
IMAGE_LAYOUT = dict(
    width=280,
    height=300,
    margin=dict(l=10, r=10, t=50, b=10),
    xaxis=dict(visible=False, range=[-0.5, 7.5]),
    yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
)
DETAIL_LAYOUT = dict(
    width=620,
    height=340,
    margin=dict(l=50, r=10, t=50, b=60),
    barmode="group",
    legend=dict(orientation="h", y=-0.25),
    yaxis=dict(title=dict(text="attribute value"), zeroline=True),
)
ERROR_LAYOUT = dict(
    width=620,
    height=420,
    margin=dict(l=60, r=10, t=50, b=50),
    hovermode="closest",
    clickmode="event",
    xaxis=dict(type="log", title=dict(text="effective weight w_θ")),
    yaxis=dict(type="log", title=dict(text="ℓ∞ error of recovered attributes")),
)


def escape(name: object) -> str:
    """Text of a name, safe to put into plotly text and HTML widgets.

    Examples
    --------
    >>> escape("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    """
    return html.escape(str(name), quote=True)


def _colour(k: int) -> str:
    return _PALETTE[k % len(_PALETTE)]


def module_colours(graph: CommunicationGraph) -> dict[str, str]:
    """Colour of each module, in the order of :attr:`CommunicationGraph.modules`."""
    return {m: _colour(k) for k, m in enumerate(graph.modules)}


# ---------------------------------------------------------------------------- the graph
def graph_positions(graph: CommunicationGraph) -> dict[Hashable, tuple[float, float]]:
    """Layered layout: one row per depth, the output at the top.

    Built with :func:`networkx.multipartite_layout` on integer indices (0 is the output,
    ``k + 1`` is ``graph.objects[k]``), so node names never reach networkx's layout code.
    Within a row, objects keep the graph's canonical order (by input position).
    """
    names = (graph.output, *graph.objects)
    H = nx.DiGraph()
    H.add_node(0, layer=1)
    for k, name in enumerate(graph.objects, start=1):
        H.add_node(k, layer=graph.depth(name))
    pos = nx.multipartite_layout(H, subset_key="layer", align="horizontal")
    return {names[k]: (float(x), -float(y)) for k, (x, y) in pos.items()}


def _hover(graph: CommunicationGraph, name: Hashable) -> str:
    w = graph.effective_weight(name)
    paths = "; ".join(f"{tuple(p)} (w {pw:.3g})" for p, pw in graph.paths(name)[:4])
    more = f" and {len(graph.paths(name)) - 4} more" if len(graph.paths(name)) > 4 else ""
    return (
        f"<b>{escape(name)}</b><br>module: {escape(graph.module(name))}"
        f"<br>depth h = {graph.depth(name)}<br>effective weight w = {w:.4g}"
        f"<br>input positions from the output: {escape(paths)}{more}"
        "<br><i>click for the recovered attributes</i>"
    )


def _node_size(w: float) -> float:
    """Marker diameter in px; area grows like the effective weight."""
    return 8.0 + 30.0 * math.sqrt(max(w, 0.0))


def graph_traces(
    graph: CommunicationGraph, positions: Mapping[Hashable, tuple[float, float]]
) -> list[go.Scatter]:
    """Traces of the graph figure: edges by weight, nodes per module, the output.

    Returns
    -------
    list of go.Scatter
        Edge traces (one per weight class, line width growing with the input weight), one
        trace of invisible edge midpoints carrying the edge hover text, one node trace per
        module (``customdata`` holds the row of each object in ``graph.objects``; marker size
        grows with the effective weight), the output node, and last the selection ring
        (:func:`selection_trace`, empty here).
    """
    traces: list[go.Scatter] = []

    # edges: one trace per weight class (a trace has a single line width)
    edges = [
        (child, parent, pos, w)
        for parent in (graph.output, *graph.objects)
        for pos, (child, w) in enumerate(graph.inputs(parent), start=1)
    ]
    for lo, hi in itertools.pairwise(_EDGE_BINS):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for child, parent, _pos, w in edges:
            if lo <= w < hi or (hi == 1.0 and w == 1.0):
                (x0, y0), (x1, y1) = positions[child], positions[parent]
                xs += [x0, x1, None]
                ys += [y0, y1, None]
        traces.append(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"input weight {lo:g}–{hi:g}",
                line=dict(width=0.8 + 7.0 * hi, color=f"rgba(90,90,90,{0.25 + 0.5 * hi:.2f})"),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    mid_x = [(positions[c][0] + positions[p][0]) / 2 for c, p, _i, _w in edges]
    mid_y = [(positions[c][1] + positions[p][1]) / 2 for c, p, _i, _w in edges]
    mid_text = [
        f"{escape(c)} → {escape(p)}<br>input position {i}, weight {w:.4g}"
        for c, p, i, w in edges
    ]
    traces.append(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            name="edges",
            marker=dict(size=10, color="rgba(0,0,0,0)"),
            hovertext=mid_text,
            hoverinfo="text",
            showlegend=False,
        )
    )

    # nodes: one trace per module, so the legend names the modules
    layer_size: dict[int, int] = {}
    for name in graph.objects:
        layer_size[graph.depth(name)] = layer_size.get(graph.depth(name), 0) + 1
    colours = module_colours(graph)
    for module in graph.modules:
        rows = [r for r, n in enumerate(graph.objects) if graph.module(n) == module]
        names = [graph.objects[r] for r in rows]
        labelled = [layer_size[graph.depth(n)] <= _LABELLED_LAYER for n in names]
        traces.append(
            go.Scatter(
                x=[positions[n][0] for n in names],
                y=[positions[n][1] for n in names],
                mode="markers+text",
                name=escape(module),
                customdata=rows,
                text=[escape(n) if show else "" for n, show in zip(names, labelled)],
                textposition="bottom center",
                textfont=dict(size=10),
                hovertext=[_hover(graph, n) for n in names],
                hoverinfo="text",
                marker=dict(
                    size=[_node_size(graph.effective_weight(n)) for n in names],
                    color=colours[module],
                    line=dict(width=1, color="white"),
                ),
            )
        )
    x, y = positions[graph.output]
    traces.append(
        go.Scatter(
            x=[x],
            y=[y],
            mode="markers+text",
            name=f"{escape(graph.output_module)} (sink)",
            text=[escape(graph.output)],
            textposition="top center",
            hovertext=[
                f"<b>{escape(graph.output)}</b><br>output pseudo-object (depth 1); the overall "
                "sketch is the tuple of its inputs"
            ],
            hoverinfo="text",
            marker=dict(size=18, symbol="diamond", color="black"),
        )
    )
    traces.append(selection_trace(None))
    return traces


def selection_trace(xy: tuple[float, float] | None) -> go.Scatter:
    """A ring around the selected node (no point when ``xy`` is None)."""
    return go.Scatter(
        x=[] if xy is None else [xy[0]],
        y=[] if xy is None else [xy[1]],
        mode="markers",
        name="selected",
        marker=dict(size=44, symbol="circle-open", color="crimson", line=dict(width=3)),
        hoverinfo="skip",
        showlegend=False,
    )


def graph_layout(source: InputSource) -> dict:
    """Layout of the graph figure for ``source`` (title only; the rest is GRAPH_LAYOUT)."""
    g = source.graph
    return dict(
        title=dict(
            text=f"{escape(source.label)}<br><sup>{len(g)} objects, {len(g.modules)} modules, "
            f"depth {g.max_depth}; node size ∝ √(effective weight), edge width ∝ weight"
            "</sup>",
            font=dict(size=13),
        )
    )


# ---------------------------------------------------------------------------- the digit image
def image_parts(
    image: np.ndarray | None, patch: tuple[int, int, int] | None, title: str
) -> tuple[list[go.Heatmap], dict]:
    """Heatmap of an 8x8 digit image, with the selected stroke's patch outlined.

    Parameters
    ----------
    image : (8, 8) ndarray or None
        Pixel values 0..16; None draws an empty image.
    patch : (top, left, size) or None
    title : str
        Plain text (escaped here).
    """
    z = np.zeros((8, 8)) if image is None else np.asarray(image, dtype=float)
    heat = go.Heatmap(
        z=z.tolist(),
        colorscale="Greys",
        zmin=0,
        zmax=16,
        showscale=False,
        hovertemplate="row %{y}, column %{x}: %{z:.0f}<extra></extra>",
    )
    shapes = []
    if patch is not None:
        top, left, size = patch
        shapes.append(
            dict(
                type="rect",
                x0=left - 0.5,
                x1=left + size - 0.5,
                y0=top - 0.5,
                y1=top + size - 0.5,
                line=dict(color="crimson", width=3),
            )
        )
    layout = dict(title=dict(text=escape(title), font=dict(size=12)), shapes=shapes)
    return [heat], layout


# ---------------------------------------------------------------------------- one object
def detail_parts(detail: ObjectDetail, is_digit_object: bool = False) -> tuple[list, dict]:
    """Bar chart of true against recovered attributes (and the estimator's target).

    The recovered bars carry error bars of one predicted noise scale (``error_scale``).
    """
    labels = list(detail.labels)
    est = detail.estimate
    bars = [
        go.Bar(x=labels, y=detail.true.tolist(), name="true x_θ", marker_color="#4C78A8"),
        go.Bar(
            x=labels,
            y=np.asarray(est.value, dtype=float).tolist(),
            name="recovered x̂",
            marker_color="#F58518",
            error_y=dict(type="constant", value=est.error_scale, visible=True),
        ),
    ]
    if detail.expected_differs:
        bars.append(
            go.Bar(
                x=labels,
                y=detail.expected.tolist(),
                name="estimator's target E[x̂]",
                marker_color="#BAB0AC",
            )
        )
    x_title = (
        "class c (entry ∝ probability of class c; x = p/‖p‖₂)"
        if is_digit_object
        else "attribute entry"
    )
    layout = dict(
        title=dict(
            text=f"{escape(detail.name)}: ℓ∞ error {detail.linf_error:.3g} "
            f"(predicted noise {detail.estimate.predicted_linf:.3g})",
            font=dict(size=13),
        ),
        xaxis=dict(title=dict(text=x_title), type="category"),
    )
    return bars, layout


def _fmt_paths(paths: Sequence[tuple[tuple[int, ...], float]], limit: int = 4) -> str:
    shown = "; ".join(f"{tuple(p)} with weight {w:.4g}" for p, w in paths[:limit])
    more = f"; and {len(paths) - limit} more" if len(paths) > limit else ""
    return shown + more


#: Said wherever a predicted noise is shown for a family that is not orthonormal.
NOT_ORTHONORMAL_NOTE = (
    "the predicted line assumes orthonormal matrices (haar, fast); block/gaussian matrices are "
    "noisier, so measured errors sit above it"
)


def detail_html(
    detail: ObjectDetail, probabilities: tuple | None = None, family: str | None = None
) -> str:
    """Text of the detail panel: module, depth, weight, path and errors, names escaped.

    Parameters
    ----------
    detail : ObjectDetail
    probabilities : (true_p, recovered_p) or None
        Class probabilities of a digit object; recovered may be None when the estimate has no
        positive entry.
    family : str, optional
        The matrix family; a family that is not orthonormal gets
        :data:`NOT_ORTHONORMAL_NOTE` under the predicted noise.
    """
    est = detail.estimate
    h = detail.depth
    rows = [
        ("object", escape(detail.name)),
        ("module", escape(detail.module)),
        ("depth h", str(h)),
        ("effective weight w", f"{detail.effective_weight:.4g}"),
        ("path (input positions from the output)", escape(_fmt_paths(detail.paths))),
        ("estimator", escape(ESTIMATOR_LABELS[detail.estimator])),
    ]
    if detail.path is not None:
        rows.append(("path read", escape(str(tuple(detail.path)))))
    rows += [
        ("c(h) = 2^-(4(h-1)+1)", f"{detail.depth_coefficient:.4g}"),
        ("divided by", f"{est.coefficient:.4g}"),
        ("ℓ∞ error against the truth", f"<b>{detail.linf_error:.4g}</b>"),
        ("ℓ∞ error against the estimator's target", f"{detail.linf_noise:.4g}"),
        ("predicted ℓ∞ noise", f"{est.predicted_linf:.4g}"),
    ]
    if family is not None and family not in ORTHONORMAL_FAMILIES:
        rows.append(("⚠ prediction", f"<span style='color:#b00020'>{NOT_ORTHONORMAL_NOTE}"
                                     "</span>"))
    if probabilities is not None:
        p_true, p_hat = probabilities
        c = int(np.argmax(p_true))
        rows.append(("true class probabilities", f"argmax {c}, P = {p_true[c]:.3f}"))
        if p_hat is None:
            rows.append(("recovered probabilities", "no positive entry: cannot normalise"))
        else:
            c_hat = int(np.argmax(p_hat))
            rows.append(("recovered probabilities", f"argmax {c_hat}, P̂ = {p_hat[c_hat]:.3f}"))
    body = "".join(
        f"<tr><td style='padding-right:12px;color:#555'>{k}</td><td>{v}</td></tr>" for k, v in rows
    )
    note = (
        f"<p style='max-width:330px;color:#7a4a00'>{escape(detail.note)}</p>"
        if (detail.note)
        else ""
    )
    return f"<table style='font-size:13px'>{body}</table>{note}"


# ---------------------------------------------------------------------------- all objects
def error_parts(
    table: pd.DataFrame, estimator: str, d_used: int, prefix: int, family: str | None = None
) -> tuple:
    """Log-log plot of recovery error against effective weight, with the predicted lines.

    Parameters
    ----------
    table : pandas.DataFrame
        :meth:`GraphDecoder.object_table` (columns object, module, depth, effective_weight,
        linf_error, linf_noise, predicted_linf).
    estimator : str
    d_used, prefix : int
        For the title.
    family : str, optional
        The matrix family; one that is not orthonormal gets :data:`NOT_ORTHONORMAL_NOTE` in
        the subtitle and in the predicted lines' legend entries.

    Returns
    -------
    traces, layout
        Per depth h: the measured error against the truth (markers; ``customdata`` is the
        object's row in the table, which is the graph's canonical order) and the predicted
        line ``K_h / w`` with ``K_h`` the median of ``predicted_linf * w`` over the depth's
        objects (Theorem 1: the error scales like ``1 / (c(h) w)``; objects of one depth
        share c(h) and differ in w and in the attribute length only). One more trace shows
        the error against the estimator's target (open circles), what the line predicts.
    """
    traces = []
    noisier = family is not None and family not in ORTHONORMAL_FAMILIES
    caveat = " (assumes orthonormal matrices)" if noisier else ""
    w_all = table["effective_weight"].to_numpy(dtype=float)
    lo, hi = float(w_all.min()) / 1.5, min(1.0, float(w_all.max()) * 1.5)
    for k, (h, rows) in enumerate(table.groupby("depth", sort=True)):
        colour = _colour(k)
        w = rows["effective_weight"].to_numpy(dtype=float)
        hover = [
            f"<b>{escape(r.object)}</b><br>module {escape(r.module)}, depth {h}"
            f"<br>w = {r.effective_weight:.4g}<br>ℓ∞ error {r.linf_error:.4g}"
            f"<br>predicted noise {r.predicted_linf:.4g}"
            for r in rows.itertuples()
        ]
        traces.append(
            go.Scatter(
                x=w.tolist(),
                y=rows["linf_error"].tolist(),
                mode="markers",
                name=f"depth {h}: error vs truth",
                customdata=rows.index.tolist(),
                hovertext=hover,
                hoverinfo="text",
                marker=dict(size=9, color=colour),
            )
        )
        K = float(np.median(rows["predicted_linf"].to_numpy(dtype=float) * w))
        traces.append(
            go.Scatter(
                x=[lo, hi],
                y=[K / lo, K / hi],
                mode="lines",
                name=f"depth {h}: predicted ∝ 1/(c({h}) w)" + caveat,
                line=dict(color=colour, dash="dash"),
                hoverinfo="name",
            )
        )
    traces.append(
        go.Scatter(
            x=w_all.tolist(),
            y=table["linf_noise"].tolist(),
            mode="markers",
            name="error vs estimator's target",
            marker=dict(size=11, symbol="circle-open", color="#555"),
            hoverinfo="skip",
        )
    )
    if prefix == d_used:
        kept = "all coordinates kept"
    elif prefix == 1:
        kept = "first coordinate kept"
    else:
        kept = f"first {prefix} coordinates kept"
    warning = f"<br><sup style='color:#b00020'>⚠ {NOT_ORTHONORMAL_NOTE}</sup>" if noisier else ""
    layout = dict(
        title=dict(
            text=f"Recovery error, {escape(ESTIMATOR_LABELS[estimator])}<br><sup>d = {d_used}, "
            f"{kept}</sup>{warning}",
            font=dict(size=13),
        ),
        margin=dict(l=60, r=10, t=80 if noisier else 50, b=50),  # room for the warning
    )
    return traces, layout


def counts_html(counts: pd.DataFrame) -> str:
    """Table of true against estimated object counts per module (Theorem 3(i))."""
    head = (
        "<tr><th style='text-align:left'>module</th><th>depth</th><th>true</th>"
        "<th>estimated</th><th>± noise</th></tr>"
    )
    # long module names are cut with an ellipsis (full name on hover), so they never squeeze
    # the number columns; both estimates use one format
    name = ("max-width:150px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap")
    number = "text-align:right;white-space:nowrap"
    body = "".join(
        f"<tr><td style='{name}' title='{escape(r.module)}'>{escape(r.module)}</td>"
        f"<td style='{number}'>{r.depth}</td>"
        f"<td style='{number}'>{r.true_count}</td>"
        f"<td style='{number}'>{r.estimated_count:.2f}</td>"
        f"<td style='{number};color:#777'>± {r.error_scale:.2f}</td></tr>"
        for r in counts.itertuples()
    )
    return (
        "<b>Objects per module</b><br><span style='font-size:12px;color:#555'>estimated = "
        "⟨R<sub>M,2</sub> e<sub>1</sub>, s⟩ / (c(h) w̄), w̄ the mean effective weight of "
        "the "
        "module's objects</span>"
        f"<table style='font-size:13px;border-spacing:8px 2px;table-layout:auto'>{head}{body}"
        "</table>"
    )


# ---------------------------------------------------------------------------- messages
def status_html(lines: Sequence[str], warnings: Sequence[str] = ()) -> str:
    """Status line(s) and warnings, each escaped."""
    text = " · ".join(escape(s) for s in lines)
    warn = "".join(f"<div style='color:#9a5b00'>⚠ {escape(w)}</div>" for w in warnings)
    return f"<div style='font-size:13px'>{text}{warn}</div>"


def error_html(action: str, exc: BaseException) -> str:
    """An exception as the explorer shows it: message first, traceback folded away."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (
        "<div style='border:1px solid #c33;background:#fff1f0;padding:6px;font-size:13px'>"
        f"<b>Error while {escape(action)}:</b> {escape(type(exc).__name__)}: "
        f"{escape(exc)}<details><summary>traceback</summary>"
        f"<pre style='font-size:11px;white-space:pre-wrap'>{escape(tb)}</pre></details></div>"
    )
