-- LAION-5B curation (Schuhmann et al. 2022, Sec. 3.1): the keep rules over laion's signals, one row per
-- kept image-text pair, with img2dataset's metadata fields so the WebDataset export reads like
-- img2dataset's output (<key>.jpg, <key>.txt = caption, <key>.json).
--   spark-mm curate conf/laion_curate.sql --recipe conf/laion.yaml --export --format webdataset --image-format jpg
-- Rules (numbers and sources in conf/laion.yaml and docs/image_text.md):
--   * links: only links with link_laion_ok were downloaded (alt text >= 5 characters, URL rules);
--   * the download succeeded and the image decodes; image >= 5 KB (5000 bytes, the Crawling@home worker);
--   * CLIP ViT-B/32 image-alt cosine >= 0.28 when the alt text is English, >= 0.26 otherwise
--     (LAION scored non-English text with mCLIP; this score is ViT-B/32's for every language).
--     A NULL clip_score passes: it means CLIP ran without weights (on_missing: skip), i.e. "not
--     measured"; with weights every decodable image with a caption has a score.
--   * NSFW is a tag, not a rule (LAION published its NSFW tags and kept the rows): nsfw / nsfw_score
--     travel in the .json, filter them downstream;
--   * one sample per (image URL, alt text) pair against all history (dedup step url_text), and one per
--     pHash near-duplicate cluster (dedup step image_phash).
-- img2dataset's json fields: url, caption, key, status, error_message, width, height,
-- original_width, original_height, exif, sha256. Originals are stored (no resize), so width/height
-- equal original_width/original_height; EXIF is not extracted (exif is null); key is the sample_id
-- (img2dataset numbers samples per shard instead). Extra fields: similarity, language, nsfw, nsfw_score.
SELECT s.sample_id,
       s.sample_id                              AS key,
       s.url,
       s.caption,
       s.image,
       'success'                                AS status,
       CAST(NULL AS STRING)                     AS error_message,
       c.img_width                              AS width,
       c.img_height                             AS height,
       c.img_width                              AS original_width,
       c.img_height                             AS original_height,
       CAST(NULL AS STRING)                     AS exif,
       sha2(s.image, 256)                       AS sha256,
       m.clip_score                             AS similarity,
       s.record_meta['link_alt_lang']           AS language,
       m.img_nsfw_score                         AS nsfw_score,
       CASE WHEN m.img_nsfw_score IS NULL THEN NULL
            WHEN m.img_nsfw_score >= 0.5 THEN 'NSFW' ELSE 'UNLIKELY' END AS nsfw
FROM ${namespace}.samples s
JOIN ${namespace}.signals_image_cpu c USING (sample_id)
JOIN ${namespace}.signals_image_models m USING (sample_id)
JOIN ${namespace}.dedup_image_phash p USING (sample_id)
JOIN ${namespace}.dedup_url_text u USING (sample_id)
WHERE s.ingest_error IS NULL                              -- fetched (failures stay rows with a reason in samples)
  AND c.img_width IS NOT NULL                             -- decodes
  AND c.img_bytes >= 5000                                 -- image >= 5 KB
  AND s.caption IS NOT NULL
  AND (m.clip_score IS NULL                               -- NULL: CLIP skipped without weights (not measured)
       OR m.clip_score >= CASE WHEN s.record_meta['link_alt_lang'] = 'en' THEN 0.28 ELSE 0.26 END)
  AND u.dup_keep                                          -- one per (URL, alt text), against all history
  AND p.dup_keep                                          -- one per pHash cluster
