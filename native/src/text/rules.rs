//! Columnar wrapper: every requested rule over a string column in one pass per document.
//!
//! A call takes a list of [`RuleSpec`]s (each a named rule with its parameters, deserialised from
//! JSON the Python operator builds) and returns one struct array with, per spec,
//! `<name>_ok` / `<name>_reason` and that rule's signals, plus one `error` column. Each document
//! is analysed once ([`Doc`]) and every rule reads the same words and lines, so running the
//! rules of a stage together costs one tokenisation.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float32Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::{DataType, Field, Fields};
use serde::{Deserialize, Serialize};

use super::badwords::{badwords, BadWords, Prepared as BadWordsPrepared};
use super::c4::{c4, C4};
use super::doc::Doc;
use super::fineweb::{fineweb, FineWeb};
use super::gopher::{gopher_quality, gopher_repetition, GopherQuality, GopherRepetition};
use super::lines::{line_corrections, LineCorrections, Prepared as LinesPrepared};
use super::pii::{pii, Pii};
use super::for_each_str;
use crate::error::{KernelError, Result};

/// Text length bounds (code points and non-symbol words). `None` disables a bound.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Length {
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    pub min_words: Option<usize>,
    pub max_words: Option<usize>,
}

/// C4 settings plus whether to emit the cleaned page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct C4Spec {
    #[serde(flatten)]
    pub c4: C4,
    pub emit_text: bool,
}

/// One rule and its parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "rule", content = "params", rename_all = "snake_case")]
pub enum Rule {
    GopherQuality(GopherQuality),
    GopherRepetition(GopherRepetition),
    C4(C4Spec),
    Fineweb(FineWeb),
    Length(Length),
    Pii(Pii),
    BadWords(BadWords),
    LineCorrections(LineCorrections),
}

/// A named rule: output columns are prefixed with `name`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    #[serde(flatten)]
    pub rule: Rule,
}

impl Rule {
    /// Reference defaults of a rule, by its tag (`gopher_quality`, `c4_tfds`, `c4_datatrove`, ...).
    pub fn defaults(tag: &str) -> Option<Rule> {
        Some(match tag {
            "gopher_quality" => Rule::GopherQuality(GopherQuality::default()),
            "gopher_repetition" => Rule::GopherRepetition(GopherRepetition::default()),
            "c4_tfds" => Rule::C4(C4Spec { c4: C4::tfds(), emit_text: false }),
            "c4_datatrove" => Rule::C4(C4Spec { c4: C4::datatrove(), emit_text: false }),
            "fineweb" => Rule::Fineweb(FineWeb::default()),
            "length" => Rule::Length(Length::default()),
            "pii" => Rule::Pii(Pii::default()),
            "line_corrections" => Rule::LineCorrections(LineCorrections::default()),
            _ => return None,
        })
    }
}

/// Output builders of one spec.
struct Out {
    ok: BooleanBuilder,
    reason: StringBuilder,
    extra: Vec<(String, Extra)>,
}

enum Extra {
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    Str(StringBuilder),
}

impl Extra {
    fn null(&mut self) {
        match self {
            Extra::Bool(b) => b.append_null(),
            Extra::I32(b) => b.append_null(),
            Extra::I64(b) => b.append_null(),
            Extra::F32(b) => b.append_null(),
            Extra::Str(b) => b.append_null(),
        }
    }
    fn finish(&mut self) -> (DataType, ArrayRef) {
        match self {
            Extra::Bool(b) => (DataType::Boolean, Arc::new(b.finish())),
            Extra::I32(b) => (DataType::Int32, Arc::new(b.finish())),
            Extra::I64(b) => (DataType::Int64, Arc::new(b.finish())),
            Extra::F32(b) => (DataType::Float32, Arc::new(b.finish())),
            Extra::Str(b) => (DataType::Utf8, Arc::new(b.finish())),
        }
    }
}

fn extras(rule: &Rule) -> Vec<(&'static str, Extra)> {
    match rule {
        Rule::GopherQuality(_) => vec![("n_words", Extra::I32(Int32Builder::new())), ("mean_word_len", Extra::F32(Float32Builder::new()))],
        Rule::C4(s) => {
            let mut v = vec![("sentences", Extra::I32(Int32Builder::new()))];
            if s.emit_text {
                v.push(("text", Extra::Str(StringBuilder::new())));
            }
            v
        }
        Rule::Length(_) => vec![("chars", Extra::I64(Int64Builder::new())), ("words", Extra::I32(Int32Builder::new()))],
        Rule::Pii(p) => {
            let mut v = vec![("emails", Extra::I32(Int32Builder::new())), ("ips", Extra::I32(Int32Builder::new()))];
            if p.redact {
                v.push(("text", Extra::Str(StringBuilder::new())));
            }
            v
        }
        Rule::BadWords(_) => vec![("has_badwords", Extra::Bool(BooleanBuilder::new()))],
        Rule::LineCorrections(_) => vec![
            ("text", Extra::Str(StringBuilder::new())),
            ("lines_removed", Extra::I32(Int32Builder::new())),
            ("words_removed", Extra::I32(Int32Builder::new())),
        ],
        _ => vec![],
    }
}

/// Per-call compiled state of a rule (automata built once per call, not per row).
enum Prepared {
    None,
    BadWords(BadWordsPrepared),
    Lines(LinesPrepared),
}

fn prepare(rule: &Rule) -> Prepared {
    match rule {
        Rule::BadWords(p) => Prepared::BadWords(BadWordsPrepared::new(p)),
        Rule::LineCorrections(p) => Prepared::Lines(LinesPrepared::new(p)),
        _ => Prepared::None,
    }
}

/// Row values of an optional string column (all `None` when absent).
fn optional_strs(array: Option<&dyn Array>, n: usize) -> Result<Vec<Option<&str>>> {
    use arrow_array::cast::AsArray;
    let Some(a) = array else { return Ok(vec![None; n]) };
    if a.len() != n {
        return Err(KernelError::InvalidInput { kernel: "txt_rules", expected: "a language column as long as the texts", got: format!("{} rows", a.len()) });
    }
    Ok(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().collect(),
        DataType::Utf8View => a.as_string_view().iter().collect(),
        DataType::Null => vec![None; n],
        other => return Err(KernelError::InvalidInput { kernel: "txt_rules", expected: "string", got: other.to_string() }),
    })
}

fn length(doc: &Doc, p: &Length) -> (std::result::Result<(), &'static str>, usize, usize) {
    let chars = doc.n_chars();
    let words = doc.non_symbol_words().count();
    let r = if p.min_chars.is_some_and(|m| chars < m) {
        Err("too_few_chars")
    } else if p.max_chars.is_some_and(|m| chars > m) {
        Err("too_many_chars")
    } else if p.min_words.is_some_and(|m| words < m) {
        Err("too_few_words")
    } else if p.max_words.is_some_and(|m| words > m) {
        Err("too_many_words")
    } else {
        Ok(())
    };
    (r, chars, words)
}

/// Evaluate `specs` on every row of a string column (Utf8, LargeUtf8 or Utf8View).
///
/// `languages` (optional, same length) is each row's language code, read by the bad-words rule;
/// a null or absent language is that rule's `default_language`.
/// Null rows get null outputs and the error "null text". A mapper rule (`pii`) always has
/// `ok = true` and a null reason.
pub fn txt_rules(texts: &dyn Array, specs: &[RuleSpec], languages: Option<&dyn Array>) -> Result<StructArray> {
    let langs = optional_strs(languages, texts.len())?;
    let prepared: Vec<Prepared> = specs.iter().map(|s| prepare(&s.rule)).collect();
    let mut row = 0usize;
    for s in specs {
        if let Rule::BadWords(b) = &s.rule {
            if !(0.0..=1.0).contains(&b.keep_fraction) {
                return Err(KernelError::InvalidParam { kernel: "txt_rules", param: "keep_fraction", message: "must be in [0, 1]".into() });
            }
        }
        if let Rule::GopherRepetition(r) = &s.rule {
            r.validate().map_err(|m| KernelError::InvalidParam { kernel: "txt_rules", param: "gopher_repetition", message: m })?;
        }
    }
    let n = texts.len();
    let mut outs: Vec<Out> = specs
        .iter()
        .map(|s| Out {
            ok: BooleanBuilder::with_capacity(n),
            reason: StringBuilder::new(),
            extra: extras(&s.rule).into_iter().map(|(k, b)| (format!("{}_{k}", s.name), b)).collect(),
        })
        .collect();
    let mut error = StringBuilder::new();
    for_each_str("txt_rules", texts, |value| {
        let lang = langs[row];
        row += 1;
        let Some(text) = value else {
            for o in outs.iter_mut() {
                o.ok.append_null();
                o.reason.append_null();
                o.extra.iter_mut().for_each(|(_, e)| e.null());
            }
            error.append_value("null text");
            return;
        };
        error.append_null();
        let doc = Doc::new(text);
        for ((s, o), pre) in specs.iter().zip(outs.iter_mut()).zip(&prepared) {
            let verdict = match &s.rule {
                Rule::GopherQuality(p) => {
                    let (r, st) = gopher_quality(&doc, p);
                    if let [(_, Extra::I32(w)), (_, Extra::F32(m))] = o.extra.as_mut_slice() {
                        w.append_value(st.n_words as i32);
                        m.append_option(st.mean_word_length.map(|x| x as f32));
                    }
                    r
                }
                Rule::GopherRepetition(p) => gopher_repetition(&doc, p),
                Rule::C4(p) => {
                    let out = c4(text, &p.c4);
                    for (k, e) in o.extra.iter_mut() {
                        match e {
                            Extra::I32(b) => b.append_value(out.sentences as i32),
                            Extra::Str(b) if k.ends_with("_text") => b.append_option(out.text.as_deref()),
                            _ => e.null(),
                        }
                    }
                    out.verdict
                }
                Rule::Fineweb(p) => fineweb(&doc, p),
                Rule::Length(p) => {
                    let (r, c, w) = length(&doc, p);
                    if let [(_, Extra::I64(cb)), (_, Extra::I32(wb))] = o.extra.as_mut_slice() {
                        cb.append_value(c as i64);
                        wb.append_value(w as i32);
                    }
                    r
                }
                Rule::Pii(p) => {
                    let (e, i, t) = pii(text, p);
                    for (k, b) in o.extra.iter_mut() {
                        match b {
                            Extra::I32(b) if k.ends_with("_emails") => b.append_value(e as i32),
                            Extra::I32(b) => b.append_value(i as i32),
                            Extra::Str(b) => b.append_option(t.as_deref()),
                            other => other.null(),
                        }
                    }
                    Ok(())
                }
                Rule::BadWords(p) => {
                    let Prepared::BadWords(pre) = pre else { unreachable!("prepared with its rule") };
                    let (found, v) = badwords(text, lang.unwrap_or(&p.default_language), pre, p);
                    if let [(_, Extra::Bool(b))] = o.extra.as_mut_slice() {
                        b.append_option(found);
                    }
                    v
                }
                Rule::LineCorrections(p) => {
                    let Prepared::Lines(pre) = pre else { unreachable!("prepared with its rule") };
                    let out = line_corrections(text, p, pre);
                    if let [(_, Extra::Str(t)), (_, Extra::I32(l)), (_, Extra::I32(w))] = o.extra.as_mut_slice() {
                        t.append_value(&out.text);
                        l.append_value(out.lines_removed as i32);
                        w.append_value(out.words_removed as i32);
                    }
                    out.verdict
                }
            };
            match verdict {
                Ok(()) => {
                    o.ok.append_value(true);
                    o.reason.append_null();
                }
                Err(r) => {
                    o.ok.append_value(false);
                    o.reason.append_value(r);
                }
            }
        }
    })?;
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (s, mut o) in specs.iter().zip(outs) {
        for (k, e) in o.extra.iter_mut() {
            let (dt, a) = e.finish();
            fields.push(Field::new(k.clone(), dt, true));
            cols.push(a);
        }
        fields.push(Field::new(format!("{}_ok", s.name), DataType::Boolean, true));
        cols.push(Arc::new(o.ok.finish()));
        fields.push(Field::new(format!("{}_reason", s.name), DataType::Utf8, true));
        cols.push(Arc::new(o.reason.finish()));
    }
    fields.push(Field::new("error", DataType::Utf8, true));
    cols.push(Arc::new(error.finish()));
    Ok(StructArray::try_new(Fields::from(fields), cols, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::StringArray;

    #[test]
    fn specs_round_trip_json_and_run_together() {
        let json = r#"[{"name":"q","rule":"gopher_quality","params":{"min_doc_words":50,"max_doc_words":100000,"min_avg_word_length":3.0,"max_avg_word_length":10.0,"max_symbol_word_ratio":0.1,"max_bullet_lines_ratio":0.9,"max_ellipsis_lines_ratio":0.3,"min_alpha_words_ratio":0.8,"min_stop_words":2,"stop_words":["the","be","to","of","and","that","have","with"]}},
                       {"name":"len","rule":"length","params":{"min_chars":null,"max_chars":null,"min_words":3,"max_words":null}}]"#;
        let specs: Vec<RuleSpec> = serde_json::from_str(json).unwrap();
        assert_eq!(specs[0].rule, Rule::defaults("gopher_quality").unwrap());
        let texts = StringArray::from(vec![Some("too short"), None]);
        let out = txt_rules(&texts, &specs, None).unwrap();
        let names: Vec<&str> = out.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["q_n_words", "q_mean_word_len", "q_ok", "q_reason", "len_chars", "len_words", "len_ok", "len_reason", "error"]);
        assert_eq!(out.column(3).as_string::<i32>().value(0), "gopher_short_doc");
        assert_eq!(out.column(7).as_string::<i32>().value(0), "too_few_words");
        assert!(out.column(2).is_null(1));
        assert_eq!(out.column(8).as_string::<i32>().value(1), "null text");
    }

    #[test]
    fn rejects_n_grams_without_reason_codes() {
        let spec = RuleSpec { name: "r".into(), rule: Rule::GopherRepetition(GopherRepetition { top_n_grams: vec![(7, 0.1)], ..Default::default() }) };
        assert!(txt_rules(&StringArray::from(vec!["x"]), &[spec], None).is_err());
    }

    #[test]
    fn bad_words_read_the_row_language_and_line_corrections_rewrite() {
        let bw: RuleSpec = serde_json::from_str(
            r#"{"name":"bw","rule":"bad_words","params":{"lists":{"en":["darn"],"zh":["坏"]},"default_language":"en","keep_fraction":0.0,"seed":0}}"#,
        )
        .unwrap();
        let specs = vec![bw, RuleSpec { name: "lc".into(), rule: Rule::defaults("line_corrections").unwrap() }];
        let texts = StringArray::from(vec![Some("oh darn"), Some("oh darn"), Some("坏人"), Some("fine text"), None]);
        let langs = StringArray::from(vec![Some("en"), Some("fr"), Some("zh"), None, None]);
        let out = txt_rules(&texts, &specs, Some(&langs)).unwrap();
        let names: Vec<&str> = out.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["bw_has_badwords", "bw_ok", "bw_reason", "lc_text", "lc_lines_removed", "lc_words_removed", "lc_ok", "lc_reason", "error"]);
        let found = out.column(0).as_boolean();
        assert_eq!((found.value(0), found.is_null(1), found.value(2), found.value(3)), (true, true, true, false));
        assert_eq!(out.column(2).as_string::<i32>().value(0), "document_removed_with_badwords");
        assert!(out.column(1).as_boolean().value(1));
        assert_eq!(out.column(3).as_string::<i32>().value(3), "fine text");
        assert!(txt_rules(&texts, &specs, Some(&StringArray::from(vec!["en"]))).is_err());
    }
}
