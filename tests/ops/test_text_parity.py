"""Parity with datatrove's filters on real documents (skipped without datatrove or shared data).

Documents: the JSONL text samples of shared/data/text and the main text of every HTML response
in shared/data/warc (charset resolved, resiliparse). Keep/drop decisions must agree on >= 99%.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("datatrove")
pytest.importorskip("spacy")

from datatrove.data import Document  # noqa: E402
from datatrove.pipeline.filters import (  # noqa: E402
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)

from spark_mm.ops.registry import build  # noqa: E402
from spark_mm.ops.text_extract import decode_body, resolve_charset  # noqa: E402
from spark_mm.ops.text_rules import (  # noqa: E402
    TxtC4BadWordsParams,
    TxtC4Params,
    TxtFinewebParams,
    TxtGopherQualityParams,
    TxtGopherRepetitionParams,
    run_rules,
)
from spark_mm.sources.warc_records import iter_warc_records  # noqa: E402


def real_documents(data: Path) -> list[str]:
    from resiliparse.extract.html2text import extract_plain_text

    docs: list[str] = []
    for f in sorted((data / "text").glob("*.jsonl*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            docs += [json.loads(line)["text"] for line in fh if line.strip()]
    for f in sorted((data / "warc").iterdir()):
        for r in iter_warc_records(str(f)):
            if r["payload"] and (r["mime_type"] or "").startswith("text/html") and not r["ingest_error"]:
                body = r["payload"]
                charset = resolve_charset(body, (r["record_meta"] or {}).get("content_type"))[0]
                docs.append(extract_plain_text(decode_body(body, charset), main_content=True))
    return [d for d in docs if d.strip()]


@pytest.mark.shared_data
def test_keep_drop_parity_with_datatrove(shared_data: Path) -> None:
    docs = real_documents(shared_data)
    assert len(docs) >= 100
    pairs = [
        (TxtGopherQualityParams(), GopherQualityFilter()),
        (TxtGopherRepetitionParams(), GopherRepetitionFilter()),
        (TxtC4Params(variant="datatrove"), C4QualityFilter()),
        (TxtC4Params(variant="datatrove", filter_no_terminal_punct=False), C4QualityFilter(filter_no_terminal_punct=False)),
        (TxtFinewebParams(), FineWebQualityFilter()),
    ]
    total = agree = 0
    report = []
    for params, ref in pairs:
        op = build(params)
        mine = run_rules(pa.array(docs), [op.spec()]).column(f"{op.name}_ok").to_pylist()
        theirs = [ref.filter(Document(text=d, id=str(i))) is True for i, d in enumerate(docs)]
        same = sum(a == b for a, b in zip(mine, theirs))
        report.append(f"{op.name}: {same}/{len(docs)}")
        assert same / len(docs) >= 0.97, report
        total += len(docs)
        agree += same
    assert agree / total >= 0.99, report


def _bad_words_list(docs: list[str], path: Path) -> Path:
    """datatrove's URL banned-word list (a real list in the LDNOOBW layout) plus words, phrases and
    word prefixes taken from the documents, so the sample has matches, near misses and phrases."""
    from datatrove.utils._import_utils import ASSETS_PATH

    entries = [w.strip() for w in (Path(ASSETS_PATH) / "banned_words.txt").read_text(encoding="utf-8").splitlines()]
    for i, d in enumerate(docs[::5]):
        ws = [w for w in d.lower().split() if w.isalpha()]
        if len(ws) > 12:
            entries.append(ws[10 + i % 3])                        # a word
            entries.append(" ".join(ws[5:7]))                    # a phrase
            long = [w for w in ws if len(w) > 7]
            if long:
                entries.append(long[0][:5])                      # a prefix: must not match inside the word
    path.write_text("\n".join(entries) + "\n", encoding="utf-8")
    return path


@pytest.mark.shared_data
def test_bad_words_parity_with_datatrove(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datatrove.pipeline.filters.c4_filters as c4_filters

    docs = real_documents(shared_data)
    words = _bad_words_list(docs, tmp_path / "en")
    monkeypatch.setattr(c4_filters, "cached_asset_path_or_download", lambda *a, **k: str(words))
    ref = c4_filters.C4BadWordsFilter()
    op = build(TxtC4BadWordsParams(bad_words_files={"en": str(words)}))
    mine = run_rules(pa.array(docs), [op.spec()]).column(f"{op.name}_ok").to_pylist()
    theirs = [ref.filter(Document(text=d, id=str(i))) is True for i, d in enumerate(docs)]
    same = sum(a == b for a, b in zip(mine, theirs))
    dropped = len(docs) - sum(theirs)
    assert 0 < dropped < len(docs), "the list must both match and miss on the sample"
    assert same == len(docs), f"{same}/{len(docs)} (datatrove dropped {dropped})"
