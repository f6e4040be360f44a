"""Name the service a run lost: a catalog or object store that stopped answering mid-run.

When the REST catalog or the S3 store dies, the run fails deep inside the JVM (Iceberg's REST
client, the AWS SDK under S3FileIO, or the catalog server reporting its own failed S3 call), and
PySpark raises a Java stack trace hundreds of lines long. :func:`named` looks through that text for
a connection failure at the address of one of the lake's services (:data:`SERVICES`, from the
lake settings) and turns it into one :class:`~spark_mm.errors.ServiceUnreachable` line naming the
service, its address, the step and what to do. The object store is looked for first: a catalog
that answers with its own S3 failure names the store's address, and the store is the dead one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from spark_mm.errors import ServiceUnreachable
from spark_mm.lake.settings import CatalogType, LakeSettings

# How the JVM's HTTP clients (Apache HttpClient 5 in Iceberg's REST client, the AWS SDK v2) and
# the catalog server word a peer that is gone, stopped or restarting.
CONNECTION_FAILED = re.compile(
    r"Connection refused|Connect to \S+.{0,40}failed|connect timed out|Connection reset|NoHttpResponseException|"
    r"failed to respond|Unable to execute HTTP request|Broken pipe|Remote host terminated|Connection closed",
    re.IGNORECASE,
)

_CATALOG_NAMES = {CatalogType.REST: "REST catalog", CatalogType.HIVE: "Hive metastore", CatalogType.GLUE: "Glue catalog"}


@dataclass(frozen=True)
class Service:
    """A server the run talks to, and where the lake settings say it is."""

    name: Callable[[LakeSettings], str]
    address: Callable[[LakeSettings], str | None]


SERVICES: tuple[Service, ...] = (
    Service(lambda lake: "object store", lambda lake: lake.properties.get("s3.endpoint")),
    Service(lambda lake: _CATALOG_NAMES.get(lake.type, "catalog"), lambda lake: lake.uri if lake.type in _CATALOG_NAMES else None),
)


def _needle(address: str) -> str:
    """What an error message carries of an address: ``host:port`` (or the host without a port)."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    return parts.netloc.rsplit("@", 1)[-1] or address


def _texts(err: BaseException) -> Iterator[str]:
    """The messages of ``err`` and its causes, each with its JVM stack trace when PySpark kept one."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        trace = getattr(current, "_stackTrace", None)
        if isinstance(trace, str):
            yield trace
        current = current.__cause__ or current.__context__


def find(err: BaseException, lake: LakeSettings) -> tuple[str, str, str] | None:
    """(service name, address, the line saying so) when ``err`` is a lost connection to a service of ``lake``."""
    lines = [line.strip() for text in _texts(err) for line in text.splitlines()]
    failed = [line for line in lines if CONNECTION_FAILED.search(line)]
    if not failed:
        return None
    for service in SERVICES:
        address = service.address(lake)
        if not address:
            continue
        needle = _needle(address)
        hit = next((line for line in failed if needle in line), None)
        if hit is not None:
            return service.name(lake), address, re.sub(r"^(Caused by:|:)\s*", "", hit)[:300]
    return None


def named(err: BaseException, lake: LakeSettings, step: str, run_id: str) -> ServiceUnreachable | None:
    """``err`` as one line naming the dead service, or None when it is not a lost connection."""
    found = find(err, lake)
    if found is None:
        return None
    name, address, line = found
    return ServiceUnreachable(
        f"the {name} at {address} stopped answering during {step} ({line}). Published chunks stay published and a "
        f"staged chunk stays invisible on main: start the {name} again and re-run with the same --run-id {run_id}",
        service=name, address=address,
    )


@contextmanager
def naming_services(lake: LakeSettings, run_id: str, step: Callable[[], str]) -> Iterator[None]:
    """Re-raise a lost connection to one of the lake's services as :class:`ServiceUnreachable`."""
    try:
        yield
    except ServiceUnreachable:
        raise
    except Exception as err:
        translated = named(err, lake, step(), run_id)
        if translated is None:
            raise
        raise translated from err
