"""img_clip on a tiny random-weight OpenCLIP model loaded through the real local-dir path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from spark_mm.errors import ConfigError
from spark_mm.engine.model_cache import MODEL_CACHE
from spark_mm.ops.model_clip import ImgClip, ImgClipParams
from spark_mm.ops.model_nsfw import ImgNsfwClip, ImgNsfwClipParams
from tests.models.conftest import random_jpegs

CAPTIONS = ["a cat on a sofa", "a red car", None, "two dogs", "", "a bowl of soup", "a mountain lake", "a tree"]


def _op(d: Path, **kw: object) -> ImgClip:
    return ImgClip(ImgClipParams(weights={"path": str(d)}, batch_size=3, **kw))  # type: ignore[arg-type]


def _batch(n: int = 8) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"image": random_jpegs(n), "caption": CAPTIONS[:n]})


def _emb(arr: pa.Array) -> np.ndarray:
    return np.array([v if v is not None else [np.nan] * arr.type.list_size for v in arr.to_pylist()], dtype=np.float32)


def test_shapes_schema_and_normalisation(tiny_clip_dir: Path) -> None:
    op = _op(tiny_clip_dir, emb_dtype="float32")
    result = op.apply(_batch())
    assert result.columns.schema.names == ["img_clip_emb", "txt_clip_emb", "clip_score"]
    assert result.columns.schema.field("img_clip_emb").type == pa.list_(pa.float32(), 32)
    img = _emb(result.columns.column(0))
    assert img.shape == (8, 32)
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1.0, atol=1e-5)
    txt = _emb(result.columns.column(1))
    assert np.isnan(txt[2]).all()  # null caption -> null text embedding, no error
    np.testing.assert_allclose(np.linalg.norm(np.delete(txt, 2, axis=0), axis=1), 1.0, atol=1e-5)
    assert result.errors is None


def test_clip_score_is_cosine_of_the_two_embeddings(tiny_clip_dir: Path) -> None:
    op = _op(tiny_clip_dir, emb_dtype="float32")
    cols = op.apply(_batch()).columns
    img, txt = _emb(cols.column(0)), _emb(cols.column(1))
    score = np.array([np.nan if s is None else s for s in cols.column(2).to_pylist()])
    expect = np.einsum("nd,nd->n", img, txt)
    assert np.isnan(score[2])
    np.testing.assert_allclose(np.delete(score, 2), np.delete(expect, 2), atol=1e-5)
    assert (np.abs(np.delete(score, 2)) <= 1.0 + 1e-6).all()


def test_text_path_matches_direct_open_clip(tiny_clip_dir: Path) -> None:
    import open_clip
    import torch

    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{tiny_clip_dir}")
    tok = open_clip.get_tokenizer(f"local-dir:{tiny_clip_dir}")
    with torch.no_grad():
        ref = model.encode_text(tok(["a red car"]), normalize=True).numpy()[0]
    got = _emb(_op(tiny_clip_dir, emb_dtype="float32").apply(_batch()).columns.column(1))[1]
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_deterministic_across_loads(tiny_clip_dir: Path) -> None:
    a = _emb(_op(tiny_clip_dir).apply(_batch()).columns.column(0))
    MODEL_CACHE.clear()
    b = _emb(_op(tiny_clip_dir).apply(_batch()).columns.column(0))
    np.testing.assert_array_equal(a, b)


def test_output_independent_of_arrow_batch_size(tiny_clip_dir: Path) -> None:
    batch = _batch()
    whole = _op(tiny_clip_dir, emb_dtype="float32").apply(batch).columns
    op = _op(tiny_clip_dir, emb_dtype="float32")
    singles = list(op.transform_stream(batch.slice(i, 1) for i in range(batch.num_rows)))
    assert [r.columns.num_rows for r in singles] == [1] * 8
    assert op.last_stats is not None and op.last_stats.chunk_sizes == [3, 3, 2]  # model batches stay full
    joined = pa.Table.from_batches([r.columns for r in singles])
    for name in whole.schema.names:
        left = _emb(whole.column(name)) if name != "clip_score" else np.array(whole.column(name).to_pylist(), dtype=float)
        right_arr = joined.column(name).combine_chunks()
        right = _emb(right_arr) if name != "clip_score" else np.array(right_arr.to_pylist(), dtype=float)
        np.testing.assert_allclose(left, right, atol=1e-5, equal_nan=True)


def test_bad_image_is_an_error_row_not_an_exception(tiny_clip_dir: Path) -> None:
    batch = pa.RecordBatch.from_pydict({"image": [random_jpegs(1)[0], b"not an image", None], "caption": ["a", "b", "c"]})
    result = _op(tiny_clip_dir).apply(batch)
    assert result.columns.column(0).is_valid().to_pylist() == [True, False, False]
    assert result.columns.column(1).is_valid().to_pylist() == [True, True, True]
    assert result.columns.column(2).is_valid().to_pylist() == [True, False, False]
    assert result.errors is not None
    errors = result.errors.to_pylist()
    assert errors[0] is None and errors[1].startswith("image decode") and errors[2] == "image: null"


def test_image_only_mode_and_model_shared_through_cache(tiny_clip_dir: Path) -> None:
    op = _op(tiny_clip_dir, caption_column=None)
    assert op.output_schema.names == ["img_clip_emb"]
    op.apply(pa.RecordBatch.from_pydict({"image": random_jpegs(2)}))
    other = _op(tiny_clip_dir)
    other.setup()
    assert MODEL_CACHE.loads == 1 and len(MODEL_CACHE) == 1


def test_clip_zero_shot_nsfw_reads_the_embedding(tiny_clip_dir: Path) -> None:
    clip_op = _op(tiny_clip_dir)
    batch = pa.RecordBatch.from_pydict({"image": random_jpegs(4) + [b"bad"], "caption": ["x"] * 5})
    emb = clip_op.apply(batch).columns.column("img_clip_emb")
    nsfw = ImgNsfwClip(ImgNsfwClipParams(weights={"path": str(tiny_clip_dir)}))
    result = nsfw.apply(pa.RecordBatch.from_arrays([emb], names=["img_clip_emb"]))
    score = result.columns.column(0).to_pylist()
    assert score[4] is None and all(0.0 <= s <= 1.0 for s in score[:4])
    assert MODEL_CACHE.loads == 1  # the zero-shot head reused img_clip's model
    # reference: softmax over logit_scale * cosine, mass on the unsafe prompts
    prompts = nsfw.prompt_embeddings(MODEL_CACHE.get_or_load(MODEL_CACHE.keys()[0], lambda: None))
    x = _emb(emb)[:4].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = 100.0 * x @ prompts.T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(score[:4], p[:, :4].sum(axis=1), atol=1e-4)


def test_builtin_schema_known_without_weights() -> None:
    op = ImgClip(ImgClipParams(model="ViT-B-32", pretrained="openai", weights={"on_missing": "skip", "allow_download": False}))
    assert op.output_schema.field("img_clip_emb").type == pa.list_(pa.float16(), 512)
    with pytest.raises(ConfigError, match="unknown OpenCLIP architecture"):
        ImgClip(ImgClipParams(model="No-Such-Net")).output_schema  # noqa: B018


def test_bare_checkpoint_file_for_a_named_architecture(tiny_clip_dir: Path, tmp_path: Path) -> None:
    import json

    import open_clip

    cfg_file = tmp_path / "SparkMMTinyCLIP.json"
    cfg_file.write_text(json.dumps(json.loads((tiny_clip_dir / "open_clip_config.json").read_text())["model_cfg"]))
    open_clip.add_model_config(cfg_file)
    by_file = ImgClip(
        ImgClipParams(model="SparkMMTinyCLIP", pretrained="random", emb_dtype="float32", caption_column=None,
                      weights={"path": str(tiny_clip_dir / "open_clip_model.safetensors")})
    )
    by_dir = _op(tiny_clip_dir, emb_dtype="float32", caption_column=None)
    batch = pa.RecordBatch.from_pydict({"image": random_jpegs(3)})
    np.testing.assert_allclose(_emb(by_file.apply(batch).columns.column(0)), _emb(by_dir.apply(batch).columns.column(0)), atol=1e-6)
