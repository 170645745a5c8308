"""Errors and warnings raised by :mod:`sketch_explorer`.

Every error names the graph element, parameter or file field that is wrong, the allowed set or
range, and the value received. Warnings mark input that is questionable but legal: the library
goes on, and says what it did.
"""

__all__ = [
    "GraphValidationError",
    "GraphFileError",
    "BankMismatchError",
    "SketchExplorerWarning",
    "AttributeNormalizationWarning",
    "UnreachableObjectWarning",
    "WeightRenormalizationWarning",
    "SingularSystemWarning",
]


class GraphValidationError(ValueError):
    """A communication graph breaks one of the rules of SPEC section 1."""


class GraphFileError(ValueError):
    """A graph file cannot be read: corrupt, foreign, or of an unknown format version."""


class BankMismatchError(ValueError):
    """Two sketches (or a sketch and a matrix bank) come from different random matrices."""


class SketchExplorerWarning(UserWarning):
    """Base class of the warnings of this package."""


class AttributeNormalizationWarning(SketchExplorerWarning):
    """An attribute vector did not have unit l2 norm and was rescaled to it."""


class UnreachableObjectWarning(SketchExplorerWarning):
    """Objects with no path to the output were left out of the communication graph."""


class WeightRenormalizationWarning(SketchExplorerWarning):
    """Input weights that did not sum to one were rescaled (only when asked for)."""


class SingularSystemWarning(SketchExplorerWarning):
    """A least-squares system is rank deficient, so its solution is not unique."""
