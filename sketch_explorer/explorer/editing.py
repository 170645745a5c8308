"""Building and editing a communication graph by hand: a draft that is checked at every step.

A :class:`~sketch_explorer.graph.CommunicationGraph` is immutable. An edit here builds a new
networkx graph from the draft's, applies one change, and checks the result; a refused edit
raises :class:`EditError` and leaves the draft as it was. Every edit returns a new
:class:`GraphDraft`, so keeping the old one is all an undo needs.

The draft may be *incomplete* but never *wrong*:

* incomplete: objects not connected to the output yet (just added, or cut off by a removal),
  or an output with no inputs at all. The draft keeps them, and its :attr:`GraphDraft.graph`
  is the validated graph of the connected part (the library leaves unreachable objects out),
  or None while the output has no input: the explorer then keeps showing the last valid graph.
* wrong: a cycle, a module at two depths, a bad attribute vector or weight, a name used twice,
  and every other rule of SPEC section 1. Such an edit is refused with the library's message.

Weights. The inputs of a node sum to one. Connecting ``child -> parent`` with weight ``w``
(or changing that edge's weight to ``w``) multiplies the parent's other inputs by
``(1 - w) / (sum of the other inputs)``, so they keep their proportions and all sum to one; the
new input takes the last position. Disconnecting or removing an input divides the remaining
ones by their sum, and the positions close up in their order. A weight must lie in (0, 1]:
an input of weight 0 leaves no trace in the sketch, and ``w = 1`` beside other inputs would
give them weight 0. The only input of a node always has weight 1. :data:`WEIGHT_RULE` says
this in the words the explorer shows.

Attribute vectors are checked (finite, non-negative, not all zero) and stored at unit l2 norm,
as the graph would store them, so an exported draft reads back unchanged.

What is not checked here: that the sketch dimension is long enough for the attributes (the
explorer checks that when it shows the graph).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np

from ..exceptions import GraphValidationError, UnreachableObjectWarning
from ..graph import OUTPUT_MODULE, CommunicationGraph

__all__ = [
    "EDIT_OPERATIONS",
    "WEIGHT_RULE",
    "EditError",
    "GraphDraft",
    "parse_attributes",
]

#: The edits :meth:`GraphDraft.apply` accepts, by method name.
EDIT_OPERATIONS = (
    "add_module",
    "remove_module",
    "rename_module",
    "add_object",
    "remove_object",
    "rename",
    "set_attributes",
    "connect",
    "disconnect",
)

#: The renormalisation rule, as the editor shows it.
WEIGHT_RULE = (
    "The inputs of a node sum to 1. Connecting child → parent with weight w (0 < w ≤ 1), or "
    "changing that weight to w, multiplies the parent's other inputs by (1 − w) / (their sum), "
    "so they keep their proportions; a new input takes the last position. Disconnecting or "
    "removing an input divides the remaining ones by their sum, and positions close up. The "
    "only input of a node has weight 1."
)

_NUMBER_SPLIT = re.compile(r"[\s,;]+")


class EditError(ValueError):
    """An edit of a :class:`GraphDraft` was refused; the draft is unchanged."""


def _fmt(name: Hashable) -> str:
    return repr(name)


def _fmt_list(names: Iterable[Hashable], limit: int = 6) -> str:
    names = list(names)
    shown = ", ".join(_fmt(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def parse_attributes(values: str | Sequence[float] | np.ndarray) -> list[float]:
    """An attribute vector from text (``"0.6, 0.8"``) or numbers, at unit l2 norm.

    Parameters
    ----------
    values : str or sequence of float
        Text with numbers separated by commas, semicolons or spaces (brackets allowed), or the
        numbers themselves.

    Returns
    -------
    list of float
        ``x / ||x||_2``.

    Raises
    ------
    EditError
        If the text holds something that is not a number, or a value is not finite or is
        negative, or all values are zero, or there is none.

    Examples
    --------
    >>> parse_attributes("3, 4")
    [0.6, 0.8]
    """
    if isinstance(values, str):
        text = values.strip().strip("[]()").strip()
        tokens = [t for t in _NUMBER_SPLIT.split(text) if t]
        try:
            x = np.array([float(t) for t in tokens], dtype=float)
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise EditError(
                f"attributes must be numbers separated by commas or spaces; {bad!r} is not a "
                "number"
            ) from None
    else:
        try:
            x = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise EditError(f"attributes must be numbers; got {values!r}") from None
    if x.ndim != 1 or x.size == 0:
        raise EditError("attributes must be a non-empty list of numbers; got none")
    if not np.all(np.isfinite(x)):
        k = int(np.flatnonzero(~np.isfinite(x))[0])
        raise EditError(f"attribute {k} is {x[k]} (attributes must be finite)")
    if np.any(x < 0):
        k = int(np.flatnonzero(x < 0)[0])
        raise EditError(f"attribute {k} is {x[k]:g} (attributes must be non-negative)")
    norm = float(np.linalg.norm(x))
    if norm == 0.0:
        raise EditError("the attribute vector is all zeros (it must have unit l2 norm)")
    return (x / norm).tolist()


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _check_name(name: Hashable, what: str = "name") -> Hashable:
    if isinstance(name, str):
        if not name.strip():
            raise EditError(f"the {what} is empty; type a name")
        return name
    if isinstance(name, bool) or name is None:
        raise EditError(f"the {what} must be a string or an int; got {name!r}")
    if isinstance(name, (int, np.integer)):
        return int(name)
    raise EditError(f"the {what} must be a string or an int; got {type(name).__name__}")


def _check_weight(weight: float) -> float:
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise EditError(f"the weight must be a number; got {weight!r}") from None
    if not math.isfinite(w) or not 0.0 < w <= 1.0:
        raise EditError(
            f"the weight must lie in (0, 1]; got {weight!r} (an input of weight 0 leaves no "
            "trace in the sketch)"
        )
    return w


@dataclass(frozen=True, eq=False)
class GraphDraft:
    """A communication graph under construction, and the valid graph it stands for.

    Build one with :meth:`from_graph` or :meth:`empty`; every edit method returns a new draft.

    Attributes
    ----------
    G : networkx.DiGraph
        The draft itself, every in-edge with ``weight`` and ``position``. Never changed after
        the draft is made (edits copy it).
    output : hashable
        Name of the output node.
    output_module : str
    modules : tuple of str
        The modules the draft knows: those of its objects and any added without objects yet
        (which a saved graph does not keep).
    graph : CommunicationGraph or None
        The validated graph of the part connected to the output; None while the output has no
        input.
    unconnected : tuple
        Objects with no path to the output (left out of :attr:`graph`).
    message : str
        Plain text: what the last edit did, with any renormalisation in numbers.
    attribute_labels : mapping
        Module name -> names of its attribute entries (carried over from the input).
    """

    G: nx.DiGraph
    output: Hashable
    output_module: str
    modules: tuple[str, ...]
    graph: CommunicationGraph | None
    unconnected: tuple
    message: str = ""
    attribute_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    # ------------------------------------------------------------------ making drafts
    @classmethod
    def from_graph(
        cls,
        graph: CommunicationGraph,
        attribute_labels: Mapping[str, tuple[str, ...]] | None = None,
        message: str = "",
    ) -> "GraphDraft":
        """A draft holding ``graph`` as it is (complete)."""
        if not isinstance(graph, CommunicationGraph):
            raise TypeError(f"graph must be a CommunicationGraph; got {type(graph).__name__}")
        return cls(
            graph.to_networkx(),
            graph.output,
            graph.output_module,
            tuple(graph.modules),
            graph,
            (),
            message,
            dict(attribute_labels or {}),
        )

    @classmethod
    def empty(cls, output: Hashable = "output", output_module: str = OUTPUT_MODULE):
        """A draft with only the output node (incomplete until an object is connected)."""
        output = _check_name(output, "output name")
        G = nx.DiGraph()
        G.add_node(output, module=str(output_module))
        return cls(G, output, str(output_module), (), None, (), "started an empty graph")

    # ------------------------------------------------------------------ reading
    @property
    def objects(self) -> list[Hashable]:
        """Every object of the draft (connected or not), in insertion order."""
        return [n for n in self.G.nodes if n != self.output]

    @property
    def is_complete(self) -> bool:
        """Whether every object is connected and the output has an input."""
        return self.graph is not None and not self.unconnected

    def inputs(self, name: Hashable) -> list[tuple[Hashable, int, float]]:
        """Inputs of ``name`` in the draft as ``(child, position, weight)``, by position."""
        self._require(name, allow_output=True)
        edges = [(u, d["position"], d["weight"]) for u, _v, d in self.G.in_edges(name, data=True)]
        return sorted(edges, key=lambda e: e[1])

    def summary(self) -> str:
        """One line of plain text: size, completeness, and what the sketch shows."""
        n, m = len(self.objects), len(self.modules)
        if self.graph is None:
            return (
                f"draft: {n} objects, {m} modules; the output has no input yet, so there is "
                "no valid graph to sketch: the explorer keeps showing the last valid one"
            )
        if self.unconnected:
            return (
                f"draft: {n} objects, {m} modules; {len(self.unconnected)} not connected to "
                f"the output yet ({_fmt_list(self.unconnected)}): they are left out of the "
                f"sketch, which shows the {len(self.graph)} connected objects"
            )
        return f"draft: {n} objects, {m} modules, all connected; the sketch shows all of it"

    def _require(self, name: Hashable, *, allow_output: bool = False) -> None:
        if name == self.output and not allow_output:
            raise EditError(f"{_fmt(name)} is the output pseudo-object, not an object")
        if name not in self.G:
            raise EditError(f"{_fmt(name)} is not a node of the draft")

    # ------------------------------------------------------------------ the edits
    def apply(self, operation: str, *args, **kwargs) -> "GraphDraft":
        """Run the edit method named ``operation`` (one of :data:`EDIT_OPERATIONS`)."""
        if operation not in EDIT_OPERATIONS:
            raise EditError(f"unknown edit {operation!r}; edits are {list(EDIT_OPERATIONS)}")
        return getattr(self, operation)(*args, **kwargs)

    def add_module(self, module: str) -> "GraphDraft":
        """Declare a module, so objects can be added to it."""
        module = self._new_module_name(module)
        return self._settle(self.G, (*self.modules, module), f"added module {module!r}")

    def remove_module(self, module: str) -> "GraphDraft":
        """Remove a module and every object of it; their consumers' inputs are renormalised."""
        if module not in self.modules:
            raise EditError(f"module {module!r} is not in the draft; modules: "
                            f"{list(self.modules)}")
        G = self.G.copy()
        victims = [n for n, m in G.nodes(data="module") if m == module and n != self.output]
        notes = [_remove_node(G, n) for n in victims]
        modules = tuple(m for m in self.modules if m != module)
        text = f"removed module {module!r}"
        if victims:
            text += f" and its {len(victims)} objects ({_fmt_list(victims)})"
        return self._settle(G, modules, "; ".join([text, *filter(None, notes)]))

    def rename_module(self, module: str, new: str) -> "GraphDraft":
        """Give a module a new name (its objects follow)."""
        if module not in self.modules:
            raise EditError(f"module {module!r} is not in the draft; modules: "
                            f"{list(self.modules)}")
        new = self._new_module_name(new)
        G = self.G.copy()
        for n, m in list(G.nodes(data="module")):
            if m == module and n != self.output:
                G.nodes[n]["module"] = new
        modules = tuple(new if m == module else m for m in self.modules)
        labels = dict(self.attribute_labels)
        if module in labels:
            labels[new] = labels.pop(module)
        draft = self._settle(G, modules, f"renamed module {module!r} to {new!r}")
        return replace(draft, attribute_labels=labels)

    def add_object(
        self, name: Hashable, module: str, attributes: str | Sequence[float]
    ) -> "GraphDraft":
        """Add an object (not connected yet: connect it with :meth:`connect`).

        The module is declared if it is new.
        """
        name = _check_name(name, "object name")
        if name in self.G:
            raise EditError(f"{_fmt(name)} is already a node of the draft; pick another name")
        if not isinstance(module, str) or not module.strip():
            raise EditError(f"the module name must be a non-empty string; got {module!r}")
        if module == self.output_module:
            raise EditError(f"{module!r} is the output's module; objects need another module")
        x = parse_attributes(attributes)
        G = self.G.copy()
        G.add_node(name, module=module, attributes=x)
        modules = self.modules if module in self.modules else (*self.modules, module)
        return self._settle(
            G, modules, f"added object {_fmt(name)} of module {module!r} with {len(x)} "
            "attributes (stored at unit norm); connect it to a parent to sketch it"
        )

    def remove_object(self, name: Hashable) -> "GraphDraft":
        """Remove an object; its consumers' remaining inputs are renormalised."""
        self._require(name)
        G = self.G.copy()
        note = _remove_node(G, name)
        return self._settle(G, self.modules, "; ".join(filter(None, [
            f"removed object {_fmt(name)}", note])))

    def rename(self, name: Hashable, new: Hashable) -> "GraphDraft":
        """Rename an object or the output."""
        self._require(name, allow_output=True)
        new = _check_name(new, "new name")
        if new in self.G:
            raise EditError(f"{_fmt(new)} is already a node of the draft; pick another name")
        G = nx.relabel_nodes(self.G, {name: new}, copy=True)
        output = new if name == self.output else self.output
        draft = self._settle(G, self.modules, f"renamed {_fmt(name)} to {_fmt(new)}",
                             output=output)
        return draft

    def set_attributes(self, name: Hashable, attributes: str | Sequence[float]) -> "GraphDraft":
        """Replace an object's attribute vector (stored at unit norm)."""
        self._require(name)
        x = parse_attributes(attributes)
        G = self.G.copy()
        G.nodes[name]["attributes"] = x
        shown = ", ".join(f"{v:.3g}" for v in x[:8]) + (", …" if len(x) > 8 else "")
        return self._settle(G, self.modules, f"set the attributes of {_fmt(name)} to "
                            f"({shown}) (unit norm)")

    def connect(self, child: Hashable, parent: Hashable, weight: float = 1.0) -> "GraphDraft":
        """Make ``child`` an input of ``parent`` with weight ``weight`` (see :data:`WEIGHT_RULE`).

        If the edge exists, its weight changes to ``weight`` and its position stays.
        """
        self._require(child)
        self._require(parent, allow_output=True)
        if child == parent:
            raise EditError(f"{_fmt(child)} cannot be an input of itself")
        w = _check_weight(weight)
        G = self.G.copy()
        if not G.has_edge(child, parent) and nx.has_path(G, parent, child):
            path = nx.shortest_path(G, parent, child)
            raise EditError(
                f"connecting {_fmt(child)} → {_fmt(parent)} would close a cycle: "
                + " → ".join(_fmt(n) for n in [*path, parent])
            )
        others = [(u, d) for u, _v, d in G.in_edges(parent, data=True) if u != child]
        existed = G.has_edge(child, parent)
        if not others:
            note = (
                f"{_fmt(child)} is the only input of {_fmt(parent)}, so its weight is 1"
                + ("" if w == 1.0 else f" (not {w:g})")
            )
            w = 1.0
        elif w == 1.0:
            raise EditError(
                f"weight 1 would leave the other {len(others)} inputs of {_fmt(parent)} with "
                "weight 0; pick w < 1 or disconnect them first"
            )
        else:
            total = math.fsum(d["weight"] for _u, d in others)
            if total > 0:
                factor = (1.0 - w) / total
                for _u, d in others:
                    d["weight"] = d["weight"] * factor
                note = (
                    f"the other {len(others)} inputs of {_fmt(parent)} were multiplied by "
                    f"(1 − {w:g}) / {total:.4g} = {factor:.4g}, so the weights sum to 1"
                )
            else:  # only reachable from a loaded graph with zero weights
                for _u, d in others:
                    d["weight"] = (1.0 - w) / len(others)
                note = (
                    f"the other {len(others)} inputs of {_fmt(parent)} had weight 0; they "
                    f"share 1 − {w:g} equally"
                )
        if existed:
            G.edges[child, parent]["weight"] = w
            what = f"set the weight of {_fmt(child)} → {_fmt(parent)} to {w:g}"
        else:
            position = len(others) + 1
            G.add_edge(child, parent, weight=w, position=position)
            what = f"connected {_fmt(child)} → {_fmt(parent)} at position {position} with " \
                   f"weight {w:g}"
        return self._settle(G, self.modules, f"{what}; {note}")

    def disconnect(self, child: Hashable, parent: Hashable) -> "GraphDraft":
        """Remove the edge ``child -> parent``; the parent's other inputs are renormalised."""
        self._require(child)
        self._require(parent, allow_output=True)
        if not self.G.has_edge(child, parent):
            raise EditError(f"{_fmt(child)} is not an input of {_fmt(parent)}")
        G = self.G.copy()
        G.remove_edge(child, parent)
        note = _close_up(G, parent)
        return self._settle(G, self.modules, "; ".join(filter(None, [
            f"disconnected {_fmt(child)} → {_fmt(parent)}", note])))

    # ------------------------------------------------------------------ checking
    def _new_module_name(self, module: str) -> str:
        if not isinstance(module, str) or not module.strip():
            raise EditError(f"the module name must be a non-empty string; got {module!r}")
        if module == self.output_module:
            raise EditError(f"{module!r} is the output's module name; pick another")
        if module in self.modules:
            raise EditError(f"module {module!r} exists already")
        return module

    def _settle(
        self, G: nx.DiGraph, modules: tuple[str, ...], message: str, *, output=None
    ) -> "GraphDraft":
        """Check an edited graph; return the new draft or raise :class:`EditError`."""
        output = self.output if output is None else output
        try:
            cycle = nx.find_cycle(G)
        except nx.NetworkXNoCycle:
            pass
        else:
            nodes = [u for u, _v in cycle] + [cycle[0][0]]
            raise EditError("the edit would make a cycle: " + " → ".join(map(_fmt, nodes)))
        if G.in_degree(output) == 0:
            graph, unconnected = None, tuple(n for n in G.nodes if n != output)
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UnreachableObjectWarning)
                    graph = CommunicationGraph(G.copy(), output_module=self.output_module)
            except GraphValidationError as exc:
                raise EditError(f"refused: {exc}") from None
            unconnected = tuple(n for n in G.nodes if n != output and n not in graph)
        used = {m for n, m in G.nodes(data="module") if n != output}
        modules = tuple(dict.fromkeys([*modules, *sorted(used - set(modules))]))
        return GraphDraft(G, output, self.output_module, modules, graph, unconnected, message,
                          dict(self.attribute_labels))


def _close_up(G: nx.DiGraph, parent: Hashable) -> str:
    """Renormalise the inputs of ``parent`` to sum 1 and renumber their positions 1..k."""
    edges = sorted(G.in_edges(parent, data=True), key=lambda e: e[2]["position"])
    if not edges:
        return f"{_fmt(parent)} has no inputs left"
    total = math.fsum(d["weight"] for _u, _v, d in edges)
    for k, (_u, _v, d) in enumerate(edges, start=1):
        d["position"] = k
        d["weight"] = d["weight"] / total if total > 0 else 1.0 / len(edges)
    if abs(total - 1.0) < 1e-12:
        return ""
    return (
        f"the remaining {len(edges)} inputs of {_fmt(parent)} were divided by their sum "
        f"{total:.4g}"
    )


def _remove_node(G: nx.DiGraph, name: Hashable) -> str:
    """Remove ``name`` from ``G``; renormalise its consumers; say who is cut off."""
    parents = list(G.successors(name))
    children = list(G.predecessors(name))
    G.remove_node(name)
    notes = [_close_up(G, p) for p in parents]
    orphans = [c for c in children if G.out_degree(c) == 0]
    if orphans:
        notes.append(f"{_fmt_list(orphans)} no longer feed any node")
    return "; ".join(filter(None, notes))
