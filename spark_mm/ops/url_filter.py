"""RefinedWeb URL filter (Penedo et al. 2023, App. G.1) over the Rust ``url_filter`` kernel."""

from __future__ import annotations

import enum
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from spark_mm import _native
from spark_mm.engine.model_cache import MODEL_CACHE, ModelKey
from spark_mm.errors import ConfigError, MissingDependency
from spark_mm.ops.base import Filter, FilterDecision, OpParams
from spark_mm.ops.registry import register
from spark_mm.ops.text_rules import read_word_list

# Curated sources RefinedWeb's own high-quality corpora cover (Wikipedia, arXiv and the like);
# excluding them from web text avoids counting them twice. Opt-in via exclude_high_quality.
HIGH_QUALITY_DOMAINS: tuple[str, ...] = (
    "wikipedia.org",
    "arxiv.org",
    "stackexchange.com",
    "stackoverflow.com",
    "gutenberg.org",
    "smashwords.com",
    "opensubtitles.org",
    "ncbi.nlm.nih.gov",
    "europepmc.org",
    "news.ycombinator.com",
)

_DATATROVE_BLOCKLIST_TAR = "url_filterblacklistsv0_3_0.tar.gz"
_DATATROVE_WORD_LISTS = ("banned_words.txt", "soft_banned_words.txt", "banned_subwords.txt")
_DATATROVE_HINT = "pip install 'datatrove' (or set blocklist_dir and the *_file fields, and use_datatrove_lists: false)"


class UrlFilterParams(OpParams):
    """Where the lists come from and how words are counted.

    ``blocklist_dir`` is a UT1-layout folder (``<dir>/<category>/domains`` and ``.../urls``, or
    ``<dir>/domains`` and ``<dir>/urls`` directly); ``categories`` limits which categories load.
    Without it, datatrove's shipped lists (UT1-derived, ~4.5M domains) are used. Word lists default
    to datatrove's RefinedWeb-style lists; ``*_file`` fields point at your own (one per line).
    """

    op: Literal["url_filter"] = "url_filter"
    url_column: str = "url"
    blocklist_dir: str | None = None
    categories: tuple[str, ...] | None = None
    use_datatrove_lists: bool = True
    banned_words_file: str | None = None
    soft_banned_words_file: str | None = None
    banned_subwords_file: str | None = None
    extra_domains: tuple[str, ...] = ()
    extra_urls: tuple[str, ...] = ()
    soft_word_threshold: int = Field(2, ge=1)
    exclude_high_quality: bool = False
    high_quality_domains: tuple[str, ...] = HIGH_QUALITY_DOMAINS
    cache_dir: str | None = Field(None, description="where datatrove's list archive is unpacked")


class UrlReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null URL
    DOMAIN = "domain"
    SUBDOMAIN = "subdomain"
    URL = "url"
    HARD_BLACKLISTED = "hard_blacklisted"
    SOFT_BLACKLISTED = "soft_blacklisted"
    BLACKLISTED_SUBWORD = "blacklisted_subword"
    HIGH_QUALITY_SOURCE = "high_quality_source"


def _datatrove_assets() -> Path:
    """datatrove's asset folder, with every list url_filter uses from it.

    Called when the operator is built (recipe validation, driver preflight), so a missing extra
    fails the run before ingest commits anything, not on the workers afterwards.

    Raises:
        MissingDependency: datatrove is not installed, or its assets lack one of the lists.
    """
    try:
        from datatrove.utils._import_utils import ASSETS_PATH
    except ImportError as e:
        raise MissingDependency(f"url_filter's default lists come from datatrove: {_DATATROVE_HINT}") from e
    assets = Path(ASSETS_PATH)
    missing = [n for n in (_DATATROVE_BLOCKLIST_TAR, *_DATATROVE_WORD_LISTS) if not (assets / n).is_file()]
    if missing:
        raise MissingDependency(f"url_filter: datatrove's assets in {assets} lack {missing}; install datatrove>=0.3: {_DATATROVE_HINT}")
    return assets


def unpack_lists(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into the folder ``target`` once, atomically, and return ``target``.

    Workers of one machine race to unpack the same lists. Each extracts into its own temporary
    folder beside ``target`` and renames it into place; ``target`` therefore only ever appears
    whole, a loser of the race discards its copy, and a reader never sees a half-written list.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        try:
            os.rename(tmp, target)
        except OSError:  # another worker renamed its copy first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _lists_digest(sources: dict[str, Any], extra: dict[str, list[str]]) -> str:
    """Identity of a set of lists: word lists and extras by value, list files by path, size and mtime."""
    files = {
        k: [(f, (st := Path(f).stat()).st_size, st.st_mtime_ns) for f in sources[k]] for k in ("domain_files", "url_files")
    }
    words = {k: v for k, v in sources.items() if k not in files}
    return hashlib.sha256(json.dumps([files, words, extra], sort_keys=True).encode()).hexdigest()


def _tldextract() -> Any:
    try:
        import tldextract
    except ImportError as e:
        raise MissingDependency("url_filter needs tldextract: pip install tldextract") from e
    return tldextract


def ut1_files(root: Path, categories: tuple[str, ...] | None) -> tuple[list[Path], list[Path]]:
    """The ``domains`` and ``urls`` files of a UT1-layout folder.

    Args:
        root: the folder; either holds ``domains``/``urls`` itself or one folder per category.
        categories: category folder names to load (all when None).

    Raises:
        ConfigError: the folder is missing or holds no list.
    """
    if not root.is_dir():
        raise ConfigError(f"url_filter.blocklist_dir {root} is not a folder")
    if (root / "domains").is_file() or (root / "urls").is_file():
        dirs = [root]
    else:
        dirs = sorted(p for p in root.iterdir() if p.is_dir() and (categories is None or p.name in categories))
    domains = [d / "domains" for d in dirs if (d / "domains").is_file()]
    urls = [d / "urls" for d in dirs if (d / "urls").is_file()]
    if not domains and not urls:
        raise ConfigError(f"url_filter.blocklist_dir {root} holds no UT1 'domains' or 'urls' file")
    return domains, urls


@register
class UrlFilter(Filter[UrlFilterParams]):
    """URL filtering after RefinedWeb §G.1: the registered domain or the full host on a domain
    blocklist, the URL on a URL blocklist, any banned word among the URL's normalised tokens
    (lowercased runs of ASCII letters/digits), ``soft_word_threshold`` or more soft-banned words,
    any banned sub-word in the URL with non-alphanumerics removed, and optionally a high-quality
    source's domain. Signal: ``url_filter_soft_words`` (soft-banned words found).
    Reasons: :class:`UrlReason` (datatrove's names, plus ``high_quality_source``).
    """

    name = "url_filter"
    version = "2"
    Params = UrlFilterParams
    Reason = UrlReason

    def __init__(self, params: UrlFilterParams) -> None:
        super().__init__(params)
        if not params.use_datatrove_lists and params.blocklist_dir is None and not params.extra_domains:
            raise ConfigError("url_filter: no domain list: set blocklist_dir, extra_domains or use_datatrove_lists")
        if params.use_datatrove_lists:
            _datatrove_assets()  # preflight: fail here, on the driver, with the install hint
        _tldextract()
        self._lists: Any = None
        self._extract: Any = None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.url_column,)

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([(f"{self.name}_soft_words", pa.int32())])

    def _list_sources(self) -> dict[str, Any]:
        p = self.params
        domain_files: list[Path] = []
        url_files: list[Path] = []
        words: dict[str, list[str]] = {"banned_words": [], "soft_banned_words": [], "banned_subwords": []}
        if p.use_datatrove_lists:
            assets = _datatrove_assets()
            cache = Path(p.cache_dir or Path.home() / ".cache" / "spark-mm" / "url_filter" / "datatrove_v0_3_0")
            # a folder of its own, never written in place (older builds extracted into ``cache``)
            lists = unpack_lists(assets / _DATATROVE_BLOCKLIST_TAR, cache / _DATATROVE_BLOCKLIST_TAR.removesuffix(".tar.gz"))
            domain_files.append(lists / "domains")
            url_files.append(lists / "urls")
            words["banned_words"] = read_word_list(assets / "banned_words.txt")
            words["soft_banned_words"] = read_word_list(assets / "soft_banned_words.txt")
            words["banned_subwords"] = read_word_list(assets / "banned_subwords.txt")
        if p.blocklist_dir is not None:
            d, u = ut1_files(Path(p.blocklist_dir), p.categories)
            domain_files += d
            url_files += u
        for key, f in (("banned_words", p.banned_words_file), ("soft_banned_words", p.soft_banned_words_file),
                       ("banned_subwords", p.banned_subwords_file)):
            if f is not None:
                words[key] = read_word_list(Path(f))
        return {"domain_files": [str(x) for x in domain_files], "url_files": [str(x) for x in url_files], **words}

    def setup(self) -> None:
        if self._lists is not None:
            return
        tldextract = _tldextract()
        # the bundled public-suffix snapshot only: never fetch lists at run time
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        sources = self._list_sources()
        extra = {"extra_domains": list(self.params.extra_domains), "extra_urls": list(self.params.extra_urls)}
        # UT1-sized lists take seconds to load: one copy per worker process, shared by every task
        # and operator instance asking for the same lists (the per-worker cache, keyed by content).
        self._lists = MODEL_CACHE.get_or_load(
            ModelKey("url_filter:lists", _lists_digest(sources, extra), "cpu", "u64"),
            lambda: _native.UrlLists(**sources, **extra),
        )

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        self.setup()
        urls = batch.column(self.params.url_column)
        if isinstance(urls, pa.ChunkedArray):
            urls = urls.combine_chunks()
        reg, fq = [], []
        for u in urls.to_pylist():
            if u is None:
                reg.append(None)
                fq.append(None)
                continue
            r = self._extract(u)
            reg.append(r.top_domain_under_public_suffix)
            fq.append(r.fqdn)
        rule = {
            "soft_word_threshold": self.params.soft_word_threshold,
            "high_quality_domains": list(self.params.high_quality_domains) if self.params.exclude_high_quality else [],
        }
        import json

        out = pa.RecordBatch.from_struct_array(
            pa.array(
                _native.url_filter(
                    self.name, urls.cast(pa.string()), pa.array(reg, pa.string()), pa.array(fq, pa.string()),
                    self._lists, json.dumps(rule),
                )
            )
        )
        errors = out.column("error")
        return FilterDecision(
            ok=out.column(f"{self.name}_ok"),
            reason=out.column(f"{self.name}_reason"),
            signals=out.select([f"{self.name}_soft_words"]),
            errors=errors if errors.null_count < len(errors) else None,
        )
