-- DCLM-Baseline curation: RefinedWeb's heuristics passed, one document per URL / exact / MinHash
-- duplicate group (the recipe's dedup steps), and the fastText OH-2.5 + ELI5 score >= 0.018112
-- (DCLM's top 10%). Rows a skipped classifier left null are not kept.
--   spark-mm curate conf/dclm_curate.sql --recipe conf/dclm.yaml --export
SELECT s.sample_id, s.url,
       t.txt_line_corrections_text AS text,
       t.txt_lang, t.txt_lang_score, t.txt_title, t.txt_dclm_fasttext
FROM ${namespace}.samples s
JOIN ${namespace}.signals_text t USING (sample_id)
JOIN ${namespace}.dedup_url du USING (sample_id)
JOIN ${namespace}.dedup_text_exact de USING (sample_id)
JOIN ${namespace}.dedup_text_minhash dm USING (sample_id)
WHERE du.dup_keep AND de.dup_keep AND dm.dup_keep
  AND t.url_filter_ok
  AND t.txt_lang_ok AND t.txt_lang = 'en'
  AND t.txt_gopher_repetition_ok
  AND t.txt_gopher_quality_ok
  AND t.txt_length_ok
  AND t.txt_line_corrections_ok
  AND t.txt_dclm_fasttext >= 0.018112                     -- DCLM's fastText threshold (docs/web_text.md)
