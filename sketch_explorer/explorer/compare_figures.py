"""Figure parts and HTML of the comparison panel and the graph editor (pure, no widgets).

Like :mod:`.figures`, every builder returns plotly traces with a layout dict, or an HTML
string, and every name goes through :func:`~.figures.escape` before it reaches either.

The drill-down figure holds two heatmaps side by side, the estimated cosines (left) and the
true ones (right), with the same rows (children of input A) and columns (children of input B).
Over each heatmap lie two scatter traces: open squares on the pairs whose objects come from one
module (the truth about which objects match), and one transparent square marker per cell that
carries the cell's hover text and its ``customdata`` ``[i, j]``: clicking a cell is clicking
that marker, which plotly reports reliably (a heatmap reports its cells as index pairs).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..compare import DrillLevel
from ..graph import CommunicationGraph
from .editing import WEIGHT_RULE, GraphDraft
from .figures import escape

__all__ = [
    "CELL_TRACE",
    "COMPARE_GRAPH_LAYOUT",
    "DRILL_LAYOUT",
    "SAME_MODULE_TRACE",
    "drill_html",
    "drill_parts",
    "editor_status_html",
    "module_table_html",
    "similarity_html",
]

#: Name of the clickable cell traces of the drill-down figure.
CELL_TRACE = "cell (click to descend)"
#: Name of the traces that mark same-module pairs.
SAME_MODULE_TRACE = "same module (truth)"

COMPARE_GRAPH_LAYOUT = dict(
    width=470,
    height=340,
    margin=dict(l=10, r=10, t=60, b=10),
    hovermode="closest",
    xaxis=dict(visible=False),
    yaxis=dict(visible=False),
    showlegend=False,
    plot_bgcolor="white",
)
DRILL_LAYOUT = dict(
    width=1000,
    height=520,
    margin=dict(l=150, r=90, t=80, b=120),
    hovermode="closest",
    clickmode="event",
    showlegend=False,
    plot_bgcolor="white",
)
_LABEL_CHARS = 22
_CELL_TEXT_LIMIT = 144  # write the cosine into cells up to this many cells


def _short(name: Hashable, limit: int = _LABEL_CHARS) -> str:
    """A name cut to ``limit`` characters, then escaped (never cut inside an entity)."""
    text = str(name)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _num(value, fmt: str = ".3g", missing: str = "—") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return missing
    return format(value, fmt)


# ---------------------------------------------------------------------------- similarity
def similarity_html(sim: dict, d: int, family: str, seed: int) -> str:
    """Measured against predicted similarity of the two overall sketches (Theorem 2).

    Parameters
    ----------
    sim : dict
        :meth:`SketchComparison.similarity` (dot, cosine, predicted_dot, predicted_cosine).
    d, family, seed
        The bank, for the caption.
    """
    rows = [
        ("inner product ⟨s<sub>A</sub>, s<sub>B</sub>⟩", sim["dot"], sim["predicted_dot"]),
        ("cosine", sim["cosine"], sim["predicted_cosine"]),
    ]
    body = "".join(
        f"<tr><td style='padding-right:12px'>{label}</td>"
        f"<td style='text-align:right'><b>{measured:.4g}</b></td>"
        f"<td style='text-align:right;color:#555'>{predicted:.4g}</td></tr>"
        for label, measured, predicted in rows
    )
    return (
        "<b>Similarity of the two sketches</b>"
        "<table style='font-size:13px;border-spacing:10px 2px'><tr><th></th>"
        "<th>measured</th><th>predicted</th></tr>"
        f"{body}</table><span style='font-size:12px;color:#555'>measured on the sketches "
        f"(d = {d}, {escape(family)}, seed {seed}); predicted from the two graphs alone, as "
        "the expected value over the random matrices (word expansion of SPEC section 4)"
        "</span>"
    )


def module_table_html(table: pd.DataFrame) -> str:
    """Module by module: who holds it, counts read from each sketch, attribute agreement.

    Parameters
    ----------
    table : pandas.DataFrame
        :meth:`SketchComparison.module_table`.
    """
    head = (
        "<tr><th style='text-align:left'>module</th><th>depth</th><th>held by</th>"
        "<th>true<br>count A</th><th>estimated<br>count A</th>"
        "<th>true<br>count B</th><th>estimated<br>count B</th>"
        "<th>attribute cosine<br>estimated (true)</th><th>readable</th>"
        "<th>predicted share<br>of ⟨s<sub>A</sub>, s<sub>B</sub>⟩</th></tr>"
    )
    right = "style='text-align:right'"
    body = []
    for r in table.itertuples():
        held = {(True, True): "A and B", (True, False): "A only", (False, True): "B only"}[
            (r.true_count_a > 0, r.true_count_b > 0)
        ]

        def estimated(true, est, err):
            return "—" if not true else f"{_num(est, '.2f')} ± {_num(err, '.2g')}"

        cosine = (
            "—"
            if r.attribute_cosine is None or pd.isna(r.attribute_cosine)
            else f"{r.attribute_cosine:.3f} ({r.true_attribute_cosine:.3f})"
        )
        readable = "yes" if r.readable else ("no" if held == "A and B" else "—")
        style = "" if held == "A and B" else " style='color:#888'"
        body.append(
            f"<tr{style}><td>{escape(r.module)}</td><td {right}>{r.depth}</td>"
            f"<td>{held}</td><td {right}>{r.true_count_a}</td>"
            f"<td {right}>{estimated(r.true_count_a, r.estimated_count_a, r.count_error_a)}</td>"
            f"<td {right}>{r.true_count_b}</td>"
            f"<td {right}>{estimated(r.true_count_b, r.estimated_count_b, r.count_error_b)}</td>"
            f"<td {right}>{cosine}</td><td>{readable}</td>"
            f"<td {right}>{r.predicted_share:.4g}</td></tr>"
        )
    return (
        "<b>Module by module</b><br><span style='font-size:12px;color:#555'>counts: "
        "⟨R<sub>M,2</sub> e<sub>1</sub>, s⟩ / (c(h) w̄) from each sketch (Theorem 3); "
        "attribute cosine: of the module-known estimates R<sub>M,1</sub><sup>T</sup> s "
        "(Theorem 1), beside the cosine of the true weighted sums; readable: both estimates "
        "stand two predicted noise norms above zero (otherwise the cosine compares noise); "
        "predicted share: the module's part of the predicted inner product</span>"
        f"<table style='font-size:13px;border-spacing:8px 2px'>{head}{''.join(body)}</table>"
    )


# ---------------------------------------------------------------------------- drill-down
def drill_parts(
    level: DrillLevel,
    graph_a: CommunicationGraph,
    graph_b: CommunicationGraph,
) -> tuple[list, dict]:
    """The drill-down figure: estimated and true cosine matrices, same-module marks, cells.

    Parameters
    ----------
    level : DrillLevel
        Rows are ``level.children_a`` (input A), columns ``level.children_b`` (input B).
    graph_a, graph_b : CommunicationGraph
        For modules and whether a child has inputs (can be descended into).

    Returns
    -------
    traces, layout
        Traces in this order: the estimated heatmap, its same-module marks, its cells; the
        true heatmap, its same-module marks, its cells. Each cell trace has name
        :data:`CELL_TRACE` and ``customdata`` ``[i, j]`` (row, column; 0-based).
    """
    ka, kb = len(level.children_a), len(level.children_b)
    ii, jj = np.meshgrid(np.arange(ka), np.arange(kb), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    leaf_a = [not graph_a.inputs(c) for c in level.children_a]
    leaf_b = [not graph_b.inputs(c) for c in level.children_b]
    hover = []
    for i, j in zip(ii, jj):
        ca, cb = level.children_a[i], level.children_b[j]
        lines = [
            f"A {i + 1}. <b>{_short(ca, 40)}</b>: module {escape(graph_a.module(ca))}, "
            f"read as {escape(level.identified_a[i])}",
            f"B {j + 1}. <b>{_short(cb, 40)}</b>: module {escape(graph_b.module(cb))}, "
            f"read as {escape(level.identified_b[j])}",
            f"estimated cosine {level.estimated[i, j]:.3f} · true cosine "
            f"{level.true[i, j]:.3f}",
            "same module: " + ("yes" if level.same_module[i, j] else "no"),
        ]
        if i == j:
            lines.append("same position: equals the parent cosine (R<sub>i</sub><sup>T</sup> "
                         "is an isometry)")
        if leaf_a[i] or leaf_b[j]:
            lines.append("<i>a leaf: nothing below to drill into</i>")
        else:
            lines.append("<i>click to descend into this pair</i>")
        hover.append("<br>".join(lines))

    size = float(np.clip(300.0 / max(ka, kb), 5.0, 40.0))
    same_i, same_j = np.nonzero(level.same_module)
    text_ok = ka * kb <= _CELL_TEXT_LIMIT
    traces: list = []
    for axes, z, side in ((("x", "y"), level.estimated, "estimated"),
                          (("x2", "y2"), level.true, "true")):
        xa, ya = axes
        traces.append(
            go.Heatmap(
                z=np.asarray(z, dtype=float).tolist(),
                x=list(range(kb)),
                y=list(range(ka)),
                xaxis=xa,
                yaxis=ya,
                zmin=-1,
                zmax=1,
                zmid=0,
                colorscale="RdBu_r",
                showscale=side == "true",
                colorbar=dict(title=dict(text="cosine"), x=1.01, len=0.9),
                texttemplate="%{z:.2f}" if text_ok else None,
                hoverinfo="skip",
                name=f"{side} cosines",
            )
        )
        traces.append(
            go.Scatter(
                x=same_j.tolist(),
                y=same_i.tolist(),
                xaxis=xa,
                yaxis=ya,
                mode="markers",
                name=SAME_MODULE_TRACE,
                marker=dict(symbol="square-open", size=size * 0.8, color="black",
                            line=dict(width=2)),
                hoverinfo="skip",
            )
        )
        traces.append(
            go.Scatter(
                x=jj.tolist(),
                y=ii.tolist(),
                xaxis=xa,
                yaxis=ya,
                mode="markers",
                name=CELL_TRACE,
                customdata=np.stack([ii, jj], axis=1).tolist(),
                hovertext=hover,
                hoverinfo="text",
                marker=dict(symbol="square", size=size, color="rgba(0,0,0,0)"),
            )
        )

    ticks_b = dict(
        tickmode="array",
        tickvals=list(range(kb)),
        ticktext=[f"{j + 1}. {_short(c)}" for j, c in enumerate(level.children_b)],
        tickangle=-45 if kb > 4 else 0,
        showgrid=False,
        zeroline=False,
        range=[-0.5, kb - 0.5],
    )
    ticks_a = dict(
        tickmode="array",
        tickvals=list(range(ka)),
        ticktext=[f"{i + 1}. {_short(c)}" for i, c in enumerate(level.children_a)],
        showgrid=False,
        zeroline=False,
        range=[ka - 0.5, -0.5],  # position 1 at the top
    )
    fontsize = 11 if max(ka, kb) <= 12 else 8
    depth = len(level.path_a)
    layout = dict(
        title=dict(
            text=f"Drill-down, level {depth + 1}: children of A's "
            f"{_short(_node(graph_a, level.path_a), 30)} (rows) against B's "
            f"{_short(_node(graph_b, level.path_b), 30)} (columns)<br><sup>boxes: same module "
            f"(truth) · parent cosine {level.parent_cosine:.3f} · click a cell to descend"
            "</sup>",
            font=dict(size=13),
        ),
        xaxis=dict(domain=[0.0, 0.44], anchor="y", tickfont=dict(size=fontsize),
                   title=dict(text="input B"), **ticks_b),
        yaxis=dict(anchor="x", tickfont=dict(size=fontsize), title=dict(text="input A"),
                   **ticks_a),
        xaxis2=dict(domain=[0.54, 0.98], anchor="y2", tickfont=dict(size=fontsize),
                    title=dict(text="input B"), **ticks_b),
        yaxis2=dict(anchor="x2", tickfont=dict(size=fontsize), showticklabels=False,
                    **ticks_a),
        annotations=[
            dict(text="estimated: cosine of unrolled sketches (2/w<sub>i</sub>) "
                 "R<sub>i</sub><sup>T</sup> s", x=0.22, y=1.0, xref="paper", yref="paper",
                 xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=12)),
            dict(text="truth: cosine of the true object sketches", x=0.76, y=1.0,
                 xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                 showarrow=False, font=dict(size=12)),
        ],
    )
    return traces, layout


def _node(graph: CommunicationGraph, path: Sequence[int]) -> Hashable:
    node = graph.output
    for pos in path:
        node = graph.inputs(node)[pos - 1][0]
    return node


def drill_html(
    level: DrillLevel,
    graph_a: CommunicationGraph,
    graph_b: CommunicationGraph,
    *,
    d: int,
    family: str,
    orthonormal: bool,
    limit: int = 12,
) -> str:
    """What the drill-down level shows, in plain words, and the module identification.

    Parameters
    ----------
    level : DrillLevel
    graph_a, graph_b : CommunicationGraph
    d : int
        The sketch dimension used (for the noise sentence).
    family : str
    orthonormal : bool
        Whether the family's matrices are orthonormal (``R_i^T`` an isometry).
    limit : int, default=12
        Rows of the identification table per side.
    """
    def trail(graph, path):
        node, names = graph.output, [graph.output]
        for pos in path:
            node = graph.inputs(node)[pos - 1][0]
            names.append(f"{node} (position {pos})")
        return " → ".join(escape(n) for n in names)

    k = min(len(level.children_a), len(level.children_b))
    diag = np.diag(level.estimated[:k, :k]) if k else np.array([])
    if orthonormal:
        isometry = (
            f"<b>Same position, same cosine.</b> Unrolling position i applies "
            f"R<sub>i</sub><sup>T</sup> to both sketches; for an orthonormal family (this one, "
            f"{escape(family)}) R<sub>i</sub><sup>T</sup> is an isometry, so every "
            f"same-position cell equals the parent cosine {level.parent_cosine:.3f} exactly "
            "and says nothing about that pair. The cells off the diagonal are the ones that "
            "compare two objects."
        )
    else:
        spread = float(np.max(np.abs(diag - level.parent_cosine))) if k else 0.0
        isometry = (
            f"<b>Same position, nearly the same cosine.</b> Unrolling position i applies "
            f"R<sub>i</sub><sup>T</sup> to both sketches. The {escape(family)} family is not "
            "orthonormal, so R<sub>i</sub><sup>T</sup> is only close to an isometry: "
            f"same-position cells differ from the parent cosine {level.parent_cosine:.3f} by "
            f"up to {spread:.3f}. For orthonormal families they would equal it exactly."
        )
    notes = [
        isometry,
        "<b>Identified module</b> (below): for each unrolled sketch ô, the module M whose "
        "frequency marker 16⟨R<sub>M,2</sub> e<sub>1</sub>, ô⟩ is largest. It is read from "
        "the sketch alone; the graphs only supply the truth to check it against.",
        "<b>Noise grows with depth.</b> Each level of unrolling multiplies the noise by about "
        f"16/w, so at d = {d} the first level is readable and the second is mostly noise. "
        "Compare the left matrix with the truth on the right; boxes mark pairs of objects "
        "from the same module (the objects that really match).",
    ]

    def side_rows(side, graph, children, identified):
        rows = []
        for pos, (name, guess) in enumerate(zip(children, identified), start=1):
            if pos > limit:
                rows.append(f"<tr><td colspan='5' style='color:#777'>… and "
                            f"{len(children) - limit} more</td></tr>")
                break
            true = graph.module(name)
            mark = "✓" if guess == true else "✗"
            colour = "#1a7f37" if guess == true else "#b42318"
            rows.append(
                f"<tr><td>{side}</td><td style='text-align:right'>{pos}</td>"
                f"<td>{_short(name, 32)}</td><td>{escape(true)}</td>"
                f"<td>{escape(guess)} <span style='color:{colour}'>{mark}</span></td></tr>"
            )
        return rows

    right_a = sum(g == graph_a.module(c) for c, g in zip(level.children_a, level.identified_a))
    right_b = sum(g == graph_b.module(c) for c, g in zip(level.children_b, level.identified_b))
    table = (
        "<table style='font-size:12px;border-spacing:8px 1px'><tr><th>input</th><th>pos.</th>"
        "<th style='text-align:left'>object</th><th style='text-align:left'>true module</th>"
        "<th style='text-align:left'>identified from the sketch</th></tr>"
        + "".join(side_rows("A", graph_a, level.children_a, level.identified_a))
        + "".join(side_rows("B", graph_b, level.children_b, level.identified_b))
        + "</table>"
    )
    matches = [
        (level.children_a[i], level.children_b[j])
        for i, j in zip(*np.nonzero(level.same_module))
    ]
    shown = ", ".join(f"{_short(a, 20)} ↔ {_short(b, 20)}" for a, b in matches[:8])
    more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
    truth = (f"True matches (same module): {shown}{more}" if matches
             else "True matches: none (no module in common at this level)")
    return (
        "<div style='font-size:13px;max-width:980px'><b>Where:</b> A: "
        f"{trail(graph_a, level.path_a)}"
        f"<br><span style='margin-left:46px'></span>B: {trail(graph_b, level.path_b)}"
        f"<br><b>Parent cosine</b> (of the two sketches unrolled here): "
        f"{level.parent_cosine:.4f} · identified correctly: A {right_a}/"
        f"{len(level.children_a)}, B {right_b}/{len(level.children_b)}<br>{truth}"
        + "".join(f"<p style='margin:4px 0'>{n}</p>" for n in notes)
        + table
        + "</div>"
    )


# ---------------------------------------------------------------------------- editor
def editor_status_html(draft: GraphDraft, selected: Hashable | None = None) -> str:
    """The editor's state: completeness, the last edit, and the selected node's inputs."""
    complete = draft.is_complete
    colour = "#1a7f37" if complete else "#9a5b00"
    parts = [
        f"<div style='color:{colour}'>{'✓' if complete else '⚠'} {escape(draft.summary())}"
        "</div>"
    ]
    if draft.message:
        parts.append(f"<div><b>last edit:</b> {escape(draft.message)}</div>")
    if selected is not None and selected in draft.G:
        inputs = draft.inputs(selected)
        if inputs:
            rows = "".join(
                f"<tr><td style='text-align:right'>{pos}</td><td>{escape(child)}</td>"
                f"<td style='text-align:right'>{w:.4g}</td></tr>"
                for child, pos, w in inputs
            )
            total = sum(w for _c, _p, w in inputs)
            parts.append(
                f"<div>inputs of <b>{escape(selected)}</b> (sum {total:.4g}):"
                "<table style='font-size:12px;border-spacing:8px 1px'><tr><th>pos.</th>"
                f"<th style='text-align:left'>input</th><th>weight</th></tr>{rows}</table>"
                "</div>"
            )
        else:
            parts.append(f"<div><b>{escape(selected)}</b> has no inputs</div>")
    return "<div style='font-size:13px'>" + "".join(parts) + "</div>"


def weight_rule_html() -> str:
    """The renormalisation rule, as shown beside the connect controls."""
    return (
        "<div class='se-weight-rule' style='font-size:12px;color:#444;max-width:900px'>"
        f"<b>Weights:</b> {escape(WEIGHT_RULE)}</div>"
    )
