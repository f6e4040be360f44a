-- Video curation: Data-Juicer's video recipe keep rules (configs/data_juicer_recipes/
-- general-video-refine-example.yaml) over the signals of conf/video.yaml, one row per kept video.
--   spark-mm curate conf/video_curate.sql --recipe conf/video.yaml --export
-- Rules (sources and deviations in docs/video.md):
--   * the video demuxed (vid_meta_ok) and its duration is within the recipe's bounds (vid_duration_ok);
--   * the OCR text-area ratio is within [0, 1] (vid_ocr_ok; Data-Juicer's defaults, the recipe has no OCR step);
--   * aesthetics: Data-Juicer keeps 0.31767486 <= score / 10 <= 1.0, i.e. 3.1767486 <= vid_aesthetic_score <= 10
--     (the op's own default min_score 0.4 would be >= 4). A NULL score passes: the model ran without
--     weights (on_missing: skip), i.e. "not measured".
--   * motion: vid_motion_score >= 0.25 (vid_motion_ok); NSFW: vid_nsfw_score <= 0.34847191 (vid_nsfw_ok;
--     open-NSFW stands in for Data-Juicer's Falconsai model). A NULL NSFW flag passes only when no score exists.
--   * no clip dedup yet: the recipe has no dedup step.
-- The caption (vid_caption, null without captioner weights) is carried along, not a keep rule.
SELECT s.sample_id, s.source_uri, s.payload,
       c.vid_format, c.vid_codec, c.vid_width, c.vid_height, c.vid_fps, c.vid_duration_s,
       c.vid_ocr_area_ratio, c.vid_motion_score, m.vid_aesthetic_score, m.vid_nsfw_score,
       m.vid_caption
FROM ${namespace}.samples s
JOIN ${namespace}.signals_video_cpu c USING (sample_id)
JOIN ${namespace}.signals_video_models m USING (sample_id)
WHERE c.vid_meta_ok
  AND c.vid_duration_ok
  AND c.vid_ocr_ok
  AND c.vid_motion_ok
  AND (m.vid_nsfw_ok OR m.vid_nsfw_score IS NULL)
  AND (m.vid_aesthetic_score IS NULL OR m.vid_aesthetic_score BETWEEN 3.1767486 AND 10.0)
