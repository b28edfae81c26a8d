"""One typed settings object for a Passage process: the store, the archive folder, upload limits, caches,
the demo and the server.

A value comes from the first of these that gives it:

1. a command-line option (`passage --db …`, `passage serve --port …`);
2. an environment variable: `PASSAGE_` and the key in capitals, nested keys joined by `__`
   (`PASSAGE_DB`, `PASSAGE_SERVER__PORT`, `PASSAGE_LIMITS__UPLOAD_BYTES__RECORDS`);
3. the config file: the one named by `--config` or `PASSAGE_CONFIG`, else `passage.toml` in the current
   folder when there is one (TOML, the same keys as tables: `[server]` `port = 8080`);
4. the default.

`load_settings` reads them and keeps where each value came from (`Settings.origins`); a bad value or an
unknown key is a `UsageError` naming its source (the option, the variable, or the file and key).
`Settings()` alone is the defaults and reads nothing: library calls made without settings use it, so the
library never depends on the environment of the process that calls it.

    settings = load_settings({"server.port": ("--port", 8080)})
    store = open_store(settings.db, settings)
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ByteSize, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from passage.errors import UsageError

ENV_PREFIX = "PASSAGE_"
ENV_DELIMITER = "__"
CONFIG_FILE = "passage.toml"
CONFIG_VARIABLE = "PASSAGE_CONFIG"
DEFAULT_DB = "passage.duckdb"

MiB = 2**20
GiB = 2**30


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UploadLimits(_Group):
    """The largest file accepted, per kind of upload, on every channel (CLI, portal, API).

    One number per kind because their readers differ by orders of magnitude: records are streamed through
    DuckDB's CSV reader and never held in memory, so only the disk bounds them, and real field data reaches
    gigabytes; the others are read whole into memory — a document's text by pypdf, a boundary file parsed as
    JSON and turned into shapes, an XLSForm by pyxform — where a few hundred MB already cost gigabytes, and
    their real sizes differ (a COD-AB boundary file 100 MB and more, a report PDF tens of MB, a form a few)."""

    records: ByteSize = Field(ByteSize(4 * GiB), ge=1, description=(
        "Data files imported as records (`passage import`, the portal's import page, `POST /api/v1/imports`); "
        "a CSV of 10 M rows of 21 columns is 1.6 GB"))
    documents: ByteSize = Field(ByteSize(50 * MiB), ge=1, description=(
        "Documents (`passage documents add`, the portal's documents page)"))
    boundaries: ByteSize = Field(ByteSize(200 * MiB), ge=1, description=(
        "Admin boundary files (`passage import boundaries`)"))
    forms: ByteSize = Field(ByteSize(20 * MiB), ge=1, description=(
        "XLSForms (`passage forms install`, the portal's form upload)"))


class Limits(_Group):
    upload_bytes: UploadLimits = UploadLimits()


class Cache(_Group):
    export_bytes: ByteSize = Field(ByteSize(256 * MiB), ge=0, description=(
        "Disk space for the portal's cached downloads, least recently used out first "
        "(`passage serve --export-cache-mb`); 0 keeps none"))
    table_bytes: ByteSize = Field(ByteSize(128 * MiB), ge=0, description=(
        "Memory for the tables behind downloads, so the formats of one table are written from one read; "
        "0 keeps none"))
    result_entries: int = Field(512, ge=1, description=(
        "Answers the portal keeps in memory (maps, series, figures), least recently used out first"))
    response_bytes: ByteSize = Field(ByteSize(64 * MiB), ge=0, description=(
        "Memory for the API's encoded answers (body and ETag per data generation, URL and reader class), "
        "least recently used out first; 0 keeps none"))
    prepare_maps: bool = Field(True, description=(
        "Compute each map's indicator for every country and level once per data generation (for the public, "
        "then for admins), in the background after a start and after every change, so a first map request "
        "filters a small table"))
    generation_seconds: float = Field(1.0, ge=0, le=60, description=(
        "How often the portal re-reads the store's generation to see commits made by other processes (the "
        "CLI, other portal processes on PostgreSQL); its own commits are seen at once. 0: on every request"))


class Demo(_Group):
    dir: Path = Field(Path("passage-demo"), description=(
        "Where the demo's generated files and accounts are written (`passage serve --dir`, `passage demo --dir`); "
        "when not set, each store's own folder: passage-demo beside passage.duckdb, passage-demo-NAME beside "
        "NAME.duckdb, passage-demo-pg-HOST-PORT-DB-SCHEMA for PostgreSQL"))
    seed: bool = Field(True, description=(
        "Whether `passage serve` loads the demo data into a store without records (`--demo/--no-demo`)"))


class Server(_Group):
    host: str = Field("127.0.0.1", min_length=1, description="Address the portal listens on (`passage serve --host`)")
    port: int = Field(8000, ge=1, le=65535, description="Port the portal listens on (`passage serve --port`)")
    secure_cookies: bool | None = Field(None, description=(
        "Mark cookies Secure: true, false, or unset for 'when the request came over HTTPS' "
        "(`passage serve --secure-cookies/--no-secure-cookies`)"))
    access_log: str = Field("-", description=(
        "Where the portal writes its access log, one line per request in the combined log format plus the "
        "duration in microseconds (no tokens, passwords or cookies): a file path (appended to), `-` for "
        "stderr, or an empty string for none"))


class Postgresql(_Group):
    work_mem: str = Field("64MB", pattern=r"^[0-9]+\s*(kB|MB|GB)$", description=(
        "Memory each sort or hash of a reader's query may use on a PostgreSQL store before spilling to disk "
        "(PostgreSQL's own default, 4MB, spills the grouping of a large country's admin-2 places)"))
    jit: bool = Field(False, description=(
        "PostgreSQL's JIT compilation for readers' queries: it adds about 50 ms to each first query and the "
        "portal's queries are short"))


class Spark(_Group):
    master: str | None = Field(None, description=(
        "The Spark master `--engine spark` runs on: unset for spark-submit's own, else `local[2]`"))


class Settings(BaseSettings):
    """Everything a Passage process may be told from outside its code; frozen once read."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_prefix=ENV_PREFIX,
                                      env_nested_delimiter=ENV_DELIMITER, case_sensitive=False,
                                      env_ignore_empty=True)

    db: str = Field(DEFAULT_DB, min_length=1, description="The store: a DuckDB file path or a postgresql:// URL (`--db`)")
    archive: Path | None = Field(None, description=(
        "Where raw imported files and documents are archived under their sha256 (`--archive`); unset: "
        "beside a DuckDB store (`passage.files` for `passage.duckdb`), `./passage.files` for PostgreSQL"))
    limits: Limits = Limits()
    cache: Cache = Cache()
    demo: Demo = Demo()
    server: Server = Server()
    postgresql: Postgresql = Postgresql()
    spark: Spark = Spark()

    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given to the constructor: the environment and the file are read by `load_settings`,
        which keeps where each value came from."""
        return (init_settings,)

    @property
    def origins(self) -> dict[str, str]:
        """Where each key's value came from: `default`, `file PATH`, `env NAME` or `option --NAME`."""
        return {key: self._origins.get(key, "default") for key in keys()}

    def value(self, key: str) -> Any:
        """The value of a dotted key, e.g. `settings.value("server.port")`."""
        node: Any = self
        for part in key.split("."):
            node = getattr(node, part)
        return node

    def shown(self) -> list[tuple[str, str, str]]:
        """(key, value as text, origin) for every key, secrets masked: what `passage settings` prints."""
        return [(key, _text(self.value(key)), self.origins[key]) for key in keys()]


def keys(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every settable dotted key, in declaration order."""
    out: list[str] = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += keys(kind, f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", ENV_DELIMITER).upper()


def field_of(key: str) -> Any:
    model: Any = Settings
    *groups, last = key.split(".")
    for name in groups:
        model = model.model_fields[name].annotation
    return model.model_fields[last]


def load_settings(options: Mapping[str, tuple[str, Any]] | None = None, *, config: Path | str | None = None,
                  cwd: Path | None = None) -> Settings:
    """The settings from options, environment, config file and defaults, in that order of precedence.

    `options` maps dotted keys to (the option as typed, its value), e.g. `{"db": ("--db", "x.duckdb")}`; a
    value of None means the option was not given. `config` is the file named by `--config`."""
    layers: list[tuple[str, dict]] = []  # (origin, nested values), lowest precedence first
    path, named_by = _config_path(config, cwd)
    if path is not None:
        layers.append((f"file {path}", _read_file(path, named_by)))
    layers.append(("env", _read_env()))
    given = {key: value for key, value in (options or {}).items() if value[1] is not None}
    for key in given:
        if key not in keys():
            raise ValueError(f"{key!r} is not a settings key")  # a programming error, not a user's
    layers.append(("option", _nest({key: value for key, (_, value) in given.items()})))

    origins: dict[str, str] = {}  # every value's path to the name of the layer that gave it last
    for origin, values in layers:
        for path_key in _paths(values):
            if origin == "env":
                origins[path_key] = f"env {_env_variable(path_key)}"
            elif origin == "option":
                origins[path_key] = f"option {given[path_key][0]}"
            else:
                origins[path_key] = origin
    merged: dict = {}
    for _, values in layers:
        _merge(merged, values)
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise _located(exc, origins) from None
    settings._origins = {key: found for key in keys() if (found := _origin_of(key, origins))}
    return settings


def _config_path(config: Path | str | None, cwd: Path | None) -> tuple[Path | None, str | None]:
    if config is not None:
        return Path(config), "--config"
    if os.environ.get(CONFIG_VARIABLE):
        return Path(os.environ[CONFIG_VARIABLE]), CONFIG_VARIABLE
    default = (cwd or Path()) / CONFIG_FILE
    return (default, None) if default.is_file() else (None, None)


def _read_file(path: Path, named_by: str | None) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {path} (named by {named_by}) does not exist", code="settings.file") from None
    except OSError as exc:
        raise UsageError(f"config file {path} cannot be read: {exc.strerror}", code="settings.file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}", code="settings.file") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not UTF-8 text", code="settings.file") from None


def _read_env() -> dict:
    try:
        return EnvSettingsSource(Settings)()
    except SettingsError as exc:  # a group given as one variable holding bad JSON, e.g. PASSAGE_SERVER='{'
        group = str(exc).split('"')[1] if '"' in str(exc) else "?"
        raise UsageError(f"environment variable {env_name(group)} must hold a JSON object, or set its keys one "
                         f"by one ({env_name(group)}{ENV_DELIMITER}…)", code="settings.value") from None


def _env_variable(key: str) -> str:
    """The variable that gave `key`: its own, or that of a group given whole as JSON."""
    parts = key.split(".")
    present = {name.upper() for name in os.environ}
    for n in range(len(parts), 0, -1):
        name = env_name(".".join(parts[:n]))
        if name in present:
            return name
    return env_name(key)


def _nest(flat: Mapping[str, Any]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *groups, last = key.split(".")
        for name in groups:
            node = node.setdefault(name, {})
        node[last] = value
    return out


def _paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """The dotted paths of the values given (a group given as something else than a table is one)."""
    for name, value in values.items():
        if isinstance(value, Mapping):
            yield from _paths(value, f"{prefix}{name}.")
        else:
            yield prefix + name


def _merge(into: dict, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, Mapping) and isinstance(into.get(name), dict):
            _merge(into[name], value)
        else:
            into[name] = dict(value) if isinstance(value, Mapping) else value


def _origin_of(key: str, origins: Mapping[str, str]) -> str | None:
    """The origin of `key` or of the nearest enclosing group given whole."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        if (found := origins.get(".".join(parts[:n]))) is not None:
            return found
    return None


def _origin_within(key: str, origins: Mapping[str, str]) -> str | None:
    """The origin of `key`, of a group holding it, or of a value inside it (an unknown table of the file)."""
    return _origin_of(key, origins) or next((o for k, o in origins.items() if k.startswith(key + ".")), None)


def _located(exc: ValidationError, origins: Mapping[str, str]) -> UsageError:
    """The first problem, named by where the value came from."""
    error = exc.errors()[0]
    key = ".".join(str(p) for p in error["loc"])
    origin = _origin_within(key, origins) or "default"
    if origin.startswith("file "):
        where = f"{origin[5:]}, key {key}"
    elif origin.startswith("env "):
        where = f"environment variable {origin[4:]}"
    else:
        where = f"{origin} ({key})"
    if error["type"] == "extra_forbidden":
        *groups, last = key.split(".")
        known = [k.split(".")[len(groups)] for k in keys() if k.split(".")[:len(groups)] == groups]
        close = difflib.get_close_matches(last, known, n=1)
        hint = f"; did you mean {'.'.join([*groups, close[0]])}?" if close else f" (known here: {', '.join(dict.fromkeys(known))})"
        return UsageError(f"{where}: unknown setting{hint}", code="settings.unknown_key")
    return UsageError(f"{where}: {error['msg']} (got {_text(error['input'])})", code="settings.value")


def _text(value: Any) -> str:
    """A value as `passage settings` shows it; a password in a URL is masked."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, ByteSize):
        return f"{int(value)} ({value.human_readable(separator=' ')})"
    text = str(value)
    if "://" in text:
        parts = urlsplit(text)
        if parts.password:
            netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
    return text


def reference() -> str:
    """The settings as a Markdown table (key, variable, default, meaning): docs/operations.md holds it."""
    defaults = Settings()
    rows = ["| key | environment variable | default | meaning |", "|---|---|---|---|"]
    for key in keys():
        meaning = (field_of(key).description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{env_name(key)}` | {_text(defaults.value(key))} | {meaning} |")
    return "\n".join(rows) + "\n"


DEFAULTS = Settings()

__all__ = ["DEFAULTS", "DEFAULT_DB", "Settings", "env_name", "keys", "load_settings", "reference"]
