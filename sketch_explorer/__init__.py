"""sketch_explorer: recursive sketches for modular deep learning, and an explorer for them.

An implementation of B. Ghazi, R. Panigrahy, J. R. Wang, "Recursive Sketches for Modular Deep
Learning", ICML 2019. See ``docs/SPEC.md`` for the section numbers cited in the docstrings.
"""

from .exceptions import (
    AttributeNormalizationWarning,
    BankMismatchError,
    GraphFileError,
    GraphValidationError,
    SingularSystemWarning,
    SketchExplorerWarning,
    UnreachableObjectWarning,
    WeightRenormalizationWarning,
)
from .decoder import GraphDecoder
from .graph import OUTPUT_MODULE, CommunicationGraph
from .io import dumps_graph, load_graph, loads_graph, save_graph
from .joint import joint_least_squares
from .matrices import FAMILIES, BankIdentity, MatrixBank, nearest_block_dimension
from .recovery import (
    Estimate,
    attribute_subsketch,
    depth_coefficient,
    estimate_frequency,
    estimate_mean_attributes,
    estimate_summed_attributes,
    input_subsketch,
    recover_attributes,
    recover_attributes_on_path,
    recover_object_attributes,
    similarity,
    unroll,
    unroll_position,
    word_multiplicity,
)
from .sketch import RecursiveSketch, Sketch, sketch_graph

__all__ = [
    "AttributeNormalizationWarning",
    "BankIdentity",
    "BankMismatchError",
    "CommunicationGraph",
    "Estimate",
    "FAMILIES",
    "GraphDecoder",
    "GraphFileError",
    "GraphValidationError",
    "MatrixBank",
    "OUTPUT_MODULE",
    "RecursiveSketch",
    "SingularSystemWarning",
    "Sketch",
    "SketchExplorerWarning",
    "UnreachableObjectWarning",
    "WeightRenormalizationWarning",
    "attribute_subsketch",
    "depth_coefficient",
    "dumps_graph",
    "estimate_frequency",
    "estimate_mean_attributes",
    "estimate_summed_attributes",
    "input_subsketch",
    "joint_least_squares",
    "load_graph",
    "loads_graph",
    "nearest_block_dimension",
    "recover_attributes",
    "recover_attributes_on_path",
    "recover_object_attributes",
    "save_graph",
    "similarity",
    "sketch_graph",
    "unroll",
    "unroll_position",
    "word_multiplicity",
]
__version__ = "0.1.0"
