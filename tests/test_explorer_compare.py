"""Headless tests of the comparison panel (drill-down included) and of the HTML export.

The comparison's numbers are checked against a fresh
:class:`~sketch_explorer.compare.SketchComparison` made with the same bank; clicks on the
drill-down heatmap go through plotly's own click dispatch (:func:`click_point`, the one
private-API helper), as in ``test_explorer.py``.
"""

from __future__ import annotations

import base64
import json
import re
import warnings

import numpy as np
import pytest
from widget_helpers import click_point, upload_file as upload

from sketch_explorer import CommunicationGraph, GraphFileError, MatrixBank
from sketch_explorer.compare import SketchComparison
from sketch_explorer.datasets import room_scene
from sketch_explorer.explorer import (
    CSS_CLASSES,
    Comparison,
    Download,
    Explorer,
    figures,
    graph_source,
    room_source,
)
from sketch_explorer.explorer.compare_figures import CELL_TRACE, SAME_MODULE_TRACE
from sketch_explorer.io import dumps_graph

HOSTILE = "<img src=x onerror=alert(1)>"


# ---------------------------------------------------------------------------- helpers
def click_cell(cmp: Comparison, i: int, j: int) -> None:
    """Click cell (i, j) of the estimated heatmap."""
    index = next(k for k, t in enumerate(cmp.drill_figure.data) if t.name == CELL_TRACE)
    cells = [tuple(c) for c in cmp.drill_figure.data[index].customdata]
    click_point(cmp.drill_figure, index, cells.index((i, j)))


def heatmaps(cmp: Comparison):
    """(estimated, true) heatmap traces of the drill figure."""
    est, true = [t for t in cmp.drill_figure.data if t.type == "heatmap"]
    return est, true


def plotly_calls(html: str) -> dict[str, tuple[list, dict]]:
    """div id -> (data, layout) of every ``Plotly.newPlot`` call in an exported page."""
    decoder = json.JSONDecoder()
    out = {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html):
        data, end = decoder.raw_decode(html, match.end())
        rest = html[end:].lstrip()[1:].lstrip()  # skip the comma
        layout, _ = decoder.raw_decode(rest)
        out[match.group(1)] = (data, layout)
    return out


def decoded(value):
    """Plotly's JSON value as plain Python/numpy (typed arrays are base64 ``bdata``)."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return a.reshape(value["shape"]) if "shape" in value else a
    return value


@pytest.fixture(scope="module")
def rooms() -> Comparison:
    """Room 1 on days 3 and 4 at d = 1024 (both have a cat, so the drill reaches depth 3)."""
    return Comparison(room_source(1, 3), room_source(1, 4), d=1024)


@pytest.fixture
def hostile_graph() -> CommunicationGraph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CommunicationGraph.from_objects(
            {HOSTILE: ("cat", [0.9, 0.1, 0.4]), "layer:1 node": ("lamp", [0.1, 0.8, 0.2]),
             "ünïcødé ✓ 猫": ("tail", [0.3, 0.3, 0.9]), "paw": ("paw", [1, 0, 1])},
            {"output": [(HOSTILE, 0.6), ("layer:1 node", 0.4)],
             HOSTILE: [("ünïcødé ✓ 猫", 0.5), ("paw", 0.5)]},
        )


# ---------------------------------------------------------------------------- numbers
def test_panel_numbers_equal_sketch_comparison(rooms):
    c = rooms.controller
    reference = SketchComparison(c.graph_a, c.graph_b, MatrixBank(1024, "fast", 0))
    sim = reference.similarity()
    assert c.similarity() == pytest.approx(sim, rel=1e-12)
    text = rooms.similarity_panel.value
    for key in ("dot", "cosine", "predicted_dot", "predicted_cosine"):
        assert f"{sim[key]:.4g}" in text

    table = reference.module_table()
    ours = c.module_table()
    assert list(ours.module) == list(table.module)
    np.testing.assert_allclose(ours.estimated_count_a.astype(float),
                               table.estimated_count_a.astype(float))
    wall = table.set_index("module").loc["wall"]
    modules = rooms.modules_panel.value
    assert (f"<td style='text-align:right'>{wall.true_count_a}</td><td style='text-align:"
            f"right'>{wall.estimated_count_a:.2f} ± {wall.count_error_a:.2g}</td>") in modules
    assert f"{wall.predicted_share:.4g}" in modules
    assert "A and B" in modules


def test_drill_figure_shows_the_level(rooms):
    rooms.top()
    level = rooms.controller.level()
    est, true = heatmaps(rooms)
    np.testing.assert_allclose(np.array(est.z), level.estimated)
    np.testing.assert_allclose(np.array(true.z), level.true)
    # same-position cells equal the parent cosine: R_i^T is an isometry (fast family)
    k = min(level.estimated.shape)
    np.testing.assert_allclose(np.diag(np.array(est.z)[:k, :k]), level.parent_cosine,
                               atol=1e-9)
    # boxes on the same-module pairs, on both heatmaps
    marks = [t for t in rooms.drill_figure.data if t.name == SAME_MODULE_TRACE]
    rows, cols = np.nonzero(level.same_module)
    assert len(marks) == 2
    for t in marks:
        assert list(t.y) == rows.tolist() and list(t.x) == cols.tolist()
    text = rooms.drill_text.value
    assert "isometry" in text and "same-position cell equals the parent cosine" in text
    assert "read from the sketch alone" in text and "16/w" in text
    assert "second is mostly noise" in text
    assert f"{level.parent_cosine:.4f}" in text


def test_click_descends_and_up_returns(rooms):
    rooms.top()
    level = rooms.controller.level()
    i = level.children_a.index("cat")
    j = level.children_b.index("cat")
    top_z = heatmaps(rooms)[0].z
    assert rooms.up_button.disabled

    click_cell(rooms, i, j)

    assert rooms.last_error is None
    c = rooms.controller
    assert c.depth == 1 and c.path_a == (i + 1,) and c.path_b == (j + 1,)
    reference = SketchComparison(c.graph_a, c.graph_b, MatrixBank(1024, "fast", 0))
    below = reference.drill((i + 1,), (j + 1,))
    np.testing.assert_allclose(np.array(heatmaps(rooms)[0].z), below.estimated)
    assert sorted(below.children_a) == ["cat_body", "cat_head", "cat_tail"]
    assert not rooms.up_button.disabled
    ring = rooms.graph_a_figure.data[-1]
    cat = next(t for t in rooms.graph_a_figure.data if t.name == "cat")
    assert (ring.x[0], ring.y[0]) == (cat.x[0], cat.y[0])  # the ring marks the unrolled node
    assert "cat (position" in rooms.drill_text.value

    rooms.up_button.click()
    assert c.depth == 0 and heatmaps(rooms)[0].z == top_z
    assert rooms.up_button.disabled


def test_clicking_a_leaf_pair_says_why_and_stays(rooms):
    rooms.top()
    level = rooms.controller.level()
    wall = level.children_a.index(next(n for n in level.children_a if "wall" in str(n)))
    click_cell(rooms, wall, 0)
    assert isinstance(rooms.last_error, ValueError)
    assert "has no inputs" in rooms.error_area.value and "leaf" in rooms.error_area.value
    assert rooms.controller.depth == 0
    rooms.up_button.click()  # an action that works clears the error area
    assert rooms.error_area.layout.display == "none"


def test_non_orthonormal_family_says_so(rooms):
    try:
        rooms.family.value = "gaussian"
        assert rooms.controller.d == 1024 and rooms.error_area.layout.display == "none"
        assert "is not orthonormal" in rooms.drill_text.value
        assert "d = 1024, gaussian" in rooms.similarity_panel.value
    finally:
        rooms.family.value = "fast"


def test_digits_same_class_beats_different_class():
    """Images 0 and 10 are zeros, image 1 is a one (scikit-learn's order)."""
    same = Comparison.digits(0, 10, d=2048)
    cos_same = same.controller.similarity()["cosine"]
    same.compare_digits(0, 1)
    assert same.pick_b.digit.value == 1
    cos_diff = same.controller.similarity()["cosine"]
    assert cos_same > cos_diff + 0.2


# ---------------------------------------------------------------------------- inputs
def test_inputs_change_through_the_controls(rooms):
    before = rooms.controller.source_b
    try:
        rooms.pick_b.room_day.value = 9
        assert rooms.controller.source_b.key == ("room", 1, 9, 1.0)
        assert "day 9" in rooms.status.value
    finally:
        rooms.set_inputs(b=before)


def test_corrupt_upload_shows_a_graph_file_error(rooms):
    graph = rooms.controller.graph_b
    upload(rooms.pick_b.upload, "bad.graphml", b"<graphml")
    assert isinstance(rooms.last_error, GraphFileError)
    assert "bad.graphml: not valid XML" in rooms.error_area.value
    assert rooms.controller.graph_b is graph


def test_hostile_names_in_the_comparison(hostile_graph):
    cmp = Comparison(hostile_graph, room_scene(2, day=0).graph, d=512)
    upload(cmp.pick_b.upload, "same.json", dumps_graph(hostile_graph))
    assert cmp.last_error is None and cmp.controller.graph_b.objects == hostile_graph.objects
    cmp.descend(0, 0)
    parts = [json.dumps(f.to_plotly_json(), ensure_ascii=False)
             for f in (cmp.graph_a_figure, cmp.graph_b_figure, cmp.drill_figure)]
    parts += [w.value for w in (cmp.similarity_panel, cmp.modules_panel, cmp.drill_text,
                                cmp.status, cmp.error_area)]
    text = "\n".join(parts)
    assert HOSTILE not in text
    assert figures.escape(HOSTILE) in cmp.drill_text.value
    assert HOSTILE not in cmp.export_html()


def test_explorer_tab_builds_the_comparison(hostile_graph):
    ex = Explorer(graph=hostile_graph, d=512)
    assert ex.widget is ex.tabs and ex.tabs.titles == ("Explore", "Compare two inputs")
    assert ex.comparison_built is False
    ex.tabs.selected_index = 1
    assert ex.last_error is None and ex.comparison_built
    cmp = ex.comparison
    assert ex.compare_panel.children == (cmp.widget,)
    assert cmp.controller.source_a is ex.controller.source

    ex.edit("set_attributes", "paw", "0, 1, 0")
    cmp.use_explorer_b.click()
    assert cmp.controller.graph_b is ex.controller.graph
    assert cmp.controller.similarity()["cosine"] < 1.0


def test_css_classes_are_set(rooms, hostile_graph):
    ex = Explorer(graph=hostile_graph, d=256)
    for attribute, css in CSS_CLASSES.items():
        assert css in getattr(ex, attribute)._dom_classes
    assert "se-editor" in ex.editor.widget._dom_classes
    for w, css in ((rooms.widget, "se-compare"), (rooms.drill_figure, "se-compare-drill"),
                   (rooms.up_button, "se-compare-up"),
                   (rooms.similarity_panel, "se-compare-similarity")):
        assert css in w._dom_classes


# ---------------------------------------------------------------------------- export
def test_export_html_holds_every_figure_and_no_raw_name(hostile_graph, tmp_path):
    ex = Explorer(graph=hostile_graph, d=512)
    ex.select_object("ünïcødé ✓ 猫")
    ex.comparison.descend(0, 0)
    path = tmp_path / "view.html"

    html = ex.export_html(path)

    assert path.read_text(encoding="utf-8") == html
    assert html.startswith("<!DOCTYPE html>") and html.count("<script") >= 4
    assert HOSTILE not in html and "onerror=alert(1)>" not in html
    calls = plotly_calls(html)
    shown = [ex.graph_figure, ex.detail_figure, ex.error_figure,
             ex.comparison.graph_a_figure, ex.comparison.graph_b_figure,
             ex.comparison.drill_figure]  # no digit image for a graph input
    assert len(calls) == len(shown)
    for (data, layout), fig in zip(calls.values(), shown):
        state = fig.to_plotly_json()
        assert layout["title"]["text"] == state["layout"]["title"]["text"]
        assert len(data) == len(state["data"])
        for got, want in zip(data, state["data"]):
            assert got.get("name") == want.get("name")
            for key in ("x", "y", "z"):
                if want.get(key) is None:
                    continue
                value = decoded(got[key])
                flat = np.ravel(np.asarray(want[key], dtype=object))
                if any(isinstance(v, str) for v in flat):
                    assert list(value) == list(want[key])  # category labels
                else:
                    np.testing.assert_allclose(np.asarray(value, dtype=float),
                                               np.asarray(want[key], dtype=float))
            if want.get("hovertext") is not None:
                assert list(got["hovertext"]) == list(want["hovertext"])
    # the text panels, as shown
    for panel in (ex.detail_text, ex.counts_table, ex.comparison.drill_text):
        assert panel.value in html
    assert "typeof Plotly" in html or "plotly.js" in html.lower()  # plotly.js inlined


def test_export_button_offers_the_page(hostile_graph):
    ex = Explorer(graph=hostile_graph, d=256)
    assert ex.export_download.content == b""
    ex.export_button.click()
    assert ex.last_error is None
    content = ex.export_download.content
    assert content.startswith(b"<!DOCTYPE html>") and len(content) > 1_000_000
    assert ex.export_download.mime == "text/html"
    assert "MB, self-contained" in ex.export_download.note
    ex.erasure.value = 100  # the view moved on: the old file is withdrawn
    ex.edit("set_attributes", "paw", "1, 1, 1")
    assert ex.export_download.content == b""


def test_download_widget():
    link = Download(filename="x.json", mime="application/json")
    link.offer(b'{"a": 1}', note="8 bytes")
    assert link.content == b'{"a": 1}' and link.note == "8 bytes"
    with pytest.raises(TypeError, match="content must be bytes"):
        link.offer("text")
    link.clear("gone")
    assert link.content == b"" and link.empty_text == "gone"
    assert "textContent" in Download._esm and "innerHTML" not in Download._esm


def test_comparison_of_graph_sources(hostile_graph):
    cmp = Comparison(graph_source(hostile_graph, "A"), graph_source(hostile_graph, "B"), d=256)
    sim = cmp.controller.similarity()
    assert sim["cosine"] == pytest.approx(1.0)
    with pytest.raises(IndexError, match="outside the 2 × 2 matrix"):
        cmp.descend(5, 0)
    with pytest.raises(TypeError, match="unknown setting"):
        cmp.update(dee=1)


def test_exported_comparison_keeps_styles_the_browser_took_over(hostile_graph):
    """After a browser view answers an edit, the export still holds markers and modes."""
    from test_explorer_editing import browser_trace_deltas

    ex = Explorer(graph=hostile_graph, d=256)
    cmp = ex.comparison
    cmp.descend(0, 0)
    figs = (cmp.graph_a_figure, cmp.graph_b_figure, cmp.drill_figure)
    sent = [[dict(t) for t in fig._se_sent[0]] for fig in figs]
    for fig in figs:
        browser_trace_deltas(fig)
    calls = list(plotly_calls(ex.export_html()).values())[3:]
    assert len(calls) == 3
    for (data, _layout), want in zip(calls, sent):
        assert len(data) == len(want)
        for got, expected in zip(data, want):
            for prop in ("marker", "mode", "line"):
                assert (prop in got) == (prop in expected), (expected.get("name"), prop)


def test_layout_fixes_from_the_browser_review(hostile_graph):
    """Rows wrap instead of clipping, links keep a gap, both tabs label inputs alike."""
    from sketch_explorer.explorer import figures
    from sketch_explorer.explorer.controller import FAMILY_LABELS, SOURCE_KINDS

    ex = Explorer(graph=hostile_graph, d=256)
    rows = [w for w in ex.explore_panel.children if ex.graph_figure in getattr(w, "children", ())
            or ex.error_figure in getattr(w, "children", ())]
    assert len(rows) == 2 and all(r.layout.flex_flow == "row wrap" for r in rows)
    for link in (ex.export_download, ex.editor.download_json, ex.editor.download_graphml):
        assert link.layout.margin == "0 16px 0 12px"
    cmp = ex.comparison
    assert cmp.export_download.layout.margin == "0 16px 0 12px"
    assert cmp.pick_a.kind.options == ex.source_kind.options == tuple(
        (label, kind) for label, kind in SOURCE_KINDS)
    assert cmp.pick_a.kind.style.button_width == ex.source_kind.style.button_width == "100px"
    assert cmp.family.options == ex.family.options
    assert dict(cmp.family.options)["fast orthonormal"] == "fast" == FAMILY_LABELS["fast"][:4]
    assert cmp.family.layout.width == ex.family.layout.width
    # counts table: one number format, names that cannot squeeze the noise column
    html = figures.counts_html(ex.controller.counts())
    assert "text-overflow:ellipsis" in html and html.count("white-space:nowrap") >= 4
    import re
    numbers = re.findall(r">(?:± )?(-?\d+\.\d+)</td>", html)
    assert numbers and all(len(n.split(".")[1]) == 2 for n in numbers)
