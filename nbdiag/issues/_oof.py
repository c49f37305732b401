"""Out-of-fold class probabilities from embeddings: cross-validated logistic regression."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..embeddings._store import get_embeddings

if TYPE_CHECKING:
    from ..core import DatasetCore


def out_of_fold_probabilities(
    ds: DatasetCore,
    *,
    name: str | None = None,
    n_splits: int = 5,
    C: float = 0.1,
    max_iter: int = 2000,
    seed: int = 0,
    add_run: str | None = None,
) -> pd.DataFrame:
    """Out-of-sample class probabilities of every labelled sample, from its embedding.

    A standardised logistic regression is trained on ``n_splits - 1`` folds (stratified,
    shuffled with ``seed``) and predicts the held-out fold, so no sample is scored by a model
    that saw its label: what confident learning needs.

    Parameters
    ----------
    ds : nbdiag.Dataset
        With sample embeddings (``ds.embed`` / ``ds.set_embeddings``) and labels.
    name : str, optional
        Which embeddings (default: the active ones).
    n_splits : int, default 5
        Folds (reduced to the size of the smallest class when it is smaller, at least 2).
    C : float, default 0.1
        Inverse regularisation strength of the logistic regression.
    add_run : str, optional
        Also attach the probabilities as a classification run of this name.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id (labelled samples with an embedding), one column per class name.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    emb = get_embeddings(ds, name, "sample")
    labels = ds.samples["label"].reindex(emb.ids)
    keep = labels.notna().to_numpy()
    if keep.sum() < 2:
        raise ValueError("out-of-fold probabilities need labelled samples with embeddings")
    codes = labels.cat.codes.to_numpy()[keep]
    x = emb.vectors[keep]
    counts = np.bincount(codes, minlength=len(ds.class_names))
    present = counts[counts > 0]
    if len(present) < 2:
        raise ValueError("out-of-fold probabilities need at least two classes among the labels")
    folds = int(max(2, min(n_splits, present.min())))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # a class missing from a fold
        probs = cross_val_predict(model, x, codes, cv=cv, method="predict_proba")
    full = np.zeros((len(codes), len(ds.class_names)))
    full[:, np.flatnonzero(counts > 0)] = probs
    full /= full.sum(axis=1, keepdims=True)
    out = pd.DataFrame(full, index=emb.ids[keep], columns=ds.class_names)
    out.index.name = "id"
    if add_run is not None:
        ds.add_run(add_run, out, replace=True)
    return out
