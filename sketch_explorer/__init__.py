"""sketch_explorer: recursive sketches for modular deep learning, and an explorer for them."""

from .graph import OUTPUT_MODULE, CommunicationGraph

__all__ = ["CommunicationGraph", "OUTPUT_MODULE"]
__version__ = "0.1.0"
