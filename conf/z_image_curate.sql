-- z_image curation: image-text pairs that pass the CPU quality signals and the model signals.
--   spark-mm curate conf/z_image_curate.sql --recipe conf/z_image.yaml --export out/z_image
-- Model scores are null when a model ran without weights (the demo skips CLIP and aesthetic);
-- a null score means "not measured" and does not reject. One row per exact byte duplicate is
-- kept here from the image bytes' hash (keys only are shuffled). With the dedup stage's table,
-- use conf/z_image_dedup_curate.sql instead (dedup.dup_keep).
WITH exact AS (  -- lowest sample_id of each identical payload
  SELECT sample_id,
         row_number() OVER (PARTITION BY sha2(image, 256) ORDER BY sample_id) AS copy_rank
  FROM ${namespace}.samples
  WHERE image IS NOT NULL
)
SELECT s.sample_id, s.url, s.caption, s.image,
       c.img_width, c.img_height, c.img_format, c.img_phash,
       m.clip_score, m.img_aesthetic_score, m.img_nsfw_score
FROM ${namespace}.samples s
JOIN ${namespace}.signals_image_cpu c USING (sample_id)
JOIN ${namespace}.signals_image_models m USING (sample_id)
JOIN exact e USING (sample_id)
WHERE e.copy_rank = 1
  AND least(c.img_width, c.img_height) >= 256            -- min side (px)
  AND c.img_quality_filter_ok                            -- DataComp basic: side >= 200, aspect <= 3
  AND (m.clip_score IS NULL OR m.clip_score >= 0.28)     -- LAION-5B image-text similarity
  AND (m.img_aesthetic_score IS NULL OR m.img_aesthetic_score >= 5.0)
  AND m.img_nsfw_score < 0.5                             -- open-NSFW; unscored rows are dropped
