"""Headless tests of the explorer: drive it from Python and read its figures and panels.

Controls are driven by setting widget ``.value`` (as a browser does through the widget
model); clicks go through :meth:`Explorer.select_object`, and once through plotly's own
click dispatch (:func:`click_point`, the one private-API helper). Figures are read from their
trace data, panels from their HTML.
"""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from widget_helpers import click_point, upload_file

from sketch_explorer import CommunicationGraph, GraphFileError, GraphValidationError
from sketch_explorer.decoder import GraphDecoder
from sketch_explorer.explorer import (
    Explorer,
    ExplorerController,
    Settings,
    figures,
    graph_source,
    matrix_count,
    resolve_dimension,
)
from sketch_explorer.explorer import app as app_module
from sketch_explorer.explorer import controller as controller_module
from sketch_explorer.io import dumps_graph

HOSTILE = "<img src=x onerror=alert(1)>"
ODD_NAMES = (HOSTILE, "layer:1 node", "ünïcødé ✓ 猫")


# ---------------------------------------------------------------------------- helpers
def upload(explorer: Explorer, name: str, content: bytes) -> None:
    """Put a file into the explorer's FileUpload widget as the browser would."""
    upload_file(explorer.upload, name, content)


def node_trace(fig, name):
    """The node trace holding object ``name`` and the point index of that object."""
    for trace in fig.data:
        if trace.customdata is None or trace.name == "selected":
            continue
        for k in range(len(trace.customdata)):
            if k < len(trace.hovertext) and trace.hovertext[k].startswith(
                f"<b>{figures.escape(name)}</b>"
            ):
                return trace, k
    raise AssertionError(f"no node for {name!r}")


def all_text(explorer: Explorer) -> str:
    """Every string the explorer sends to the browser: figure JSON and HTML panels."""
    parts = [
        json.dumps(fig.to_plotly_json(), ensure_ascii=False)
        for fig in (
            explorer.graph_figure,
            explorer.image_figure,
            explorer.detail_figure,
            explorer.error_figure,
        )
    ]
    panels = (explorer.detail_text, explorer.counts_table, explorer.status, explorer.error_area)
    parts += [w.value for w in panels]
    return "\n".join(parts)


def mean_log_error(explorer: Explorer) -> float:
    ys = [y for t in explorer.error_figure.data if t.name.endswith("error vs truth") for y in t.y]
    return float(np.mean(np.log(ys)))


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(params=[0, 1, 2])
def seed(request):
    """Matrix-bank seeds; assertions that hold with high probability must hold for each."""
    return request.param


@pytest.fixture
def small_graph() -> CommunicationGraph:
    """Three top-level objects (weights .5/.3/.2), two of one module, one depth-3 child.

    Node names carry ``:``, spaces, unicode and HTML, as uploaded files may.
    """
    objects = {
        HOSTILE: ("cat", [0.9, 0.1, 0.4, 0.0]),
        "layer:1 node": ("lamp", [0.1, 0.8, 0.2, 0.5]),
        "ünïcødé ✓ 猫": ("lamp", [0.7, 0.0, 0.7, 0.1]),
        "tail 1": ("tail", [0.3, 0.3, 0.9]),
    }
    inputs = {
        "output": [(HOSTILE, 0.5), ("layer:1 node", 0.3), ("ünïcødé ✓ 猫", 0.2)],
        HOSTILE: [("tail 1", 1.0)],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # attribute vectors are rescaled to unit norm
        return CommunicationGraph.from_objects(objects, inputs)


@pytest.fixture
def small(small_graph) -> Explorer:
    return Explorer(graph=small_graph, d=1024)


@pytest.fixture(scope="module")
def digit_explorer_factory():
    """Builds digit explorers; the digits network is trained once per process."""
    return lambda **kw: Explorer(digit=21, **kw)


# ---------------------------------------------------------------------------- building
def test_digit_explorer_draws_graph_image_and_panels(digit_explorer_factory):
    ex = digit_explorer_factory()
    c = ex.controller
    g = c.graph

    # every object is one point of one module trace; the output is its own trace
    rows = sorted(
        r for t in ex.graph_figure.data if t.customdata is not None for r in t.customdata
    )
    assert rows == list(range(len(g)))
    names = {t.name for t in ex.graph_figure.data}
    assert set(g.modules) <= names and "output (sink)" in names

    # layers by depth, the output on top; sizes grow with effective weight
    digit_trace, k = node_trace(ex.graph_figure, "digit")
    output = next(t for t in ex.graph_figure.data if t.name == "output (sink)")
    stroke = next(t for t in ex.graph_figure.data if t.name.startswith("stroke_"))
    assert output.y[0] > digit_trace.y[k] > stroke.y[0]
    assert digit_trace.marker.size[k] > max(stroke.marker.size)

    # the digit image is shown beside the graph; the default selection is the digit object
    assert ex._image_box.layout.display is None
    assert np.array_equal(np.array(ex.image_figure.data[0].z), c.source.image)
    assert c.selected == "digit"
    assert ex.detail_figure.data[0].x == tuple(str(i) for i in range(10))
    assert "class" in ex.detail_figure.layout.xaxis.title.text
    assert "true label" in ex.status.value and "d = 1024" in ex.status.value
    assert "digit" in ex.counts_table.value


def test_layout_is_given_to_the_constructor(small):
    """Voila keeps only the constructor's state: titles and sizes must be in it."""
    for fig, base in (
        (small.graph_figure, figures.GRAPH_LAYOUT),
        (small.error_figure, figures.ERROR_LAYOUT),
        (small.detail_figure, figures.DETAIL_LAYOUT),
    ):
        initial = fig._widget_layout  # the state synced at construction
        assert initial["width"] == base["width"]
        assert initial["title"]["text"]


def test_views_opened_later_start_from_the_current_state(small):
    """Voila's page connects after the notebook ran: it must see the latest figures."""
    small.erasure.value = 32
    small.select_object("tail 1")
    for fig in (small.graph_figure, small.error_figure, small.detail_figure):
        state = fig.to_plotly_json()
        assert fig._widget_data == state["data"]  # what a new view is built from
        assert fig._widget_layout == state["layout"]
    assert "first 32 coordinates" in small.error_figure._widget_layout["title"]["text"]


def test_no_figure_widget_is_shown_statically():
    """``FigureWidget.show()`` draws a static copy whose callbacks never fire."""
    source = Path(app_module.__file__).parent
    for path in source.glob("*.py"):
        calls = [
            node
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "show"
        ]
        assert not calls, f"{path.name} calls .show() on line {calls[0].lineno}"


def test_display_gives_the_live_widget(small):
    bundle = small._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == small.widget.model_id


# ---------------------------------------------------------------------------- selecting
def test_select_object_fills_the_detail_panel(small, small_graph):
    c = small.controller
    decoder = GraphDecoder(small_graph, c.recursive_sketch.overall, c.bank)
    name = "layer:1 node"

    detail = small.select_object(name)

    est = decoder.attributes(name, "module").value
    true, recovered, target = small.detail_figure.data
    np.testing.assert_allclose(true.y, decoder.true_attributes(name))
    np.testing.assert_allclose(recovered.y, est)
    np.testing.assert_allclose(target.y, decoder.expected_attributes(name, "module"))
    linf = float(np.abs(est - decoder.true_attributes(name)).max())
    assert detail.linf_error == pytest.approx(linf)

    text = small.detail_text.value
    assert "lamp" in text and "<td>2</td>" in text
    assert f"{small_graph.effective_weight(name):.4g}" in text
    assert "(2,) with weight 0.3" in text
    assert f"{linf:.4g}" in text
    assert f"{linf:.3g}" in small.detail_figure.layout.title.text

    # two lamps: the module-known estimator recovers their weighted sum, said in plain words
    assert "has 2 objects" in text and "weighted" in text


def test_single_object_module_shows_no_target_bars(small):
    small.select_object("tail 1")
    assert [t.name for t in small.detail_figure.data] == ["true x_θ", "recovered x̂"]
    assert "<td>3</td>" in small.detail_text.value


def test_click_dispatch_selects_the_same_object(small):
    trace, k = node_trace(small.graph_figure, "ünïcødé ✓ 猫")
    index = small.graph_figure.data.index(trace)

    click_point(small.graph_figure, index, k)

    assert small.controller.selected == "ünïcødé ✓ 猫"
    assert small.last_error is None
    ring = small.graph_figure.data[-1]
    assert (ring.x[0], ring.y[0]) == (trace.x[k], trace.y[k])
    expected = small.controller.detail()
    np.testing.assert_allclose(small.detail_figure.data[1].y, expected.estimate.value)


def test_clicking_the_error_plot_selects_too(small):
    index = next(i for i, t in enumerate(small.error_figure.data) if t.customdata is not None)
    row = small.error_figure.data[index].customdata[0]
    click_point(small.error_figure, index, 0)
    assert small.controller.selected == small.controller.graph.objects[row]


def test_selecting_does_not_decode_again(digit_explorer_factory):
    ex = digit_explorer_factory()
    before = dict(ex.controller.stats)
    for name in ex.controller.graph.objects[:5]:
        ex.select_object(name)
    after = ex.controller.stats
    assert {k: after[k] for k in ("sketches", "decoders", "tables", "counts")} == {
        k: before[k] for k in ("sketches", "decoders", "tables", "counts")
    }


def test_select_unknown_object_raises(small):
    with pytest.raises(KeyError, match="'nobody' is not an object"):
        small.select_object("nobody")
    with pytest.raises(KeyError, match="output pseudo-object"):
        small.select_object("output")


def test_click_on_the_output_does_nothing(small):
    index = next(i for i, t in enumerate(small.graph_figure.data) if t.name == "output (sink)")
    selected = small.controller.selected
    click_point(small.graph_figure, index, 0)
    assert small.controller.selected == selected and small.last_error is None


# ---------------------------------------------------------------------------- controls
def test_erasure_slider_redecodes_without_resketching(small, seed):
    small.update(seed=seed)
    stats = dict(small.controller.stats)
    full = mean_log_error(small)
    y_before = [t.y for t in small.error_figure.data]

    small.erasure.value = small.controller.d // 64

    assert small.controller.erasure_prefix == 16
    assert small.controller.stats["sketches"] == stats["sketches"]
    assert small.controller.stats["decoders"] == stats["decoders"] + 1
    assert [t.y for t in small.error_figure.data] != y_before
    # noise grows like sqrt(d / d') = 8; on the log scale at least a factor 2 on average
    assert mean_log_error(small) > full + np.log(2)
    assert "first 16 coordinates" in small.error_figure.layout.title.text


def test_digit_error_grows_when_erased(digit_explorer_factory):
    ex = digit_explorer_factory()
    full = ex.controller.detail("digit").linf_error
    ex.erasure.value = 64
    assert ex.last_error is None
    assert ex.controller.detail("digit").linf_error > full
    # at d' = 64 every object's error is far above the attribute scale (entries <= 1)
    assert mean_log_error(ex) > np.log(2)


@pytest.mark.parametrize(
    "change",
    [
        {"dimension": 2048},
        {"family": "block"},
        {"family": "gaussian"},
        {"seed": 7},
    ],
)
def test_sketch_controls_resketch(small, change):
    ((widget, value),) = change.items()
    stats = dict(small.controller.stats)
    y_before = small.detail_figure.data[1].y

    getattr(small, widget).value = value

    assert small.last_error is None
    assert small.controller.stats["sketches"] == stats["sketches"] + 1
    assert small.detail_figure.data[1].y != y_before
    assert small.erasure.max == small.controller.d == small.erasure.value


def test_estimator_change_reuses_the_decoder(small):
    stats = dict(small.controller.stats)
    small.select_object("tail 1")
    module_estimate = small.detail_figure.data[1].y

    small.estimator.value = "path"

    assert small.controller.stats["sketches"] == stats["sketches"]
    assert small.controller.stats["decoders"] == stats["decoders"]
    assert small.controller.stats["tables"] == stats["tables"] + 1
    assert small.detail_figure.data[1].y != module_estimate
    assert "path known" in small.error_figure.layout.title.text
    assert "path read" in small.detail_text.value and "(1, 1)" in small.detail_text.value


def test_block_family_says_which_d_it_uses(small):
    small.family.value = "block"
    used = resolve_dimension(1024, "block")
    assert small.controller.d == used.used != 1024
    assert f"d used = {used.used}" in small.status.value
    assert f"block size b = {used.block_size}" in small.status.value
    assert small.erasure.max == used.used


def test_dense_families_are_capped(small, monkeypatch):
    assert resolve_dimension(4096, "haar").used == 1024
    assert resolve_dimension(4096, "gaussian").used == 1024
    monkeypatch.setitem(controller_module.DIMENSION_LIMITS, "gaussian", 256)  # cheap draws

    small.update(family="gaussian", d=512)

    assert small.controller.d == 256 == small.erasure.max
    assert "d = 512 requested, d used = 256" in small.status.value
    assert "limited to d ≤ 256" in small.status.value


def test_haar_warns_about_draw_time(small_graph):
    c = ExplorerController(graph_source(small_graph), Settings(d=1024, family="haar"))
    n = matrix_count(small_graph)
    assert n == 3 * 3 + 3  # three modules; the output has three inputs
    assert f"needs {n} matrices of 1024×1024" in c.draw_time_note()
    assert not c.is_sketched  # the note comes before any draw
    c.update(family="fast")
    assert c.draw_time_note() == ""


def test_going_back_to_a_setting_reuses_its_sketch(small):
    small.dimension.value = 512
    small.dimension.value = 1024
    stats = dict(small.controller.stats)
    small.dimension.value = 512
    assert small.controller.stats["sketches"] == stats["sketches"]


def test_bad_setting_raises_and_changes_nothing(small):
    before = small.controller.settings
    with pytest.raises(ValueError, match=r"erasure prefix d' must be in 1\.\.1024"):
        small.update(erasure_prefix=5000)
    with pytest.raises(ValueError, match="family must be one of"):
        small.update(family="hadamard")
    with pytest.raises(TypeError, match="unknown setting"):
        small.update(dee=3)
    assert small.controller.settings == before


# ---------------------------------------------------------------------------- inputs
def test_room_input(small):
    small.source_kind.value = "room"
    assert small.last_error is None
    g = small.controller.graph
    assert "cat_tail" in g.modules and g.max_depth == 3
    assert small._image_box.layout.display == "none"
    assert "room 0" in small.status.value

    small.room_seed.value = 3
    assert small.controller.source.key[1] == 3


def test_digit_index_control(digit_explorer_factory):
    ex = digit_explorer_factory()
    ex.digit_index.value = 24
    assert ex.controller.source.key[2] == 24
    assert "digit image 24" in ex.status.value
    assert ex.controller.selected == "digit"


def test_graph_file_upload(small, small_graph, tmp_path):
    ex = Explorer(digit=21)
    upload(ex, "scene.graphml", dumps_graph(small_graph, "graphml"))
    assert ex.last_error is None
    assert ex.controller.source.kind == "graph" and len(ex.controller.graph) == 4
    assert ex.source_kind.value == "graph"
    # the button names the file (issue #10); the record holds no bytes
    assert ex.upload.description == "graph file: scene.graphml"
    assert len(ex.upload.value) == 1 and len(ex.upload.value[0]["content"]) == 0
    ex.select_object("tail 1")
    upload(ex, "scene.graphml", dumps_graph(small_graph, "graphml"))  # the same file again
    assert ex.controller.selected != "tail 1" and ex.last_error is None  # it was reloaded
    upload(ex, "broken.json", b"{not json")
    assert ex.last_error is not None
    assert ex.upload.description == "graph file" and ex.upload.value == ()

    path = tmp_path / "scene.json"
    path.write_bytes(dumps_graph(small_graph, "json"))
    assert len(Explorer(graph=path).controller.graph) == 4


def test_bad_upload_shows_its_message_and_keeps_the_graph(small, capsys):
    graph = small.controller.graph
    traces = [t.to_plotly_json() for t in small.graph_figure.data]

    upload(small, "broken.json", b'{"nodes": [], "edges": 3}')

    assert isinstance(small.last_error, GraphFileError)
    assert small.error_area.layout.display is None
    assert "broken.json: missing list &#x27;edges&#x27;" in small.error_area.value
    assert small.controller.graph is graph
    assert [t.to_plotly_json() for t in small.graph_figure.data] == traces
    assert capsys.readouterr().out == ""

    # the next action that works clears the error area
    small.erasure.value = 100
    assert small.error_area.value == "" and small.error_area.layout.display == "none"


def test_invalid_graph_file_names_the_rule(small):
    doc = json.loads(dumps_graph(small.controller.graph, "json"))
    doc["edges"][0]["weight"] = -1.0
    content = json.dumps(doc).encode()
    with pytest.raises(GraphValidationError, match=r"bad\.json: .*weights must be >= 0"):
        small.load_file("bad.json", content)

    upload(small, "bad.json", content)
    assert "weights must be &gt;= 0" in small.error_area.value
    assert small.controller.source.kind == "graph" and len(small.controller.graph) == 4


def test_unknown_extension_is_refused(small):
    with pytest.raises(ValueError, match=r"unknown extension '\.txt'"):
        small.load_file("graph.txt", b"{}")


def test_failing_callback_shows_the_error_in_the_explorer(small, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("decoder exploded")

    # the controller decodes the whole graph through decode_all (batched GraphDecoder)
    monkeypatch.setattr(controller_module, "decode_all", broken)
    small.erasure.value = 10

    assert isinstance(small.last_error, RuntimeError)
    assert "decoder exploded" in small.error_area.value
    assert "Traceback" in small.error_area.value
    assert capsys.readouterr().out == ""
    # state and views stay at the last state that could be shown
    assert small.controller.erasure_prefix == small.erasure.value == 1024


def test_graph_that_cannot_be_decoded_leaves_the_last_one(small):
    g = CommunicationGraph.from_objects(
        {"a": ("a", [1.0]), "b": ("b", [1.0])}, {"output": [("a", 1.0), ("b", 0.0)]}
    )
    graph = small.controller.graph
    upload(small, "zero.json", dumps_graph(g, "json"))
    assert "effective weight 0" in small.error_area.value
    assert small.controller.graph is graph
    assert small.source_kind.value == "graph"
    with pytest.raises(ValueError, match="effective weight 0"):
        small.show_graph(g)


def test_two_inputs_are_refused(small_graph):
    with pytest.raises(ValueError, match="at most one input"):
        Explorer(digit=1, graph=small_graph)


# ---------------------------------------------------------------------------- names
def test_odd_names_draw_escaped(small):
    text = all_text(small)
    assert HOSTILE not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text

    for name in ODD_NAMES:
        trace, k = node_trace(small.graph_figure, name)
        assert trace.text[k] == figures.escape(name)
        small.select_object(name)
        assert figures.escape(name) in small.detail_text.value
        assert figures.escape(name) in small.detail_figure.layout.title.text
    assert HOSTILE not in all_text(small)


def test_positions_come_from_integer_layout(small_graph):
    pos = figures.graph_positions(small_graph)
    assert set(pos) == {small_graph.output, *small_graph.objects}
    assert pos["output"][1] > pos[HOSTILE][1] > pos["tail 1"][1]


# ---------------------------------------------------------------------------- controller
def test_controller_rejects_zero_weight_objects():
    g = CommunicationGraph.from_objects(
        {"a": ("a", [1.0]), "b": ("b", [1.0])}, {"output": [("a", 1.0), ("b", 0.0)]}
    )
    c = ExplorerController(graph_source(g), Settings(d=128))
    with pytest.raises(ValueError, match=r"effective weight 0 \('b'\)"):
        c.object_table()


def test_error_plot_lines_follow_the_prediction(small):
    table = small.controller.object_table()
    lines = [t for t in small.error_figure.data if t.name.startswith("depth 2: predicted")]
    assert len(lines) == 1
    x, y = lines[0].x, lines[0].y
    # a line of slope -1 on log-log axes: y w is constant
    assert x[0] * y[0] == pytest.approx(x[1] * y[1])
    top = table[table.depth == 2]
    K = np.median(top.predicted_linf * top.effective_weight)
    assert x[0] * y[0] == pytest.approx(K)


# ---------------------------------------------------------------------------- review fixes
def test_patch_box_goes_when_the_selection_has_no_patch_or_the_input_changes(
    digit_explorer_factory,
):
    ex = Explorer(digit=7, d=256)
    patched = next(n for n in ex.controller.graph.objects if ex.controller.source.patches.get(n))
    ex.select_object(patched)
    assert len(ex.image_figure.layout.shapes) == 1
    ex.select_object("digit")
    assert ex.image_figure.layout.title.text == "input image"
    assert ex.image_figure.layout.shapes == ()
    for action in (lambda: ex.show_digit(21), lambda: ex.show_room(0), lambda: ex.show_digit(7)):
        if ex.controller.source.kind == "digit":
            ex.select_object(next(n for n in ex.controller.graph.objects
                                  if ex.controller.source.patches.get(n)))
            assert len(ex.image_figure.layout.shapes) == 1
        action()
        assert ex.image_figure.layout.title.text == "input image"
        assert ex.image_figure.layout.shapes == ()
        assert ex.export_figures()["image"].layout.shapes == ()


def test_selection_ring_follows_after_a_reload(small, small_graph):
    """The ring moved by a click and then put back by a redraw is drawn where it belongs."""
    start = small.controller.selected
    other = next(n for n in small_graph.objects if n != start)
    small.select_object(other)
    small.show_graph(small_graph, "the same graph again")  # selection goes back to the start
    assert small.controller.selected == start
    ring = small.graph_figure.data[-1]
    xy = small._positions_for(small.controller.source)[start]
    assert (ring.x[0], ring.y[0]) == pytest.approx(xy)
    assert list(small.export_figures()["graph"].data[-1].x) == pytest.approx([xy[0]])


@pytest.mark.parametrize("requested", [2048, 4096, 16384])
def test_block_family_cap_holds_for_the_d_used(requested):
    choice = resolve_dimension(requested, "block")
    limit = controller_module.DIMENSION_LIMITS["block"]
    assert choice.used == 2016 and choice.block_size == 42  # the largest valid d <= 2048
    assert choice.used <= limit and choice.used % choice.block_size == 0
    assert len(choice.notes) == 1 and "using d = 2016" in choice.notes[0]
    assert "2070" not in choice.notes[0]


def test_block_family_status_is_consistent(small):
    small.update(family="block", d=4096)
    status = small.status.value
    assert small.controller.d == 2016 == small.erasure.max
    assert "d = 4096 requested, d used = 2016" in status
    assert status.count("using d =") == 1 and "2070" not in status


@pytest.mark.parametrize("family", ["fast", "block", "gaussian"])
def test_prediction_caveat_for_families_that_are_not_orthonormal(small, monkeypatch, family):
    monkeypatch.setitem(controller_module.DIMENSION_LIMITS, "gaussian", 256)  # cheap draws
    small.update(family=family, d=256)
    title = small.error_figure.layout.title.text
    legend = [t.name for t in small.error_figure.data if "predicted" in t.name]
    shown = figures.NOT_ORTHONORMAL_NOTE in small.detail_text.value
    assert figures.NOT_ORTHONORMAL_NOTE == (
        "the predicted line assumes orthonormal matrices (haar, fast); block/gaussian "
        "matrices are noisier, so measured errors sit above it")
    if family == "fast":
        assert not shown and figures.NOT_ORTHONORMAL_NOTE not in title
        assert all("assumes orthonormal" not in n for n in legend)
    else:
        assert shown and figures.NOT_ORTHONORMAL_NOTE in title
        assert legend and all(n.endswith("(assumes orthonormal matrices)") for n in legend)
    small.update(family="fast")
    assert figures.NOT_ORTHONORMAL_NOTE not in small.error_figure.layout.title.text
    assert figures.NOT_ORTHONORMAL_NOTE not in small.detail_text.value


def test_subtitle_grammar_for_one_kept_coordinate(small):
    small.erasure.value = 1
    assert "first coordinate kept" in small.error_figure.layout.title.text
    assert "first 1 coordinates" not in small.error_figure.layout.title.text
    small.erasure.value = 2
    assert "first 2 coordinates kept" in small.error_figure.layout.title.text


def test_erasure_buttons_move_the_prefix_by_factors_of_two(small):
    assert small.controller.erasure_prefix == 1024
    small.erasure_halve.click()
    assert small.controller.erasure_prefix == 512 == small.erasure.value
    small.erasure_halve.click()
    assert small.erasure.value == 256
    small.erasure_double.click()
    assert small.erasure.value == 512
    small.erasure.value = 3
    small.erasure_halve.click()
    small.erasure_halve.click()
    assert small.erasure.value == 1  # never below one coordinate
    assert "first coordinate kept" in small.error_figure.layout.title.text
    small.erasure.value = 700
    small.erasure_double.click()
    assert small.erasure.value == 1024  # at most d
    small.erasure.value = 10
    small.erasure_all.click()
    assert small.erasure.value == 1024 and small.last_error is None


def test_progress_counts_the_matrices_drawn_while_sketching(small, small_graph):
    seen = []
    small.progress.observe(lambda ch: seen.append((ch["new"], small.progress.layout.display)),
                           names="value")
    small.update(seed=5)  # a new bank: every matrix is drawn
    total = matrix_count(small_graph)
    assert small.progress.max == total
    assert [v for v, _shown in seen if v] == list(range(1, total + 1))
    assert all(shown is None for _v, shown in seen)  # visible while drawing
    assert small.progress.layout.display == "none" and small.controller.on_draw is None
    seen.clear()
    small.update(erasure_prefix=100)  # no new sketch: no progress
    assert seen == []
