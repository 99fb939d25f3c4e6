"""Usage analysis in pandas: the ledger as a typed DataFrame, summaries, cache savings, latency and plots.

pandas (and matplotlib, pyarrow) are imported lazily, so ``import nbmessages`` never imports them.
File ledgers are read column-wise in C through the ADBC SQLite driver (Arrow), so a million calls take about a second.
"""

from __future__ import annotations

import json
import math
import sqlite3
import warnings
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import prices, recovery
from .schema import BUSY_TIMEOUT_MS, COLUMNS, MEMORY, CallsTable, to_micros

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

CATEGORIES = ("profile", "base_host", "model_requested", "model", "provider", "chat", "outcome",
              "stop_reason", "service_tier", "cost_source", "response_cache", "availability")
INTEGERS = ("status_code", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_5m_tokens",
            "cache_1h_tokens", "cache_read_tokens", "thinking_tokens", "web_search_requests",
            "web_fetch_requests", "retries")
FLOATS = ("ttft", "duration", "output_tps", "cost_usd")
# nullable flags; output_counted: the client counted the output tokens (the server sent no final count);
# simulated: the offline model answered, so its cost is what the call would have cost, not spending
BOOLEANS = ("streamed", "output_counted", "simulated")
STRINGS = ("id", "message_id", "request_id", "generation_id", "session_id", "error_message", "tags", "routing")
TOKEN_KINDS = {"input_tokens": "input (uncached)", "cache_creation_tokens": "cache write",
               "cache_read_tokens": "cache read", "output_tokens": "output"}
TimeLike = datetime | date | str | None


# -- reading ---------------------------------------------------------------------------------------

PARALLEL_ROWS = 200_000  # from this many rows, ADBC reads rowid ranges on several threads


def _select() -> tuple[list[str], list[tuple[str, str]]]:
    """The columns usage() reads (never content) as SQL expressions, and their numpy record dtype."""
    text = [c for c in COLUMNS if c in CATEGORIES + STRINGS and c != "model"]
    exprs = ["rowid", "ts", "ifnull(model, model_requested)", *BOOLEANS, *text, *INTEGERS, *FLOATS]
    dtype = [("rowid", "i8"), ("ts", "i8"), ("model", "O")] + [(c, "i8") for c in BOOLEANS] + [(c, "O") for c in text]
    dtype += [(c, "i8") for c in INTEGERS] + [(c, "f8") for c in FLOATS]
    return exprs, dtype


def _row_sql() -> str:
    """The SELECT list of the portable path: NULL numbers as -1 sentinels, so each column fills one numpy array."""
    exprs, dtype = _select()
    return ", ".join(
        f"ifnull({e}, -1)" if k == "i8" and e not in ("rowid", "ts") else f"ifnull({e}, -1.0)" if k == "f8" else e
        for e, (_, k) in zip(exprs, dtype, strict=True)
    )


def _read_rows(conn: sqlite3.Connection, rows: Any = None) -> pd.DataFrame:
    """Every call through sqlite3 (the portable path: in-memory ledgers, or no ADBC driver), converted in numpy."""
    import numpy as np
    import pandas as pd

    _, dtype = _select()
    if rows is None:
        rows = conn.execute(f"SELECT {_row_sql()} FROM calls ORDER BY rowid")
    arr = np.fromiter(rows, dtype=dtype)
    data: dict[str, Any] = {"rowid": arr["rowid"], "timestamp": pd.to_datetime(arr["ts"], unit="us", utc=True)}
    for name, kind in dtype[2:]:
        if kind == "O":
            data[name] = arr[name]
    for name in BOOLEANS:
        data[name] = pd.arrays.BooleanArray(arr[name] == 1, arr[name] < 0)
    for name in INTEGERS:
        values = arr[name].copy()
        data[name] = pd.arrays.IntegerArray(values, values < 0)
    for name in FLOATS:
        values = arr[name].copy()
        values[values < 0] = np.nan
        data[name] = values
    return _typed(pd.DataFrame(data))


def _read_arrow(path: str, conn: sqlite3.Connection, read_uri: str | None = None) -> pd.DataFrame:
    """Every call of a file ledger read column-wise in C (ADBC SQLite driver into Arrow), several threads at once."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import adbc_driver_sqlite.dbapi as adbc
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    exprs, dtype = _select()
    # ADBC infers each column's type from the values of a first batch: a typed first row (rowid 0, dropped
    # below) keeps an all-NULL start from typing a text or real column as int64.
    typed_row = ", ".join(
        f"{'0' if k == 'i8' else '0.0' if k == 'f8' else chr(39) * 2} AS {n}" for n, k in dtype
    )
    sql = (f"SELECT {typed_row} UNION ALL SELECT {', '.join(exprs)} FROM calls"
           " WHERE rowid > ? AND rowid <= ? ORDER BY 1")
    lo, hi, n = conn.execute("SELECT ifnull(min(rowid), 1) - 1, ifnull(max(rowid), 0), count(*) FROM calls").fetchone()
    parts = max(1, min(os.cpu_count() or 1, 4, n // PARALLEL_ROWS))
    bounds = [lo + (hi - lo) * i // parts for i in range(parts + 1)]
    uri = read_uri or Path(path).resolve().as_uri() + "?mode=ro"

    def read(i: int) -> pa.Table:
        with adbc.connect(uri) as db, db.cursor() as cur:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # wait, as the ledger does, on a busy WAL
            cur.execute(sql, (bounds[i], bounds[i + 1]))
            return cur.fetch_arrow_table().slice(1)

    if parts == 1:
        tables = [read(0)]
    else:
        with ThreadPoolExecutor(parts) as pool:
            tables = list(pool.map(read, range(parts)))
    table = pa.concat_tables(tables)
    columns: dict[str, Any] = {"rowid": table["rowid"],
                               "timestamp": table["ts"].cast(pa.timestamp("us", tz="UTC"))}
    for name in BOOLEANS:
        columns[name] = pc.equal(table[name], 1)
    for name in table.column_names[3 + len(BOOLEANS):]:
        columns[name] = pc.dictionary_encode(table[name]) if name in CATEGORIES else table[name]
    columns["model"] = pc.dictionary_encode(table["model"])
    mapper = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    df = pa.table(columns).to_pandas(types_mapper=mapper)
    df["rowid"] = df["rowid"].astype("int64")
    return _typed(df)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with the ledger's dtypes, in ledger column order."""
    for name in CATEGORIES:
        if df[name].dtype != "category":
            df[name] = df[name].astype("category")
        elif not df[name].cat.categories.is_monotonic_increasing:  # Arrow keeps first-seen order: sort
            df[name] = df[name].cat.reorder_categories(sorted(df[name].cat.categories))
    for name in STRINGS:
        if df[name].dtype != "str":
            df[name] = df[name].astype("str")
    for name in INTEGERS:
        df[name] = df[name].astype("Int64")
    for name in FLOATS:
        df[name] = df[name].astype("float64")
    for name in BOOLEANS:
        df[name] = df[name].astype("boolean")
    order = ["rowid", "id", "timestamp"] + [c for c in COLUMNS if c not in ("id", "ts", "content")]
    return df[order]


def _all_calls(ledger: CallsTable) -> pd.DataFrame:
    """Every call of a ledger as a typed DataFrame: through ADBC for a file ledger, else through sqlite3."""
    conn = ledger.connection
    try:
        if ledger.path != MEMORY:
            try:
                return _read_arrow(ledger.path, conn, ledger.read_uri)
            except ImportError:
                pass  # no ADBC driver or pyarrow: the portable path gives the same frame, only slower
            except Exception as exc:  # noqa: BLE001 - e.g. a value ADBC cannot type: the portable path is exact
                if not recovery.is_corrupt(exc):
                    warnings.warn(f"nbmessages: fast read of {ledger.path!r} failed ({exc}); reading through sqlite3",
                                  stacklevel=3)
        return _read_rows(conn)
    except sqlite3.DatabaseError as exc:
        if not recovery.is_corrupt(exc):
            raise
        rows, held = recovery.salvage(conn, f"SELECT {_row_sql()} FROM calls WHERE rowid BETWEEN ? AND ? ORDER BY rowid")
        warnings.warn(f"nbmessages: the usage ledger {ledger.path!r} is damaged ({exc}): it holds {held} rows and "
                      f"only {len(rows)} could be read; copy the file before it is written again (`sqlite3 FILE "
                      ".recover` may save more)", RuntimeWarning, stacklevel=3)
        return _read_rows(conn, rows)


def _utc(value: TimeLike) -> pd.Timestamp | None:
    """A bound of a time range as a UTC Timestamp (naive means UTC)."""
    import pandas as pd

    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _as_list(value: Any) -> list[Any] | None:
    """A filter value as a list (None stays None)."""
    return None if value is None else [value] if isinstance(value, str) else list(value)


def _tag_rowids(conn: sqlite3.Connection, tags: dict[str, Any]) -> list[int]:
    """Rowids of calls carrying all these tags."""
    where = " AND ".join("json_extract(tags, ?) = ?" for _ in tags)
    params = [p for k, v in tags.items() for p in (f'$."{k}"', str(v))]
    return [r[0] for r in conn.execute(f"SELECT rowid FROM calls WHERE tags IS NOT NULL AND {where}", params)]


def usage(
    ledger: CallsTable,
    since: TimeLike = None,
    until: TimeLike = None,
    model: str | list[str] | None = None,
    session: str | list[str] | None = None,
    chat: str | list[str] | None = None,
    tags: dict[str, Any] | None = None,
    content: bool = False,
    simulated: bool = False,
) -> pd.DataFrame:
    """A ledger's calls as a DataFrame, filtered by time range [since, until), model, session, chat or tags.

    Dtypes: UTC timestamps, nullable Int64 tokens, categorical model/provider/profile/outcome, float64 USD
    (NaN when the cost is unknown). ``model`` matches the answering or the requested model. The offline
    model's calls are not spending and are left out unless ``simulated=True``.
    """
    df = _all_calls(ledger)
    mask = None

    def both(m: Any) -> None:
        nonlocal mask
        mask = m if mask is None else mask & m

    if (lo := _utc(since)) is not None:
        both(df["timestamp"] >= lo)
    if (hi := _utc(until)) is not None:
        both(df["timestamp"] < hi)
    if (models := _as_list(model)) is not None:
        both(df["model"].isin(models) | df["model_requested"].isin(models))
    if (sessions := _as_list(session)) is not None:
        both(df["session_id"].isin(sessions))
    if (chats := _as_list(chat)) is not None:
        both(df["chat"].isin(chats))
    if tags:
        both(df["rowid"].isin(_tag_rowids(ledger.connection, tags)))
    if not simulated:
        both(~df["simulated"].fillna(False))  # NA (rows written before the flag) counts as real
    if mask is not None:
        df = df[mask.to_numpy(dtype=bool, na_value=False)]
    if content:
        df = df.assign(content=_contents(ledger.connection, df["rowid"].tolist()))
    return df.drop(columns="rowid").reset_index(drop=True)


def _contents(conn: sqlite3.Connection, rowids: list[int]) -> list[Any]:
    """The logged content (parsed JSON, None if not logged) of these calls."""
    found: dict[int, Any] = {}
    for start in range(0, len(rowids), 900):
        part = rowids[start : start + 900]
        marks = ", ".join("?" * len(part))
        for rid, text in conn.execute(f"SELECT rowid, content FROM calls WHERE rowid IN ({marks})", part):
            found[rid] = json.loads(text) if text else None
    return [found.get(r) for r in rowids]


# -- export and import -------------------------------------------------------------------------


def export_frame(ledger: CallsTable, path: Path) -> int:
    """Write all of a ledger's calls (content included) to .csv or .parquet; returns the row count."""
    df = usage(ledger=ledger)
    raw = ledger.connection.execute("SELECT model, content FROM calls ORDER BY rowid").fetchall()
    df["model"] = [m for m, _ in raw]  # as stored: None when no answer came
    df["content"] = [c for _, c in raw]
    df = df.astype({"model": "category", "content": "str"})
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(path, index=False)
    else:
        raise ValueError(f"export to .csv or .parquet, not {path.name!r}")
    return len(df)


def _plain(value: Any, kind: str) -> Any:
    """A cell of an exported frame as a plain Python value for SQLite (None for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is _NA():
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)


def _NA() -> Any:  # noqa: N802
    """pandas' NA singleton."""
    import pandas as pd

    return pd.NA


def read_export(path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of an exported ledger file, ready to insert."""
    import pandas as pd

    suffix = path.suffix.lower()
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]) if suffix == ".csv" else (
        pd.read_parquet(path)
    )
    if "timestamp" in df.columns:
        stamps = pd.to_datetime(df.pop("timestamp"), utc=True, format="ISO8601")
        df["ts"] = [to_micros(t.to_pydatetime()) for t in stamps]
    for name in BOOLEANS:
        if name in df.columns:
            df[name] = [None if pd.isna(v) else int(str(v).lower() in ("true", "1")) for v in df[name]]
    columns = [c for c in COLUMNS if c in df.columns]
    kinds = ["int" if c in INTEGERS + ("ts",) + BOOLEANS else "float" if c in FLOATS else "str" for c in columns]
    frame = df[columns].astype(object)
    rows = [tuple(_plain(v, k) for v, k in zip(row, kinds, strict=True)) for row in frame.itertuples(index=False)]
    return columns, rows


# -- summaries ---------------------------------------------------------------------------------


def _summary(df: pd.DataFrame, key: Any) -> pd.DataFrame:
    """Calls, errors, tokens, cost and cost per 1,000 output tokens per group."""
    frame = df.assign(
        error=(df["outcome"] != "ok").to_numpy(dtype=bool),
        # unpriced: tokens were used but no price is known (a call refused before any token costs nothing)
        unpriced=df["cost_usd"].isna() & (df[list(TOKEN_KINDS)].fillna(0).sum(axis=1) > 0).to_numpy(dtype=bool),
    )
    out = frame.groupby(key, observed=True, sort=True).agg(
        calls=("outcome", "size"),
        errors=("error", "sum"),
        input_tokens=("input_tokens", "sum"),
        cache_creation_tokens=("cache_creation_tokens", "sum"),
        cache_read_tokens=("cache_read_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        cost_usd=("cost_usd", lambda s: s.sum(min_count=1)),
        unpriced_calls=("unpriced", "sum"),
    )
    out["usd_per_1k_output"] = _per_1k(out["cost_usd"], out["output_tokens"])
    return out


def _per_1k(cost: pd.Series, output: pd.Series) -> pd.Series:
    """USD per 1,000 output tokens (NaN where there is no output)."""
    import numpy as np

    tokens = output.astype("float64").replace(0, np.nan)
    return cost / tokens * 1000


def by_model(df: pd.DataFrame) -> pd.DataFrame:
    """Calls, errors, tokens, cost and cost per 1,000 output tokens per model, most expensive first."""
    return _summary(df, "model").sort_values("cost_usd", ascending=False, na_position="last")


def by_day(df: pd.DataFrame) -> pd.DataFrame:
    """The same summary per UTC day."""
    return _summary(df, df["timestamp"].dt.floor("D").rename("day"))


def by_session(df: pd.DataFrame) -> pd.DataFrame:
    """The same summary per session_id."""
    return _summary(df, "session_id")


def by_chat(df: pd.DataFrame) -> pd.DataFrame:
    """The same summary per chat name."""
    return _summary(df, "chat")


def by_tag(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The same summary per value of one tag, e.g. ``by_tag(usage(), "map")``: spend per ``nbmessages.map`` run."""
    values = df["tags"].map(lambda text: _tag(text, name)).astype("string").rename(name)
    return _summary(df, values)


def _tag(text: Any, name: str) -> Any:
    """One tag's value from a call's tags (JSON text), or None."""
    if not isinstance(text, str) or not text.startswith("{"):
        return None
    return json.loads(text).get(name)


def cost_per_1k_output(df: pd.DataFrame) -> pd.Series:
    """USD per 1,000 output tokens per model."""
    return by_model(df)["usd_per_1k_output"]


def cache_savings(df: pd.DataFrame) -> pd.DataFrame:
    """Per model: what cache reads saved against the full input price, the cache-write premium, and the net (USD)."""
    import pandas as pd

    rows = []
    keys = df.groupby(["model", "profile", "base_host"], observed=True, dropna=False)
    for (model, profile, host), part in keys[["cache_read_tokens", "cache_creation_tokens"]]:
        p = prices.unit_prices(str(model), prices.provider_id(_str(profile), _str(host)))
        read, write = int(part["cache_read_tokens"].sum()), int(part["cache_creation_tokens"].sum())
        saved = premium = math.nan
        if p is not None and p.input is not None:
            saved = read * (p.input - (p.cache_read if p.cache_read is not None else p.input)) / 1e6
            premium = write * ((p.cache_write if p.cache_write is not None else p.input) - p.input) / 1e6
        rows.append({"model": model, "cache_read_tokens": read, "cache_creation_tokens": write,
                     "read_savings_usd": saved, "write_premium_usd": premium})
    out = pd.DataFrame(rows, columns=["model", "cache_read_tokens", "cache_creation_tokens",
                                      "read_savings_usd", "write_premium_usd"])
    out = out.groupby("model", sort=True).sum(min_count=1)
    out["net_savings_usd"] = out["read_savings_usd"] - out["write_premium_usd"]
    return out


def _str(value: Any) -> str | None:
    """A category value as str (None for missing)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def latency(df: pd.DataFrame, by: str | None = "model") -> pd.DataFrame:
    """p50 / p90 / p99 of duration and time to first token (seconds), per group or overall."""
    cols = df[["duration", "ttft"]]
    groups = cols.groupby(df[by], observed=True) if by else cols
    q = groups.quantile([0.5, 0.9, 0.99])
    if by:
        q = q.unstack()
    else:
        q = q.unstack().to_frame().T
    q.columns = [f"{name}_p{int(round(p * 100))}" for name, p in q.columns]
    return q


# -- plots -------------------------------------------------------------------------------------


def _axes(ax: Axes | None) -> Axes:
    """The given Axes or a new figure's."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(8, 4))[1]


def plot_spend(df: pd.DataFrame, freq: str = "D", ax: Axes | None = None) -> Axes:
    """Spend per period (bars, each over its period) and cumulative spend (line), in USD."""
    import matplotlib.dates as mdates
    import pandas as pd

    ax = _axes(ax)
    spend = df.set_index("timestamp")["cost_usd"].resample(freq).sum()
    period = pd.Timedelta(days=_period_days(freq))
    ax.bar(spend.index, spend.to_numpy(), width=0.8 * period / pd.Timedelta(days=1), align="edge",
           label=f"spend per {_PERIODS.get(freq, freq)}")
    ax.plot(spend.index + 0.4 * period, spend.cumsum().to_numpy(), color="C1", marker=".", label="cumulative")
    if len(spend) == 1:  # a lone bar: show the periods around it, not a zoom into one
        ax.set_xlim(spend.index[0] - period, spend.index[0] + 2 * period)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set(ylabel="USD", title="Spend over time")
    ax.legend(loc="upper left")
    return ax


_PERIODS = {"D": "day", "h": "hour", "min": "minute", "W": "week"}


def _period_days(freq: str) -> float:
    """A pandas frequency's length in days (for bar widths)."""
    import pandas as pd

    offset = pd.tseries.frequencies.to_offset(freq)
    base = offset.rollback(pd.Timestamp("2000-01-03"))  # anchored offsets (W, MS) measure from a date on them
    return float((base + offset - base) / pd.Timedelta(days=1))


def plot_by_model(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Spend per model (horizontal bars), in USD."""
    ax = _axes(ax)
    cost = by_model(df)["cost_usd"].fillna(0).sort_values()
    cost.plot.barh(ax=ax, color="C0")
    ax.set(xlabel="USD", ylabel="", title="Spend by model")
    return ax


def plot_tokens(df: pd.DataFrame, by: str = "model", ax: Axes | None = None) -> Axes:
    """Tokens by kind (uncached input, cache write, cache read, output), stacked per group."""
    ax = _axes(ax)
    sums = df.groupby(by, observed=True)[list(TOKEN_KINDS)].sum().rename(columns=TOKEN_KINDS)
    sums.astype("float64").plot.barh(ax=ax, stacked=True)
    ax.set(xlabel="tokens", ylabel="", title="Tokens by kind")
    return ax


def now_utc() -> datetime:
    """The current UTC time (handy for usage(since=...))."""
    return datetime.now(timezone.utc)
