"""The communication graph of one input to a modular network (SPEC section 1).

A *module* is an independent network; each time it fires it produces an *object* with a
non-negative, unit-l2 *attribute vector*. The communication graph says which objects fed which:
object theta has ordered inputs theta_1..theta_k with weights w_1..w_k >= 0, sum w_i = 1. A single
*output* pseudo-object is the sink; it groups the top-level objects and is not an object itself.

Derived quantities, with the paper's names:

* depth h(theta): the number of objects on a path from theta to the output, output included
  (output depth 1, its inputs depth 2, ...);
* effective weight w_theta: the sum over paths to the output of the product of the weights along
  the path (SPEC section 1; the coefficient every estimator divides by);
* input-position paths: for each such path, the input positions i_1..i_{h-1} read from the
  output down (what the path-known estimator of Theorem 1(ii) needs).

What is checked, with an error naming the node or edge: the graph type, a missing or unknown
module name, zero or several output nodes, an output with out-edges, cycles, missing, NaN,
negative, zero or over-long attribute vectors, NaN, negative or non-summing weights, malformed
positions, an object at two depths and a module at two depths (the paper's assumption that all
objects of a module share one depth). Objects with no path to the output are left out with an
:class:`~sketch_explorer.exceptions.UnreachableObjectWarning`. Attribute vectors whose l2 norm is
not one are rescaled to unit norm with an
:class:`~sketch_explorer.exceptions.AttributeNormalizationWarning` (their direction is kept; the
original norm is available from :meth:`CommunicationGraph.attribute_norm`).

The graph is immutable once built: every edit builds a new, re-validated graph, so an invalid
edit can never leave a half-changed graph behind.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np

from .exceptions import (
    AttributeNormalizationWarning,
    GraphValidationError,
    UnreachableObjectWarning,
    WeightRenormalizationWarning,
)

__all__ = ["CommunicationGraph", "OUTPUT_MODULE"]

#: Module name of the output pseudo-object unless another is given.
OUTPUT_MODULE = "output"

_NORM_ATOL = 1e-6
_WEIGHT_ATOL = 1e-6


def _fmt(name: Hashable) -> str:
    """A node name as it appears in messages (repr keeps spaces and quotes visible)."""
    return repr(name)


def _fmt_list(names: Iterable[Hashable], limit: int = 8) -> str:
    names = list(names)
    shown = ", ".join(_fmt(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return shown + more


class CommunicationGraph:
    """A validated communication graph.

    Parameters
    ----------
    G : networkx.DiGraph
        Edges run in the direction of data flow: an edge ``u -> v`` says object ``u`` is an
        input of ``v``. Every node has a ``module`` attribute (str). Every object (every node
        except the output) has an ``attributes`` attribute: a sequence of non-negative floats,
        not all zero. Edges may carry ``weight`` (float >= 0) and ``position`` (int, 1-based);
        for each consumer either all or none of its in-edges carry each of them. Without
        weights a consumer's k inputs get 1/k each; without positions they take the order in
        which the edges were added.
    output_module : str, default="output"
        Module name of the output pseudo-object. Exactly one node must have it.
    modules : iterable of str, optional
        The modules the network declares. If given, a node whose module is not among them (or
        ``output_module``) is an error.
    renormalize_weights : bool, default=False
        If False, input weights that do not sum to one (within 1e-6) are an error. If True they
        are divided by their sum, with a :class:`WeightRenormalizationWarning`.

    Raises
    ------
    TypeError
        If ``G`` is not a ``networkx.DiGraph`` (multigraphs and undirected graphs included).
    GraphValidationError
        For any broken rule; the message names the node or edge.

    Notes
    -----
    The effective weight is computed by one pass over the graph in topological order:
    ``w(output) = 1`` and ``w(child) += w(parent) * w_edge`` for each edge, so it equals the sum
    over all paths of the product of the weights along each path.

    References
    ----------
    .. [1] B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep Learning",
       ICML 2019, section 2 (the communication graph).
    """

    def __init__(
        self,
        G: nx.DiGraph,
        *,
        output_module: str = OUTPUT_MODULE,
        modules: Iterable[str] | None = None,
        renormalize_weights: bool = False,
    ) -> None:
        if not isinstance(G, nx.DiGraph) or G.is_multigraph():
            raise TypeError(
                "G must be a networkx.DiGraph (not a MultiDiGraph or an undirected graph); "
                f"got {type(G).__name__}"
            )
        self.output_module = str(output_module)

        # 1. module names and the output node
        self._check_modules(G, modules)
        self.output = self._find_output(G)

        # 2. acyclicity, then keep only what reaches the output
        self._check_acyclic(G)
        G = self._drop_unreachable(G)

        # 3. attributes, weights and positions
        self._attributes: dict[Hashable, np.ndarray] = {}
        self._attribute_norm: dict[Hashable, float] = {}
        self._module: dict[Hashable, str] = {}
        for node, data in G.nodes(data=True):
            self._module[node] = data["module"]
            if node != self.output:
                self._read_attributes(node, data)
        self._inputs = {
            node: self._read_inputs(G, node, renormalize_weights) for node in G.nodes
        }

        self._parents: dict[Hashable, list[tuple[Hashable, int, float]]] = {
            node: [] for node in G.nodes
        }
        for parent, inputs in self._inputs.items():
            for pos, (child, w) in enumerate(inputs, start=1):
                self._parents[child].append((parent, pos, w))

        # 4. depths, module depths, effective weights
        self._depth = self._compute_depths(G)
        self._module_depth = self._compute_module_depths()
        self._effective_weight = self._compute_effective_weights(G)

        # canonical object order: by depth, then breadth-first by input position
        self.objects: tuple[Hashable, ...] = self._canonical_order()
        self._index = {name: r for r, name in enumerate(self.objects)}
        self._paths: dict[Hashable, list[tuple[tuple[int, ...], float]]] = {}

    # ------------------------------------------------------------------ validation steps
    def _check_modules(self, G: nx.DiGraph, modules: Iterable[str] | None) -> None:
        known = None if modules is None else set(map(str, modules)) | {self.output_module}
        for node, data in G.nodes(data=True):
            module = data.get("module")
            if not isinstance(module, str) or not module:
                raise GraphValidationError(
                    f"node {_fmt(node)} has no module name (node attribute 'module' must be a "
                    f"non-empty str; got {module!r})"
                )
            if known is not None and module not in known:
                raise GraphValidationError(
                    f"node {_fmt(node)} names unknown module {module!r}; the network declares "
                    f"{sorted(known)}"
                )

    def _find_output(self, G: nx.DiGraph) -> Hashable:
        outputs = [n for n, m in G.nodes(data="module") if m == self.output_module]
        if not outputs:
            raise GraphValidationError(
                f"the graph has no output sink: no node has module {self.output_module!r}"
            )
        if len(outputs) > 1:
            raise GraphValidationError(
                f"the graph has {len(outputs)} output sinks ({_fmt_list(outputs)}); "
                f"exactly one node may have module {self.output_module!r}"
            )
        output = outputs[0]
        if G.out_degree(output):
            succ = next(iter(G.successors(output)))
            raise GraphValidationError(
                f"the output {_fmt(output)} must be the sink, but it feeds {_fmt(succ)} "
                f"(edge {_fmt(output)} -> {_fmt(succ)})"
            )
        if not G.in_degree(output):
            raise GraphValidationError(
                f"the output {_fmt(output)} has no inputs: the graph holds no object to sketch"
            )
        return output

    @staticmethod
    def _check_acyclic(G: nx.DiGraph) -> None:
        try:
            cycle = nx.find_cycle(G)
        except nx.NetworkXNoCycle:
            return
        nodes = [u for u, _v in cycle] + [cycle[0][0]]
        raise GraphValidationError(
            "the communication graph has a cycle: " + " -> ".join(_fmt(n) for n in nodes)
        )

    def _drop_unreachable(self, G: nx.DiGraph) -> nx.DiGraph:
        keep = nx.ancestors(G, self.output) | {self.output}
        lost = [n for n in G.nodes if n not in keep]
        if lost:
            warnings.warn(
                f"{len(lost)} object(s) have no path to the output and are left out: "
                f"{_fmt_list(lost)}",
                UnreachableObjectWarning,
                stacklevel=4,
            )
            G = G.subgraph(keep).copy()
        return G

    def _read_attributes(self, node: Hashable, data: Mapping) -> None:
        raw = data.get("attributes")
        if raw is None:
            raise GraphValidationError(
                f"object {_fmt(node)} has no attribute vector (node attribute 'attributes')"
            )
        try:
            x = np.asarray(raw, dtype=float)
        except (TypeError, ValueError) as exc:
            raise GraphValidationError(
                f"object {_fmt(node)}: attributes must be a sequence of numbers ({exc})"
            ) from None
        if x.ndim != 1 or x.size == 0:
            raise GraphValidationError(
                f"object {_fmt(node)}: attributes must be a non-empty 1-d vector; got shape "
                f"{x.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            raise GraphValidationError(
                f"object {_fmt(node)}: attribute {bad[0]} is {x[bad[0]]} (attributes must be "
                "finite)"
            )
        neg = np.flatnonzero(x < 0)
        if neg.size:
            raise GraphValidationError(
                f"object {_fmt(node)}: attribute {neg[0]} is {x[neg[0]]:g} (attributes must be "
                "non-negative)"
            )
        norm = float(np.linalg.norm(x))
        if norm == 0.0:
            raise GraphValidationError(
                f"object {_fmt(node)}: the attribute vector is all zeros (it must have unit "
                "l2 norm)"
            )
        if abs(norm - 1.0) > _NORM_ATOL:
            warnings.warn(
                f"object {_fmt(node)}: attribute vector had l2 norm {norm:.6g}; rescaled to 1",
                AttributeNormalizationWarning,
                stacklevel=4,
            )
            x = x / norm
        x.setflags(write=False)
        self._attributes[node] = x
        self._attribute_norm[node] = norm

    def _read_inputs(
        self, G: nx.DiGraph, node: Hashable, renormalize: bool
    ) -> list[tuple[Hashable, float]]:
        edges = list(G.in_edges(node, data=True))
        if not edges:
            return []
        k = len(edges)

        # positions: all or none, a permutation of 1..k
        has_pos = ["position" in d for _u, _v, d in edges]
        if any(has_pos) and not all(has_pos):
            u = edges[has_pos.index(False)][0]
            raise GraphValidationError(
                f"edge {_fmt(u)} -> {_fmt(node)} has no 'position' while other inputs of "
                f"{_fmt(node)} do (give all or none)"
            )
        if all(has_pos):
            positions = []
            for u, _v, d in edges:
                p = d["position"]
                if isinstance(p, bool) or not float(p).is_integer():
                    raise GraphValidationError(
                        f"edge {_fmt(u)} -> {_fmt(node)}: position must be an integer in "
                        f"1..{k}; got {p!r}"
                    )
                positions.append(int(p))
            if sorted(positions) != list(range(1, k + 1)):
                raise GraphValidationError(
                    f"inputs of {_fmt(node)} have positions {sorted(positions)}; they must be "
                    f"1..{k}, each once"
                )
            edges = [e for _p, e in sorted(zip(positions, edges), key=lambda t: t[0])]

        # weights: all or none, finite, non-negative, summing to one
        has_w = ["weight" in d for _u, _v, d in edges]
        if any(has_w) and not all(has_w):
            u = edges[has_w.index(False)][0]
            raise GraphValidationError(
                f"edge {_fmt(u)} -> {_fmt(node)} has no 'weight' while other inputs of "
                f"{_fmt(node)} do (give all or none)"
            )
        if not any(has_w):
            return [(u, 1.0 / k) for u, _v, _d in edges]
        weights = []
        for u, _v, d in edges:
            try:
                w = float(d["weight"])
            except (TypeError, ValueError):
                raise GraphValidationError(
                    f"edge {_fmt(u)} -> {_fmt(node)}: weight must be a number; got "
                    f"{d['weight']!r}"
                ) from None
            if not math.isfinite(w):
                raise GraphValidationError(
                    f"edge {_fmt(u)} -> {_fmt(node)}: weight is {w} (weights must be finite)"
                )
            if w < 0:
                raise GraphValidationError(
                    f"edge {_fmt(u)} -> {_fmt(node)}: weight is {w:g} (weights must be >= 0)"
                )
            weights.append(w)
        total = math.fsum(weights)
        if abs(total - 1.0) > _WEIGHT_ATOL:
            if not renormalize or total == 0.0:
                raise GraphValidationError(
                    f"input weights of {_fmt(node)} sum to {total:.6g}, not 1 "
                    f"(weights {[round(w, 6) for w in weights]}); pass "
                    "renormalize_weights=True to divide them by their sum"
                )
            warnings.warn(
                f"input weights of {_fmt(node)} summed to {total:.6g}; divided by their sum",
                WeightRenormalizationWarning,
                stacklevel=4,
            )
            weights = [w / total for w in weights]
        return [(u, w) for (u, _v, _d), w in zip(edges, weights)]

    def _compute_depths(self, G: nx.DiGraph) -> dict[Hashable, int]:
        # shortest and longest path to the output, in objects; they must agree
        order = list(reversed(list(nx.topological_sort(G))))  # output first
        lo: dict[Hashable, int] = {self.output: 1}
        hi: dict[Hashable, int] = {self.output: 1}
        for node in order:
            if node == self.output:
                continue
            succ = list(G.successors(node))
            lo[node] = 1 + min(lo[s] for s in succ)
            hi[node] = 1 + max(hi[s] for s in succ)
            if lo[node] != hi[node]:
                raise GraphValidationError(
                    f"object {_fmt(node)} lies at two depths, {lo[node]} and {hi[node]}, "
                    "through different paths to the output; every object (and module) must "
                    "have one depth"
                )
        return lo

    def _compute_module_depths(self) -> dict[str, int]:
        module_depth: dict[str, int] = {}
        witness: dict[str, Hashable] = {}
        for node, h in self._depth.items():
            if node == self.output:
                continue
            m = self._module[node]
            if m == self.output_module:
                raise GraphValidationError(
                    f"object {_fmt(node)} uses the output module name {m!r}"
                )
            if m in module_depth and module_depth[m] != h:
                raise GraphValidationError(
                    f"module {m!r} appears at two depths: {module_depth[m]} (object "
                    f"{_fmt(witness[m])}) and {h} (object {_fmt(node)}); all objects of a "
                    "module must share one depth"
                )
            module_depth.setdefault(m, h)
            witness.setdefault(m, node)
        return module_depth

    def _compute_effective_weights(self, G: nx.DiGraph) -> dict[Hashable, float]:
        w = {node: 0.0 for node in G.nodes}
        w[self.output] = 1.0
        for node in reversed(list(nx.topological_sort(G))):
            for child, wc in self._inputs[node]:
                w[child] += w[node] * wc
        return w

    def _canonical_order(self) -> tuple[Hashable, ...]:
        seen = {self.output}
        frontier = [self.output]
        order = []
        while frontier:
            nxt = []
            for node in frontier:
                for child, _w in self._inputs[node]:
                    if child not in seen:
                        seen.add(child)
                        nxt.append(child)
            nxt.sort(key=lambda n: self._depth[n])
            order.extend(nxt)
            frontier = nxt
        order.sort(key=lambda n: self._depth[n])  # stable: keeps breadth-first order
        return tuple(order)

    # ------------------------------------------------------------------ public accessors
    def __len__(self) -> int:
        """Number of objects (the output pseudo-object is not counted)."""
        return len(self.objects)

    def __contains__(self, name: Hashable) -> bool:
        return name in self._module and name != self.output

    def __repr__(self) -> str:
        return (
            f"CommunicationGraph({len(self)} objects, {len(self.modules)} modules, "
            f"depth {self.max_depth})"
        )

    def _require(self, name: Hashable) -> None:
        if name not in self:
            raise KeyError(f"{_fmt(name)} is not an object of this communication graph")

    def index(self, name: Hashable) -> int:
        """Row of object ``name`` in :attr:`objects` (and in arrays ordered like it)."""
        self._require(name)
        return self._index[name]

    @property
    def modules(self) -> dict[str, int]:
        """Module name -> depth, in order of depth then first appearance."""
        return {self._module[n]: self._depth[n] for n in self.objects}

    @property
    def max_depth(self) -> int:
        """Largest depth of any object (the output has depth 1)."""
        return max(self._depth[n] for n in self.objects)

    def module(self, name: Hashable) -> str:
        """Module that produced object ``name``."""
        self._require(name)
        return self._module[name]

    def depth(self, name: Hashable) -> int:
        """Depth h of object ``name`` (its inputs' depth is h + 1)."""
        self._require(name)
        return self._depth[name]

    def attributes(self, name: Hashable) -> np.ndarray:
        """Unit-norm attribute vector x_theta of object ``name``, shape ``(k,)``, read-only."""
        self._require(name)
        return self._attributes[name]

    def attribute_norm(self, name: Hashable) -> float:
        """l2 norm of the attribute vector as given, before any rescaling."""
        self._require(name)
        return self._attribute_norm[name]

    def effective_weight(self, name: Hashable) -> float:
        """Effective weight w_theta: sum over paths to the output of the weight products."""
        self._require(name)
        return self._effective_weight[name]

    def inputs(self, name: Hashable) -> list[tuple[Hashable, float]]:
        """Inputs of ``name`` (an object or the output) as ``(child, weight)`` by position."""
        if name != self.output:
            self._require(name)
        return list(self._inputs[name])

    def parents(self, name: Hashable) -> list[tuple[Hashable, int, float]]:
        """Consumers of object ``name`` as ``(parent, position, weight)``."""
        self._require(name)
        return list(self._parents[name])

    def objects_of(self, module: str) -> list[Hashable]:
        """Objects produced by ``module``, in canonical order."""
        if module not in self._module_depth:
            raise KeyError(f"module {module!r} has no object in this graph")
        return [n for n in self.objects if self._module[n] == module]

    def paths(self, name: Hashable, max_paths: int = 10_000) -> list[tuple[tuple[int, ...], float]]:
        """Input-position paths of object ``name``.

        Returns
        -------
        list of (positions, weight)
            ``positions`` is ``(i_1, ..., i_{h-1})``, the input position taken at each object
            from the output down; ``weight`` is the product of the weights along that path.
            The weights of all paths sum to the effective weight.
        """
        self._require(name)
        if name not in self._paths:
            self._paths[name] = self._enumerate_paths(name, max_paths)
        return list(self._paths[name])

    def _enumerate_paths(self, name, max_paths):
        if name == self.output:
            return [((), 1.0)]
        out = []
        for parent, pos, w in self.parents(name):
            up = [((), 1.0)] if parent == self.output else self.paths(parent, max_paths)
            out.extend((p + (pos,), pw * w) for p, pw in up)
            if len(out) > max_paths:
                raise GraphValidationError(
                    f"object {_fmt(name)} has more than {max_paths} paths to the output"
                )
        return out

    def check_dimension(self, d: int) -> None:
        """Raise if any attribute vector is longer than the sketch dimension ``d``."""
        for node in self.objects:
            k = self._attributes[node].size
            if k > d:
                raise GraphValidationError(
                    f"object {_fmt(node)} has {k} attributes but the sketch dimension is "
                    f"d={d}; attribute length must be <= d"
                )

    # ------------------------------------------------------------------ conversions
    def to_networkx(self) -> nx.DiGraph:
        """The graph with every attribute explicit: module, attributes (list), weight, position.

        Attributes are the unit-norm vectors the graph holds (after any rescaling).
        """
        G = nx.DiGraph()
        G.add_node(self.output, module=self._module[self.output])
        for node in self.objects:
            G.add_node(node, module=self._module[node], attributes=self._attributes[node].tolist())
        for node in (self.output, *self.objects):
            for pos, (child, w) in enumerate(self._inputs[node], start=1):
                G.add_edge(child, node, weight=w, position=pos)
        return G

    @classmethod
    def from_objects(
        cls,
        objects: Mapping[Hashable, tuple[str, Sequence[float]]],
        inputs: Mapping[Hashable, Sequence[tuple[Hashable, float]]],
        *,
        output: Hashable = "output",
        output_module: str = OUTPUT_MODULE,
        **kwargs,
    ) -> "CommunicationGraph":
        """Build from plain mappings.

        Parameters
        ----------
        objects : mapping name -> (module, attributes)
        inputs : mapping name -> [(child, weight), ...] in position order
            The output's entry lists the top-level objects.
        output : hashable, default="output"
            Name of the output node.
        """
        G = nx.DiGraph()
        G.add_node(output, module=output_module)
        for name, (module, x) in objects.items():
            G.add_node(name, module=module, attributes=list(np.asarray(x, dtype=float)))
        for parent, children in inputs.items():
            if parent not in G:
                raise GraphValidationError(f"inputs are given for unknown node {_fmt(parent)}")
            for pos, (child, w) in enumerate(children, start=1):
                if child not in G:
                    raise GraphValidationError(
                        f"{_fmt(parent)} lists unknown input {_fmt(child)} at position {pos}"
                    )
                G.add_edge(child, parent, weight=float(w), position=pos)
        return cls(G, output_module=output_module, **kwargs)
