"""Typed models of `cdp.yaml`, and the one function that loads and checks it.

Every structural error (unknown key, unknown connector, unknown attribute, missing path) is
raised here as a `ConfigError` naming the source and key, before any work starts. Whether a
mapped column really exists in the data is checked by `ingestion.check_columns`, which needs
to open each source.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp.schema import ATTRIBUTES, CHANGE_TYPES

DEFAULT_WAREHOUSE = ".cdp/warehouse.duckdb"
DEFAULT_SERVING = "sqlite:///.cdp/serving.db"


class ConfigError(ValueError):
    """A problem in cdp.yaml, with the path of the offending key in the message."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


# --- where rows come from: one class per connector kind, picked by `connector:` --------------

class Location(Strict):
    """Base of the connector configs; subclasses register themselves under their `kind`."""

    kinds: ClassVar[dict[str, type[Location]]] = {}
    kind: ClassVar[str] = ""

    connector: str
    """Connector kind: csv, parquet, jsonl or sql."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Location.kinds[cls.kind] = cls

    @classmethod
    def pick(cls, raw: dict[str, Any]) -> type[Location]:
        kind = raw.get("connector")
        if kind not in cls.kinds:
            known = ", ".join(sorted(cls.kinds))
            raise ValueError(f"connector: unknown connector {kind!r} (known: {known})")
        return cls.kinds[kind]

    def resolve(self, base: Path) -> Location:
        """Return a copy with relative paths made absolute against the config's folder."""
        return self


class FileLocation(Location):
    path: str
    """A file or a glob, relative to cdp.yaml's folder."""

    def resolve(self, base: Path) -> Location:
        path = self.path if os.path.isabs(self.path) else str(base / self.path)
        if not glob.glob(path):
            raise ValueError(f"path: no file matches {path!r}")
        return self.model_copy(update={"path": path})


class CsvLocation(FileLocation):
    kind: ClassVar[str] = "csv"
    delimiter: str = ","
    """Field separator."""
    encoding: str = "utf-8"
    """Text encoding of the file."""


class ParquetLocation(FileLocation):
    kind: ClassVar[str] = "parquet"


class JsonlLocation(FileLocation):
    kind: ClassVar[str] = "jsonl"


class SqlLocation(Location):
    kind: ClassVar[str] = "sql"
    url: str
    """Any SQLAlchemy URL; a relative sqlite path resolves against cdp.yaml's folder."""
    table: str | None = None
    """The table to read (or give `query`)."""
    query: str | None = None
    """A SELECT to read instead of a table."""
    batch_size: int = 50_000
    """Rows fetched per round trip, so a large table never sits whole in memory."""

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlLocation:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table: or query:")
        return self

    def resolve(self, base: Path) -> Location:
        url = resolve_sqlite_url(self.url, base)
        database = sqlite_file(url)
        if database is not None and not database.exists():  # SQLite would create an empty one
            raise ValueError(f"url: no SQLite database at {str(database)!r}")
        return self.model_copy(update={"url": url})


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make `sqlite:///relative.db` absolute against `base`; other URLs pass unchanged."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(base / url[len(prefix):])
    return url


def sqlite_file(url: str) -> Path | None:
    """The database file of a `sqlite:///` URL, or None for other URLs and in-memory databases."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return None
    return Path(url[len(prefix):].split("?", 1)[0])


class Located(Strict):
    """A config block with a flat connector part (connector, path/url, ...) and its own keys."""

    location: Location

    @model_validator(mode="before")
    @classmethod
    def _split_location(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "location" in raw:
            return raw
        loc_cls = Location.pick(raw)
        loc_keys = set(loc_cls.model_fields)
        own = {k: v for k, v in raw.items() if k not in loc_keys}
        own["location"] = loc_cls(**{k: v for k, v in raw.items() if k in loc_keys})
        return own


class Watermarked(Located):
    """A block that may name a high-water-mark column (SQL connector only)."""

    watermark: str | None = None
    """SQL only: column whose values grow with each new or changed row (an update time, a sequence). An
    incremental run reads only the rows past the last run's highest value and upserts them by key; rows
    deleted in the source are only seen by `cdp run --full`."""

    @model_validator(mode="after")
    def _sql_only(self) -> Watermarked:
        if self.watermark is not None and not isinstance(self.location, SqlLocation):
            raise ValueError(f"watermark: only a sql source has a high-water mark "
                             f"(this one is connector: {self.location.connector})")
        return self


class InteractionConfig(Watermarked):
    """A silo's events (invoices, orders, tickets) linked to its records by `record_key`."""

    name: str
    """Name of the interaction kind, e.g. invoices."""
    key: str
    """Column holding the interaction's own id."""
    record_key: str
    """Column holding the source record key the event belongs to."""
    at: str
    """Column holding when it happened."""
    amount: str | None = None
    """Optional column holding a money amount."""
    attributes: list[str] = Field(default_factory=list)
    """Further columns kept as they are."""
    formats: dict[str, str] = Field(default_factory=dict)
    """Optional strptime hints, e.g. {at: "%d/%m/%Y %H:%M"}."""


class SourceConfig(Watermarked):
    """One silo of customer records."""

    key: str
    """Column holding the record key inside this source."""
    trust: int = 1
    """Survivorship: values from a higher trust win."""
    fields: dict[str, str]
    """Canonical attribute -> source column."""
    formats: dict[str, str] = Field(default_factory=dict)
    """Optional parse hints per attribute, e.g. {birth_date: "%d/%m/%Y"}."""
    country: str = "US"
    """Default country (ISO 3166 alpha-2) for phones and addresses without one."""
    updated_at: str | None = None
    """Optional column holding when the record last changed (survivorship: most recent)."""
    interactions: list[InteractionConfig] = Field(default_factory=list)
    """The silo's events for the 360° view."""

    @field_validator("fields")
    @classmethod
    def _known_attributes(cls, fields: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(fields) - set(ATTRIBUTES))
        if unknown:
            raise ValueError(f"unknown canonical attribute(s) {unknown}; known: {', '.join(ATTRIBUTES)}")
        return fields

    def columns(self) -> list[str]:
        """Every source column the config refers to."""
        cols = [self.key, *self.fields.values()]
        return cols + ([self.updated_at] if self.updated_at else [])


# --- the later stages: each package owns the section it reads ------------------------------------

class QualityConfig(Strict):
    """Thresholds for the quality gates (see quality/)."""

    min_valid_email_share: float = 0.5
    """Warn when fewer of a source's non-blank emails are valid."""
    min_valid_phone_share: float = 0.5
    """Warn when fewer of a source's non-blank phones parse to E.164."""
    min_name_share: float = 0.9
    """Block when fewer of a source's records carry a name."""
    max_row_drop: float = 0.5
    """Block when a source sends fewer than (1 - this) of its previous load's rows."""
    max_customer_size: int = 50
    """Block when a customer holds more records than this."""
    max_change: float = 0.2
    """Warn when customer count or match rate moves more than this share since the last run."""
    min_valid_date_share: float = 0.5
    """Warn when fewer of a source's non-blank birth dates are readable and plausible."""
    large_customer_size: int = 10
    """A customer holding more records than this counts as large."""
    max_large_customer_share: float = 0.05
    """Warn when a larger share of all records than this sits in large customers."""
    min_golden_completeness: float = 0.8
    """Warn when fewer golden profiles carry a last name, or a way to reach them (email, phone or street)."""
    pii_examples: bool = False
    """List examples of unexpected staged emails, phones and birth dates in the quality report and Data Docs;
    off, those checks give counts only, so the reports hold no personal values."""


class IdentityConfig(Strict):
    """Matching, clustering and survivorship (see identity/)."""

    threshold: float = 0.6
    """Match probability at or above which two records are linked. The model's probabilities are calibrated
    (of the pairs it scores 0.5-0.6, about 58% are one person), so F1 peaks near 0.5; 0.6 leaves a margin
    for links that chain (bench/README.md has the sweep)."""
    review_band: tuple[float, float] = (0.5, 0.9)
    """Pairs scored in this band go to the stewards' review queue."""
    max_cluster_size: int = 30
    """Clusters larger than this are split at their weakest links."""
    survivorship: dict[str, list[str]] = Field(default_factory=dict)
    """Per attribute, the ordered rules: trust, recent, frequent (default: all three in that order)."""

    @field_validator("survivorship")
    @classmethod
    def _rules(cls, rules: dict[str, list[str]]) -> dict[str, list[str]]:
        for attr, order in rules.items():
            if attr not in ATTRIBUTES:
                raise ValueError(f"unknown canonical attribute {attr!r}")
            bad = set(order) - {"trust", "recent", "frequent"}
            if bad:
                raise ValueError(f"{attr}: unknown rule(s) {sorted(bad)}; use trust, recent, frequent")
        return rules


class SparkConfig(Strict):
    """The Spark session the identity step's Splink work runs on when `engine: spark`."""

    master: str = "local[*]"
    """Spark master URL: local[*] (this machine's cores), spark://host:7077, yarn, k8s://..."""
    conf: dict[str, str] = Field(default_factory=dict)
    """Spark settings for the session, e.g. {spark.executor.memory: 8g, spark.sql.shuffle.partitions: "200"}."""


class DuckDBSettings(Strict):
    """DuckDB's memory settings, applied to every warehouse connection and to Splink's own DuckDB."""

    memory_limit: str | None = None
    """Most memory one database may use before spilling to disk, e.g. "8GB" (DuckDB's default: 80% of RAM); the
    warehouse and Splink's DuckDB each get it."""
    temp_directory: str | None = None
    """Where DuckDB spills what does not fit, relative to cdp.yaml's folder (default: `<warehouse>.tmp` beside
    the warehouse file, in the state folder; Splink's DuckDB spills into `splink.tmp` inside it, or in the state
    folder). Put it on a disk with room for the largest step's working set."""

    def options(self, root: Path | None = None) -> dict[str, str]:
        """The settings as DuckDB connection options; a relative temp directory resolved against `root`."""
        out = {"memory_limit": self.memory_limit} if self.memory_limit else {}
        if self.temp_directory:
            out["temp_directory"] = str(root / self.temp_directory if root else self.temp_directory)
        return out


def spark_missing() -> str | None:
    """What `engine: spark` lacks on this machine (pyspark, Java), naming what to install; None when nothing."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install 'cdp[spark]'"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return "Java is not installed: apt-get install default-jre-headless (or set JAVA_HOME to a Java 17+)"
    return None


DEFAULT_PII = ("email", "phone", "tax_id", "birth_date", "street")
"""The attributes masked for readers without `pii` unless cdp.yaml's `api.pii` says otherwise."""


class RateLimit(Strict):
    """A token bucket per API key (per API process): `burst` requests at once, refilled at `per_minute`."""

    per_minute: int = Field(gt=0)
    """Requests a key may make per minute, sustained."""
    burst: int = Field(gt=0)
    """Requests a key may make at once after being idle (the bucket's size)."""


class ApiConfig(Strict):
    """The read API."""

    keys: list[str] = Field(default_factory=list)
    """API keys as `key:role[:pii]`; $CDP_API_KEYS adds to them."""
    pii: list[str] = Field(default_factory=lambda: list(DEFAULT_PII))
    """Canonical attributes masked for readers whose key lacks `pii`, everywhere they appear, and in
    `cdp export quarantine` unless --with-pii; searching by one of them needs a `pii` key (stewards and
    admins see and search everything)."""
    rate_limit: RateLimit | None = RateLimit(per_minute=60_000, burst=2_000)
    """Every request of a key (null: no limit). The default only stops a runaway client or a leaked key."""
    search_rate_limit: RateLimit | None = RateLimit(per_minute=1_200, burst=100)
    """GET /customers (search and listing) on top of `rate_limit`: stricter, as searches can test guesses."""

    @field_validator("pii")
    @classmethod
    def _known_pii(cls, pii: list[str]) -> list[str]:
        unknown = sorted(set(pii) - set(ATTRIBUTES))
        if unknown:
            raise ValueError(f"unknown canonical attribute(s) {unknown}; known: {', '.join(ATTRIBUTES)}")
        return pii


class WebhookConfig(Strict):
    """An endpoint the change feed's events are POSTed to, one event per request, signed with its secret."""

    url: str
    """Where the events go (http or https); also the endpoint's name in `cdp webhooks status`."""
    events: list[str] = Field(min_length=1)
    """The change types it receives, e.g. segment.entered:churn_risk, customer.merged (GET /changes lists them)."""
    secret_env: str
    """The environment variable holding the signing secret: the secret itself never goes in cdp.yaml."""
    pii: bool = False
    """Send the new values of an update's `api.pii` attributes; without it an update's values are left out."""
    timeout: float = Field(default=5.0, gt=0, le=60)
    """Seconds to wait for the receiver's answer to one request."""

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return url

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = [e for e in events if e not in CHANGE_TYPES]
        if unknown:
            raise ValueError(f"unknown change type {unknown[0]!r}; known: customer.created, customer.merged, "
                             "customer.split, customer.removed, customer.erased, customer.updated, "
                             "segment.entered:NAME, segment.left:NAME (NAME a segment such as churn_risk)")
        return events

    @field_validator("secret_env")
    @classmethod
    def _variable(cls, name: str) -> str:
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not an environment variable's name")
        return name


class Config(Strict):
    """The whole of cdp.yaml, with paths resolved against its folder."""

    warehouse: str = DEFAULT_WAREHOUSE
    """DuckDB file holding raw, staged and identity tables."""
    serving: str = DEFAULT_SERVING
    """SQLAlchemy URL of the published store the API reads."""
    sources: dict[str, SourceConfig]
    """The silos, by name."""
    quality: QualityConfig = Field(default_factory=QualityConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    """Endpoints the change feed is delivered to after each publish (and by `cdp webhooks deliver`)."""
    engine: Literal["duckdb", "spark"] = "duckdb"
    """Where the identity step's Splink training and scoring run: duckdb (in the process) or spark
    (`spark:` below); everything else runs on DuckDB either way."""
    spark: SparkConfig = Field(default_factory=SparkConfig)
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)
    root: Path = Path(".")
    """The folder holding cdp.yaml (set by load_config)."""

    @field_validator("sources")
    @classmethod
    def _names(cls, sources: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        if not sources:
            raise ValueError("at least one source is needed")
        for name in sources:
            if not name.isidentifier():
                raise ValueError(f"source name {name!r} must be letters, digits and underscores")
        return sources

    @field_validator("webhooks")
    @classmethod
    def _one_per_url(cls, webhooks: list[WebhookConfig]) -> list[WebhookConfig]:
        urls = [hook.url for hook in webhooks]
        twice = next((url for url in urls if urls.count(url) > 1), None)
        if twice:
            raise ValueError(f"url: {twice!r} is listed twice (list every event type it takes under one entry)")
        return webhooks

    @model_validator(mode="after")
    def _engine_installed(self) -> Config:
        missing = spark_missing() if self.engine == "spark" else None
        if missing:
            raise ValueError(f"engine: spark needs pyspark and Java; {missing}")
        return self

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse) if os.path.isabs(self.warehouse) else self.root / self.warehouse

    @property
    def state_dir(self) -> Path:
        """Folder beside the warehouse for models, reports and other run state."""
        return self.warehouse_path.parent

    @property
    def warehouse_options(self) -> dict[str, str]:
        """DuckDB options every warehouse connection opens with (`duckdb:`)."""
        return self.duckdb.options(self.root)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config FILE, else $CDP_CONFIG, else ./cdp.yaml."""
    return Path(explicit or os.environ.get("CDP_CONFIG") or "cdp.yaml")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, validate and resolve cdp.yaml; raise ConfigError naming the source and key."""
    file = config_path(path)
    if not file.exists():
        raise ConfigError(f"config file {file} not found (use --config FILE or set CDP_CONFIG)")
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level")
    root = file.resolve().parent
    try:
        cfg = Config(**raw, root=root)
    except ValidationError as exc:
        raise ConfigError(_describe(file, exc)) from None
    return _resolve(cfg, file)


def _resolve(cfg: Config, file: Path) -> Config:
    """Paths and SQLite URLs made absolute and checked; every missing one is reported at once."""
    sources, problems = {}, []
    for name, src in cfg.sources.items():
        try:
            loc = src.location.resolve(cfg.root)
        except ValueError as exc:
            problems.append(f"sources.{name}.{exc}")
            continue
        inter = []
        for i, feed in enumerate(src.interactions):
            try:
                inter.append(feed.model_copy(update={"location": feed.location.resolve(cfg.root)}))
            except ValueError as exc:
                problems.append(f"sources.{name}.interactions.{i}.{exc}")
        sources[name] = src.model_copy(update={"location": loc, "interactions": inter})
    if problems:
        raise ConfigError(f"{file}: " + "; ".join(problems))
    return cfg.model_copy(update={"sources": sources, "serving": resolve_sqlite_url(cfg.serving, cfg.root)})


def _describe(file: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if p != "location")
        msg = err["msg"].removeprefix("Value error, ")
        key, sep, rest = msg.partition(": ")
        if sep and key.isidentifier():  # our validators say "key: problem"; fold key into the path
            where, msg = f"{where}.{key}", rest
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{where}: {msg}")
    return f"{file}: " + "; ".join(lines)
