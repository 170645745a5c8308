"""Reading back attribute vectors whose first entry is a constant "presence" of 1.

Both teaching datasets build an object's attributes as ``[1, raw values...]`` scaled to unit
l2 norm; dividing by the first entry undoes the scaling exactly.
"""

import numpy as np

__all__ = ["raw_from_presence"]


def raw_from_presence(attributes, names, kind: str) -> dict:
    """Raw values of a presence-first attribute vector, by name.

    Parameters
    ----------
    attributes : (len(names),) array_like
    names : sequence of str
        Entry names, the first being the presence entry.
    kind : str
        What the vector describes, for error messages ("stroke", "room").
    """
    x = np.asarray(attributes, dtype=float)
    if x.shape != (len(names),):
        raise ValueError(
            f"a {kind} attribute vector has {len(names)} entries; got shape {x.shape}"
        )
    if not x[0] > 0:
        raise ValueError(f"the presence entry must be positive; got {x[0]}")
    return {name: float(v) for name, v in zip(names, x / x[0])}
