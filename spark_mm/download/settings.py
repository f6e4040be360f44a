"""How links are fetched: timeouts, retries, caps, politeness, user agent, X-Robots-Tag (``source.fetch`` in a recipe).

Defaults follow img2dataset where it has a setting (10 s timeout, the four X-Robots-Tag directives
it refuses, a Firefox user agent naming the tool); where it has none (per-host politeness, a byte
cap, redirect cap, content-type check) they are what a polite crawler of a few billion links uses.
See docs/image_text.md#downloader for each choice.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

import spark_mm

# img2dataset's default directive set (img2dataset/main.py, downloader.is_disallowed).
ROBOTS_DIRECTIVES: tuple[str, ...] = ("noai", "noimageai", "noindex", "noimageindex")
# img2dataset's browser prefix (downloader.download_image); the tool is named after it.
BROWSER_PREFIX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:72.0) Gecko/20100101 Firefox/72.0"


class FetchSettings(BaseModel):
    """Settings of one fetcher (one per Spark task); units are in the field names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_agent_token: str = Field("spark-mm", min_length=1, description="the bot name in the User-Agent and in scoped X-Robots-Tag values")
    user_agent_url: str | None = Field(None, description="contact URL put in the User-Agent as '+<url>' (set one for real crawls)")
    user_agent: str | None = Field(None, description="the whole User-Agent string; default: img2dataset's style naming user_agent_token")
    respect_robots_tag: bool = Field(True, description="refuse images whose X-Robots-Tag holds a directive of robots_directives")
    robots_directives: tuple[str, ...] = Field(ROBOTS_DIRECTIVES, min_length=1)
    connect_timeout_s: float = Field(10.0, gt=0, description="TCP (and TLS) connect timeout per attempt")
    read_timeout_s: float = Field(10.0, gt=0, description="longest wait for the next bytes of headers or body")
    total_timeout_s: float = Field(60.0, gt=0, description="cap on one attempt, so a server that drips bytes cannot hold a slot forever")
    max_retries: int = Field(2, ge=0, le=10, description="extra attempts after a connection error, a 5xx or a 429")
    backoff_base_s: float = Field(0.5, ge=0, description="first retry waits this long, then twice as long each time")
    backoff_max_s: float = Field(30.0, ge=0)
    retry_after_max_s: float = Field(60.0, ge=0, description="a Retry-After longer than this is not waited for: the link fails with http_status")
    max_redirects: int = Field(10, ge=0, le=50, description="redirect hops followed; a hop to a URL already seen is a loop")
    max_bytes: int = Field(32 * 1024 * 1024, gt=0, description="larger bodies (by Content-Length or streamed) are refused as too_large")
    content_types: tuple[str, ...] = Field(("image/",), min_length=1, description="accepted Content-Type prefixes (lower case)")
    max_connections: int = Field(64, ge=1, le=4096, description="connections in flight per task")
    max_connections_per_host: int = Field(4, ge=1, description="connections in flight per host per task")
    max_requests_per_s_per_host: float = Field(8.0, gt=0, description="request starts per second per host per task (retries and redirects count)")
    verify_tls: bool = True

    @field_validator("robots_directives", "content_types")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)

    @field_validator("user_agent_token")
    @classmethod
    def _token(cls, value: str) -> str:
        token = value.strip().lower()
        if not token or any(c in token for c in ":;,() "):
            raise ValueError(f"user_agent_token {value!r} must be one word without ':;,() ' (it is matched against 'bot: directive' values)")
        return token

    def user_agent_string(self) -> str:
        """The User-Agent header, img2dataset's shape: browser prefix, then ``(compatible; <token>; +<url>)``.

        >>> FetchSettings().user_agent_string().endswith(f"(compatible; spark-mm/{spark_mm.__version__})")
        True
        """
        if self.user_agent:
            return self.user_agent
        name = f"{self.user_agent_token}/{spark_mm.__version__}"
        return f"{BROWSER_PREFIX} (compatible; {name}" + (f"; +{self.user_agent_url})" if self.user_agent_url else ")")
