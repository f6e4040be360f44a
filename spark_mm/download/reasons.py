"""Why a link yielded no image: one enum, stored as ``ingest_error`` of the link's sample."""

from __future__ import annotations

import enum


class FetchError(str, enum.Enum):
    """Reason codes of a failed fetch (the value is what the samples table stores)."""

    INVALID_URL = "invalid_url"  # not an absolute http(s) URL, or a redirect to one
    CONNECTION_ERROR = "connection_error"  # DNS, refused, reset, TLS, after the retries
    TIMEOUT = "timeout"  # connect, read or total timeout of the last attempt
    HTTP_STATUS = "http_status"  # a non-2xx final status (the status is in record_meta)
    TOO_MANY_REDIRECTS = "too_many_redirects"  # more than max_redirects hops
    REDIRECT_LOOP = "redirect_loop"  # a hop back to a URL of the same chain
    TOO_LARGE = "too_large"  # Content-Length or the streamed body over max_bytes
    BAD_CONTENT_TYPE = "bad_content_type"  # Content-Type missing or not an accepted prefix
    ROBOTS_TAG = "robots_tag"  # X-Robots-Tag forbids it (noai, noimageai, noindex, noimageindex)
    TRUNCATED = "truncated"  # the body ended before Content-Length (or the chunked stream broke)
    EMPTY_BODY = "empty_body"  # 2xx with no bytes

    def __str__(self) -> str:
        return self.value
