"""Samples for tests: a packed neighbourhood of the codec's dimensions, and a shard broken on purpose."""

from __future__ import annotations

import numpy as np

from gnn_assets.graph.samples import Neighborhood
from gnn_assets.graph.tfrecord import write_record
from gnn_assets.proto.graph_schema_pb2 import Graph, Node

DIMS = (2, 3)


def packed_sample(label=None):
    return Neighborhood(
        root_node_id=4,
        root_node_type=0,
        node_ids={0: np.array([4, 9]), 1: np.array([2])},
        features={0: np.array([[1, 2], [3, 4]], np.float32), 1: np.array([[5, 6, 7]], np.float32)},
        # positions: type-0 node 9 -> type-1 node 2; type-1 node 2 -> type-0 nodes 4 and 9
        edges={0: (np.array([1]), np.array([0])), 1: (np.array([0, 0]), np.array([0, 1]))},
        label=label,
    )


def add_bad_shard(job):
    prefix = job.frozen.sample_prefixes("paper")[0]
    with open(prefix + "bad.tfrecord", "wb") as stream:
        write_record(stream, b"\x0a\xff\xff garbage that is not a proto")
        write_record(stream, Graph(nodes=[Node(node_id=1)]).SerializeToString())  # a proto, of the wrong type
