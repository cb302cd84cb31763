import duckdb
import numpy as np
import pyarrow as pa
import pytest

from gnn_assets.graph.enumeration import enumerate_graph
from gnn_assets.graph.source import EDGES_SCHEMA, NODES_SCHEMA, GraphSource, GraphSourceError
from gnn_assets.proto.graph_schema_pb2 import EdgeType, GraphMetadata

META = GraphMetadata(node_types=["u"], edge_types=[EdgeType(src_node_type="u", relation="r", dst_node_type="u")])


def _source(ids, edges):
    nodes = pa.table(
        {"node_id": ids, "node_type": ["u"] * len(ids), "features": [[float(i)] for i in range(len(ids))], "label": [None] * len(ids)},
        schema=NODES_SCHEMA,
    )
    src, dst = zip(*edges) if edges else ((), ())
    n = len(edges)
    table = pa.table({"src": list(src), "dst": list(dst), "edge_type": ["r"] * n, "src_type": ["u"] * n, "dst_type": ["u"] * n}, schema=EDGES_SCHEMA)
    return GraphSource(META, nodes, table)


def test_int_ids_follow_sql_order_by_node_id(small_typed_graph):
    graph, mappings, _ = enumerate_graph(small_typed_graph)
    for node_type, mapping in mappings.items():
        nodes = small_typed_graph.nodes.filter(pa.compute.equal(small_typed_graph.nodes["node_type"], node_type))
        expected = duckdb.sql(
            "SELECT node_id, ROW_NUMBER() OVER (ORDER BY node_id) - 1 AS int_id FROM nodes ORDER BY int_id"
        ).fetch_arrow_table()
        assert mapping["node_id"].to_pylist() == expected["node_id"].to_pylist()
        assert mapping["int_id"].to_pylist() == expected["int_id"].to_pylist()
        # features travel with their node
        by_id = dict(zip(nodes["node_id"].to_pylist(), nodes["features"].to_pylist()))
        first = mapping["node_id"][0].as_py()
        np.testing.assert_array_equal(graph.features[node_type][0], np.array(by_id[first], np.float32))


def test_edges_are_enumerated_and_deduplicated():
    graph, _, report = enumerate_graph(_source(["b", "a", "c"], [("a", "b"), ("a", "b"), ("c", "a")]))
    src, dst = graph.edges[("u", "r", "u")]
    assert sorted(zip(src.tolist(), dst.tolist())) == [(0, 1), (2, 0)]  # a=0, b=1, c=2
    assert report.duplicate_edges_dropped == {"u-r-u": 1}


def test_duplicate_node_ids_are_refused():
    with pytest.raises(GraphSourceError, match=r"1 node ids of type .u. appear more than once, e\.g\. \[.a.\]"):
        enumerate_graph(_source(["a", "a"], []))


def test_dangling_edges_are_refused():
    with pytest.raises(GraphSourceError, match=r"1 edges of type 'u-r-u' have a dst that is not a 'u' node, e\.g\. \['zz'\]"):
        enumerate_graph(_source(["a", "b"], [("a", "zz")]))
