"""Headless tests of the graph editor: edits, refusals, drafts, import and export, escaping.

Edits are driven through :meth:`Explorer.edit` (what the editor's buttons call) and once
through the buttons themselves; graphs are read from the controller, texts from the editor's
status panel and the error area, downloads from the Download widgets' bytes.
"""

from __future__ import annotations

import json
import math
import warnings

import networkx as nx
import numpy as np
import pytest
from widget_helpers import upload_file as upload

from sketch_explorer import CommunicationGraph, GraphFileError, GraphValidationError
from sketch_explorer.explorer import (
    EDIT_OPERATIONS,
    WEIGHT_RULE,
    EditError,
    Explorer,
    GraphDraft,
    decode_all,
    figures,
    parse_attributes,
)
from sketch_explorer.decoder import GraphDecoder
from sketch_explorer.decoder import GraphFacts
from sketch_explorer.io import dumps_graph, loads_graph
from sketch_explorer.matrices import MatrixBank
from sketch_explorer.sketch import sketch_graph

HOSTILE = "<img src=x onerror=alert(1)>"
esc = figures.escape
WEIRD = (HOSTILE, "layer:1 node", "ünïcødé ✓ 猫", "a & b \"quoted\"")


# ---------------------------------------------------------------------------- helpers
def same_graph(a: CommunicationGraph, b: CommunicationGraph) -> bool:
    """Equal nodes, modules, attribute vectors (bit for bit), weights and positions."""
    Ga, Gb = a.to_networkx(), b.to_networkx()
    if set(Ga.nodes) != set(Gb.nodes) or set(Ga.edges) != set(Gb.edges):
        return False
    for n in Ga.nodes:
        da, db = Ga.nodes[n], Gb.nodes[n]
        if da["module"] != db["module"] or da.get("attributes") != db.get("attributes"):
            return False
    return all(Ga.edges[e] == Gb.edges[e] for e in Ga.edges)


def panel_text(ex: Explorer) -> str:
    """Every HTML string and figure the explorer (and its editor) sends to the browser."""
    figs = (ex.graph_figure, ex.image_figure, ex.detail_figure, ex.error_figure)
    parts = [json.dumps(f.to_plotly_json(), ensure_ascii=False) for f in figs]
    panels = (ex.detail_text, ex.counts_table, ex.status, ex.error_area, ex.editor.status)
    return "\n".join(parts + [w.value for w in panels])


def build_by_hand(ex: Explorer) -> None:
    """A three-level graph with weird names, built with the editor's operations."""
    ex.new_graph()
    ex.edit("add_object", HOSTILE, "cat", "0.9, 0.1, 0.4")
    ex.edit("connect", HOSTILE, "output", 1.0)
    ex.edit("add_object", "layer:1 node", "lamp", "1 2 2")
    ex.edit("connect", "layer:1 node", "output", 0.4)
    ex.edit("add_object", "ünïcødé ✓ 猫", "tail", [0.3, 0.3, 0.9])
    ex.edit("connect", "ünïcødé ✓ 猫", HOSTILE, 1.0)
    ex.edit("add_object", 'a & b "quoted"', "lamp", "0.5, 0.5, 0.1")
    ex.edit("connect", 'a & b "quoted"', "output", 0.2)


@pytest.fixture
def start_graph() -> CommunicationGraph:
    return CommunicationGraph.from_objects(
        {"chair": ("chair", [1.0, 0.0]), "lamp": ("lamp", [0.6, 0.8])},
        {"output": [("chair", 0.75), ("lamp", 0.25)]},
    )


@pytest.fixture
def ex(start_graph) -> Explorer:
    return Explorer(graph=start_graph, d=256)


@pytest.fixture(scope="module")
def shared_ex() -> Explorer:
    """One explorer for the refusal tests: a refused edit changes nothing (they check it)."""
    return Explorer(graph=CommunicationGraph.from_objects(
        {"chair": ("chair", [1.0, 0.0]), "lamp": ("lamp", [0.6, 0.8])},
        {"output": [("chair", 0.75), ("lamp", 0.25)]},
    ), d=256)


# ---------------------------------------------------------------------------- edits
def test_add_and_connect_renormalises_with_the_rule(ex):
    ex.edit("add_object", "table", "table", "3, 4")
    # not connected yet: the draft says so, the sketch still shows the two connected objects
    assert ex.draft.unconnected == ("table",)
    assert len(ex.controller.graph) == 2
    assert esc("not connected to the output yet ('table')") in ex.editor.status.value

    ex.edit("connect", "table", "output", 0.5)

    g = ex.controller.graph
    inputs = dict(g.inputs("output"))
    # the others are multiplied by (1 - 0.5) / (0.75 + 0.25) and keep their proportions
    assert inputs == pytest.approx({"chair": 0.375, "lamp": 0.125, "table": 0.5})
    assert [c for c, _w in g.inputs("output")] == ["chair", "lamp", "table"]  # appended
    np.testing.assert_allclose(g.attributes("table"), [0.6, 0.8])
    assert ex.draft.is_complete and ex.controller.source.label == "graph built in the editor"
    status = ex.editor.status.value
    assert "multiplied by (1 − 0.5) / 1 = 0.5" in status and "sum to 1" in status
    # every edit re-sketches: the figure shows the new node
    assert any("table" in (t.text or ()) for t in ex.graph_figure.data)
    assert ex.last_error is None


def test_the_weight_rule_is_shown(ex):
    assert "(1 − w) / (their sum)" in WEIGHT_RULE
    assert figures.escape("(1 − w) / (their sum)") in ex.editor.widget.children[5].value


def test_changing_a_weight_keeps_the_position(ex):
    ex.edit("connect", "lamp", "output", 0.5)
    assert ex.controller.graph.inputs("output") == [("chair", 0.5), ("lamp", 0.5)]
    assert "set the weight of 'lamp' → 'output' to 0.5" in ex.draft.message


def test_disconnect_and_remove_renormalise(ex):
    ex.edit("add_object", "table", "table", "1")
    ex.edit("connect", "table", "output", 0.2)
    ex.edit("disconnect", "lamp", "output")
    g = ex.controller.graph
    assert dict(g.inputs("output")) == pytest.approx({"chair": 0.6 / 0.8, "table": 0.2 / 0.8})
    assert [c for c, _w in g.inputs("output")] == ["chair", "table"]  # positions closed up
    assert "divided by their sum 0.8" in ex.draft.message
    assert ex.draft.unconnected == ("lamp",)

    ex.edit("remove_object", "table")
    assert ex.controller.graph.inputs("output") == [("chair", 1.0)]
    assert "lamp" in ex.draft.G and "table" not in ex.draft.G


def test_rename_object_and_output_and_set_attributes(ex):
    ex.select_object("lamp")
    ex.edit("rename", "lamp", HOSTILE)
    g = ex.controller.graph
    assert HOSTILE in g and "lamp" not in g
    assert ex.controller.selected == HOSTILE  # the selection follows the rename
    ex.edit("rename", "output", "scene: out")
    assert ex.controller.graph.output == "scene: out"

    ex.edit("set_attributes", HOSTILE, "[0, 5, 12]")
    np.testing.assert_allclose(ex.controller.graph.attributes(HOSTILE), [0, 5 / 13, 12 / 13])
    assert "(0, 0.385, 0.923) (unit norm)" in ex.draft.message
    assert HOSTILE not in panel_text(ex)


def test_modules_add_rename_remove(ex):
    ex.edit("add_module", "plant")
    assert "plant" in ex.draft.modules and "plant" in ex.editor.module.options
    ex.edit("add_object", "fern", "plant", "1, 1")
    ex.edit("connect", "fern", "output", 0.5)
    ex.edit("rename_module", "plant", "green thing")
    assert ex.controller.graph.module("fern") == "green thing"

    ex.edit("remove_module", "green thing")
    g = ex.controller.graph
    assert "fern" not in g and "green thing" not in ex.draft.modules
    assert dict(g.inputs("output")) == pytest.approx({"chair": 0.75, "lamp": 0.25})
    assert "removed module 'green thing' and its 1 objects ('fern')" in ex.draft.message


def test_buttons_drive_the_same_edits(ex):
    ed = ex.editor
    ed.name.value = "table 1"
    ed.module.value = "table"
    ed.attributes.value = "1, 2"
    ed.add_object.click()
    assert ed.object.value == "table 1"  # the new object is chosen
    ed.parent.value = "output"
    ed.weight.value = 0.25
    ed.connect.click()
    assert ex.last_error is None
    assert dict(ex.controller.graph.inputs("output"))["table 1"] == pytest.approx(0.25)
    ed.undo.click()
    assert "table 1" not in ex.controller.graph and ex.draft.unconnected == ("table 1",)


def test_a_click_on_a_node_chooses_it_in_the_editor(ex):
    ex.select_object("lamp")
    assert ex.editor.object.value == "lamp"
    assert "<b>lamp</b> has no inputs" in ex.editor.status.value


# ---------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "operation, args, message",
    [
        ("add_object", ("chair", "x", "1"), "'chair' is already a node"),
        ("add_object", ("new", "output", "1"), "output's module"),
        ("add_object", ("new", "m", "1, -2"), "attribute 1 is -2 .*non-negative"),
        ("add_object", ("new", "m", "0, 0"), "all zeros"),
        ("add_object", ("new", "m", "1, x"), "'x' is not a number"),
        ("add_object", ("new", "m", "1, nan"), "must be finite"),
        ("add_object", ("  ", "m", "1"), "object name is empty"),
        ("connect", ("chair", "output", 0.0), r"must lie in \(0, 1\]"),
        ("connect", ("chair", "output", 1.0), "would leave the other 1 inputs"),
        ("connect", ("chair", "chair", 0.5), "cannot be an input of itself"),
        ("connect", ("output", "chair", 0.5), "is the output pseudo-object"),
        ("connect", ("ghost", "output", 0.5), "'ghost' is not a node"),
        ("disconnect", ("chair", "lamp"), "'chair' is not an input of 'lamp'"),
        ("rename", ("chair", "lamp"), "'lamp' is already a node"),
        ("remove_object", ("output",), "output pseudo-object"),
        ("rename_module", ("chair", "lamp"), "module 'lamp' exists already"),
        ("remove_module", ("sofa",), "module 'sofa' is not in the draft"),
        ("explode", (), "unknown edit 'explode'"),
    ],
)
def test_invalid_edits_are_refused_and_change_nothing(shared_ex, operation, args, message):
    graph, draft = shared_ex.controller.graph, shared_ex.draft
    with pytest.raises(EditError, match=message):
        shared_ex.edit(operation, *args)
    assert shared_ex.controller.graph is graph and shared_ex.draft is draft


def test_refused_edit_shows_its_message_in_the_ui(ex, capsys):
    graph = ex.controller.graph
    traces = [t.to_plotly_json() for t in ex.graph_figure.data]
    ed = ex.editor
    ed.object.value, ed.parent.value = "chair", "output"
    ed.weight.value = 0.0
    ed.connect.click()

    assert isinstance(ex.last_error, EditError)
    assert ex.error_area.layout.display is None
    assert "weight must lie in (0, 1]" in ex.error_area.value
    assert ex.controller.graph is graph
    assert [t.to_plotly_json() for t in ex.graph_figure.data] == traces
    assert capsys.readouterr().out == ""


def test_an_edit_breaking_a_graph_rule_quotes_the_library(ex):
    # module lamp sits at depth 2; a lamp under the chair would put it at depth 3 too
    ex.edit("add_object", "lamp 2", "lamp", "1")
    with pytest.raises(EditError, match="refused: module 'lamp' appears at two depths"):
        ex.edit("connect", "lamp 2", "chair", 1.0)
    ex.edit("add_object", "leg", "leg", "1")
    ex.edit("connect", "leg", "chair", 1.0)
    with pytest.raises(EditError, match="would close a cycle: 'leg' → 'chair' → 'leg'"):
        ex.edit("connect", "chair", "leg", 1.0)
    assert ex.controller.graph.inputs("chair") == [("leg", 1.0)]


def test_attributes_longer_than_d_are_refused_by_the_explorer(ex):
    ex.edit("add_object", "long", "long", np.ones(300))  # not connected: not sketched yet
    with pytest.raises(GraphValidationError, match="sketch dimension is d=256"):
        ex.edit("connect", "long", "output", 0.5)
    assert "long" not in ex.controller.graph and ex.draft.unconnected == ("long",)


# ---------------------------------------------------------------------------- drafts
def test_an_empty_graph_keeps_the_last_valid_graph_sketched(ex):
    graph = ex.controller.graph
    ex.new_graph()
    ex.edit("add_object", "solo", "m", "1")
    assert ex.draft.graph is None and ex.controller.graph is graph
    assert "output has no input yet" in ex.editor.status.value
    assert "keeps showing the last valid one" in ex.editor.status.value

    ex.edit("connect", "solo", "output")
    assert list(ex.controller.graph.objects) == ["solo"]
    assert "all connected" in ex.editor.status.value


def test_undo_walks_back_through_edits_and_inputs(ex, start_graph):
    ex.edit("add_object", "x", "x", "1")
    ex.edit("connect", "x", "output", 0.5)
    ex.show_room(2)
    assert ex.controller.source.kind == "room"
    ex.undo_edit()
    assert "x" in ex.controller.graph and ex.controller.source.kind == "graph"
    ex.undo_edit()
    ex.undo_edit()
    assert same_graph(ex.controller.graph, start_graph)
    while ex.controller.can_undo:
        ex.undo_edit()
    with pytest.raises(ValueError, match="nothing to undo"):
        ex.undo_edit()


def test_draft_is_pure_and_parse_attributes_normalises():
    draft = GraphDraft.empty()
    after = draft.add_object("a", "m", "3 4")
    assert "a" not in draft.G and after.G.nodes["a"]["attributes"] == [0.6, 0.8]
    assert parse_attributes("[3; 4]") == [0.6, 0.8]
    assert set(EDIT_OPERATIONS) <= set(dir(GraphDraft))


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize("fmt", ["json", "graphml"])
def test_hand_built_graph_survives_export_and_reimport(ex, fmt):
    build_by_hand(ex)
    built = ex.controller.graph
    assert set(built.objects) == set(WEIRD)
    link = ex.editor.download_json if fmt == "json" else ex.editor.download_graphml
    assert link.filename == f"graph.{fmt}" and "4 objects" in link.note
    content = link.content
    assert loads_graph(content, fmt).objects == built.objects

    other = Explorer(graph=CommunicationGraph.from_objects(
        {"z": ("z", [1.0])}, {"output": [("z", 1.0)]}), d=256)
    upload(other.editor.upload, f"scene.{fmt}", content)

    assert other.last_error is None
    assert same_graph(other.controller.graph, built)
    assert same_graph(other.draft.graph, built)
    assert other.editor.upload.description == f"import file: scene.{fmt}"
    assert len(other.editor.upload.value[0]["content"]) == 0
    assert HOSTILE not in panel_text(other)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.json", b'{"nodes": [', "broken.json: not valid JSON"),
        ("broken.graphml", b"<graphml><graph", "broken.graphml: not valid XML"),
        ("links.json", b'{"nodes": [], "links": []}', "call it &#x27;links&#x27;"),
        ("binary.json", b"\xff\xfe\x00", "binary.json: not UTF-8"),
    ],
)
def test_corrupt_upload_shows_a_graph_file_error(ex, name, content, message):
    graph, draft = ex.controller.graph, ex.draft
    upload(ex.editor.upload, name, content)
    assert isinstance(ex.last_error, GraphFileError)
    assert "GraphFileError" in ex.error_area.value and message in ex.error_area.value
    assert ex.controller.graph is graph and ex.draft is draft


def test_downloads_follow_the_shown_graph(ex):
    before = ex.editor.download_json.content
    ex.edit("add_object", "x", "x", "1")  # incomplete: the shown graph does not change
    assert ex.editor.download_json.content == before
    ex.edit("connect", "x", "output", 0.5)
    assert loads_graph(ex.editor.download_json.content).inputs("output")[-1][0] == "x"


def test_graphml_collision_is_said_not_raised():
    G = nx.DiGraph()
    G.add_node("output", module="output")
    G.add_node(1, module="a", attributes=[1.0])
    G.add_node("1", module="b", attributes=[1.0])
    G.add_edge(1, "output", weight=0.5, position=1)
    G.add_edge("1", "output", weight=0.5, position=2)
    ex = Explorer(graph=CommunicationGraph(G), d=128)
    assert ex.editor.download_graphml.content == b""
    assert "collide" in ex.editor.download_graphml.empty_text
    assert ex.editor.download_json.content


# ---------------------------------------------------------------------------- escaping
def test_hostile_names_are_text_everywhere(ex):
    ex.edit("add_module", HOSTILE)
    ex.edit("add_object", HOSTILE, HOSTILE, "1, 1")
    ex.edit("connect", HOSTILE, "output", 0.5)
    ex.select_object(HOSTILE)
    with pytest.raises(EditError):
        ex.edit("add_object", HOSTILE, "m", "1")
    ex.editor.name.value = HOSTILE
    ex.editor.add_object.click()  # the same refusal, through the UI
    text = panel_text(ex)
    assert HOSTILE not in text
    assert figures.escape(HOSTILE) in ex.editor.status.value
    assert figures.escape(HOSTILE) in ex.error_area.value
    # dropdowns show names as text (the browser sets textContent), so they hold the raw name
    assert HOSTILE in [label for label, _v in ex.editor.object.options]


# ---------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("estimator", ["module", "path"])
@pytest.mark.parametrize("prefix", [None, 40])
def test_batched_decoding_equals_the_decoder(estimator, prefix):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = CommunicationGraph.from_objects(
            {"a": ("A", [1, 2, 0]), "b": ("A", [0, 1]), "c": ("C", [1, 1, 1, 1]),
             "a1": ("D", [3, 1]), "a2": ("D", [1, 0]), "c1": ("E", [1])},
            {"output": [("a", 0.5), ("b", 0.3), ("c", 0.2)],
             "a": [("a1", 0.6), ("a2", 0.4)], "c": [("c1", 1.0)]},
        )
    bank = MatrixBank(256, "fast", 3)
    s = sketch_graph(g, bank).overall
    s = s if prefix is None else s.erase_prefix(prefix)
    table, estimates = decode_all(GraphFacts(g), s, bank, estimator)
    dec = GraphDecoder(g, s, bank)
    expected = dec.object_table(estimator)
    assert list(table.columns) == list(expected.columns)
    assert list(table.object) == list(expected.object)
    for col in ("effective_weight", "linf_error", "linf_noise", "predicted_linf"):
        np.testing.assert_allclose(table[col], expected[col], rtol=1e-9, atol=1e-12)
    for name in g.objects:
        ref = dec.attributes(name, estimator)
        np.testing.assert_allclose(estimates[name].value, ref.value, rtol=1e-9, atol=1e-12)
        assert math.isclose(estimates[name].coefficient, ref.coefficient)
        assert math.isclose(estimates[name].error_scale, ref.error_scale)


def test_explorer_detail_matches_the_decoder_on_digits():
    ex = Explorer(digit=21, d=512)
    ex.estimator.value = "path"
    c = ex.controller
    dec = GraphDecoder(c.graph, c.recursive_sketch.overall, c.bank)
    name = c.graph.objects[5]
    detail = ex.select_object(name)
    np.testing.assert_allclose(detail.estimate.value, dec.attributes(name, "path").value,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(detail.expected, dec.expected_attributes(name, "path"))
    assert dumps_graph(c.graph)  # the digit graph exports too


def browser_trace_deltas(fig) -> None:
    """Deliver plotly.js's reply to the last trace edit, as a browser view sends it.

    ``_js2py_traceDeltas`` is the synced trait the front end writes after each edit with the
    computed (full) properties of each trace; plotly then moves every property it names out of
    the trace's own properties into its defaults, so ``fig.to_dict()`` no longer holds them. Only
    this helper uses the private trait.
    """
    deltas = []
    for trace in fig.data:
        full = trace.to_plotly_json()
        deltas.append({"uid": trace.uid, **{k: full[k] for k in ("marker", "mode", "line")
                                            if k in full}})
    fig._js2py_traceDeltas = {"trace_deltas": deltas,
                              "trace_edit_id": fig._last_trace_edit_id}


def test_export_after_edits_equals_the_builders_figures(start_graph):
    """The exported page holds the full figures of the current state (issue #13)."""
    from test_explorer_compare import plotly_calls

    ex = Explorer(d=256)  # a digit image first, then a file and two edits through the editor
    payload = dumps_graph(start_graph, "json")
    ex.source_kind.value = "graph"
    upload(ex.upload, "start.json", payload.encode() if isinstance(payload, str) else payload)
    e = ex.editor
    e.name.value, e.module.value, e.attributes.value = "rug", "rug", "0.6, 0.8"
    e.add_object.click()
    e.object.value, e.parent.value, e.weight.value = "rug", "output", 0.3
    e.connect.click()
    assert ex.last_error is None
    ex.select_object("rug")
    for fig in (ex.graph_figure, ex.error_figure, ex.detail_figure):
        browser_trace_deltas(fig)
    ex.export_button.click()
    calls = plotly_calls(ex.export_download.content.decode("utf-8"))
    exported = [data for data, _layout in calls.values()]
    want = ex.export_figures()
    for data, key in zip(exported, ("graph", "detail", "error")):
        built = [t.to_plotly_json() for t in want[key].data]
        assert len(data) == len(built)
        for got, expected in zip(data, built):
            for prop in ("marker", "mode", "visible", "line"):
                assert (prop in got) == (prop in expected), (key, expected.get("name"), prop)
                if prop in expected:
                    assert json.loads(json.dumps(expected[prop], default=list)) == got[prop]
    graph = exported[0]
    assert [t["name"] for t in graph][-1] == "selected"
    assert graph[-1]["marker"]["size"] > 0
    assert all("marker" in t for t in graph if t.get("mode", "").startswith("markers"))


@pytest.mark.parametrize("typed", [1.5, -0.3])
def test_weight_box_keeps_the_typed_value_and_the_message_names_it(ex, typed):
    e = ex.editor
    e.weight.value = typed
    assert e.weight.value == typed  # no silent clamping to [0, 1]
    e.object.value, e.parent.value = "lamp", "output"
    before = ex.controller.graph
    e.connect.click()
    assert ex.last_error is not None
    assert f"got {typed!r}" in str(ex.last_error)
    assert f"got {typed!r}" in ex.error_area.value
    assert ex.controller.graph is before
