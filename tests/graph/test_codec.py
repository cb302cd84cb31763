import numpy as np
import pytest

from gnn_assets.graph.codec import PACKED_NEIGHBORHOOD_MAGIC, Neighborhood, SampleDecodeError, SampleDecoder, decode_gigl, decode_packed, encode_gigl, encode_packed
from gnn_assets.proto.gbml_config_pb2 import GbmlConfig, SampleEncoding
from gnn_assets.proto.graph_schema_pb2 import Graph, Node
from gnn_assets.proto.training_samples_schema_pb2 import PackedNeighborhood, RootedNodeNeighborhood

ENDS = {0: (0, 1), 1: (1, 0)}


def _sample(label=None):
    return Neighborhood(
        root_node_id=4,
        root_node_type=0,
        node_ids={0: np.array([4, 9]), 1: np.array([2])},
        features={0: np.array([[1, 2], [3, 4]], np.float32), 1: np.array([[5, 6, 7]], np.float32)},
        # positions: type-0 node 9 -> type-1 node 2; type-1 node 2 -> type-0 nodes 4 and 9
        edges={0: (np.array([1]), np.array([0])), 1: (np.array([0, 0]), np.array([0, 1]))},
        label=label,
    )


def _assert_same(a, b):
    assert (a.root_node_id, a.root_node_type, a.label) == (b.root_node_id, b.root_node_type, b.label)
    for t in a.node_ids:
        order_a, order_b = np.argsort(a.node_ids[t]), np.argsort(b.node_ids[t])
        np.testing.assert_array_equal(a.node_ids[t][order_a], b.node_ids[t][order_b])
        np.testing.assert_array_equal(a.features[t][order_a], b.features[t][order_b])
    assert a.edges.keys() == b.edges.keys()
    for t in a.edges:
        assert _edge_ids(a, t) == _edge_ids(b, t)


def _edge_ids(sample, t):
    src_type, dst_type = ENDS[t]
    src, dst = sample.edges[t]
    return sorted(zip(sample.node_ids[src_type][src].tolist(), sample.node_ids[dst_type][dst].tolist()))


@pytest.mark.parametrize("label", [None, 3])
def test_both_encodings_round_trip(label):
    sample = _sample(label)
    _assert_same(sample, decode_packed(encode_packed(sample)))
    _assert_same(sample, decode_gigl(encode_gigl(sample, ENDS, labeled=True), ENDS, labeled=True))
    if label is None:
        _assert_same(sample, decode_gigl(encode_gigl(sample, ENDS, labeled=False), ENDS, labeled=False))
    assert _edge_ids(sample, 0) == [(9, 2)] and _edge_ids(sample, 1) == [(2, 4), (2, 9)]


@pytest.mark.parametrize("encoding", [SampleEncoding.PACKED, SampleEncoding.GIGL_PROTO])
def test_corrupt_and_foreign_records_are_refused(encoding):
    decoder = SampleDecoder(encoding, labeled=False, root_node_type=0, edge_endpoint_types=ENDS)
    good = encode_packed(_sample()) if encoding == SampleEncoding.PACKED else encode_gigl(_sample(), ENDS, labeled=False)
    assert decoder(good).root_node_id == 4
    with pytest.raises(SampleDecodeError):
        decoder(good[: len(good) // 2])
    with pytest.raises(SampleDecodeError, match="not a"):
        decoder(GbmlConfig(feature_flags={"a": "b"}).SerializeToString())


def test_inconsistent_samples_are_refused():
    decoder = SampleDecoder(SampleEncoding.PACKED, labeled=False, root_node_type=0, edge_endpoint_types=ENDS)
    sample = _sample()
    sample.edges[0] = (np.array([1]), np.array([1]))  # type 1 has one node: position 1 is outside
    with pytest.raises(SampleDecodeError, match="edge type 0: an edge destination points outside the sample's 1 nodes"):
        decoder(encode_packed(sample))
    sample = _sample()
    sample.root_node_id = 5
    with pytest.raises(SampleDecodeError, match="root node 5 is not among"):
        decoder(encode_packed(sample))


def test_gigl_edges_to_nodes_outside_the_sample_are_refused():
    message = RootedNodeNeighborhood.FromString(encode_gigl(_sample(), ENDS, labeled=False))
    message.neighborhood.edges[0].dst_node_id = 77
    with pytest.raises(SampleDecodeError, match="edge type 0 destination: an endpoint is not among the sample's nodes"):
        decode_gigl(message.SerializeToString(), ENDS, labeled=False)


def test_a_gigl_sample_with_the_root_only_in_root_node_decodes():
    record = Graph(nodes=[Node(node_id=1, condensed_node_type=0, feature_values=[1.0])]).SerializeToString()
    message = RootedNodeNeighborhood(root_node=Node(node_id=3, condensed_node_type=0, feature_values=[2.0]))
    message.neighborhood.ParseFromString(record)
    decoded = decode_gigl(message.SerializeToString(), ENDS, labeled=False)
    assert decoded.node_ids[0].tolist() == [1, 3]
    assert decoded.features[0].ravel().tolist() == [1.0, 2.0]


def test_unsorted_node_ids_from_other_writers_are_still_checked():
    decoder = SampleDecoder(SampleEncoding.PACKED, labeled=False, root_node_type=0, edge_endpoint_types=ENDS)
    sample = _sample()
    sample.node_ids[0] = np.array([9, 4])  # unsorted, valid
    assert decoder(encode_packed(sample)).root_node_id == 4
    sample.root_node_id = 5
    with pytest.raises(SampleDecodeError, match="root node 5 is not among"):
        decoder(encode_packed(sample))


def test_packed_header_that_does_not_fit_the_arrays_is_refused():
    arrays = PackedNeighborhood.FromString(encode_packed(_sample())).arrays
    for changed, error in ((arrays + b"\0" * 4, "arrays hold .* bytes, the header describes"), (arrays[:-4], "do not match their header")):
        message = PackedNeighborhood(magic=PACKED_NEIGHBORHOOD_MAGIC, root_node_id=4, arrays=changed)
        with pytest.raises(SampleDecodeError, match=error):
            decode_packed(message.SerializeToString())


def test_negative_edge_positions_are_refused():
    decoder = SampleDecoder(SampleEncoding.PACKED, labeled=False, root_node_type=0, edge_endpoint_types=ENDS)
    sample = _sample()
    sample.edges[1] = (np.array([0, 0]), np.array([0, -1]))
    with pytest.raises(SampleDecodeError, match="edge type 1: an edge destination points outside"):
        decoder(encode_packed(sample))
