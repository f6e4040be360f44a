"""img_siglip2 on a tiny random-weight SigLIP 2 (NaFlex) model saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from spark_mm.engine.model_cache import MODEL_CACHE
from spark_mm.ops.model_siglip import ImgSiglip2, ImgSiglip2Params
from tests.models.conftest import random_jpegs


def _op(d: Path, **kw: object) -> ImgSiglip2:
    return ImgSiglip2(ImgSiglip2Params(model="tiny/siglip2", weights={"path": str(d)}, batch_size=3, **kw))  # type: ignore[arg-type]


def _emb(arr: pa.Array) -> np.ndarray:
    return np.array([v if v is not None else [np.nan] * arr.type.list_size for v in arr.to_pylist()], dtype=np.float32)


def test_shape_dtype_and_normalisation(tiny_siglip2_dir: Path) -> None:
    op = _op(tiny_siglip2_dir)
    assert op.output_schema.field("img_siglip2_emb").type == pa.list_(pa.float16(), 32)  # width read from config.json
    result = op.apply(pa.RecordBatch.from_pydict({"image": random_jpegs(7) + [b"\x89PNG broken"]}))
    emb = _emb(result.columns.column(0))
    assert emb.shape == (8, 32)
    np.testing.assert_allclose(np.linalg.norm(emb[:7], axis=1), 1.0, atol=2e-3)  # stored as float16
    assert np.isnan(emb[7]).all()
    assert result.errors is not None and result.errors.to_pylist()[7].startswith("image decode")


def test_matches_direct_transformers_call(tiny_siglip2_dir: Path) -> None:
    import io

    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel

    images = random_jpegs(3)
    model = AutoModel.from_pretrained(str(tiny_siglip2_dir)).eval()
    proc = AutoImageProcessor.from_pretrained(str(tiny_siglip2_dir))
    with torch.no_grad():
        ref = model.get_image_features(**proc(images=[Image.open(io.BytesIO(b)).convert("RGB") for b in images], return_tensors="pt"))
    ref = getattr(ref, "pooler_output", ref)
    ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    got = _emb(_op(tiny_siglip2_dir, emb_dtype="float32").apply(pa.RecordBatch.from_pydict({"image": images})).columns.column(0))
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_deterministic_and_independent_of_arrow_batch_size(tiny_siglip2_dir: Path) -> None:
    batch = pa.RecordBatch.from_pydict({"image": random_jpegs(7, seed=3)})
    whole = _emb(_op(tiny_siglip2_dir, emb_dtype="float32").apply(batch).columns.column(0))
    MODEL_CACHE.clear()
    op = _op(tiny_siglip2_dir, emb_dtype="float32")
    singles = [_emb(r.columns.column(0))[0] for r in op.transform_stream(batch.slice(i, 1) for i in range(7))]
    np.testing.assert_allclose(whole, np.stack(singles), atol=1e-5)
    assert op.last_stats is not None and op.last_stats.chunk_sizes == [3, 3, 1]
