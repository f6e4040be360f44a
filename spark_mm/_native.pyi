"""Type stubs of the native module (Rust kernels). Arrays cross via the Arrow PyCapsule interface."""

from typing import Any

class NativeError(Exception): ...

class ArrowExport:
    """An Arrow array exported by a kernel; import it with ``pyarrow.array(obj)``."""

    def __arrow_c_array__(self, requested_schema: Any = None) -> tuple[Any, Any]: ...
    def __len__(self) -> int: ...

def img_meta(images: Any, *, max_bytes: int, max_pixels: int) -> ArrowExport: ...

# --- image signal kernels (native/src/image/signals.rs) ---
def img_signals(
    images: Any,
    *,
    mode: str = "fast",
    max_bytes: int = ...,
    max_pixels: int = ...,
    working_side_px: int = 256,
    time_budget_ms: int = 10_000,
    near_mono_chroma_std: float = 4.0,
    quality: bool = True,
    degradations: bool = True,
    hashes: bool = True,
) -> ArrowExport:
    """Struct array of every image signal (``img_*`` fields + ``error``); decodes each image once.

    ``mode``: ``"fast"`` (hashes from the reduced working plane, within 2 bits of imagehash) or
    ``"exact"`` (imagehash-exact hashes at full resolution). Unrequested groups come back null.
    """

def img_signals_pixels(
    pixels: Any,
    widths: Any,
    heights: Any,
    channels: Any,
    *,
    mode: str = "fast",
    working_side_px: int = 256,
    near_mono_chroma_std: float = 4.0,
    quality: bool = True,
    degradations: bool = True,
    hashes: bool = True,
) -> ArrowExport:
    """Same struct as ``img_signals`` from decoded 8-bit grey/RGB rows (int32 widths/heights/channels)."""

# --- dedup kernels (native/src/dedup) ---
def txt_dedup_normalize(texts: Any) -> ArrowExport:
    """Dedup normalisation of a string array (lowercase, no punctuation/diacritics, digits->0)."""

def bytes_exact_key(values: Any) -> ArrowExport:
    """xxh3-128 keys (16-byte big-endian binary) of a binary or string array; null stays null."""

def txt_exact_key(texts: Any, *, normalize: bool) -> ArrowExport:
    """xxh3-128 keys of texts, of their dedup-normalised form when ``normalize``."""

def url_key(urls: Any) -> ArrowExport:
    """xxh3-128 keys of canonical URLs (scheme, fragment, default port dropped; host lowercased)."""

def txt_minhash(texts: Any, *, ngram: int, bands: int, rows: int, seed: int, with_signature: bool) -> ArrowExport:
    """Struct array ``{bands: list<int64>[, signature: binary]}`` of MinHash LSH band keys."""

def phash_band_keys(hashes: Any, *, radius: int) -> ArrowExport:
    """``list<int64>`` multi-index band keys (radius + 1 per hash) of an int64 pHash array."""

def txt_rules(texts: Any, specs_json: str, languages: Any | None = None) -> ArrowExport: ...
def txt_rule_defaults(tag: str) -> str: ...
def url_filter(
    name: str, urls: Any, registered_domains: Any, fqdns: Any, lists: UrlLists, rule_json: str
) -> ArrowExport: ...

class UrlLists:
    def __init__(
        self,
        *,
        domain_files: list[str],
        url_files: list[str],
        banned_words: list[str],
        soft_banned_words: list[str],
        banned_subwords: list[str],
        extra_domains: list[str] = ...,
        extra_urls: list[str] = ...,
    ) -> None: ...
    def sizes(self) -> tuple[int, int, int, int, int]: ...
