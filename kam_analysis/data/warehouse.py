"""Client tables in a database or on Spark: connection, checks in the engine, extraction.

A ``data.<table>`` entry with a ``warehouse`` source (:class:`~kam_analysis.config.WarehouseSource`)
is read through Ibis, the portable layer over DuckDB, PostgreSQL, Spark, Snowflake and
BigQuery (docs/warehouses.md):

1. **Connection.** ``connection`` names an environment variable (or an entry of that name in
   the consultant's own ``~/.config/kam/connections.yaml``, or the file ``KAM_CONNECTIONS``
   names) holding the URL. The URL, its password and any token are never written anywhere:
   every message is scrubbed of them (:func:`scrub`), including a driver's own error text.
2. **Row-level rules in the engine.** Required values missing, dates before the contract's
   earliest or after today, rows after the as-of date, numbers implausible, out of range or
   not whole are counted *in the engine*, with a few examples named by the row's key
   (``order_id O-123``); the messages are those of a client file
   (:mod:`kam_analysis.data.row_rules`). A table with such an error is not extracted.
3. **Extraction.** Only the mapped columns of the rows the rules keep leave the engine, in
   Arrow batches written straight to a local Parquet file (memory bounded by one batch;
   never an order-level pandas frame). Validation then continues on that file with the
   file rules (order ids, repeated lines, unknown accounts ...), so the rest of the
   engagement runs unchanged; the rows those rules name are given by their key too
   (:func:`name_rows`). The bytes received are recorded (``warehouse_bytes`` in the
   table's validation stats and the run's manifest).

A column the engine types as text where the contract wants a number or a date is brought
out as text and read by the file rules (currency symbols, day-first dates ...).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb

from ..config import FileSpec, Params, WarehouseSource
from ..exceptions import DataValidationError, Problem
from . import row_rules
from . import orders as order_rules
from .contract import CONTRACT, PLACEHOLDERS, Table
from .parsing import CONTROL_RE
from .readers import ROW_COLUMN, header_key, sql_ident, sql_str

__all__ = ["connection_url", "connect", "scrub", "stage_warehouse", "name_rows", "engine_aggregates", "KEY_COLUMN",
           "CONNECTIONS_FILE_ENV", "BATCH_ROWS"]

#: environment variable naming the consultant's own connections file (default ~/.config/kam/connections.yaml)
CONNECTIONS_FILE_ENV = "KAM_CONNECTIONS"
#: the extract's column holding each row's key (for messages)
KEY_COLUMN = "__kam_key__"
#: rows per Arrow batch fetched from the engine: the memory one batch of the extract takes
BATCH_ROWS = 100_000
_N_EXAMPLES = 5
_DEFAULT_KEY = {"transactions": (("order_id", "line_id"), ("account_id", "order_date")),
                "accounts": (("account_id",),), "surveys": (("account_id", "survey_date"),),
                "capability": (("dimension",),)}


def _problem(spec: FileSpec, message: str, fix: str, rule: str = "warehouse_source") -> DataValidationError:
    return DataValidationError([Problem(rule=rule, file=spec.source, message=message, fix=fix)])


def _connections_file() -> Path:
    return Path(os.environ.get(CONNECTIONS_FILE_ENV) or "~/.config/kam/connections.yaml").expanduser()


def connection_url(spec: FileSpec, table: str) -> str | None:
    """The URL the source's ``connection`` names: the environment variable, else the entry of
    that name in the consultant's connections file; None for a Spark source without one."""
    src: WarehouseSource = spec.warehouse
    if src.connection is None:
        return None
    value = os.environ.get(src.connection, "").strip()
    if value:
        return value
    path = _connections_file()
    if path.is_file():
        import yaml

        from ..config import REPO_ROOT, SOURCE_CHECKOUT

        if SOURCE_CHECKOUT and path.resolve().is_relative_to(REPO_ROOT.resolve()):
            raise _problem(spec, f"The connections file {path} is inside the repository, where it could be "
                                 "committed with its passwords", f"move it outside the repository (the default is "
                                 f"~/.config/kam/connections.yaml) and point {CONNECTIONS_FILE_ENV} at it, or unset "
                                 f"{CONNECTIONS_FILE_ENV}", rule="warehouse_connection")

        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            raise _problem(spec, f"The connections file {path} is not valid YAML",
                           "write one line per connection: NAME: <url>") from None
        if isinstance(entries, dict) and str(entries.get(src.connection) or "").strip():
            return str(entries[src.connection]).strip()
    raise _problem(spec, f"The environment variable {src.connection} (data.{table}.warehouse.connection) is not "
                         f"set, and {path} has no entry {src.connection}",
                   f"export {src.connection}='<backend>://user:password@host:port/database' in the shell that runs "
                   f"kam, or add the line '{src.connection}: <url>' to {path} (your own file, outside the "
                   "repository); docs/warehouses.md gives the URL of each backend", rule="warehouse_connection")


# --------------------------------------------------------------------------- secrets
_USERINFO = re.compile(r"(://[^/\s:@]*:)[^@\s/]+@")
_SECRET_PARAM = re.compile(r"((?:password|passwd|pwd|token|secret|key|credentials)=)[^&;\s]+", re.I)


def secrets_of(url: str | None) -> list[str]:
    """The strings of ``url`` that must never be shown: the URL itself, its password and tokens."""
    if not url:
        return []
    out = [url]
    try:
        parts = urlsplit(url)
        if parts.password:
            out += [parts.password, unquote(parts.password)]
        for k, v in parse_qsl(parts.query) + [tuple(p.split("=", 1)) for p in url.split(";")[1:] if "=" in p]:
            if _SECRET_PARAM.match(f"{k}=x") and v:
                out += [v, unquote(v)]
    except ValueError:
        pass
    return sorted({s for s in out if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret, every ``user:password@`` and every ``password=`` value masked."""
    for s in secrets:
        text = text.replace(s, "***")
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


def _first_line(exc: BaseException, secrets: list[str]) -> str:
    text = scrub(str(exc).strip() or type(exc).__name__, secrets)
    return (text.splitlines() or [type(exc).__name__])[0][:300]


# --------------------------------------------------------------------------- connecting
def connect(spec: FileSpec, table: str):
    """An Ibis connection to the source's engine. Raises DataValidationError (scrubbed) when it fails."""
    src = spec.warehouse
    url = connection_url(spec, table)
    secrets = secrets_of(url)
    try:
        import ibis

        if src.backend == "duckdb":
            path = re.sub(r"^duckdb:(//)?", "", url or "") or ":memory:"
            return ibis.duckdb.connect(path, read_only=path != ":memory:")
        if src.backend == "postgres":
            parts = urlsplit(url)
            if parts.scheme not in ("postgres", "postgresql"):
                raise ValueError(f"the URL in {src.connection} must start with postgresql://")
            return ibis.postgres.connect(host=parts.hostname, port=parts.port or 5432,
                                         user=unquote(parts.username or "") or None,
                                         password=unquote(parts.password or "") or None,
                                         database=parts.path.lstrip("/") or None, connect_timeout=15,
                                         **dict(parse_qsl(parts.query)))
        if src.backend == "pyspark":
            from pyspark.sql import SparkSession

            # Spark's Python workers run kam's Python unless told otherwise (the extract streams Arrow through
            # them, which needs pyarrow; a bare python3 on the PATH may lack it); a running session keeps its own
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = SparkSession.builder
            if url:
                builder = builder.remote(url) if url.startswith("sc://") else builder.master(url)
            return ibis.pyspark.connect(builder.getOrCreate())
        return ibis.connect(url)  # snowflake://..., bigquery://... through the backend's Ibis extra
    except ImportError as exc:
        raise _problem(spec, f"The {src.backend} backend is not installed ({_first_line(exc, secrets)})",
                       f"pip install 'ibis-framework[{src.backend}]' in kam's environment") from None
    except Exception as exc:  # noqa: BLE001 - every driver raises its own types; the message is scrubbed
        where = f"the URL in {src.connection}" if src.connection else "the Spark session"
        raise _problem(spec, f"Could not connect to the {src.backend} source ({where}): {_first_line(exc, secrets)}",
                       f"check {where} (host, port, database, user, password) and that the server is reachable "
                       "from this machine", rule="warehouse_connection") from None


def _source_table(con, spec: FileSpec, table: str, secrets: list[str]):
    src = spec.warehouse
    try:
        if src.query and getattr(con, "name", "") == "duckdb":
            # Ibis 12 describes a DuckDB query with an API DuckDB 2 removed: name it as a view first
            con.con.execute(f"CREATE OR REPLACE TEMP VIEW kam_source_query AS {src.query}")
            return con.table("kam_source_query")
        if src.query and getattr(con, "name", "") == "postgres":
            # Ibis 12's con.sql() on PostgreSQL drops its scratch view with an empty name (a syntax error):
            # name the query as a temporary view (private to this connection) first
            with con.con.cursor() as cur:
                cur.execute(f"CREATE OR REPLACE TEMP VIEW kam_source_query AS {src.query}")
            con.con.commit()
            return con.table("kam_source_query")
        if src.query:
            return con.sql(src.query)
        *schema, name = src.table.split(".")
        return con.table(name, database=tuple(schema) if len(schema) > 1 else (schema[0] if schema else None))
    except Exception as exc:  # noqa: BLE001
        what = "query" if src.query else f"table {src.table}"
        raise _problem(spec, f"The {src.backend} {what} could not be read: {_first_line(exc, secrets)}",
                       f"check data.{table}.warehouse.{'query' if src.query else 'table'} (schema.table) and "
                       "that the connection's user may read it", rule="missing_file") from None


# --------------------------------------------------------------------------- staging
def _native(dtype, contract_dtype: str) -> bool:
    """True when the engine's type already is the contract type (the rules run in the engine)."""
    if contract_dtype in ("number", "integer"):
        return dtype.is_numeric() and not dtype.is_boolean()
    if contract_dtype == "date":
        return dtype.is_date() or dtype.is_timestamp()
    if contract_dtype == "bool":
        return dtype.is_boolean()
    return False


def _mapping(table: Table, spec: FileSpec, names: list[str]) -> dict[str, str]:
    """Contract column -> the source's column (as for a file: exact name, else case and spaces ignored)."""
    by_key = {header_key(c): c for c in names}
    mapped = {}
    for c in table.columns:
        client = spec.columns.get(c.name, c.name)
        actual = client if client in names else by_key.get(header_key(client))
        if actual is not None:
            mapped[c.name] = actual
    return mapped


def _key_columns(table: Table, spec: FileSpec, mapped: dict[str, str]) -> list[str]:
    if spec.warehouse.key:
        return list(spec.warehouse.key)
    for names in _DEFAULT_KEY[table.name]:
        if names[0] in mapped:
            return [mapped[n] for n in names if n in mapped]
    return [mapped[table.required_columns[0]]]


def stage_warehouse(ck, table: Table, spec: FileSpec, view: str, required_client_columns: list[str],
                    info: dict, extract_dir: Path) -> list[str]:
    """Check the source's rows in its engine and extract the clean mapped columns into DuckDB view ``view``.

    Returns the view's columns (the client's names, as :func:`~kam_analysis.data.readers.read_raw`
    does). When a mapped column is missing the view is empty, with the source's columns, so the
    file rules name it; when a row-level rule finds an error the problems are added and the view
    is empty too (nothing is extracted).
    """
    import ibis

    con_duck: duckdb.DuckDBPyConnection = ck.con
    url_secrets = secrets_of(connection_url(spec, table.name))
    backend = connect(spec, table.name)
    t = _source_table(backend, spec, table.name, url_secrets)
    try:
        schema = t.schema()
        mapped = _mapping(table, spec, schema.names)
        if any(c not in mapped for c in table.required_columns) or any(
                c in spec.columns and c not in mapped for c in (col.name for col in table.columns)):
            _empty_view(con_duck, view, schema.names)
            return list(schema.names)
        key_cols = _key_columns(table, spec, mapped)
        missing_key = [k for k in key_cols if k not in schema.names]
        if missing_key:
            raise _problem(spec, f"The key column{'s' if len(missing_key) > 1 else ''} {', '.join(missing_key)} "
                                 f"(data.{table.name}.warehouse.key) {'are' if len(missing_key) > 1 else 'is'} not in "
                                 f"the source", f"name columns of the source; it has: {', '.join(schema.names[:20])}")
        key = ibis.literal(" / ").join([t[k].cast("string").fill_null("") for k in key_cols]) \
            if len(key_cols) > 1 else t[key_cols[0]].cast("string")
        key_name = "/".join(key_cols)
        keep, errors, n_source = _row_rules(ck, t, table, spec, mapped, key, key_name, schema)
        info["rows_in_source"] = n_source
        if not errors and table.name == "transactions" and "order_id" in mapped:
            errors = _order_id_rules(ck, t, keep, spec, mapped, schema)
        if errors:
            _empty_view(con_duck, view, schema.names)
            return list(schema.names)
        clients = list(dict.fromkeys(mapped.values()))
        expr = t.filter(keep) if keep is not None else t
        expr = expr.select(*[_portable(expr[c], schema[c]) for c in clients], **{KEY_COLUMN: key})
        path = extract_dir / f"{table.name}.parquet"
        n_bytes, n_rows, timezones = _extract(backend, expr, path)
    except DataValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - an engine error mid-way, scrubbed
        raise _problem(spec, f"The {spec.warehouse.backend} source failed while being checked: "
                             f"{_first_line(exc, url_secrets)}",
                       "check the table and the column mapping; docs/warehouses.md lists what each backend needs") from None
    finally:
        _disconnect(backend)
    con_duck.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * EXCLUDE (file_row_number, "
                     f"{sql_ident(KEY_COLUMN)}), file_row_number + 1 AS {sql_ident(ROW_COLUMN)} "
                     f"FROM read_parquet({sql_str(str(path))}, file_row_number = true)")
    info.update(header_row=0, timezones=timezones, extract=str(path), key_name=key_name,
                warehouse_bytes=n_bytes, warehouse_rows=n_rows)
    return clients + [ROW_COLUMN]


def _portable(col, dtype):
    """The column as it leaves the engine: a decimal of unknown scale (PostgreSQL's unconstrained
    ``numeric``, which Ibis types decimal(38, 9) however many decimals its values have: the cursor
    fails on a 10th decimal, a cast to numeric(38, 9) rounds it away) is sent as a double-precision
    number, which is how the file rules read every amount (15-17 significant digits); a declared
    ``numeric(p, s)`` up to 38 digits arrives exactly."""
    if dtype.is_decimal() and (dtype.precision is None or dtype.scale is None or dtype.precision > 38):
        return col.cast("float64").name(col.get_name())
    return col


def _disconnect(backend) -> None:
    try:
        if getattr(backend, "name", "") != "pyspark":  # the Spark session belongs to whoever started it
            backend.disconnect()
    except Exception:  # noqa: BLE001 - closing is best effort
        pass


def _empty_view(con: duckdb.DuckDBPyConnection, view: str, names: list[str]) -> None:
    cols = ", ".join(f"NULL::VARCHAR AS {sql_ident(n)}" for n in names) or "NULL::VARCHAR AS __none"
    con.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT {cols} WHERE false")


def _extract(backend, expr, path: Path) -> tuple[int, int, dict[str, str]]:
    """Stream ``expr`` into Parquet ``path`` in Arrow batches; (bytes received, rows, zoned timestamp columns)."""
    import pyarrow.parquet as pq

    n_bytes = n_rows = 0
    if getattr(backend, "name", "") == "duckdb":
        # Ibis 12's DuckDB batches call an API DuckDB 2 removed: stream the compiled query directly
        reader = backend.con.sql(str(backend.compile(expr))).to_arrow_reader(BATCH_ROWS)
    elif getattr(backend, "name", "") == "pyspark":
        reader = _spark_batches(backend, expr)
    elif getattr(backend, "name", "") == "postgres" and _copyable(expr.schema().to_pyarrow()):
        reader = _postgres_batches(backend, expr)
    else:  # a server-side cursor, fetched BATCH_ROWS at a time (a Python tuple per row)
        reader = backend.to_pyarrow_batches(expr, chunk_size=BATCH_ROWS)
    tmp = path.with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, reader.schema) as writer:
        for batch in reader:
            n_bytes += batch.nbytes
            n_rows += batch.num_rows
            writer.write_batch(batch)
    tmp.replace(path)
    zones = {f.name: f.type.tz for f in reader.schema if getattr(f.type, "tz", None)}
    return n_bytes, n_rows, zones


def _copyable(schema) -> bool:
    """True when every column reads back exactly from PostgreSQL's CSV: text, whole and floating numbers,
    booleans, dates, naive timestamps and declared decimals (an unconstrained ``numeric`` leaves as a double:
    :func:`_portable`). A zoned timestamp, an interval or an array goes through the cursor."""
    import pyarrow as pa

    t = pa.types
    return all(t.is_string(f.type) or t.is_large_string(f.type) or t.is_integer(f.type) or t.is_floating(f.type)
               or t.is_boolean(f.type) or t.is_date32(f.type) or (t.is_timestamp(f.type) and not f.type.tz)
               or (t.is_decimal(f.type) and f.type.precision <= 38) for f in schema)


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_type(t) -> str:
    """PostgreSQL's name of the Arrow type ``t`` (one of those :func:`_copyable` accepts)."""
    import pyarrow as pa

    if pa.types.is_decimal(t):
        return f"numeric({t.precision}, {t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return {pa.int8(): "smallint", pa.int16(): "smallint", pa.int32(): "integer", pa.int64(): "bigint",
            pa.uint8(): "smallint", pa.uint16(): "integer", pa.uint32(): "bigint", pa.uint64(): "numeric(20, 0)",
            pa.float32(): "real", pa.float64(): "double precision", pa.bool_(): "boolean",
            pa.date32(): "date"}.get(t, "text")


def _postgres_batches(backend, expr):
    """PostgreSQL's rows through ``COPY (query) TO STDOUT`` as CSV, parsed by Arrow in blocks: no Python
    object per row (Ibis's batches build a tuple per row through a cursor, the larger cost on millions of
    lines). NULL is an unquoted empty field and an empty text a quoted one, as Arrow reads them; dates and
    timestamps in ISO, floating numbers in their shortest exact form."""
    import io

    import pyarrow as pa
    from pyarrow import csv

    schema = expr.schema().to_pyarrow()
    # each column cast to the type Ibis reports (its SQL may compute another: a truncated date is a timestamp)
    query = "SELECT " + ", ".join(f"CAST({_pg_ident(f.name)} AS {_pg_type(f.type)}) AS {_pg_ident(f.name)}"
                                  for f in schema) + f" FROM ({backend.compile(expr)}) AS kam_q"
    con = backend.con

    class Stream(io.RawIOBase):
        def __init__(self, chunks):
            self.chunks, self.buf = iter(chunks), memoryview(b"")

        def readable(self) -> bool:
            return True

        def readinto(self, out) -> int:
            while not len(self.buf):
                chunk = next(self.chunks, None)
                if chunk is None:
                    return 0
                self.buf = memoryview(bytes(chunk))
            n = min(len(out), len(self.buf))
            out[:n], self.buf = self.buf[:n], self.buf[n:]
            return n

    options = csv.ConvertOptions(column_types=schema, strings_can_be_null=True, null_values=[""],
                                 quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"])

    def batches():
        with con.cursor() as cur:
            cur.execute("SET DateStyle = 'ISO, YMD'")
            cur.execute("SET extra_float_digits = 1")  # shortest exact text of a float (PostgreSQL 12+)
            with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
                reader = csv.open_csv(io.BufferedReader(Stream(copy), 1 << 20),
                                      read_options=csv.ReadOptions(column_names=schema.names, block_size=8 << 20),
                                      parse_options=csv.ParseOptions(newlines_in_values=True),
                                      convert_options=options)
                for batch in reader:
                    yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _fetch(backend, expr):
    """A result as one Arrow table (account-level rows): through COPY from PostgreSQL, else Ibis."""
    if getattr(backend, "name", "") == "postgres" and _copyable(expr.schema().to_pyarrow()):
        return _postgres_batches(backend, expr).read_all()
    return backend.to_pyarrow(expr)


def _spark_batches(backend, expr):
    """Spark's result in Arrow batches of BATCH_ROWS, one partition at a time, no Python object per row.

    Ibis (and ``DataFrame.toArrow``) collect a Spark result whole; an order-level extract must
    not be. Each partition is turned into Arrow IPC blobs of at most BATCH_ROWS rows where it
    is computed (``mapInArrow``: one blob per output row), and the blobs are fetched one
    partition at a time (``toLocalIterator``), so the driver holds one partition's blobs and
    the Python side never builds a row. The blobs are cut again into batches of BATCH_ROWS.
    """
    import pyarrow as pa

    schema = expr.schema().to_pyarrow()
    frame = backend._session.sql(str(backend.compile(expr)))
    rows_per_blob = BATCH_ROWS

    def to_blobs(batches):  # runs in Spark's Python workers: only pyarrow, nothing of kam
        import pyarrow as pa

        pending, n = [], 0

        def blob(parts):
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, parts[0].schema) as w:
                for part in parts:
                    w.write_batch(part)
            return pa.RecordBatch.from_pydict({"arrow": [sink.getvalue().to_pybytes()]})

        for b in batches:
            while b.num_rows:
                take = b.slice(0, rows_per_blob - n)
                b = b.slice(take.num_rows)
                pending.append(take)
                n += take.num_rows
                if n >= rows_per_blob:
                    yield blob(pending)
                    pending, n = [], 0
        if pending:
            yield blob(pending)

    blobs = frame.mapInArrow(to_blobs, "arrow binary")

    def conform(batch: pa.RecordBatch) -> pa.RecordBatch:
        """Spark's Arrow types as the expression's schema (a Spark timestamp is zoned: its wall time)."""
        import pyarrow.compute as pc

        cols = []
        for col, field in zip(batch.columns, schema):
            if pa.types.is_timestamp(col.type) and col.type.tz and not getattr(field.type, "tz", None):
                col = pc.local_timestamp(col)
            cols.append(col if col.type == field.type else col.cast(field.type))
        return pa.RecordBatch.from_arrays(cols, schema=schema)

    def batches():
        pending: list[pa.RecordBatch] = []
        n = 0
        for row in blobs.toLocalIterator(prefetchPartitions=False):
            for b in pa.ipc.open_stream(row[0]):
                pending.append(conform(b))
                n += b.num_rows
            while n >= BATCH_ROWS:
                table = pa.Table.from_batches(pending, schema=schema).combine_chunks()
                yield from table.slice(0, BATCH_ROWS).to_batches(max_chunksize=BATCH_ROWS)
                rest = table.slice(BATCH_ROWS)
                pending, n = rest.to_batches(), rest.num_rows
        if n:
            yield from pa.Table.from_batches(pending, schema=schema).combine_chunks().to_batches(
                max_chunksize=BATCH_ROWS)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _given(col, dtype):
    """The value, NULL when it is empty or a placeholder ('N/A', '-': contract.PLACEHOLDERS)."""
    if not dtype.is_string():
        return col
    s = col.strip()
    return (s.lower().isin([p for p in PLACEHOLDERS if p]) | (s == "")).ifelse(None, col)


def _row_rules(ck, t, table: Table, spec: FileSpec, mapped: dict[str, str], key, key_name: str, schema):
    """Count the row-level rules in the engine (one query), fetch examples of those that fire.

    Returns (the filter of rows to extract or None, whether an error was found, rows in the source).
    """
    import ibis

    a = ck.params.analysis
    today, fname = dt.date.today(), spec.source
    counts: dict[str, object] = {"n_rows": t.count()}
    conds: dict[str, object] = {}
    required = [n for n in mapped if table.column(n).required]
    miss = {n: _given(t[mapped[n]], schema[mapped[n]]).isnull() for n in required}
    if miss:
        conds["missing"] = ibis.or_(*miss.values())
        for n, c in miss.items():
            counts[f"missing__{n}"] = c.ifelse(1, 0).sum()
    date_col = {"transactions": "order_date", "surveys": "survey_date"}.get(table.name)
    keep = None
    for name, client in mapped.items():
        col, dtype = table.column(name), schema[client]
        if not _native(dtype, col.dtype):
            continue
        x = t[client]
        for rule in row_rules.VALUE_RULES:
            if rule.applies(col):
                conds[f"{rule.key}__{name}"] = rule.engine(x, col)
        if col.dtype == "date" and name == date_col:
            d = x.cast("date")
            conds[f"future__{name}"] = d > ibis.date(today)
            counts[f"after__{name}"] = ((d > ibis.date(a.as_of_date)) & (d <= ibis.date(today))).ifelse(1, 0).sum()
            keep = d <= ibis.date(a.as_of_date)
            if a.history_start:
                keep &= d >= ibis.date(a.history_start)
    for k, c in conds.items():
        counts[k] = c.ifelse(1, 0).sum()
    got = t.aggregate(**counts).to_pyarrow().to_pylist()[0]
    got = {k: int(v or 0) for k, v in got.items()}

    def examples(cond, value=None) -> tuple:
        cols = {"k": key} if value is None else {"k": key, "v": value.cast("string")}
        rows = t.filter(cond).select(**cols).distinct().order_by("k").limit(_N_EXAMPLES).to_pyarrow().to_pylist()
        return tuple(f"{key_name} {r['k']}" + ("" if value is None else f": {r['v']}") for r in rows)

    problems = []
    if got.get("missing"):
        names = [n for n in required if got.get(f"missing__{n}")]
        problems.append(row_rules.missing_values(fname, names, [mapped[n] for n in names], got["missing"],
                                                 examples(conds["missing"])))
    for name, client in mapped.items():
        col = table.column(name)
        x = t[client]
        for rule in row_rules.VALUE_RULES:
            k = f"{rule.key}__{name}"
            if got.get(k):
                problems.append(rule.problem(fname, name, client, col, got[k], examples(conds[k], x)))
        if got.get(f"future__{name}"):
            problems.append(row_rules.future_date(fname, table.name, client, today, got[f"future__{name}"],
                                                  examples(conds[f"future__{name}"], x)))
        if got.get(f"after__{name}"):
            problems.append(row_rules.after_as_of(fname, table.name, client, a.as_of_date, got[f"after__{name}"]))
    if got["n_rows"] == 0:
        problems.append(Problem(rule="empty_table", file=fname, message=f"The {table.name} source has no rows",
                                fix="check the table or query, and that the connection's user may see its rows"))
    ck.r.problems.extend(problems)
    return keep, any(p.severity == "error" for p in problems), got["n_rows"]


def _order_id_rules(ck, t_all, keep, spec: FileSpec, mapped: dict[str, str], schema) -> bool:
    """data.orders' order-id rules, counted in the engine before anything is extracted (a customer or
    contract code mapped as the order id is found without moving the table); True on an error.

    As for a file, an id's accounts are compared over every row, the rest over the rows in the
    analysis window (``keep``)."""
    import ibis

    rules = order_rules
    fname, id_col, acc_col = spec.source, mapped["order_id"], mapped["account_id"]
    t = t_all if keep is None else t_all.filter(keep)

    def cleaned(tbl):
        return tbl.select(account_id=_clean_text(tbl[acc_col], schema[acc_col]),
                          order_id=_clean_text(tbl[id_col], schema[id_col]),
                          order_date=tbl[mapped["order_date"]].cast("date"))

    c, c_all = cleaned(t), cleaned(t_all)
    n_rows, same, n_empty = (int(v or 0) for v in c.aggregate(
        n=c.count(), same=(c.order_id == c.account_id).ifelse(1, 0).sum(),
        empty=c.order_id.isnull().ifelse(1, 0).sum()).to_pyarrow().to_pylist()[0].values())
    if rules.is_account_id(id_col, acc_col, same, n_rows):
        ck.r.problems.append(rules.order_id_is_account(fname, id_col, acc_col, same, n_rows))
        return True
    ok = True
    if n_empty:
        # the order id is what is missing: the rows are found by their account and date
        key = list(spec.warehouse.key) or [acc_col, mapped["order_date"]]
        shown = t.filter(_clean_text(t[id_col], schema[id_col]).isnull()).select(
            k=ibis.literal(" / ").join([t[k].cast("string").fill_null("") for k in key]) if len(key) > 1
            else t[key[0]].cast("string")).order_by("k").limit(_N_EXAMPLES).to_pyarrow().to_pylist()
        ck.r.problems.append(rules.missing_order_id(fname, id_col, n_empty,
                                                    tuple(f"{'/'.join(key)} {r['k']}" for r in shown)))
        ok = False
    f_all = c_all.filter(c_all.order_id.notnull())
    by_id = f_all.group_by("order_id").aggregate(
        n_acc=f_all.account_id.nunique(), a0=f_all.account_id.min(), a1=f_all.account_id.max())
    several = by_id.filter(by_id.n_acc > 1)
    n_conf = int(several.count().to_pyarrow().as_py() or 0)
    if n_conf:
        ex = several.order_by("order_id").limit(_N_EXAMPLES).to_pyarrow().to_pylist()
        ck.r.problems.append(rules.order_id_of_several_accounts(
            fname, id_col, n_conf, tuple(f"{r['order_id']} (accounts {r['a0']}, {r['a1']}"
                                         f"{', ...' if r['n_acc'] > 2 else ''})" for r in ex)))
        ok = False
    f = c.filter(c.order_id.notnull())
    ids = f.group_by("order_id").aggregate(
        n=f.count(), n_dates=f.order_date.nunique(), d0=f.order_date.min(), d1=f.order_date.max())
    spread = ids.filter(ids.n_dates > 1).mutate(days=ids.d1.delta(ids.d0, unit="day"))
    long = spread.days > rules.MAX_ORDER_SPAN_DAYS
    n_multi, n_long, lines_long = (int(v or 0) for v in spread.aggregate(
        m=spread.count(), l=long.ifelse(1, 0).sum(), ll=spread.n.sum(where=long)).to_pyarrow().to_pylist()[0].values())
    if rules.spread_is_error(n_long, lines_long, n_rows):
        ex = spread.filter(long).order_by([ibis.desc("n_dates"), "order_id"]).limit(_N_EXAMPLES).to_pyarrow().to_pylist()
        ck.r.problems.append(rules.order_id_spans_months(
            fname, id_col, n_long, lines_long, n_rows,
            tuple(f"{r['order_id']}: {r['n_dates']} dates from {r['d0']} to {r['d1']}" for r in ex)))
        ok = False
    elif n_multi:
        ex = spread.order_by([ibis.desc("days"), "order_id"]).limit(_N_EXAMPLES).to_pyarrow().to_pylist()
        ck.r.problems.append(rules.order_id_spans_days(fname, id_col, n_multi,
                                                       tuple(f"{r['order_id']}: {r['d0']} to {r['d1']}" for r in ex)))
    return not ok


# --------------------------------------------------------------------------- messages
_ROWS = re.compile(r"\b([Rr])ows? (\d+(?:, \d+)*)")


def name_rows(con: duckdb.DuckDBPyConnection, problems: list[Problem], source: str, extract: str,
              key_name: str) -> list[Problem]:
    """Problems of ``source`` whose examples and message name rows of the extract ('row 5'), with each row's
    key instead ('order_id O-123'): an extract's row number finds nothing in the client's database."""
    import dataclasses

    mine = [p for p in problems if p.file == source]
    numbers = {int(n) for p in mine for text in (p.message, *map(str, p.examples))
               for m in _ROWS.finditer(text) for n in m.group(2).split(", ")}
    if not numbers:
        return problems
    keys = dict(con.execute(f"SELECT file_row_number + 1, {sql_ident(KEY_COLUMN)} FROM read_parquet("
                            f"{sql_str(extract)}, file_row_number = true) WHERE file_row_number + 1 IN "
                            f"({', '.join(map(str, sorted(numbers)))})").fetchall())

    def rename(text: str) -> str:
        return _ROWS.sub(lambda m: f"{key_name} " + ", ".join(str(keys.get(int(n), n)) for n in m.group(2).split(", ")),
                         text)

    return [dataclasses.replace(p, message=rename(p.message), examples=tuple(rename(str(e)) for e in p.examples))
            if p.file == source else p for p in problems]


# --------------------------------------------------------------------------- aggregation in the engine
_TRUNCATE = {"month": "M", "quarter": "Q", "year": "Y"}


def _clean_text(col, dtype):
    """The engine's spelling of validation's text rule: control characters removed, trimmed, and
    empty or a placeholder ('N/A', '-') read as no value."""
    import ibis

    s = (col if dtype.is_string() else col.cast("string")).re_replace(CONTROL_RE, "").strip()
    return (s.lower().isin([p for p in PLACEHOLDERS if p]) | (s == "")).ifelse(ibis.null("string"), s)


def _clean_transactions(t, spec: FileSpec, params: Params):
    """The clean transactions (validation's ``v_transactions``) as an expression in the engine, or None when
    a column needs the local file rules (a date or an amount the engine holds as text, a zoned timestamp)."""
    import ibis

    schema = t.schema()
    mapped = _mapping(CONTRACT["transactions"], spec, schema.names)
    for name in ("order_date", "net_revenue", "gross_margin", "cost"):
        if name in mapped:
            dtype = schema[mapped[name]]
            contract = "date" if name == "order_date" else "number"
            if not _native(dtype, contract) or getattr(dtype, "timezone", None):
                return None
    a = params.analysis
    d = t[mapped["order_date"]].cast("date")
    money = "decimal(38, 4)"  # exact sums, as data.prepare.exact_sum

    def amount(name):
        return t[mapped[name]].cast("float64")

    cols = {"account_id": _clean_text(t[mapped["account_id"]], schema[mapped["account_id"]]), "order_date": d,
            "net_revenue": amount("net_revenue")}
    cols["order_id"] = (_clean_text(t[mapped["order_id"]], schema[mapped["order_id"]]) if "order_id" in mapped
                        else cols["account_id"].concat(" ", d.cast("string")))
    cols["gross_margin"] = (amount("gross_margin") if "gross_margin" in mapped else
                            amount("net_revenue") - amount("cost") if "cost" in mapped else ibis.null("float64"))
    for name in ("category", "channel"):
        cols[name] = _clean_text(t[mapped[name]], schema[mapped[name]]) if name in mapped else ibis.null("string")
    if "line_id" in mapped:
        cols["line_id"] = _clean_text(t[mapped["line_id"]], schema[mapped["line_id"]])
    keep = d <= ibis.date(a.as_of_date)
    if a.history_start:
        keep &= d >= ibis.date(a.history_start)
    clean = t.filter(keep).select(**cols)
    clean = clean.filter(clean.account_id.notnull() & clean.order_date.notnull() & clean.net_revenue.notnull())
    if "line_id" in mapped:
        clean = clean.distinct()  # copies of one line of an order (data.orders)
    clean = clean.mutate(revenue_x=clean.net_revenue.cast(money), margin_x=clean.gross_margin.cast(money))
    # only what the aggregates read (the float amounts and the line id served the filter and the copies)
    return clean.select("account_id", "order_id", "order_date", "category", "channel", "revenue_x", "margin_x")


def _materialise(backend, clean):
    """The clean order lines computed once in the engine: (the table to aggregate, its release).

    Ibis's ``Table.cache()`` is the backend's own way: a temporary table on PostgreSQL, DuckDB,
    Snowflake and BigQuery (``create_table(..., temp=True)``, private to the connection and
    gone with it), a persisted DataFrame behind a temporary view on Spark (which cannot create
    temporary tables; the lines are computed on the first query and kept in the executors'
    memory, spilling to their disk). Every aggregate then reads it instead of re-reading the
    source and re-cleaning the ids. A backend that can do neither (the cache raises) keeps the
    expression: each aggregate recomputes the clean lines from the source, as before.
    The release drops the table (or unpersists); call it whatever happens (``finally``).
    """
    try:
        cached = clean.cache()
    except Exception:  # noqa: BLE001 - no temporary tables here: aggregate from the expression
        return clean, lambda: None

    def release() -> None:
        try:
            cached.release()
        except Exception:  # noqa: BLE001 - Ibis 12's DROP fails on DuckDB 2: drop it ourselves
            try:
                name = cached.op().name.replace('"', '""')
                cur = backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
                if cur is not None and cur is not getattr(backend, "con", None):  # DuckDB returns its connection
                    cur.close()
            except Exception:  # noqa: BLE001 - best effort; a temporary table also goes with the connection
                pass

    return cached, release


def engine_aggregates(params: Params) -> dict | None:
    """The order-derived parts of the account-level tables, computed in the transactions' engine.

    Returns Arrow tables (account level: only they leave the engine): ``per_account`` (first and
    last counted order, orders, revenue and margin, the trailing-12-month windows), ``breadth``
    (categories and channels bought), ``period`` (account x period) and ``category`` (account x
    category), with the definitions of :func:`kam_analysis.data.prepare.compute_account_summary`;
    and ``bytes``, what they weighed. None when the transactions are not in a warehouse, or a
    column needs the local file rules (then :mod:`kam_analysis.data.prepare` aggregates the extract).
    The source is read and its lines cleaned once, into a temporary table the four queries read
    (:func:`_materialise`; dropped however the aggregation ends).
    """
    import ibis
    import pandas as pd

    spec = params.data.transactions
    if spec.warehouse is None:
        return None
    secrets = secrets_of(connection_url(spec, "transactions"))
    backend = connect(spec, "transactions")
    try:
        clean = _clean_transactions(_source_table(backend, spec, "transactions", secrets), spec, params)
        if clean is None:
            return None
        clean, release = _materialise(backend, clean)
        try:
            a = params.analysis
            as_of = pd.Timestamp(a.as_of_date)
            lo12 = ibis.date((as_of - pd.DateOffset(months=12)).date())
            lo24 = ibis.date((as_of - pd.DateOffset(months=24)).date())
            orders = clean.group_by(["account_id", "order_id"]).aggregate(
                order_date=clean.order_date.min(), revenue=clean.revenue_x.sum(), gross_margin=clean.margin_x.sum())
            counted = orders.revenue > 0  # data.prepare.counted_order_sql
            last12 = orders.order_date > lo12
            prev12 = (orders.order_date <= lo12) & (orders.order_date > lo24)
            per = orders.group_by("account_id").aggregate(
                first_order_date=orders.order_date.min(where=counted),
                last_order_date=orders.order_date.max(where=counted),
                n_orders=orders.order_id.count(where=counted), revenue=orders.revenue.sum(),
                gross_margin=orders.gross_margin.sum(), revenue_12m=orders.revenue.sum(where=last12),
                revenue_prev_12m=orders.revenue.sum(where=prev12),
                orders_12m=orders.order_id.count(where=counted & last12),
                orders_prev_12m=orders.order_id.count(where=counted & prev12))
            breadth = clean.group_by("account_id").aggregate(n_categories=clean.category.nunique(),
                                                             n_channels=clean.channel.nunique())
            by_period = orders.mutate(period_start=orders.order_date.truncate(_TRUNCATE[a.period]).cast("date"))
            period = by_period.group_by(["account_id", "period_start"]).aggregate(
                revenue=by_period.revenue.sum(), orders=by_period.order_id.count(where=by_period.revenue > 0),
                gross_margin=by_period.gross_margin.sum())
            cat = clean.mutate(category=clean.category.fill_null("(none)"))
            category = cat.group_by(["account_id", "category"]).aggregate(revenue=cat.revenue_x.sum(),
                                                                          orders=cat.order_id.nunique())
            out = {name: _fetch(backend, expr) for name, expr in
                   (("per_account", per), ("breadth", breadth), ("period", period), ("category", category))}
        finally:
            release()
    except DataValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - an engine error, scrubbed
        raise _problem(spec, f"The {spec.warehouse.backend} source failed while aggregating: "
                             f"{_first_line(exc, secrets)}",
                       "check the table and the column mapping; docs/warehouses.md lists what each backend needs") from None
    finally:
        _disconnect(backend)
    out["bytes"] = sum(tbl.nbytes for tbl in out.values())
    return out
