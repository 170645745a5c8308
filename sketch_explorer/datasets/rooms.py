"""Seeded room scenes: the paper's motivating example as a teaching generator.

The paper opens with a room seen every day for a year: "Is there a cat? How big is it? How
often did the room contain a cat? Was it usually morning or night?" This module draws such
scenes as communication graphs, with known ground truth, so the sketch estimators can be
checked against it.

A scene holds, as objects of the modules in :data:`ROOM_MODULES`:

* 2-4 ``wall`` objects, 0-2 ``window`` objects and, with ``lamp_probability``, one ``lamp``
  (all at depth 2, inputs of the output);
* with ``cat_probability``, one ``cat`` (depth 2) whose inputs are ``cat_head``, ``cat_body``
  and ``cat_tail`` objects (depth 3), weighted by their salience;
* from day ``new_object_from_day`` on (when given), with ``new_object_probability``, one
  ``plant`` (depth 2): the new kind of object that starts to appear mid-year.

Every attribute vector has the 8 entries of :data:`ROOM_ATTRIBUTES`, all in 0..1 before the
vector is divided by its l2 norm:

0. ``presence``: the constant 1; dividing a unit-norm vector by it gives back the raw values
   (:func:`raw_room_attributes`).
1. ``size``: the share of the view the object covers (for the cat, the sum of its parts).
2. ``x``: horizontal centre, 0 = left edge, 1 = right edge.
3. ``y``: vertical centre, 0 = top, 1 = floor.
4. ``red``, 5. ``green``, 6. ``blue``: the object's own colour (not darkened by the light).
7. ``brightness``: the scene's light level: 0.6-1.0 in the morning, 0.05-0.3 at night, plus
   0.25 at night when a (lit) lamp is present. Every object carries it, so the mean over the
   walls answers "morning or night?".

Weights. An object's salience is ``sqrt(size)`` (its linear extent); each consumer's inputs
get their salience share, so they sum to one, and are ordered by decreasing weight (position
1 is the most salient; ties by name). The square root keeps small objects such as the cat
from vanishing next to the walls: with area shares the cat's weight would be about 0.05.

Randomness. ``seed`` fixes the room itself (wall colour, the cat's fur, the lamp); ``day``
(or ``None`` for a single scene) selects the day's draw. Each kind of object draws from its
own stream (:class:`numpy.random.SeedSequence` spawn keys), so changing
``cat_probability`` or adding the plant leaves every other object of that day unchanged, and
``room_year(seed)[d]`` equals ``room_scene(seed, day=d)``.

What this module does not do: it renders no images and runs no detector; the graphs are drawn
directly, as if the modules were perfect. Objects never occlude one another and sizes are not
forced to sum to at most one. It draws no object below the cat's parts (no edges or textures).

References
----------
.. [1] B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep Learning",
   ICML 2019, section 1 (the room example) and section 2 (the communication graph).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..graph import OUTPUT_MODULE, CommunicationGraph
from ._presence import raw_from_presence

__all__ = [
    "RoomScene",
    "room_scene",
    "room_year",
    "scenes_table",
    "raw_room_attributes",
    "ROOM_ATTRIBUTES",
    "ROOM_MODULES",
    "CAT_PARTS",
    "NEW_OBJECT_MODULE",
]

logger = logging.getLogger(__name__)

#: Names of the entries of every room object's attribute vector, in order.
ROOM_ATTRIBUTES = ("presence", "size", "x", "y", "red", "green", "blue", "brightness")
#: Modules of the cat's parts (depth 3), inputs of the ``cat`` object.
CAT_PARTS = ("cat_head", "cat_body", "cat_tail")
#: Module of the object that appears from ``new_object_from_day`` on.
NEW_OBJECT_MODULE = "plant"
#: Every module a room scene may contain (the output module aside).
ROOM_MODULES = ("wall", "window", "lamp", "cat", *CAT_PARTS, NEW_OBJECT_MODULE)

_SKY_MORNING = np.array([0.55, 0.75, 0.95])
_SKY_NIGHT = np.array([0.05, 0.07, 0.20])
_LAMP_LIT = np.array([1.00, 0.85, 0.45])
_LAMP_OFF = np.array([0.55, 0.50, 0.40])
_PLANT = np.array([0.20, 0.55, 0.25])
_LAMP_BOOST = 0.25
# spawn-key branches under the room's seed: the fixed room, a dayless scene, a day's scene
_ROOM_KEY, _SINGLE_KEY, _DAY_KEY = 0, 1, 2
_STREAMS = ("light", "wall", "window", "lamp", "cat", "new")


def raw_room_attributes(attributes) -> dict[str, float]:
    """Raw attributes of a room object from its unit-norm attribute vector.

    Parameters
    ----------
    attributes : (8,) array_like
        Entries as in :data:`ROOM_ATTRIBUTES` (the graph's vector or a sketch estimate of it).

    Returns
    -------
    dict
        Entry name -> the vector divided by its ``presence`` entry.

    Raises
    ------
    ValueError
        If the vector does not have 8 entries or its first entry is not positive.

    Examples
    --------
    >>> scene = room_scene(0)
    >>> raw = raw_room_attributes(scene.graph.attributes("wall_0"))
    >>> bool(abs(raw["size"] - scene.raw_attributes().loc["wall_0", "size"]) < 1e-12)
    True
    """
    return raw_from_presence(attributes, ROOM_ATTRIBUTES, "room")


# ---------------------------------------------------------------------- validation
def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    return int(value)


def _check_probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float; got {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got {value}")
    return value


def _check_params(
    seed,
    day,
    cat_probability,
    night_probability,
    lamp_probability,
    new_object_from_day,
    new_object_probability,
):
    """Validate and normalise the scene parameters."""
    return (
        _check_int(seed, "seed", 0),
        None if day is None else _check_int(day, "day", 0),
        {
            "cat_probability": _check_probability(cat_probability, "cat_probability"),
            "night_probability": _check_probability(night_probability, "night_probability"),
            "lamp_probability": _check_probability(lamp_probability, "lamp_probability"),
            "new_object_from_day": None
            if new_object_from_day is None
            else _check_int(new_object_from_day, "new_object_from_day", 0),
            "new_object_probability": _check_probability(
                new_object_probability, "new_object_probability"
            ),
        },
    )


# ---------------------------------------------------------------------- the scene
@dataclass(frozen=True)
class RoomScene:
    """One view of the room: its communication graph and the truth behind it.

    Attributes
    ----------
    graph : CommunicationGraph
        The scene's communication graph (validated, unit-norm attributes).
    seed : int
        Seed of the room.
    day : int or None
        Day of the year, or None for a single scene drawn from the seed alone.
    time_of_day : {'morning', 'night'}
    brightness : float
        The scene's light level (attribute entry 7 of every object).
    has_cat, has_lamp, has_new_object : bool
        Whether the scene holds a cat, a lamp, a ``plant``.
    """

    graph: CommunicationGraph
    seed: int
    day: int | None
    time_of_day: str
    brightness: float
    has_cat: bool
    has_lamp: bool
    has_new_object: bool
    _raw: pd.DataFrame = field(repr=False, compare=False)

    def raw_attributes(self) -> pd.DataFrame:
        """True raw attributes and graph facts of every object.

        Returns
        -------
        pandas.DataFrame
            Indexed by node name in the graph's canonical order; columns ``module``,
            ``depth``, ``position`` and ``weight`` (at its consumer), ``effective_weight``,
            then the entries of :data:`ROOM_ATTRIBUTES` before normalisation.
        """
        return self._raw.copy()

    def counts(self) -> dict[str, int]:
        """Number of objects of each module in :data:`ROOM_MODULES` (zeros included)."""
        present = self._raw["module"].value_counts()
        return {m: int(present.get(m, 0)) for m in ROOM_MODULES}


def _jitter(rng: np.random.Generator, colour: np.ndarray, spread: float) -> np.ndarray:
    """A colour varied by a factor in [1 - spread, 1 + spread] per channel, clipped to 0..1."""
    return np.clip(colour * rng.uniform(1 - spread, 1 + spread, size=3), 0.0, 1.0)


def _room_palette(seed: int) -> dict[str, np.ndarray]:
    """The room's fixed colours: the walls and the cat's fur."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_ROOM_KEY,)))
    wall = rng.uniform(0.55, 0.95, size=3)
    grey = rng.uniform(0.15, 0.85)
    tint = np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.45, 1.0)])  # brown to grey
    return {"wall": wall, "fur": grey * tint}


def _obj(node, module, size, x, y, colour, parent="output") -> dict:
    """One drawn object before it becomes a graph node."""
    return {
        "node": node,
        "module": module,
        "size": float(size),
        "x": float(x),
        "y": float(y),
        "colour": np.asarray(colour, dtype=float),
        "parent": parent,
    }


def _salience_weights(sizes: Sequence[float]) -> np.ndarray:
    """Input weights proportional to sqrt(size), summing to one."""
    s = np.sqrt(np.asarray(sizes, dtype=float))
    return s / s.sum()


def _draw(seed: int, day: int | None, params: dict) -> RoomScene:
    """Draw one scene; every kind of object has its own random stream."""
    palette = _room_palette(seed)
    key = (_SINGLE_KEY,) if day is None else (_DAY_KEY, day)
    children = np.random.SeedSequence(seed, spawn_key=key).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(ss) for name, ss in zip(_STREAMS, children)}
    objects: list[dict] = []

    # light: time of day and the lamp (a lamp is lit at night and brightens the room)
    night = bool(rng["light"].random() < params["night_probability"])
    brightness = rng["light"].uniform(0.05, 0.3) if night else rng["light"].uniform(0.6, 1.0)
    has_lamp = bool(rng["lamp"].random() < params["lamp_probability"])
    if has_lamp and night:
        brightness += _LAMP_BOOST

    # walls, evenly spread across the view
    n_walls = int(rng["wall"].integers(2, 5))
    for j in range(n_walls):
        r = rng["wall"]
        size = r.uniform(0.15, 0.3)
        x, y = (j + r.uniform(0.35, 0.65)) / n_walls, r.uniform(0.4, 0.6)
        objects.append(_obj(f"wall_{j}", "wall", size, x, y, _jitter(r, palette["wall"], 0.05)))

    # windows, high on the walls; the sky's colour depends on the time of day
    n_windows = int(rng["window"].integers(0, 3))
    sky = _SKY_NIGHT if night else _SKY_MORNING
    for j in range(n_windows):
        r = rng["window"]
        size, x, y = r.uniform(0.03, 0.08), r.uniform(0.1, 0.9), r.uniform(0.2, 0.4)
        objects.append(_obj(f"window_{j}", "window", size, x, y, _jitter(r, sky, 0.1)))

    if has_lamp:
        r = rng["lamp"]
        size, x, y = r.uniform(0.02, 0.05), r.uniform(0.1, 0.9), r.uniform(0.55, 0.75)
        colour = _jitter(r, _LAMP_LIT if night else _LAMP_OFF, 0.05)
        objects.append(_obj("lamp", "lamp", size, x, y, colour))

    # the cat: head, body and tail on the floor, facing left or right
    has_cat = bool(rng["cat"].random() < params["cat_probability"])
    if has_cat:
        r = rng["cat"]
        size = r.uniform(0.03, 0.09)
        cx, cy = r.uniform(0.15, 0.85), r.uniform(0.75, 0.9)
        facing = 1.0 if r.random() < 0.5 else -1.0
        head, tail = r.uniform(0.15, 0.25), r.uniform(0.08, 0.15)
        shares = {"cat_head": head, "cat_body": 1.0 - head - tail, "cat_tail": tail}
        offsets = {"cat_head": (0.6, -0.3), "cat_body": (0.0, 0.0), "cat_tail": (-0.7, 0.1)}
        extent = np.sqrt(size)
        for part in CAT_PARTS:
            dx, dy = offsets[part]
            x = np.clip(cx + facing * dx * extent, 0.0, 1.0)
            y = np.clip(cy + dy * extent, 0.0, 1.0)
            colour = _jitter(r, palette["fur"], 0.08)
            objects.append(_obj(part, part, size * shares[part], x, y, colour, parent="cat"))
        objects.append(_obj("cat", "cat", size, cx, cy, palette["fur"]))

    # the new kind of object, from its first day on (only for scenes of a given day)
    start = params["new_object_from_day"]
    has_new = bool(
        start is not None
        and day is not None
        and day >= start
        and rng["new"].random() < params["new_object_probability"]
    )
    if has_new:
        r = rng["new"]
        size, x, y = r.uniform(0.02, 0.06), r.uniform(0.05, 0.95), r.uniform(0.7, 0.85)
        colour = _jitter(r, _PLANT, 0.1)
        objects.append(_obj(NEW_OBJECT_MODULE, NEW_OBJECT_MODULE, size, x, y, colour))

    return _assemble(seed, day, night, brightness, has_lamp, has_cat, has_new, objects)


def _assemble(seed, day, night, brightness, has_lamp, has_cat, has_new, objects) -> RoomScene:
    """Attribute vectors, salience weights and the validated graph of one scene."""
    raw = {}
    for o in objects:
        raw[o["node"]] = np.array(
            [1.0, o["size"], o["x"], o["y"], *o["colour"], brightness], dtype=float
        )

    # each consumer's inputs: salience shares, most salient first
    consumers: dict[str, list[str]] = {"output": [], "cat": []}
    for o in objects:
        consumers[o["parent"]].append(o["node"])
    size = {o["node"]: o["size"] for o in objects}
    inputs = {}
    for consumer, children in consumers.items():
        if not children:
            continue
        w = _salience_weights([size[c] for c in children])
        pairs = sorted(zip(children, w), key=lambda t: (-t[1], t[0]))
        inputs[consumer] = [(c, float(wc)) for c, wc in pairs]

    module = {o["node"]: o["module"] for o in objects}
    graph = CommunicationGraph.from_objects(
        {n: (module[n], x / np.linalg.norm(x)) for n, x in raw.items()},
        inputs,
        output="output",
        output_module=OUTPUT_MODULE,
        modules=ROOM_MODULES,
    )

    # the truth behind the graph, in canonical order
    rows = []
    for node in graph.objects:
        parent, position, weight = graph.parents(node)[0]
        row = {
            "node": node,
            "module": module[node],
            "depth": graph.depth(node),
            "position": position,
            "weight": weight,
            "effective_weight": graph.effective_weight(node),
        }
        row.update(zip(ROOM_ATTRIBUTES, raw[node]))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("node")
    logger.debug("room scene seed=%d day=%s: %d objects", seed, day, len(table))
    return RoomScene(
        graph=graph,
        seed=seed,
        day=day,
        time_of_day="night" if night else "morning",
        brightness=float(brightness),
        has_cat=has_cat,
        has_lamp=has_lamp,
        has_new_object=has_new,
        _raw=table,
    )


# ---------------------------------------------------------------------- public entry points
def room_scene(
    seed: int,
    *,
    day: int | None = None,
    cat_probability: float = 0.5,
    night_probability: float = 0.5,
    lamp_probability: float = 0.5,
    new_object_from_day: int | None = None,
    new_object_probability: float = 1.0,
) -> RoomScene:
    """One seeded view of the room.

    Parameters
    ----------
    seed : int
        Non-negative seed of the room (fixes its wall colour and the cat's fur).
    day : int, optional
        Day of the year (0-based). None draws one scene from the seed alone; it never holds
        the new object.
    cat_probability : float, default=0.5
        Probability that the cat is in the room.
    night_probability : float, default=0.5
        Probability that the view is at night rather than in the morning.
    lamp_probability : float, default=0.5
        Probability that the lamp is in view.
    new_object_from_day : int, optional
        From this day on a ``plant`` may appear (with ``new_object_probability``). None: never.
    new_object_probability : float, default=1.0
        Probability of the plant on the days it may appear.

    Returns
    -------
    RoomScene
        The graph (``scene.graph``) and its ground truth.

    Raises
    ------
    TypeError
        If an integer or probability parameter has the wrong type.
    ValueError
        If a parameter is out of range (negative seed or day, probability outside [0, 1]).

    References
    ----------
    .. [1] B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep Learning",
       ICML 2019, section 1.

    Examples
    --------
    >>> scene = room_scene(3, cat_probability=1.0)
    >>> scene.has_cat, scene.graph.depth("cat_tail")
    (True, 3)
    """
    seed, day, params = _check_params(
        seed,
        day,
        cat_probability,
        night_probability,
        lamp_probability,
        new_object_from_day,
        new_object_probability,
    )
    return _draw(seed, day, params)


def room_year(
    seed: int,
    n_days: int = 365,
    *,
    cat_probability: float = 0.5,
    night_probability: float = 0.5,
    lamp_probability: float = 0.5,
    new_object_from_day: int | None = None,
    new_object_probability: float = 1.0,
) -> list[RoomScene]:
    """One view of the same room on each of ``n_days`` days.

    Parameters
    ----------
    seed : int
        Non-negative seed of the room.
    n_days : int, default=365
        Number of days (at least 1).
    cat_probability, night_probability, lamp_probability, new_object_from_day, \
new_object_probability
        As in :func:`room_scene`; the days are independent given the room.

    Returns
    -------
    list of RoomScene
        Entry ``d`` equals ``room_scene(seed, day=d, ...)`` with the same parameters.

    Notes
    -----
    The number of days with a cat is Binomial(n_days, cat_probability), so its share has
    standard deviation ``sqrt(p (1 - p) / n_days)`` (0.026 for a year at p = 0.5).

    Examples
    --------
    >>> year = room_year(0, 30, new_object_from_day=20)
    >>> [s.day for s in year if s.has_new_object][0]
    20
    """
    seed, _day, params = _check_params(
        seed,
        None,
        cat_probability,
        night_probability,
        lamp_probability,
        new_object_from_day,
        new_object_probability,
    )
    n_days = _check_int(n_days, "n_days", 1)
    logger.info("drawing %d days of room %d", n_days, seed)
    return [_draw(seed, day, params) for day in range(n_days)]


def scenes_table(scenes: Sequence[RoomScene]) -> pd.DataFrame:
    """The ground truth of many scenes, one row each.

    Parameters
    ----------
    scenes : sequence of RoomScene

    Returns
    -------
    pandas.DataFrame
        Columns ``day``, ``time_of_day``, ``brightness``, ``has_cat``, ``has_lamp``,
        ``has_new_object``, then one count column per module of :data:`ROOM_MODULES`
        (e.g. ``n_wall``). What the sketch-based summaries should estimate.

    Examples
    --------
    >>> table = scenes_table(room_year(0, 10))
    >>> int(table["n_wall"].min()) >= 2
    True
    """
    rows = []
    for s in scenes:
        if not isinstance(s, RoomScene):
            raise TypeError(f"scenes must hold RoomScene objects; got {type(s).__name__}")
        row = {
            "day": s.day,
            "time_of_day": s.time_of_day,
            "brightness": s.brightness,
            "has_cat": s.has_cat,
            "has_lamp": s.has_lamp,
            "has_new_object": s.has_new_object,
        }
        row.update({f"n_{m}": c for m, c in s.counts().items()})
        rows.append(row)
    return pd.DataFrame(rows)
