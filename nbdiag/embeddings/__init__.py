"""Embeddings: features from any torch model, 2-D projections, and neighbour analyses
(similarity search, near duplicates, uniqueness and outliers, leakage between splits).

Everything takes a :class:`~nbdiag.Dataset`; embeddings are stored on it (an
:class:`EmbeddingStore` by level and name) and analyses write their results as columns of
``ds.samples`` (or ``ds.objects``).

>>> emb = embed(ds, model, layer="avgpool")            # doctest: +SKIP
>>> project(ds, "tsne")                                # embedding_x / embedding_y columns  # doctest: +SKIP
>>> similar(ds, ["img_12"], k=20)                      # doctest: +SKIP
>>> find_duplicates(ds, threshold=0.02)                # doctest: +SKIP
"""

from ._extract import embed, resolve_device
from ._knn import KNNIndex
from ._neighbors import (
    compute_uniqueness,
    find_duplicates,
    find_leakage,
    find_outliers,
    knn_index,
    neighbor_graph,
    similar,
)
from ._project import project, project_array
from ._store import Embeddings, EmbeddingStore, get_embeddings, set_embeddings, store_of
from ._transform import ImageTransform, default_transform

__all__ = [
    "EmbeddingStore",
    "Embeddings",
    "ImageTransform",
    "KNNIndex",
    "compute_uniqueness",
    "default_transform",
    "embed",
    "find_duplicates",
    "find_leakage",
    "find_outliers",
    "get_embeddings",
    "knn_index",
    "neighbor_graph",
    "project",
    "project_array",
    "resolve_device",
    "set_embeddings",
    "similar",
    "store_of",
]
