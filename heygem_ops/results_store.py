"""The results dataset: one Parquet row per job attempt, under ``OUT_DIR/_results/``.

Layout and guarantees:

- The schema is declared once, here (`SCHEMA`), derived from the fields of `JobResult`; adding a
  field there adds a column, and older files simply read as null in it.
- `ResultsStore.append` writes each flush as a NEW file ``part-<utc time>-<random>.parquet``: first
  under a hidden temporary name, fsynced, then renamed. Nothing ever rewrites an old file, so many
  processes can append at once without locks, and a crash loses at most the rows not yet flushed.
- Readers list only ``part-*.parquet``; a half-written ``.part-*.tmp`` left by a crash is invisible.
- The *latest view* keeps one row per job_id: its newest real attempt by finished_at. A "skipped"
  row (a rerun that found the job done) never hides the attempt that actually ran.
- Small datasets are read with pyarrow into pandas; above `DASK_THRESHOLD_BYTES` on disk, the same
  reads run as a Dask DataFrame, one partition per ~`PARTITION_BYTES` of files, so a dataset larger
  than memory is streamed rather than loaded.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from heygem_ops.atomic import atomic_output, fsync_path
from heygem_ops.hashing import file_digest
from heygem_ops.results import WALL_COLUMNS, WORKER_COLUMNS, JobResult, utc_now

RESULTS_DIRNAME = "_results"  # under the output folder; the leading underscore keeps it apart from outputs
PART_PREFIX, PART_SUFFIX = "part-", ".parquet"
DASK_THRESHOLD_BYTES = 256 * 2**20  # on-disk Parquet above which reads go through Dask (see `frame`)
PARTITION_BYTES = 32 * 2**20  # on-disk Parquet per Dask partition: ~100-300 MiB once in pandas

# index = tie-break rank in `attempt_key`
STATUSES = ("unknown", "running", "failed", "skipped", "succeeded", "deleted")
_KEY_REAL = 10**17  # `attempt_key` layout: real-attempt flag · microseconds since 1970 · status code
_EPOCH = pd.Timestamp(0, tz="UTC")

_ARROW_TYPES: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}  # nullable even when empty


def _build_schema() -> pa.Schema:
    """One column per `JobResult` field, in `as_row` order: the seconds tables become trailing float columns,
    `<stage>_s` (wall) then `<stage>_worker_s` (summed worker seconds).

    Fails at import when someone adds a field of a type Parquet has no mapping for here, so the
    dataset can never silently drop a column.
    """
    hints = typing.get_type_hints(JobResult)
    columns = []
    for field in dataclasses.fields(JobResult):
        if field.name in ("stage_seconds", "worker_seconds"):
            continue
        hint = hints[field.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) != 1 or inner[0] not in _ARROW_TYPES:
            raise TypeError(f"JobResult.{field.name}: no Parquet type for {hint}; extend _ARROW_TYPES")
        columns.append(pa.field(field.name, _ARROW_TYPES[inner[0]], nullable=len(args) > 1))
    columns += [pa.field(column, pa.float64()) for column in (*WALL_COLUMNS.values(), *WORKER_COLUMNS.values())]
    return pa.schema(columns, metadata={"heygem.schema": "1"})


SCHEMA: pa.Schema = _build_schema()


def to_table(rows: Sequence[JobResult]) -> pa.Table:
    """Rows as an Arrow table of `SCHEMA`; a succeeded row without `output_bytes` gets the file's size now."""
    flat = []
    for result in rows:
        row = result.as_row()
        if row["status"] == "succeeded" and row["output_bytes"] is None and os.path.isfile(row["output"]):
            row["output_bytes"] = os.path.getsize(row["output"])
        flat.append(row)
    return pa.Table.from_pylist(flat, schema=SCHEMA)


def read_files(files: Sequence[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read result files into pandas with `SCHEMA`'s dtypes (columns an older file lacks read as null)."""
    dataset = ds.dataset(list(files), schema=SCHEMA, format="parquet")
    table = dataset.to_table(columns=list(columns) if columns is not None else None)
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get)


def empty_frame(columns: Sequence[str] | None = None) -> pd.DataFrame:
    """No rows, but the columns and dtypes `read_files` gives: the shape every reader returns."""
    return SCHEMA.empty_table().select(list(columns or SCHEMA.names)).to_pandas(types_mapper=_PANDAS_TYPES.get)


def attempt_key(frame: pd.DataFrame) -> pd.Series:
    """An int64 that orders a job's attempts, largest = the one the latest view keeps.

    Packs (real attempt, finished_at in µs, status rank) into one number so "latest per job" is a
    plain groupby-max, which Dask computes as a tree reduction without a shuffle. Needs the columns
    status, started_at and finished_at (started_at stands in for a missing finished_at).
    """
    when = frame["finished_at"].fillna(frame["started_at"])
    micros = ((when - _EPOCH) // pd.Timedelta(1, "us")).fillna(0).astype("int64")
    rank = frame["status"].map({name: code for code, name in enumerate(STATUSES)}).fillna(0).astype("int64")
    real = (~frame["status"].isin(["skipped"])).astype("int64")
    return real * _KEY_REAL + micros * 10 + rank


def status_of_key(keys: pd.Series) -> pd.Series:
    """The status each `attempt_key` encodes."""
    return (keys % 10).map(dict(enumerate(STATUSES)))


KEY_COLUMNS = ("job_id", "status", "started_at", "finished_at")


class ResultsStore:
    """The results dataset of one output folder: append attempts, read the latest view."""

    SCHEMA = SCHEMA

    def __init__(self, out_dir: str | Path, *, dask_threshold_bytes: int = DASK_THRESHOLD_BYTES) -> None:
        self.out_dir = Path(out_dir).expanduser().resolve()
        self.folder = self.out_dir / RESULTS_DIRNAME
        self.dask_threshold_bytes = dask_threshold_bytes

    def append(self, rows: Iterable[JobResult]) -> Path | None:
        """Write `rows` as one new file; return its path (None when there was nothing to write).

        Temp name, fsync, rename, fsync the folder: the file appears whole or not at all, and it is
        on disk before this returns. Call it per finished job or per small batch: each call is one file.
        """
        rows = list(rows)
        if not rows:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{PART_PREFIX}{utc_now():%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}{PART_SUFFIX}"
        final = self.folder / name
        with atomic_output(final) as temporary:
            pq.write_table(to_table(rows), temporary, compression="zstd")
        fsync_path(self.folder)
        return final

    def files(self) -> list[Path]:
        """The complete result files, oldest first (names start with their UTC write time)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob(f"{PART_PREFIX}*{PART_SUFFIX}") if p.is_file())

    def uses_dask(self, files: Sequence[Path]) -> bool:
        """Whether reads of `files` go through Dask: their on-disk size is over the threshold."""
        return sum(p.stat().st_size for p in files) > self.dask_threshold_bytes

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame | dd.DataFrame:
        """All attempts: a pandas DataFrame, or a lazy Dask one when the dataset is over the threshold.

        Dask reads through `dd.from_map` over groups of files rather than `dd.read_parquet`: the
        latter rejects files that predate a newly added column, and would make one partition per
        tiny flush file. Under the threshold pandas is used, which is 10-30x faster in memory.
        """
        files = self.files()
        names = [str(p) for p in files]
        if not self.uses_dask(files):
            return read_files(names, columns) if files else empty_frame(columns)
        meta = empty_frame(columns)
        return dd.from_map(read_files, _size_groups(files), columns=columns, meta=meta, label="heygem-results")

    def latest(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per job_id: its latest real attempt (see `attempt_key`), in pandas."""
        wanted = list(columns or SCHEMA.names)
        frame = self.frame(list(dict.fromkeys([*wanted, *KEY_COLUMNS])))
        if isinstance(frame, dd.DataFrame):  # Dask turns strings into its own dtype: give back read_files'
            dtypes = empty_frame(list(frame.columns)).dtypes
            frame = latest_rows(frame, latest_keys(frame).compute()).compute().astype(dtypes)
        rows = latest_rows(frame, latest_keys(frame))
        return rows[wanted].reset_index(drop=True)

    def succeeded(self, verify: bool = False) -> dict[str, Path]:
        """job_id → output of every job whose latest attempt succeeded and whose output is still whole.

        Whole means: the file exists, is not empty and has the recorded size; with `verify`, also
        its content hash equals the recorded output_hash (reads every output: slow for big runs).
        """
        rows = self.latest(["job_id", "status", "output", "output_hash", "output_bytes"])
        rows = rows[rows["status"] == "succeeded"]
        done = {}
        for row in rows.itertuples(index=False):
            path = self.out_dir / row.output  # an absolute output stays as it is
            size = None if pd.isna(row.output_bytes) else int(row.output_bytes)
            if _is_whole(path, size, row.output_hash if verify else None):
                done[row.job_id] = path
        return done

    def succeeded_ids(self, verify: bool = False) -> set[str]:
        """The job ids a rerun may skip (see `succeeded`)."""
        return set(self.succeeded(verify))


def latest_keys(frame: pd.DataFrame | dd.DataFrame) -> pd.Series | dd.Series:
    """job_id → the `attempt_key` of its latest attempt (lazy on Dask)."""
    keyed = frame[list(KEY_COLUMNS)]
    keyed = keyed.map_partitions(_add_key) if isinstance(keyed, dd.DataFrame) else _add_key(keyed)
    return keyed.groupby("job_id")["key"].max()


def latest_rows(frame: pd.DataFrame | dd.DataFrame, keys: pd.Series) -> pd.DataFrame | dd.DataFrame:
    """The rows of `frame` that are their job's latest attempt, given computed `keys` from `latest_keys`.

    On Dask each partition is filtered against the in-memory `keys` (a broadcast semi-join), so
    no shuffle is needed; a row appended twice may then survive once per partition holding it.
    """
    if isinstance(frame, dd.DataFrame):
        return frame.map_partitions(_keep_latest, keys)
    return _keep_latest(frame, keys)


def _add_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(key=attempt_key(frame))


def _keep_latest(frame: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """Rows whose key equals their job's best key; a row appended twice is kept once."""
    best = keys.reindex(frame["job_id"]).to_numpy()
    chosen = frame[attempt_key(frame).to_numpy() == best]
    return chosen.drop_duplicates(subset=["job_id"])


def _is_whole(path: Path, size: int | None, digest: str | None) -> bool:
    """Whether `path` is a non-empty file of the recorded size (and content hash, when given)."""
    try:
        actual = path.stat().st_size
    except OSError:
        return False
    if actual == 0 or (size is not None and actual != size):
        return False
    return digest is None or file_digest(path) == digest


def _size_groups(files: Sequence[Path]) -> list[list[str]]:
    """Consecutive files batched up to `PARTITION_BYTES` each: one Dask partition per batch."""
    groups: list[list[str]] = [[]]
    filled = 0
    for path in files:
        size = path.stat().st_size
        if groups[-1] and filled + size > PARTITION_BYTES:
            groups.append([])
            filled = 0
        groups[-1].append(str(path))
        filled += size
    return groups
