"""The production warehouse: BigQuery, through google-cloud-bigquery.

Parquet shards on GCS load with load jobs (gs:// URIs). A job's tables are published together:
every raw table is loaded and un-enumerated into staging tables first (the slow part, where
things fail), then one multi-statement transaction replaces the contents of all the job's
tables from them (BigQuery's transactions take DML, not DDL), and the staging tables are
dropped. An incremental run published by delta replaces only its recomputed and removed nodes'
rows in that transaction (DELETE of those node ids, INSERT of the staged rows). Every job
carries the deployment's labels. BIGQUERY_EMULATOR_HOST points the client at an emulator
(anonymous).
"""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from gnn_assets import storage
from gnn_assets.warehouse.protocol import CandidateQuality, EmbeddingQuality, LinkTableReplacement, LinkTableReport, MappingLoad, TableReplacement, UnenumerationGaps, UnenumerationReport
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.tables import qualified_bigquery_table, validate_identifier

EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"
_EXAMPLES = 5
_MAPPING_FIELDS = ("mapping_table", "src_mapping_table", "dst_mapping_table")  # of the replacements, staged with them


def _field(field: pa.Field) -> bigquery.SchemaField:
    if pa.types.is_list(field.type):
        return bigquery.SchemaField(field.name, "FLOAT64" if pa.types.is_floating(field.type.value_type) else "INT64", "REPEATED")
    kind = "STRING" if pa.types.is_string(field.type) else "FLOAT64" if pa.types.is_floating(field.type) else "INT64"
    return bigquery.SchemaField(field.name, kind, "NULLABLE" if field.nullable else "REQUIRED")


def bigquery_client(project: str, location: str | None) -> bigquery.Client:
    emulator = os.environ.get(EMULATOR_ENV)
    if emulator:
        return bigquery.Client(
            project=project, location=location, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=emulator)
        )
    return bigquery.Client(project=project, location=location)


class BigQueryWarehouse:
    @classmethod
    def from_resources(cls, resources: Resources) -> "BigQueryWarehouse":
        bq = resources.proto.bigquery
        return cls(bq.project, bq.dataset, bq.location, dict(bq.labels))

    def __init__(self, project: str, dataset: str, location: str | None = None, labels: dict[str, str] | None = None, client=None):
        self.project, self.dataset, self.location = project, dataset, location or None
        self.labels = dict(labels or {})
        self.client = client or bigquery_client(project, self.location)
        self._dataset_ready = False

    def _name(self, table: str) -> str:
        return qualified_bigquery_table(self.project, self.dataset, table)

    def _q(self, table: str) -> str:
        return f"`{self._name(table)}`"

    def _ensure_dataset(self) -> None:
        if not self._dataset_ready:
            dataset = bigquery.Dataset(f"{self.project}.{self.dataset}")
            if self.location:
                dataset.location = self.location
            self.client.create_dataset(dataset, exists_ok=True)
            self._dataset_ready = True

    def _job(self, sql: str, params: dict[str, str | int] | None):
        parameters = [bigquery.ScalarQueryParameter(k, "INT64" if isinstance(v, int) else "STRING", v) for k, v in (params or {}).items()]
        return self.client.query(sql, job_config=bigquery.QueryJobConfig(labels=self.labels, query_parameters=parameters))

    def query(self, sql: str, params: dict[str, str | int] | None = None) -> list[tuple]:
        """The rows of a query (small results: counts, examples); params as @name."""
        return [tuple(row.values()) for row in self._job(sql, params).result()]


    def query_batches(self, sql: str, params: dict[str, str | int] | None = None, page_rows: int = 65_536):
        """A query's result as Arrow record batches, one page at a time, in the query's order
        (ORDER BY is kept page by page): memory holds a page, not the result."""
        yield from self._job(sql, params).result(page_size=page_rows).to_arrow_iterable()

    def table_columns(self, table: str) -> dict[str, str]:
        """The columns of a fully qualified table (project.dataset.table), each with its type."""
        return {f.name: f.field_type for f in self.client.get_table(table).schema}

    def scratch_table(self, name: str) -> str:
        """A table of this deployment's dataset, quoted, for work that is dropped after it (drop_table)."""
        self._ensure_dataset()
        return self._q(validate_identifier(name))

    def drop_table(self, quoted: str) -> None:
        self.client.delete_table(quoted.strip("`"), not_found_ok=True)

    def load_parquet(self, table: str, uris: list[str], schema: pa.Schema) -> int:
        name, config = self._load_target(table, schema)
        remote = [u for u in uris if u.startswith("gs://")]
        if uris and len(remote) == len(uris):
            self.client.load_table_from_uri(uris, name, job_config=config).result()
        elif uris:
            # Local files (a local storage root): upload them, the first replacing the table.
            for i, uri in enumerate(uris):
                config.write_disposition = bigquery.WriteDisposition.WRITE_TRUNCATE if i == 0 else bigquery.WriteDisposition.WRITE_APPEND
                self.client.load_table_from_file(io.BytesIO(storage.read_bytes(uri)), name, job_config=config).result()
        else:
            self.query(f"TRUNCATE TABLE {self._q(table)}")
        return self.row_count(table)

    def _load_target(self, table: str, schema: pa.Schema) -> tuple[str, bigquery.LoadJobConfig]:
        """The table (created, empty, where it is not yet) and a load job's config that replaces its rows."""
        name = self._name(table)
        self._ensure_dataset()
        bq_schema = [_field(f) for f in schema]
        # Created up front: real BigQuery would create it in the load, the emulator does not.
        self.client.create_table(bigquery.Table(name, schema=bq_schema), exists_ok=True)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            schema=bq_schema,
            labels=self.labels,
        )
        config.parquet_options = bigquery.ParquetOptions()
        config.parquet_options.enable_list_inference = True
        return name, config

    def ensure_writable(self) -> None:
        """BigQuery has no lock to wait for: its jobs queue and transactions conflict at commit."""

    def load_mappings(self, loads: list[MappingLoad]) -> dict[str, int]:
        return {m.table: self.load_parquet(m.table, m.files, m.schema) for m in loads}

    # An incremental run's rows replace its nodes' rows (and its removed nodes' rows go) in the
    # publishing transaction: DML that reads the table's node_id column and rewrites the storage
    # blocks holding those rows, not a load of every row.
    publishes_deltas = True

    def publish_job_tables(
        self, replacements: list[TableReplacement], mappings: list[MappingLoad] = (), check: Callable[[], None] | None = None
    ) -> dict[str, UnenumerationReport]:
        def stage(r: TableReplacement, raw_stage: str, out_stage: str, removed_stage: str | None) -> UnenumerationReport:
            onto = None if removed_stage is None else (r.output_table, removed_stage)
            report = self._unenumerate(raw_stage, r.mapping_table, out_stage, r.value_column, onto)
            report.output_table = self._name(r.output_table)
            return report

        return self._publish_staged(replacements, stage, mappings, check)

    def publish_link_tables(
        self, replacements: list[LinkTableReplacement], mappings: list[MappingLoad] = (), check: Callable[[], None] | None = None
    ) -> dict[str, LinkTableReport]:
        def stage(r: LinkTableReplacement, raw_stage: str, out_stage: str, _removed_stage: None) -> LinkTableReport:
            self.query(
                f"""
                CREATE OR REPLACE TABLE {self._q(out_stage)} AS
                SELECT CAST(s.node_id AS STRING) AS src_node_id, CAST(d.node_id AS STRING) AS dst_node_id,
                       {", ".join(f"r.{validate_identifier(c)}" for c in r.value_columns)}
                FROM {self._q(raw_stage)} r
                JOIN {self._q(r.src_mapping_table)} s ON s.int_id = r.src_node_id
                JOIN {self._q(r.dst_mapping_table)} d ON d.int_id = r.dst_node_id
                """
            )
            raw_rows, output_rows = self.row_count(raw_stage), self.row_count(out_stage)
            return LinkTableReport(self._name(r.output_table), raw_rows, output_rows, raw_rows - output_rows)

        return self._publish_staged(replacements, stage, mappings, check)

    def candidate_quality(self, table: str) -> CandidateQuality:
        row = self.query(
            f"""
            SELECT COALESCE(SUM(c), 0) AS n, COUNT(*) AS sources, MIN(c) AS lo, MAX(c) AS hi, COALESCE(SUM(same), 0) AS same
            FROM (SELECT COUNT(*) AS c, COUNTIF(src_node_id = dst_node_id) AS same FROM {self._q(table)} GROUP BY src_node_id)
            """
        )[0]
        return CandidateQuality(*row)

    def _publish_staged(self, replacements, stage, mappings: list[MappingLoad], check: Callable[[], None] | None) -> dict:
        """Load the mappings and each raw table and build its output into staging tables
        (stage(r, raw, out, removed), joined with the staged mappings), then, once check() passes,
        replace every final table from them in one transaction (a replacement with
        removed_node_ids replaces only its rows' and the removed nodes' rows of its output
        table); staging tables are dropped."""
        token = uuid.uuid4().hex[:8]
        staged: list[tuple[str, str, str | None]] = []  # (staging table, final table, its removed ids' staging table or None: all rows)
        scratch: list[str] = []
        reports = {}
        try:
            renamed = {}
            for m in mappings:
                renamed[m.table] = f"{m.table}_stage_{token}"
                staged.append((renamed[m.table], m.table, None))
                self.load_parquet(renamed[m.table], m.files, m.schema)
            for r in replacements:
                r = dataclasses.replace(r, **{f: renamed[getattr(r, f)] for f in _MAPPING_FIELDS if getattr(r, f, None) in renamed})
                raw_stage, out_stage = f"{r.raw_table}_stage_{token}", f"{r.output_table}_stage_{token}"
                removed = getattr(r, "removed_node_ids", None)
                removed_stage = None if removed is None else f"{r.output_table}_removed_{token}"
                staged += [(raw_stage, r.raw_table, None), (out_stage, r.output_table, removed_stage)]
                if removed_stage is not None:
                    scratch.append(removed_stage)
                    self._load_table(removed_stage, pa.table({"node_id": pa.array(removed, pa.string())}))
                self.load_parquet(raw_stage, r.files, r.schema)
                reports[r.output_table] = stage(r, raw_stage, out_stage, removed_stage)
            statements = []
            for stage_table, final, removed_stage in staged:
                final_q, stage_q = self._q(final), self._q(stage_table)
                self.client.create_table(bigquery.Table(self._name(final), schema=self.client.get_table(self._name(stage_table)).schema), exists_ok=True)
                if removed_stage is None:
                    statements.append(f"DELETE FROM {final_q} WHERE TRUE;")
                else:
                    statements.append(
                        f"DELETE FROM {final_q} WHERE node_id IN (SELECT node_id FROM {stage_q}) "
                        f"OR node_id IN (SELECT node_id FROM {self._q(removed_stage)});"
                    )
                statements.append(f"INSERT INTO {final_q} SELECT * FROM {stage_q};")
            if check is not None:
                check()
            self.query("BEGIN TRANSACTION;\n" + "\n".join(statements) + "\nCOMMIT TRANSACTION;")
        finally:
            for table in [*(t for t, _, _ in staged), *scratch]:
                self.client.delete_table(self._name(table), not_found_ok=True)
        return reports

    def _load_table(self, table: str, rows: pa.Table) -> None:
        """Replace a table with an Arrow table's rows (uploaded as Parquet)."""
        buffer = io.BytesIO()
        pq.write_table(rows, buffer)
        buffer.seek(0)
        name, config = self._load_target(table, rows.schema)
        self.client.load_table_from_file(buffer, name, job_config=config).result()

    def _unenumerate(
        self, raw_table: str, mapping_table: str, output_table: str, value_column: str, onto: tuple[str, str] | None = None
    ) -> UnenumerationReport:
        """output_table: the raw rows, one per id, joined with the mapping. onto (a published
        table, the staging table of its removed ids): output_table is a delta for it, and the
        report counts the rows it will hold once the delta is applied."""
        raw, mapping, out = self._q(raw_table), self._q(mapping_table), self._q(output_table)
        value = validate_identifier(value_column)
        # One row per id, chosen by the value's JSON text (BigQuery cannot order arrays).
        self.query(
            f"""
            CREATE OR REPLACE TABLE {out} AS
            WITH one_per_id AS (
                SELECT node_id AS int_id, {value}
                FROM {raw}
                WHERE TRUE
                QUALIFY ROW_NUMBER() OVER (PARTITION BY node_id ORDER BY TO_JSON_STRING({value})) = 1
            )
            SELECT CAST(m.node_id AS STRING) AS node_id, r.{value}
            FROM one_per_id r JOIN {mapping} m ON m.int_id = r.int_id
            """
        )
        (raw_rows,) = self.query(f"SELECT COUNT(*) FROM {raw}")[0]
        (output_rows,) = self.query(f"SELECT COUNT(*) FROM {out}")[0]
        dup_ids, dup_rows = self.query(
            f"SELECT COUNT(*) AS ids, COALESCE(SUM(c - 1), 0) AS extra FROM (SELECT COUNT(*) AS c FROM {raw} GROUP BY node_id) WHERE c > 1"
        )[0]
        if onto is None:
            gaps = self.unenumeration_gaps(raw_table, mapping_table)
        else:
            published, removed = (self._q(t) for t in onto)
            (kept,) = self.query(
                f"SELECT COUNT(*) FROM {published} WHERE node_id NOT IN (SELECT node_id FROM {out}) "
                f"AND node_id NOT IN (SELECT node_id FROM {removed})"
            )[0]
            output_rows = kept + output_rows
            (nodes,) = self.query(f"SELECT COUNT(*) FROM {mapping}")[0]
            unmapped = self.unenumeration_gaps(raw_table, mapping_table, missing=False)
            gaps = dataclasses.replace(unmapped, missing_nodes=max(0, nodes - output_rows))
        return UnenumerationReport.from_counts(self._name(output_table), raw_rows, output_rows, dup_ids, dup_rows, gaps)

    def unenumeration_gaps(self, raw_table: str, mapping_table: str, missing: bool = True) -> UnenumerationGaps:
        """Raw ids without a mapping row, and (missing) mapped nodes without a raw row."""
        raw, mapping = self._q(raw_table), self._q(mapping_table)
        unmapped = f"SELECT DISTINCT r.node_id AS id FROM {raw} r LEFT JOIN {mapping} m ON m.int_id = r.node_id WHERE m.int_id IS NULL"
        without = f"SELECT m.node_id AS id FROM {mapping} m LEFT JOIN (SELECT DISTINCT node_id FROM {raw}) r ON r.node_id = m.int_id WHERE r.node_id IS NULL"
        return UnenumerationGaps(
            unmapped_ids=self.query(f"SELECT COUNT(*) FROM ({unmapped})")[0][0],
            missing_nodes=self.query(f"SELECT COUNT(*) FROM ({without})")[0][0] if missing else 0,
            unmapped_examples=[r[0] for r in self.query(f"{unmapped} ORDER BY id LIMIT {_EXAMPLES}")],
            missing_examples=[r[0] for r in self.query(f"{without} ORDER BY id LIMIT {_EXAMPLES}")] if missing else [],
        )

    def embedding_quality(self, table: str, column: str = "emb") -> EmbeddingQuality:
        col = validate_identifier(column)
        rows, null_ids, non_finite, min_dim, max_dim = self.query(
            f"""
            SELECT COUNT(*) AS n,
                   COUNTIF(node_id IS NULL) AS null_ids,
                   COUNTIF(EXISTS(SELECT 1 FROM UNNEST({col}) AS v WHERE IS_NAN(v) OR IS_INF(v))) AS non_finite,
                   MIN(ARRAY_LENGTH({col})) AS min_dim,
                   MAX(ARRAY_LENGTH({col})) AS max_dim
            FROM {self._q(table)}
            """
        )[0]
        return EmbeddingQuality(rows, null_ids, non_finite, min_dim, max_dim)

    def row_count(self, table: str) -> int:
        return self.query(f"SELECT COUNT(*) FROM {self._q(table)}")[0][0]

    def read_table(self, table: str, limit: int | None = None) -> pa.Table:
        sql = f"SELECT * FROM {self._q(table)}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        job = self.client.query(sql, job_config=bigquery.QueryJobConfig(labels=self.labels))
        rows = [dict(r) for r in job.result()]
        return pa.Table.from_pylist(rows)
