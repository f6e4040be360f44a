"""url_filter on in-memory UT1-layout lists: every reason code, the soft-word threshold boundary."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("tldextract")

from spark_mm.errors import ConfigError  # noqa: E402
from spark_mm.ops.registry import build  # noqa: E402
from spark_mm.ops.url_filter import UrlFilterParams, UrlReason  # noqa: E402


@pytest.fixture()
def lists(tmp_path: Path) -> dict:
    ut1 = tmp_path / "ut1"
    (ut1 / "adult").mkdir(parents=True)
    (ut1 / "gambling").mkdir()
    (ut1 / "adult" / "domains").write_text("bad-site.com\nsub.mixed.org\n")
    (ut1 / "adult" / "urls").write_text("fine.net/evil/page.html\n")
    (ut1 / "gambling" / "domains").write_text("casino-x.com\n")
    words = tmp_path / "w"
    words.mkdir()
    (words / "banned").write_text("porn\n")
    (words / "soft").write_text("hot\nsexy\nnude\n")
    (words / "sub").write_text("badsubword\n")
    return {"blocklist_dir": str(ut1), "use_datatrove_lists": False, "banned_words_file": str(words / "banned"),
            "soft_banned_words_file": str(words / "soft"), "banned_subwords_file": str(words / "sub")}


def run(params: UrlFilterParams, urls: list[str | None]) -> list[str | None]:
    op = build(params)
    out = op.apply(pa.RecordBatch.from_arrays([pa.array(urls, pa.string())], names=["url"]))
    return out.columns.column("url_filter_reason").to_pylist()


def test_every_reason(lists: dict) -> None:
    p = UrlFilterParams(**lists, exclude_high_quality=True)
    urls = [
        "http://www.bad-site.com/page",
        "https://sub.mixed.org/x",
        "https://other.mixed.org/x",
        "http://fine.net/evil/page.html",
        "http://fine.net/Porn/videos",
        "http://fine.net/hot-sexy-pics",
        "http://fine.net/hot-dogs",
        "http://fine.net/a-BadSubWord-b",
        "https://en.wikipedia.org/wiki/Falcon",
        "http://pornographic-history.example.edu/",
        None,
    ]
    assert run(p, urls) == [
        UrlReason.DOMAIN, UrlReason.SUBDOMAIN, None, UrlReason.URL, UrlReason.HARD_BLACKLISTED,
        UrlReason.SOFT_BLACKLISTED, None, UrlReason.BLACKLISTED_SUBWORD, UrlReason.HIGH_QUALITY_SOURCE, None,
        UrlReason.MISSING_INPUT,
    ]


def test_soft_threshold_and_categories(lists: dict) -> None:
    assert run(UrlFilterParams(**lists, soft_word_threshold=3), ["http://a.com/hot-sexy", "http://a.com/hot-sexy-nude"]) == [
        None, UrlReason.SOFT_BLACKLISTED]
    only_adult = UrlFilterParams(**lists, categories=("adult",))
    assert run(only_adult, ["http://casino-x.com/", "http://bad-site.com/"]) == [None, UrlReason.DOMAIN]


def test_bad_config_fails_early(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build(UrlFilterParams(use_datatrove_lists=False))
    with pytest.raises(ConfigError):
        build(UrlFilterParams(use_datatrove_lists=False, blocklist_dir=str(tmp_path / "missing"))).setup()


def test_lists_load_once_per_worker_and_reload_when_a_file_changes(lists: dict) -> None:
    from spark_mm.engine.model_cache import MODEL_CACHE

    a, b = build(UrlFilterParams(**lists)), build(UrlFilterParams(**lists))
    a.setup()
    b.setup()
    assert a._lists is b._lists  # a second task / operator instance reuses the loaded lists
    other = build(UrlFilterParams(**lists, extra_domains=("more.example",)))
    other.setup()
    assert other._lists is not a._lists
    domains = next(Path(lists["blocklist_dir"]).rglob("domains"))
    domains.write_text(domains.read_text() + "new-bad.example\n")
    changed = build(UrlFilterParams(**lists))
    changed.setup()
    assert changed._lists is not a._lists and changed._lists.sizes()[0] == a._lists.sizes()[0] + 1
    MODEL_CACHE.clear()
