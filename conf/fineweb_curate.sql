-- FineWeb curation: every FineWeb filter passed, English, PII-anonymised text of the kept lines,
-- one document per MinHash near-duplicate cluster (the recipe's dedup step text_minhash).
--   spark-mm curate conf/fineweb_curate.sql --recipe conf/fineweb.yaml --export
SELECT s.sample_id, s.url,
       coalesce(t.txt_pii_text, t.txt_c4_text) AS text,
       t.txt_lang, t.txt_lang_score, t.txt_title
FROM ${namespace}.samples s
JOIN ${namespace}.signals_text t USING (sample_id)
JOIN ${namespace}.dedup_text_minhash d USING (sample_id)
WHERE d.dup_keep                                          -- MinHash near-duplicates (docs/dedup.md)
  AND t.url_filter_ok
  AND t.txt_lang_ok AND t.txt_lang = 'en'
  AND t.txt_gopher_repetition_ok
  AND t.txt_gopher_quality_ok
  AND t.txt_c4_ok
  AND t.txt_fineweb_ok
