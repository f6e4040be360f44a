-- Video curation: Data-Juicer's video recipe keep rules (configs/data_juicer_recipes/
-- general-video-refine-example.yaml) over the signals of conf/video.yaml, one row per kept clip.
--   spark-mm curate conf/video_curate.sql --recipe conf/video.yaml --export
-- Data-Juicer filters the clips its scene splitter cuts, so the rows are the clips of video_clips
-- (error rows have no clip signals and drop out of the joins) with their parent video's payload.
-- Rules (sources and deviations in docs/video.md):
--   * the parent video demuxed (vid_meta_ok) and its duration is within the recipe's bounds (vid_duration_ok);
--   * per clip: the OCR text-area ratio is within [0, 1] (vid_ocr_ok; Data-Juicer's defaults, the recipe has no OCR step);
--   * aesthetics: Data-Juicer keeps 0.31767486 <= score / 10 <= 1.0, i.e. 3.1767486 <= vid_aesthetic_score <= 10
--     (the op's own default min_score 0.4 would be >= 4). A NULL score passes: the model ran without
--     weights (on_missing: skip), i.e. "not measured".
--   * motion: vid_motion_score >= 0.25 (vid_motion_ok); NSFW: vid_nsfw_score <= 0.34847191 (vid_nsfw_ok;
--     open-NSFW stands in for Data-Juicer's Falconsai model). A NULL NSFW flag passes only when no score exists.
--   * clip near-duplicates: the clip dedup step's keep flag (dedup_clips.dup_keep).
-- The caption (vid_caption, null without captioner weights) is carried along, not a keep rule.
SELECT k.clip_id, s.sample_id, s.source_uri, s.payload, k.clip_index, k.start_s, k.end_s, k.clip_bytes,
       v.vid_format, v.vid_codec, v.vid_width, v.vid_height, v.vid_fps, v.vid_duration_s,
       c.vid_ocr_area_ratio, c.vid_motion_score, m.vid_aesthetic_score, m.vid_nsfw_score,
       m.vid_caption
FROM ${namespace}.video_clips k
JOIN ${namespace}.samples s USING (sample_id)
JOIN ${namespace}.signals_video_cpu v USING (sample_id)
JOIN ${namespace}.signals_clip_cpu c USING (clip_id)
JOIN ${namespace}.signals_clip_models m USING (clip_id)
JOIN ${namespace}.dedup_clips d USING (clip_id)
WHERE v.vid_meta_ok
  AND v.vid_duration_ok
  AND c.vid_ocr_ok
  AND c.vid_motion_ok
  AND (m.vid_nsfw_ok OR m.vid_nsfw_score IS NULL)
  AND (m.vid_aesthetic_score IS NULL OR m.vid_aesthetic_score BETWEEN 3.1767486 AND 10.0)
  AND d.dup_keep
