-- z_image curation with the dedup stage's decisions: as conf/z_image_curate.sql, but one image
-- per duplicate cluster (exact and near duplicates) from ${namespace}.dedup_image_phash.dup_keep (pHash distance <= 4).
-- conf/z_image.yaml writes that table in its dedup step (image_phash).
--   spark-mm curate conf/z_image_dedup_curate.sql --recipe conf/z_image.yaml --into z_image
SELECT s.sample_id, s.url, s.caption, s.image,
       c.img_width, c.img_height, c.img_format, c.img_phash,
       m.clip_score, m.img_aesthetic_score, m.img_nsfw_score,
       d.dup_cluster_id
FROM ${namespace}.samples s
JOIN ${namespace}.signals_image_cpu c USING (sample_id)
JOIN ${namespace}.signals_image_models m USING (sample_id)
JOIN ${namespace}.dedup_image_phash d USING (sample_id)
WHERE d.dup_keep
  AND least(c.img_width, c.img_height) >= 256
  AND c.img_quality_filter_ok
  AND (m.clip_score IS NULL OR m.clip_score >= 0.28)
  AND (m.img_aesthetic_score IS NULL OR m.img_aesthetic_score >= 5.0)
  AND m.img_nsfw_score < 0.5
