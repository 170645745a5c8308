"""Graph files: exact round trips, explicit edges key, corrupt files, atomic writes."""

import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketch_explorer import CommunicationGraph, GraphFileError, GraphValidationError
from sketch_explorer.io import FORMATS, dumps_graph, load_graph, loads_graph, save_graph

NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
)


def assert_same(g, h):
    assert tuple(map(str, g.objects)) == tuple(map(str, h.objects))
    for a, b in zip(g.objects, h.objects):
        assert np.array_equal(g.attributes(a), h.attributes(b))  # bit for bit
        assert g.module(a) == h.module(b)
        assert [(str(c), w) for c, w in g.inputs(a)] == [(str(c), w) for c, w in h.inputs(b)]
    assert [(str(c), w) for c, w in g.inputs(g.output)] == [
        (str(c), w) for c, w in h.inputs(h.output)
    ]


@st.composite
def graphs(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True).filter(
        lambda ns: "out" not in ns))
    G = nx.DiGraph()
    G.add_node("out", module="output")
    raw = draw(st.lists(st.floats(0.01, 1), min_size=len(names), max_size=len(names)))
    w = np.array(raw) / sum(raw)
    for pos, (name, wi) in enumerate(zip(names, w), start=1):
        k = draw(st.integers(1, 6))
        x = np.array(draw(st.lists(st.floats(1e-3, 1e3), min_size=k, max_size=k)))
        G.add_node(name, module=f"m{pos}", attributes=list(x / np.linalg.norm(x)))
        G.add_edge(name, "out", weight=float(wi), position=pos)
    return CommunicationGraph(G, renormalize_weights=True)


@settings(max_examples=40, deadline=None)
@given(graphs(), st.sampled_from(FORMATS))
def test_round_trip_is_exact(g, fmt):
    h = loads_graph(dumps_graph(g, fmt), fmt)
    assert_same(g, h)


def test_json_states_edges_key(proto, tmp_path):
    path = save_graph(proto, tmp_path / "g.json")
    doc = json.loads(path.read_text())
    assert "edges" in doc and "links" not in doc
    assert doc["format"] == "sketch_explorer.communication_graph" and doc["version"] == 1
    assert_same(proto, load_graph(path))


def test_graphml_round_trip_file(proto, tmp_path):
    assert_same(proto, load_graph(save_graph(proto, tmp_path / "g.graphml")))


def test_old_links_key_gets_a_hint(proto):
    doc = json.loads(dumps_graph(proto))
    doc["links"] = doc.pop("edges")
    with pytest.raises(GraphFileError, match="missing list 'edges'.*'links'"):
        loads_graph(json.dumps(doc))


@pytest.mark.parametrize(
    "payload, fmt, match",
    [
        (b"{not json", "json", "not valid JSON"),
        (b"\xff\xfe\x00", "json", "not UTF-8"),
        (b"[1, 2]", "json", "JSON object"),
        (b'{"format": "other", "nodes": [], "edges": []}', "json", "format 'other'"),
        (b'{"version": 99, "nodes": [], "edges": []}', "json", "version 99"),
        (b'{"nodes": [{"x": 1}], "edges": []}', "json", "node 0 has no 'id'"),
        (b'{"nodes": [{"id": "a"}], "edges": [{"source": "a", "target": "b"}]}', "json",
         "edge 0 has target 'b'"),
        (b"<graphml><unclosed>", "graphml", "not valid XML"),
        (b"", "graphml", "not valid XML"),
    ],
)
def test_corrupt_files_raise_clear_errors(payload, fmt, match):
    with pytest.raises(GraphFileError, match=match):
        loads_graph(payload, fmt, source="upload.bin")


def test_invalid_graph_in_file_names_the_file(proto, tmp_path):
    doc = json.loads(dumps_graph(proto))
    doc["edges"][0]["weight"] = -1.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(GraphValidationError, match="bad.json.*weight is -1"):
        load_graph(path)


def test_truncated_graphml_attribute(proto):
    text = dumps_graph(proto, "graphml").decode().replace("[", "[oops", 1)
    with pytest.raises(GraphFileError, match="not a JSON list"):
        loads_graph(text, "graphml")


def test_failed_write_leaves_old_file_intact(proto, tmp_path, monkeypatch):
    path = save_graph(proto, tmp_path / "g.json")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("sketch_explorer.io.os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        save_graph(proto, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]  # no temp file left


def test_missing_file_and_unknown_extension(tmp_path, proto):
    with pytest.raises(GraphFileError, match="cannot read"):
        load_graph(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="cannot tell the format"):
        save_graph(proto, tmp_path / "g.txt")
