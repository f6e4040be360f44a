-- FineWeb-Edu curation: the FineWeb curation (conf/fineweb_curate.sql) plus FineWeb-Edu's
-- int_score >= 3 (FineWeb-Edu-score-2: >= 2). Rows a skipped classifier left null are not kept.
--   spark-mm curate conf/fineweb_edu_curate.sql --recipe conf/fineweb_edu.yaml --export
SELECT s.sample_id, s.url,
       coalesce(t.txt_pii_text, t.txt_c4_text) AS text,
       t.txt_lang, t.txt_lang_score, t.txt_title, e.txt_edu_score, e.txt_edu_int_score
FROM ${namespace}.samples s
JOIN ${namespace}.signals_text t USING (sample_id)
JOIN ${namespace}.signals_edu e USING (sample_id)
JOIN ${namespace}.dedup_text_minhash d USING (sample_id)
WHERE d.dup_keep                                          -- MinHash near-duplicates (docs/dedup.md)
  AND t.url_filter_ok
  AND t.txt_lang_ok AND t.txt_lang = 'en'
  AND t.txt_gopher_repetition_ok
  AND t.txt_gopher_quality_ok
  AND t.txt_c4_ok
  AND t.txt_fineweb_ok
  AND e.txt_edu_int_score >= 3                           -- FineWeb-Edu (classifier, docs/web_text.md)
