"""The sketch repository: remember many inputs' sketches, retrieve, count, cluster, forget.

The paper's main application (section 1.1, "Sketch Repository"; SPEC section 5): keep the
sketches a modular network produced and answer questions about them later, in far less space
than the inputs.

* :mod:`.store`: :class:`SketchRepository`, a persistent SQLite store (WAL mode, schema
  version, bank identity, checksummed float32 vectors, no pickle);
* :mod:`.index`: nearest neighbours by inner product or cosine, exact (FAISS flat or numpy)
  and approximate (FAISS LSH as the paper suggests, and HNSW);
* :mod:`.stats`: summary statistics over a selection (sum sketches, then the SPEC §4
  estimators) with predicted error bars;
* :mod:`.forget`: least-recently-used graceful forgetting under a byte budget;
* :mod:`.batch`: dataset-scale sketching in resumable batches, locally or through Dask;
* :mod:`.knowledge`: the k-nearest-neighbour graph of the repository, drawn in plotly;
* :mod:`.concepts`: clustering, emerging concepts, and learning a new module from a cluster.
"""

from .batch import DatasetSource, digits_source, ingest, ingest_dask, rooms_source
from .concepts import (
    EmergingConcept,
    LearnedModule,
    cluster_sketches,
    cluster_timeline,
    emerging_concepts,
    graph_with_module,
    learn_module,
    novelty_scores,
)
from .forget import LRUForgetting, age_buckets, recall_by_bucket
from .index import (
    ExactIndex,
    HNSWIndex,
    LSHIndex,
    SketchIndex,
    build_index,
    nearest,
    recall_at_k,
)
from .knowledge import KnowledgeExplorer, draw_knowledge_graph, knn_graph
from .stats import (
    SummaryAnswer,
    contrast_sketch,
    per_sketch_frequency,
    selection_frequency,
    selection_mean_attributes,
    selection_summed_attributes,
    summed_sketch,
    two_group_split,
)
from .store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    DuplicateSketchError,
    RepositoryError,
    RepositoryFileError,
    SchemaVersionError,
    SketchRecord,
    SketchRepository,
    StoredSketch,
)

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "DatasetSource",
    "DuplicateSketchError",
    "EmergingConcept",
    "ExactIndex",
    "HNSWIndex",
    "KnowledgeExplorer",
    "LRUForgetting",
    "LSHIndex",
    "LearnedModule",
    "RepositoryError",
    "RepositoryFileError",
    "SchemaVersionError",
    "SketchIndex",
    "SketchRecord",
    "SketchRepository",
    "StoredSketch",
    "SummaryAnswer",
    "age_buckets",
    "build_index",
    "cluster_sketches",
    "cluster_timeline",
    "contrast_sketch",
    "digits_source",
    "draw_knowledge_graph",
    "emerging_concepts",
    "graph_with_module",
    "ingest",
    "ingest_dask",
    "knn_graph",
    "learn_module",
    "nearest",
    "novelty_scores",
    "per_sketch_frequency",
    "recall_at_k",
    "recall_by_bucket",
    "rooms_source",
    "selection_frequency",
    "selection_mean_attributes",
    "selection_summed_attributes",
    "summed_sketch",
    "two_group_split",
]
