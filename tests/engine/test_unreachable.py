"""A lost catalog or object store is named, with its address, from the JVM's own words (the lines
below are what Iceberg 1.11's REST client and the AWS SDK v2 printed in the stack fault test)."""

from __future__ import annotations

import pytest

from spark_mm.engine.unreachable import find, naming_services
from spark_mm.errors import ServiceUnreachable
from spark_mm.lake.settings import CatalogType, LakeSettings

LAKE = LakeSettings(catalog="stack", type=CatalogType.REST, uri="http://127.0.0.1:58855", warehouse="s3://lake/warehouse",
                    properties={"s3.endpoint": "http://127.0.0.1:43861"})
CATALOG_DOWN = (
    "An error occurred while calling o412.sql.\n: org.apache.iceberg.exceptions.RESTException: Error occurred while processing POST request\n"
    "\tat org.apache.iceberg.rest.HTTPClient.execute(HTTPClient.java:328)\n"
    "Caused by: org.apache.iceberg.shaded.org.apache.hc.client5.http.HttpHostConnectException: Connect to http://127.0.0.1:58855 failed: Connection refused\n"
)
STORE_DOWN = (
    "An error occurred while calling o97.count.\n: software.amazon.awssdk.core.exception.SdkClientException: Unable to execute HTTP request: "
    "Connect to 127.0.0.1:43861 [/127.0.0.1] failed: Connection refused (SDK Attempt Count: 6)\n"
)


def test_the_catalog_and_the_store_are_named_by_their_address() -> None:
    name, address, line = find(RuntimeError(CATALOG_DOWN), LAKE)
    assert (name, address) == ("REST catalog", "http://127.0.0.1:58855") and line.startswith("org.apache.iceberg.shaded")
    name, address, line = find(RuntimeError(STORE_DOWN), LAKE)
    assert (name, address) == ("object store", "http://127.0.0.1:43861") and line.startswith("software.amazon")


def test_other_errors_pass_through_and_a_cause_is_searched() -> None:
    assert find(RuntimeError("Connection refused by 10.0.0.9:9083"), LAKE) is None  # not one of the lake's services
    assert find(ValueError("Table not found: stack.zi.samples"), LAKE) is None
    with pytest.raises(ValueError, match="Table not found"):
        with naming_services(LAKE, "run-1", lambda: "step 'ingest'"):
            raise ValueError("Table not found")
    with pytest.raises(ServiceUnreachable, match=r"^the REST catalog at http://127.0.0.1:58855 stopped answering during step 'ingest' .*--run-id run-1$") as caught:
        with naming_services(LAKE, "run-1", lambda: "step 'ingest'"):
            try:
                raise OSError(CATALOG_DOWN)
            except OSError as err:
                raise RuntimeError("the write failed") from err
    assert (caught.value.service, caught.value.address) == ("REST catalog", "http://127.0.0.1:58855")
