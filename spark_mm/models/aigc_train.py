"""Fit the AIGC detector head on labelled embeddings.

``train(embeddings, labels, out_path)`` fits a binary classifier (label 1 = AI-generated) over
L2-normalised SigLIP 2 embeddings and writes it as a safetensors file that ``img_aigc`` loads.
The CLI (``spark-mm train-aigc``) reads embeddings and labels from an Iceberg table and calls it.

Training is full-batch-friendly and small: AdamW on binary cross-entropy with class weighting, a
held-out split for validation accuracy, and the best-validation epoch kept. Metrics and shapes go
into the file's metadata so a run can be audited from the weights alone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from spark_mm.models.heads import AIGC_FORMAT, aigc_head, l2_normalize
from spark_mm.models.runtime import require

log = logging.getLogger(__name__)


def train(
    embeddings: np.ndarray,
    labels: np.ndarray,
    out_path: str | Path = "aigc_head.safetensors",
    *,
    hidden: int = 256,
    epochs: int = 200,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    val_fraction: float = 0.2,
    batch_size: int = 4096,
    seed: int = 0,
) -> Path:
    """Train the AIGC head and write it to ``out_path``.

    Args:
        embeddings: float array ``(n, dim)`` (normalised here; any scale accepted).
        labels: ``(n,)`` of 0 (real) / 1 (AI-generated); both classes must be present.
        out_path: where to write the ``.safetensors`` head.
        hidden: hidden width; 0 fits a logistic regression.
        epochs: passes over the training split.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        val_fraction: share of rows held out (stratified) to pick the best epoch; 0 keeps the last.
        batch_size: rows per optimiser step.
        seed: seeds the split, initialisation and shuffling.

    Returns:
        The path written. Its metadata holds ``in_dim``, ``hidden``, ``n_train``, ``n_val`` and
        ``train_accuracy`` / ``val_accuracy``.

    Raises:
        ValueError: shapes disagree, labels are not 0/1, or one class is missing.
    """
    torch = require("torch")
    safetensors_torch = require("safetensors.torch", "safetensors")
    x = np.asarray(embeddings, dtype=np.float32)
    y = np.asarray(labels).astype(np.float32).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"embeddings must be (n, dim) with one label per row; got {x.shape} and {y.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 (real) or 1 (AI-generated)")
    if y.min() == y.max():
        raise ValueError("labels hold a single class; need both real (0) and AI-generated (1) examples")
    x = l2_normalize(x)
    rng = np.random.default_rng(seed)
    val_mask = np.zeros(len(y), dtype=bool)
    if val_fraction > 0:
        for cls in (0.0, 1.0):  # stratified hold-out, at least one row per class when possible
            idx = np.flatnonzero(y == cls)
            k = min(len(idx) - 1, max(1, int(round(len(idx) * val_fraction))))
            if k > 0:
                val_mask[rng.choice(idx, size=k, replace=False)] = True
    xt, yt, xv, yv = x[~val_mask], y[~val_mask], x[val_mask], y[val_mask]

    torch.manual_seed(seed)
    model = aigc_head(x.shape[1], hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    pos_weight = torch.tensor([(yt == 0).sum() / max(1.0, (yt == 1).sum())], dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    xt_t, yt_t = torch.from_numpy(xt), torch.from_numpy(yt)
    xv_t = torch.from_numpy(xv)

    def accuracy(xs: object, ys: np.ndarray) -> float:
        if len(ys) == 0:
            return float("nan")
        model.eval()
        with torch.inference_mode():
            pred = (model(xs).squeeze(-1) > 0).numpy().astype(np.float32)
        model.train()
        return float((pred == ys).mean())

    best_state, best_val = None, -1.0
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(yt_t), generator=gen)
        for s in range(0, len(order), batch_size):
            b = order[s : s + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt_t[b]).squeeze(-1), yt_t[b])
            loss.backward()
            opt.step()
        if len(yv):
            val = accuracy(xv_t, yv)
            if val > best_val:
                best_val, best_state = val, {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    metrics = {
        "train_accuracy": accuracy(xt_t, yt),
        "val_accuracy": accuracy(xv_t, yv) if len(yv) else float("nan"),
    }
    meta = {
        "format": AIGC_FORMAT,
        "in_dim": str(x.shape[1]),
        "hidden": str(hidden),
        "n_train": str(len(yt)),
        "n_val": str(len(yv)),
        "metrics": json.dumps(metrics),
    }
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    safetensors_torch.save_file(state, str(out), metadata=meta)
    log.info("AIGC head written to %s: %s", out, metrics)
    return out
