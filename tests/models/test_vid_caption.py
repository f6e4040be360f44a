"""vid_caption on a tiny random-weight BLIP (BlipForConditionalGeneration with a 20-word WordPiece
vocabulary and a 32 px vision tower, written with ``save_pretrained`` here, loaded through the
op's real AutoProcessor / image-text-to-text path) over videos of hard cuts encoded here. The
captions equal the processor + ``generate`` + ``batch_decode`` pipeline run by hand on the frames
Data-Juicer's rule picks, joined as Data-Juicer joins them; greedy and seeded sampling give the same
captions whatever the batching; bad rows and missing weights get reasons; and a recipe stage runs it
through the real Runner, Spark and Iceberg."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pyarrow as pa
import pytest

av = pytest.importorskip("av")
pytest.importorskip("transformers")

from spark_mm.errors import WeightsNotFound  # noqa: E402
from spark_mm.ops.model_video_caption import VidCaption, VidCaptionParams  # noqa: E402
from spark_mm.video.frames import Sampling, sample  # noqa: E402
from tests.video_fixtures import GARBAGE, encode_cuts  # noqa: E402

WORDS = "a the cat dog red blue sky tree runs sits on under big small video frame of and sea".split()
META = pa.map_(pa.string(), pa.string())
RED, BLUE = (255, 0, 0), (0, 0, 255)


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BLIP captioner small enough for CPU tests; weights drawn wide (initializer_range 1) so
    different frames get different captions."""
    import torch
    from transformers import BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    d = tmp_path_factory.mktemp("tiny_blip")
    vocab = d / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(str(vocab), do_lower_case=True)
    cfg = BlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8, initializer_range=1.0),
        text_config=dict(
            vocab_size=5 + len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64,
            encoder_hidden_size=32, bos_token_id=2, eos_token_id=3, sep_token_id=3, pad_token_id=0, initializer_range=1.0,
        ),
    )  # fmt: skip
    torch.manual_seed(0)
    BlipForConditionalGeneration(cfg).eval().save_pretrained(str(d))
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer).save_pretrained(str(d))
    vocab.unlink()  # the saved tokenizer.json is what loads
    return d


@pytest.fixture(scope="module")
def videos() -> list[bytes]:
    """Three 3 s, 12 fps MPEG-4 videos of hard cuts (mp4, mp4, mkv), a keyframe every 12 frames and
at the cut the encoder detects (the mkv's at 1.5 s)."""
    return [
        encode_cuts([("noise", 12), (RED, 12), ("noise", 12)], gop=12, kind="mp4v"),
        encode_cuts([(BLUE, 12), ("noise", 12), (RED, 12)], gop=12, kind="mp4v"),
        encode_cuts([("noise", 18), ("noise", 18)], gop=12, kind="mkv"),
    ]


def batch(payloads: list[bytes | None]) -> pa.RecordBatch:
    n = len(payloads)
    return pa.RecordBatch.from_pydict(
        {"payload": pa.array(payloads, pa.binary()), "source_uri": pa.array([None] * n, pa.string()), "record_meta": pa.array([None] * n, META)}
    )


def run(model: Path | str, payloads: list[bytes | None], **params: object) -> tuple[list[dict[str, object]], list[str | None]]:
    op = VidCaption(VidCaptionParams(weights={"path": str(model), "allow_download": False}, device="cpu", max_new_tokens=8, **params))  # type: ignore[arg-type]
    result = op.apply(batch(payloads))
    return result.columns.to_pylist(), result.errors.to_pylist() if result.errors is not None else [None] * len(payloads)


@functools.cache
def _loaded(model: Path) -> tuple[object, object]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return AutoProcessor.from_pretrained(str(model)), AutoModelForImageTextToText.from_pretrained(str(model)).eval()


def reference(model: Path, video: bytes, frames: str, prompt: str | None = None) -> tuple[list[str], list[float]]:
    """Per-frame captions by hand: the frames the rule picks, the processor, greedy generate, batch_decode."""
    import torch
    from PIL import Image

    picked = sample(av, io.BytesIO(video), Sampling.parse(frames))
    images = [Image.fromarray(f[:, :, ::-1].copy()) for f in picked.frames]
    processor, net = _loaded(model)
    inputs = processor(images=images, text=[prompt] * len(images) if prompt else None, return_tensors="pt")
    with torch.no_grad():
        ids = net.generate(**inputs, max_new_tokens=8, do_sample=False)
    return [t.strip() for t in processor.batch_decode(ids, skip_special_tokens=True)], picked.seconds


def test_greedy_captions_are_the_model_on_the_sampled_frames(tiny_blip: Path, videos: list[bytes]) -> None:
    rows, errors = run(tiny_blip, videos, do_sample=False, batch_size=4)
    assert errors == [None, None, None]
    all_frames = []
    for row, video in zip(rows, videos):
        texts, seconds = reference(tiny_blip, video, "keyframes")
        assert row["vid_caption_frames"] == texts and row["vid_caption"] == ". ".join(texts)
        assert row["vid_caption_frame_s"] == pytest.approx(seconds)
        assert row["vid_caption_ok"] is True and row["vid_caption_reason"] is None
        all_frames += texts
    assert rows[0]["vid_caption_frame_s"] == pytest.approx([0.0, 1.0, 2.0])  # every keyframe (gop 12 at 12 fps)
    assert len(rows[2]["vid_caption_frames"]) == 4  # 0, 1 s, the encoder's keyframe at the cut (1.5 s), 2.5 s
    assert len(set(all_frames)) > 2 and all(all_frames)  # the frames get different, non-empty captions
    # deterministic, and the same with one video per chunk and one frame per generate call
    assert run(tiny_blip, videos, do_sample=False, batch_size=4)[0] == rows
    assert run(tiny_blip, videos, do_sample=False, batch_size=1, frame_batch_size=1)[0] == rows
    # one video alone in its batch gets the caption it got among the others
    assert run(tiny_blip, videos[1:2], do_sample=False)[0] == rows[1:2]


def test_uniform_frames_follow_data_juicers_rule(tiny_blip: Path, videos: list[bytes]) -> None:
    (row,), _ = run(tiny_blip, videos[:1], do_sample=False, frames="uniform(3)")
    # 36 frames at 12 fps, d = 3 s: targets 0, 1.5, 3 s -> frames 0, 18 and the last (35)
    assert row["vid_caption_frame_s"] == pytest.approx([0.0, 1.5, 35 / 12])
    assert row["vid_caption_frames"] == reference(tiny_blip, videos[0], "uniform(3)")[0]
    (one,), _ = run(tiny_blip, videos[:1], do_sample=False, frames="uniform(1)")
    assert one["vid_caption_frame_s"] == pytest.approx([1.5]) and one["vid_caption"] == one["vid_caption_frames"][0]


def test_sampling_is_seeded_per_video(tiny_blip: Path, videos: list[bytes]) -> None:
    rows, _ = run(tiny_blip, videos, batch_size=3)  # do_sample: Data-Juicer's default
    assert all(r["vid_caption_ok"] for r in rows)
    assert run(tiny_blip, videos, batch_size=1)[0] == rows  # independent of the batch
    assert run(tiny_blip, videos[2:], batch_size=1)[0] == rows[2:]
    other = run(tiny_blip, videos, batch_size=3, seed=1)[0]
    assert [r["vid_caption"] for r in other] != [r["vid_caption"] for r in rows]


def test_prompt_is_given_with_every_frame(tiny_blip: Path, videos: list[bytes]) -> None:
    (row,), _ = run(tiny_blip, videos[:1], do_sample=False, prompt="a video of")
    texts, _ = reference(tiny_blip, videos[0], "keyframes", prompt="a video of")
    assert row["vid_caption_frames"] == texts and all(t.startswith("a video of") for t in texts)  # BLIP echoes it, as in Data-Juicer


def test_bad_rows_get_reasons(tiny_blip: Path, videos: list[bytes]) -> None:
    rows, errors = run(tiny_blip, [None, GARBAGE, videos[0][: len(videos[0]) // 8], videos[0]], do_sample=False)
    assert len(rows) == 4
    assert rows[0] == {"vid_caption": None, "vid_caption_frames": None, "vid_caption_frame_s": None, "vid_caption_ok": False, "vid_caption_reason": "missing_input"}
    assert errors[0] is None
    assert rows[1]["vid_caption"] is None and rows[1]["vid_caption_reason"] == "decode_error" and errors[1].startswith("decode_error")
    assert rows[2]["vid_caption_ok"] is False and rows[2]["vid_caption_reason"] == "decode_error"  # no moov atom: nothing decodes
    assert rows[3]["vid_caption_ok"] is True and errors[3] is None


def test_missing_weights_skip_or_fail(tmp_path: Path, videos: list[bytes]) -> None:
    absent = tmp_path / "no_model"
    skip = VidCaption(VidCaptionParams(weights={"path": str(absent), "on_missing": "skip", "allow_download": False}))
    assert skip.skipped and "weights=missing" in skip.fingerprint()
    result = skip.apply(batch([videos[0], None]))
    assert result.columns.to_pylist() == [
        {"vid_caption": None, "vid_caption_frames": None, "vid_caption_frame_s": None, "vid_caption_ok": False, "vid_caption_reason": "model_missing"},
        {"vid_caption": None, "vid_caption_frames": None, "vid_caption_frame_s": None, "vid_caption_ok": False, "vid_caption_reason": "missing_input"},
    ]
    fail = VidCaption(VidCaptionParams(weights={"path": str(absent), "allow_download": False}))
    with pytest.raises(WeightsNotFound, match="blip2-opt-2.7b"):
        fail.preflight()


def test_defaults_are_data_juicers() -> None:
    p = VidCaptionParams()
    assert (p.model, p.frames, p.prompt, p.horizontal_flip, p.vertical_flip) == ("Salesforce/blip2-opt-2.7b", "keyframes", None, False, False)
    assert p.generation_settings() == {"max_new_tokens": 128, "do_sample": True}
    assert VidCaptionParams(num_beams=4, top_p=0.9, frames="uniform( 3 )").generation_settings()["num_beams"] == 4
    assert VidCaptionParams(frames="uniform( 3 )").frames == "uniform(3)"
    with pytest.raises(ValueError, match="uniform"):
        VidCaptionParams(frames="all_keyframes")
    # batching is execution only; what changes a caption is in the fingerprint
    a = VidCaption(VidCaptionParams(weights={"on_missing": "skip", "allow_download": False}, batch_size=2, frame_batch_size=3))
    b = VidCaption(VidCaptionParams(weights={"on_missing": "skip", "allow_download": False}))
    c = VidCaption(VidCaptionParams(weights={"on_missing": "skip", "allow_download": False}, seed=5))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_recipe_stage_through_spark(spark, tiny_blip: Path, videos: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    from spark_mm import recipe as recipes
    from spark_mm.engine.runner import Runner

    src = tmp_path_factory.mktemp("caption_videos")
    (src / "a.mp4").write_bytes(videos[0])
    (src / "c.mkv").write_bytes(videos[2])
    (src / "broken.mp4").write_bytes(GARBAGE)
    cap = len(videos[2]) + 1  # a.mp4 is larger: read by reference, c.mkv inline
    assert len(videos[0]) > cap
    rec = recipes.from_mapping(
        {
            "job": "captions", "namespace": "vcaption",
            "source": {"type": "video_files", "path": str(src), "inline_max_bytes": cap},
            "stages": [{"name": "captions", "ops": [
                {"op": "vid_caption", "device": "cpu", "do_sample": False, "max_new_tokens": 8, "weights": {"path": str(tiny_blip)}},
            ]}],
            "lake": {"buckets": 2}, "tracking": {"enabled": False},
        }
    )  # fmt: skip
    ingest, stage = Runner(rec, run_id="cap-1", spark=spark).run().stages
    assert (ingest.rows_out, stage.rows_in, stage.rows_out) == (3, 3, 3)
    ids = {r.source_record_id: r.sample_id for r in spark.table("vcaption.samples").select("source_record_id", "sample_id").collect()}
    got = {r.sample_id: r for r in spark.table("vcaption.signals_captions").collect()}
    assert len(got) == 3
    for name, video in (("a.mp4", videos[0]), ("c.mkv", videos[2])):
        row = got[ids[name]]
        assert list(row.vid_caption_frames) == reference(tiny_blip, video, "keyframes")[0] and row.vid_caption_ok
    broken = got[ids["broken.mp4"]]
    assert broken.vid_caption is None and broken.vid_caption_reason == "decode_error"
