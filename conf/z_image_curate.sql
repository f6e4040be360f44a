-- z_image curation: image-text pairs that pass the CPU quality signals and the model signals,
-- one image per duplicate cluster (exact and near duplicates: pHash distance <= 4) from the
-- recipe's dedup step image_phash (${namespace}.dedup_image_phash.dup_keep).
--   spark-mm curate conf/z_image_curate.sql --recipe conf/z_image.yaml --export
-- Model scores are null when a model ran without weights (the demo skips CLIP and aesthetic);
-- a null score means "not measured" and does not reject.
SELECT s.sample_id, s.url, s.caption, s.image,
       c.img_width, c.img_height, c.img_format, c.img_phash,
       m.clip_score, m.img_aesthetic_score, m.img_nsfw_score,
       d.dup_cluster_id
FROM ${namespace}.samples s
JOIN ${namespace}.signals_image_cpu c USING (sample_id)
JOIN ${namespace}.signals_image_models m USING (sample_id)
JOIN ${namespace}.dedup_image_phash d USING (sample_id)
WHERE d.dup_keep                                         -- one per pHash cluster (docs/dedup.md)
  AND least(c.img_width, c.img_height) >= 256            -- min side (px)
  AND c.img_quality_filter_ok                            -- DataComp basic: side >= 200, aspect <= 3
  AND (m.clip_score IS NULL OR m.clip_score >= 0.28)     -- LAION-5B image-text similarity
  AND (m.img_aesthetic_score IS NULL OR m.img_aesthetic_score >= 5.0)
  AND m.img_nsfw_score < 0.5                             -- open-NSFW; unscored rows are dropped
