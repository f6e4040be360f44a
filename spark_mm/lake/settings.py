"""Catalog and Spark settings, and the Spark conf keys they become.

The embedded default is an Iceberg JDBC catalog on a SQLite file with a local warehouse, both
under the project-local home. Every value can be overridden by the recipe, ``--set``, or
``spark-submit --conf`` (which wins), so REST/Hive/Glue catalogs and object stores need no code.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse
from urllib.request import url2pathname

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spark_mm.errors import ConfigError
from spark_mm.paths import describe_home, home


class CatalogType(str, Enum):
    JDBC = "jdbc"
    REST = "rest"
    HIVE = "hive"
    GLUE = "glue"
    HADOOP = "hadoop"


_CATALOG_IMPL = {
    CatalogType.JDBC: "org.apache.iceberg.jdbc.JdbcCatalog",
    CatalogType.REST: "org.apache.iceberg.rest.RESTCatalog",
    CatalogType.HIVE: "org.apache.iceberg.hive.HiveCatalog",
    CatalogType.GLUE: "org.apache.iceberg.aws.glue.GlueCatalog",
    CatalogType.HADOOP: "org.apache.iceberg.hadoop.HadoopCatalog",
}


# Catalog property names that carry secrets (S3 keys, OAuth credentials and tokens, JDBC passwords).
_SECRET_PROPERTY = re.compile(r"secret|password|token|credential|access-key", re.IGNORECASE)


# Spark conf keys that carry secrets: Spark's own redaction rule (spark.redaction.regex) plus a
# catalog's ``credential`` property; ``fs.s3a.aws.credentials.provider`` (a class name) is not one.
_SECRET_SPARK_CONF = re.compile(r"secret|password|token|access[-.]?key|\.credential$", re.IGNORECASE)


class CredentialInSettings(ValueError):
    """A secret given where settings are hashed and shown: its value must never be echoed."""


def shown_input(error: Any) -> str:
    """`` (got <input>)`` for a pydantic error line, or nothing when the input is a credential."""
    if isinstance(error.get("ctx", {}).get("error"), CredentialInSettings):
        return ""
    return f" (got {error.get('input')!r})"


class LakeSettings(BaseModel):
    """Where tables live. Defaults: JDBC-on-SQLite catalog ``lake`` under the project home."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog: str = Field("lake", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: CatalogType = CatalogType.JDBC
    uri: str | None = Field(None, description="catalog URI; default jdbc:sqlite:<home>/catalog.db")
    warehouse: str | None = Field(None, description="warehouse location; default <home>/warehouse")
    buckets: int = Field(16, ge=1, le=65536, description="N in bucket(N, sample_id) for every table")
    properties: dict[str, str] = Field(default_factory=dict, description="extra catalog properties")

    @field_validator("properties")
    @classmethod
    def _no_credentials(cls, props: dict[str, str]) -> dict[str, str]:
        """Credentials never come from a recipe or ``--set``: both are hashed into lineage and shown
        in the report. They come from the environment or ``spark-submit --conf``."""
        for key in props:
            if _SECRET_PROPERTY.search(key):
                raise CredentialInSettings(
                    f"{key!r} is a credential and does not belong in a recipe or --set (recipes are hashed into "
                    f"lineage and printed in reports): set it in the environment (AWS_ACCESS_KEY_ID, "
                    f"AWS_SECRET_ACCESS_KEY, ...) or with spark-submit --conf spark.sql.catalog.<name>.{key}=..."
                )
        return props

    def resolved_uri(self) -> str | None:
        if self.uri:
            return self.uri
        if self.type is CatalogType.JDBC:
            return f"jdbc:sqlite:{home() / 'catalog.db'}"
        return None

    def resolved_warehouse(self) -> str:
        return self.warehouse or (home() / "warehouse").as_uri()

    def uses_s3(self) -> bool:
        """An ``s3://`` (or ``s3a://``) warehouse or Iceberg's S3FileIO: the session needs the AWS bundle.

        >>> LakeSettings(type="rest", uri="http://c", warehouse="s3://lake/wh").uses_s3()
        True
        >>> LakeSettings().uses_s3()
        False
        """
        scheme = urlparse(self.resolved_warehouse()).scheme
        return scheme in ("s3", "s3a") or self.properties.get("io-impl", "").endswith("S3FileIO")

    def spark_conf(self) -> dict[str, str]:
        """Spark conf entries that define this catalog."""
        prefix = f"spark.sql.catalog.{self.catalog}"
        conf = {
            prefix: "org.apache.iceberg.spark.SparkCatalog",
            f"{prefix}.catalog-impl": _CATALOG_IMPL[self.type],
            f"{prefix}.warehouse": self.resolved_warehouse(),
        }
        uri = self.resolved_uri()
        if uri:
            conf[f"{prefix}.uri"] = uri
        if self.type is CatalogType.JDBC and uri and uri.startswith("jdbc:sqlite:"):
            # SQLite has no users; the JDBC catalog still wants the keys present.
            conf[f"{prefix}.jdbc.user"] = ""
            conf[f"{prefix}.jdbc.password"] = ""
        if self.type is CatalogType.JDBC:
            # V1 adds view support (curated views) and is what pyiceberg's SqlCatalog reads too.
            conf[f"{prefix}.jdbc.schema-version"] = "V1"
        for key, value in self.properties.items():
            conf[f"{prefix}.{key}"] = value
        return conf

    def prepare_local(self) -> None:
        """Create the local directories an embedded catalog needs (no-op for remote catalogs)."""
        uri = self.resolved_uri() or ""
        if uri.startswith("jdbc:sqlite:"):
            Path(uri.removeprefix("jdbc:sqlite:")).parent.mkdir(parents=True, exist_ok=True)
        wh = self.resolved_warehouse()
        if wh.startswith("file:"):
            Path(url2pathname(urlparse(wh).path)).mkdir(parents=True, exist_ok=True)

    def require_existing(self) -> None:
        """Refuse to read an embedded catalog that does not exist yet, naming where it was looked for.

        pyiceberg's ``SqlCatalog`` would otherwise create an empty catalog (or fail with a long
        "unable to open database file" trace when the folder is missing): read-only commands
        (``runs``, ``lineage``, the pyiceberg snippet) must say where they looked instead.

        Raises:
            ConfigError: the SQLite catalog file is absent; names the path, the home and the fix.
        """
        uri = self.resolved_uri() or ""
        if not uri.startswith("jdbc:sqlite:"):
            return
        path = Path(uri.removeprefix("jdbc:sqlite:"))
        if not path.is_file():
            where = f"project home {describe_home()}" if self.uri is None else f"lake.uri {self.uri}"
            raise ConfigError(
                f"no catalog at {path} ({where}): set SPARK_MM_HOME to the lakehouse folder your runs wrote "
                "(e.g. SPARK_MM_HOME=/path/to/checkout/lakehouse), or run a job first"
            )

    def pyiceberg_properties(self) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.load_catalog`` that open the same, existing catalog.

        Raises:
            ConfigError: an embedded SQLite catalog does not exist (see :meth:`require_existing`).
        """
        self.require_existing()
        uri = self.resolved_uri() or ""
        if self.type is CatalogType.JDBC and uri.startswith("jdbc:sqlite:"):
            return {"type": "sql", "uri": "sqlite:///" + uri.removeprefix("jdbc:sqlite:"), "warehouse": self.resolved_warehouse()}
        if self.type is CatalogType.JDBC:
            return {"type": "sql", "uri": uri.removeprefix("jdbc:"), "warehouse": self.resolved_warehouse()}
        props = {"type": self.type.value, "warehouse": self.resolved_warehouse(), **self.properties}
        if uri:
            props["uri"] = uri
        return props


class SparkSettings(BaseModel):
    """Spark master and extra conf; ``spark-submit --master/--conf`` take precedence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    master: str = "local[*]"
    conf: dict[str, str] = Field(default_factory=dict)
    s3_jars: bool | None = Field(None, description="Iceberg's AWS bundle on the classpath; default: when the lake uses S3")

    @field_validator("conf")
    @classmethod
    def _no_credentials(cls, conf: dict[str, str]) -> dict[str, str]:
        """As for catalog properties: a recipe's Spark conf is hashed and shown, so no secrets in it.

        >>> SparkSettings(conf={"spark.hadoop.fs.s3a.aws.credentials.provider": "x"}).conf
        {'spark.hadoop.fs.s3a.aws.credentials.provider': 'x'}
        """
        for key in conf:
            if _SECRET_SPARK_CONF.search(key):
                raise CredentialInSettings(
                    f"{key!r} is a credential and does not belong in a recipe or --set (recipes are hashed into "
                    f"lineage and printed in reports): set it in the environment (AWS_ACCESS_KEY_ID, "
                    f"AWS_SECRET_ACCESS_KEY, ...) or with spark-submit --conf {key}=..."
                )
        return conf


M = TypeVar("M", bound=BaseModel)


def parse_settings(model: type[M], raw: Any, key: str) -> M:
    """Validate ``raw`` as ``model`` (``LakeSettings``, ``SparkSettings``) outside a recipe.

    Commands without a recipe (``sql``, ``runs``, ``curate``) build settings from ``--set``; a bad
    value must end as one clear line, not a pydantic traceback.

    Raises:
        ConfigError: naming ``<key>.<field>``, what is wrong, and the accepted keys for unknown ones.

    >>> parse_settings(LakeSettings, {"buckets": 4}, "lake").buckets
    4
    >>> parse_settings(LakeSettings, {"bucket": 4}, "lake")
    Traceback (most recent call last):
    ...
    spark_mm.errors.ConfigError: --set lake.bucket: unknown key; accepted keys here: buckets, catalog, properties, type, uri, warehouse
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"--set {key}: expected {key}.<setting>=value, got a value for {key} itself ({raw!r})")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            where = ".".join([key, *(str(p) for p in e["loc"])])
            if e["type"] == "extra_forbidden":
                lines.append(f"--set {where}: unknown key; accepted keys here: {', '.join(sorted(model.model_fields))}")
            else:
                lines.append(f"--set {where}: {e['msg']}{shown_input(e)}")
        raise ConfigError("; ".join(lines)) from None
