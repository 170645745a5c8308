"""Example modular networks and scenes whose communication graphs feed the sketches.

* :mod:`~sketch_explorer.datasets.digits`: a small trained network (NMF stroke detectors and a
  logistic-regression digit classifier) over scikit-learn's bundled 8x8 digits;
* :mod:`~sketch_explorer.datasets.rooms`: a seeded generator of the paper's motivating room
  scenes (walls, windows, a lamp, sometimes a cat with parts), one per day over a year.

Both return :class:`~sketch_explorer.graph.CommunicationGraph` objects that validate without
warnings. Neither downloads anything.
"""

from .digits import (
    DIGIT_MODULE,
    STROKE_ATTRIBUTES,
    DigitsNetwork,
    class_probabilities,
    load_digits_network,
    stroke_raw_attributes,
)
from .rooms import (
    CAT_PARTS,
    NEW_OBJECT_MODULE,
    ROOM_ATTRIBUTES,
    ROOM_MODULES,
    RoomScene,
    raw_room_attributes,
    room_scene,
    room_year,
    scenes_table,
)

__all__ = [
    "DIGIT_MODULE",
    "STROKE_ATTRIBUTES",
    "DigitsNetwork",
    "class_probabilities",
    "load_digits_network",
    "stroke_raw_attributes",
    "CAT_PARTS",
    "NEW_OBJECT_MODULE",
    "ROOM_ATTRIBUTES",
    "ROOM_MODULES",
    "RoomScene",
    "raw_room_attributes",
    "room_scene",
    "room_year",
    "scenes_table",
]
