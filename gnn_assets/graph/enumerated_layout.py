"""The enumerated graph's files: where each lies and the keys they are named by.

One layout that every reader uses (the sampler, the layer-wise engines, the trainer, the
server, the candidates job) and the enumeration writes, under <graph>/enumerated/:
  graph_metadata.yaml                      node and edge types
  nodes_<type>.parquet                     features and labels, row i for int id i
  features_<type>.f32                      the same features as float32 rows, to map (local only: feature_rows.py)
  node_id_mapping_<type>.parquet           node_id (original) -> int_id
  edges_<src>-<relation>-<dst>.parquet     src, dst in int ids, in (src, dst) order
  out_edges_<src>-<relation>-<dst>.*.i64   the same edges by source, to look up (out_edges.py)
  enumeration.json                         this enumeration's id, new each time the graph is enumerated

Every output derived from the int ids (samples, committed runs, kept states) records the
enumeration id it read, so that it is never published against another enumeration's mapping.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.yaml_proto import load_yaml
from gnn_assets.errors import UserError
from gnn_assets.graph.labels import labelled, read_labels
from gnn_assets.graph.source import GraphSourceError
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata

EdgeTypeKey = tuple[str, str, str]


MAPPING_SCHEMA = pa.schema([pa.field("node_id", pa.string(), nullable=False), pa.field("int_id", pa.int64(), nullable=False)])


def edge_type_name(key: EdgeTypeKey) -> str:
    """'src-relation-dst': one name per edge type, safe in file names ('-' is in no type name)."""
    return "-".join(key)


def keyed_edges_uri(directory: str, key: EdgeTypeKey) -> str:
    """Where the enumeration writes one edge type's edges."""
    return storage.join(directory, f"edges_{edge_type_name(key)}.parquet")


def edges_uri(directory: str, key: EdgeTypeKey) -> str:
    """The enumerated edges of one type (under the relation's name alone, if enumerated before
    edge types were keyed by their ends)."""
    uri = keyed_edges_uri(directory, key)
    return uri if storage.exists(uri) else storage.join(directory, f"edges_{key[1]}.parquet")


def nodes_uri(directory: str, node_type: str) -> str:
    """Features and labels of one node type, row i for int id i."""
    return storage.join(directory, f"nodes_{node_type}.parquet")


def mapping_uri(directory: str, node_type: str) -> str:
    return storage.join(directory, f"node_id_mapping_{node_type}.parquet")


def read_graph_metadata(directory: str) -> GraphMetadata:
    """The node and edge types of an enumerated graph."""
    metadata_uri = storage.join(directory, "graph_metadata.yaml")
    if not storage.exists(metadata_uri):
        raise GraphSourceError(f"{directory}: the graph has not been enumerated yet (graph_metadata.yaml is missing)")
    return load_yaml(metadata_uri, GraphMetadata())


ENUMERATION_RECORD = "enumeration.json"


class EnumerationChanged(UserError, RuntimeError):
    """Output computed on one enumeration of a graph met another (the graph was enumerated again)."""


def write_enumeration_id(directory: str) -> str:
    """Give a newly enumerated graph (its staging folder, before it replaces the last) a new id."""
    enumeration_id = uuid.uuid4().hex
    storage.write_text(storage.join(directory, ENUMERATION_RECORD), json.dumps({"enumeration_id": enumeration_id}))
    return enumeration_id


def enumeration_id(directory: str) -> str:
    """The id of the graph's current enumeration ("" for a graph enumerated before ids were recorded)."""
    uri = storage.join(directory, ENUMERATION_RECORD)
    if not storage.exists(uri):
        return ""
    try:
        value = json.loads(storage.read_text(uri))["enumeration_id"]
        if not isinstance(value, str):
            raise TypeError("not a string")
    except (ValueError, KeyError, TypeError) as error:
        raise GraphSourceError(f"{uri}: not an enumeration record ({error}); enumerate the graph again") from error
    return value


def check_enumeration(directory: str, expected: str, what: str, remedy: str = "run the job again") -> None:
    """Refuse (one line) output computed on another enumeration than the graph's current one:
    its int ids name other nodes now."""
    current = enumeration_id(directory)
    if current != expected:
        raise EnumerationChanged(
            f"{what} was computed on enumeration {expected or '(none recorded)'} of {directory}, but the graph is now "
            f"enumeration {current or '(none recorded)'}: its int ids name other nodes; {remedy}"
        )


def read_column(uri: str, column: str) -> pa.ChunkedArray:
    """One column of an enumerated graph's file (streamed from storage, not read into bytes first)."""
    with storage.open_read(uri) as stream:
        return pq.read_table(stream, columns=[column])[column]


def labels_by_original_id(directory: str, node_type: str) -> tuple[list[str], np.ndarray]:
    """The labelled nodes of one type: (original ids, labels), from the enumerated files (for
    checks that hold a node type's labels; any source format enumerates to these files)."""
    labels = read_labels(read_column(nodes_uri(directory, node_type), "label"))
    ids = read_column(mapping_uri(directory, node_type), "node_id")  # row i: int id i
    rows = np.flatnonzero(labelled(labels))
    return ids.take(pa.array(rows)).to_pylist(), labels[rows]


def edges_by_original_id(directory: str, key: EdgeTypeKey) -> list[tuple[str, str]]:
    """One edge type's edges as (original src id, original dst id), deduplicated as enumerated."""
    with storage.open_read(edges_uri(directory, key)) as stream:
        edges = pq.read_table(stream)
    ends = [read_column(mapping_uri(directory, node_type), "node_id").take(edges[column]).to_pylist()
            for column, node_type in (("src", key[0]), ("dst", key[2]))]
    return list(zip(*ends))
