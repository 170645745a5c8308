"""Reading and writing communication graphs: node-link JSON and GraphML.

Both formats hold the validated graph with every attribute explicit (module, attribute vector,
input weight and position), so a graph survives a round trip unchanged:

* node-link JSON (networkx's ``node_link_data``, with the edges key stated explicitly as
  ``"edges"`` on both write and read), plus ``"format"`` and ``"version"`` fields. Node names
  may be strings or integers.
* GraphML. GraphML has no vector type, so an attribute vector is stored as a JSON list in a
  string attribute; floats are written with Python's shortest round-trip repr, so they come
  back bit for bit. GraphML node ids are strings: integer node names come back as strings.

Writes go to a temporary file in the same folder, renamed over the target only when complete,
so an interrupted or failed write never leaves a half-written file. A corrupt, foreign or
unknown-version file raises :class:`~sketch_explorer.exceptions.GraphFileError`; a well-formed
file whose graph breaks a rule raises
:class:`~sketch_explorer.exceptions.GraphValidationError`, naming the file.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx

from .exceptions import GraphFileError, GraphValidationError
from .graph import CommunicationGraph

__all__ = [
    "FORMATS",
    "dumps_graph",
    "loads_graph",
    "save_graph",
    "load_graph",
]

FORMAT_NAME = "sketch_explorer.communication_graph"
FORMAT_VERSION = 1
FORMATS = ("json", "graphml")


def _format_of(path: str | os.PathLike, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}; got {fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".graphml", ".xml"):
        return "graphml"
    raise ValueError(
        f"cannot tell the format of {str(path)!r} from its extension; use .json or .graphml "
        "or pass fmt="
    )


# ---------------------------------------------------------------------------- bytes
def dumps_graph(graph: CommunicationGraph, fmt: str = "json") -> bytes:
    """Serialise ``graph`` to bytes in ``fmt`` ("json" or "graphml")."""
    if not isinstance(graph, CommunicationGraph):
        raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
    G = graph.to_networkx()
    if fmt == "json":
        data = nx.node_link_data(G, edges="edges")
        data = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                "output_module": graph.output_module, **data}
        return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    if fmt == "graphml":
        H = nx.DiGraph()
        H.graph.update(format=FORMAT_NAME, version=FORMAT_VERSION,
                       output_module=graph.output_module)
        for node, data in G.nodes(data=True):
            attrs = {"module": data["module"]}
            if "attributes" in data:
                attrs["attributes"] = json.dumps(data["attributes"])
            H.add_node(str(node), **attrs)
        for u, v, data in G.edges(data=True):
            H.add_edge(str(u), str(v), weight=float(data["weight"]),
                       position=int(data["position"]))
        if H.number_of_nodes() != G.number_of_nodes():
            raise ValueError("node names collide once written as strings; rename them")
        buf = io.BytesIO()
        nx.write_graphml(H, buf, encoding="utf-8")
        return buf.getvalue()
    raise ValueError(f"format must be one of {FORMATS}; got {fmt!r}")


def loads_graph(data: bytes | str, fmt: str = "json", *, source: str = "<bytes>",
                **graph_kwargs) -> CommunicationGraph:
    """Parse a graph from bytes; ``source`` names the input in error messages.

    ``graph_kwargs`` go to :class:`CommunicationGraph` (``modules``, ``renormalize_weights``).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if fmt == "json":
        G, output_module = _parse_json(data, source)
    elif fmt == "graphml":
        G, output_module = _parse_graphml(data, source)
    else:
        raise ValueError(f"format must be one of {FORMATS}; got {fmt!r}")
    graph_kwargs.setdefault("output_module", output_module)
    try:
        return CommunicationGraph(G, **graph_kwargs)
    except GraphValidationError as exc:
        raise GraphValidationError(f"{source}: {exc}") from None


def _parse_json(data: bytes, source: str):
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise GraphFileError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise GraphFileError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(doc, dict):
        raise GraphFileError(f"{source}: expected a JSON object at the top; got {type(doc).__name__}")
    if doc.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise GraphFileError(f"{source}: format {doc.get('format')!r} is not {FORMAT_NAME!r}")
    version = doc.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise GraphFileError(
            f"{source}: format version {version!r} is not supported (this library reads "
            f"version {FORMAT_VERSION})"
        )
    for key in ("nodes", "edges"):
        if not isinstance(doc.get(key), list):
            hint = " (files from networkx < 3.4 call it 'links'; rename it to 'edges')" if (
                key == "edges" and "links" in doc) else ""
            raise GraphFileError(f"{source}: missing list {key!r}{hint}")
    for k, node in enumerate(doc["nodes"]):
        if not isinstance(node, dict) or "id" not in node:
            raise GraphFileError(f"{source}: node {k} has no 'id'")
        if isinstance(node["id"], (list, dict)) or node["id"] is None:
            raise GraphFileError(
                f"{source}: node {k} has id {node['id']!r}; ids must be strings or numbers"
            )
    ids = {node["id"] for node in doc["nodes"]}
    for k, edge in enumerate(doc["edges"]):
        if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
            raise GraphFileError(f"{source}: edge {k} needs 'source' and 'target'")
        for end in ("source", "target"):
            if edge[end] not in ids:
                raise GraphFileError(
                    f"{source}: edge {k} has {end} {edge[end]!r}, which is not a node"
                )
    body = {k: v for k, v in doc.items() if k not in ("format", "version", "output_module")}
    body["directed"], body["multigraph"] = True, False
    try:
        G = nx.node_link_graph(body, directed=True, multigraph=False, edges="edges")
    except (KeyError, TypeError, ValueError, nx.NetworkXError) as exc:
        raise GraphFileError(f"{source}: cannot build the graph ({exc})") from None
    return G, doc.get("output_module", "output")


def _parse_graphml(data: bytes, source: str):
    try:
        H = nx.read_graphml(io.BytesIO(data), force_multigraph=False)
    except ET.ParseError as exc:
        raise GraphFileError(f"{source}: not valid XML ({exc})") from None
    except (nx.NetworkXError, KeyError, ValueError, TypeError) as exc:
        raise GraphFileError(f"{source}: not a readable GraphML graph ({exc})") from None
    if not H.is_directed():
        raise GraphFileError(f"{source}: the GraphML graph is undirected; it must be directed")
    if H.is_multigraph():
        raise GraphFileError(f"{source}: the GraphML graph has parallel edges")
    if H.graph.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise GraphFileError(f"{source}: format {H.graph.get('format')!r} is not {FORMAT_NAME!r}")
    version = H.graph.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise GraphFileError(f"{source}: format version {version!r} is not supported")
    G = nx.DiGraph()
    for node, attrs in H.nodes(data=True):
        attrs = dict(attrs)
        if "attributes" in attrs:
            try:
                attrs["attributes"] = json.loads(attrs["attributes"])
            except (TypeError, json.JSONDecodeError):
                raise GraphFileError(
                    f"{source}: node {node!r} has attributes {attrs['attributes']!r}, not a "
                    "JSON list of numbers"
                ) from None
        G.add_node(node, **attrs)
    G.add_edges_from(H.edges(data=True))
    return G, H.graph.get("output_module", "output")


# ---------------------------------------------------------------------------- files
def save_graph(graph: CommunicationGraph, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write ``graph`` to ``path`` atomically; the format comes from the extension or ``fmt``."""
    path = Path(path)
    payload = dumps_graph(graph, _format_of(path, fmt))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_graph(path: str | os.PathLike, fmt: str | None = None, **graph_kwargs):
    """Read a graph from ``path``; the format comes from the extension or ``fmt``."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphFileError(f"{path}: cannot read ({exc.strerror})") from None
    return loads_graph(data, fmt, source=str(path), **graph_kwargs)
