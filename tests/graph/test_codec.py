import numpy as np
import pytest


from gnn_assets.graph.codec import SampleDecoder, decode_gigl, encode_gigl
from gnn_assets.graph.packed import decode_packed_batch, encode_packed
from gnn_assets.graph.samples import Neighborhood, SampleBatch, SampleDecodeError
from gnn_assets.proto.gbml_config_pb2 import GbmlConfig, SampleEncoding
from gnn_assets.proto.graph_schema_pb2 import Graph, Node
from gnn_assets.proto.training_samples_schema_pb2 import RootedNodeNeighborhood
from tests.support.samples import DIMS, packed_sample

ENDS = {0: (0, 1), 1: (1, 0)}


def _decoder(encoding=SampleEncoding.PACKED):
    return SampleDecoder(encoding, labeled=False, root_node_type=0, edge_endpoint_types=ENDS, feature_dims=DIMS)


def _decode_packed(record: bytes) -> Neighborhood:
    [sample] = decode_packed_batch([record], DIMS).neighborhoods()
    return sample


def _decode_one(decoder, record: bytes) -> SampleBatch:
    batch, failures = decoder.decode_batch([record])
    if failures:
        raise failures[0][1]
    return batch


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
    sample = packed_sample(label)
    _assert_same(sample, _decode_packed(encode_packed(sample)))
    _assert_same(sample, decode_gigl(encode_gigl(sample, ENDS, labeled=True), ENDS, labeled=True))
    if label is None:
        _assert_same(sample, decode_gigl(encode_gigl(sample, ENDS, labeled=False), ENDS, labeled=False))
    assert _edge_ids(sample, 0) == [(9, 2)] and _edge_ids(sample, 1) == [(2, 4), (2, 9)]


@pytest.mark.parametrize("encoding", [SampleEncoding.PACKED, SampleEncoding.GIGL_PROTO])
def test_corrupt_and_foreign_records_are_refused(encoding):
    decoder = _decoder(encoding)
    good = encode_packed(packed_sample()) if encoding == SampleEncoding.PACKED else encode_gigl(packed_sample(), ENDS, labeled=False)
    assert _decode_one(decoder, good).root_node_ids.tolist() == [4]
    with pytest.raises(SampleDecodeError):
        _decode_one(decoder, good[: len(good) // 2])
    with pytest.raises(SampleDecodeError, match="not a"):
        _decode_one(decoder, GbmlConfig(feature_flags={"a": "b"}).SerializeToString())


@pytest.mark.parametrize("encoding", [SampleEncoding.PACKED, SampleEncoding.GIGL_PROTO])
def test_a_batch_decodes_as_its_samples_do_one_by_one(encoding):
    """Samples with different types present, a label, and an isolated root (no edges at all)."""
    isolated = Neighborhood(8, 0, {0: np.array([8])}, {0: np.array([[0.5, 0.25]], np.float32)}, {})
    samples = [packed_sample(), isolated, packed_sample(label=2)]
    samples[2].node_ids[0] = np.array([4, 6])
    encode = encode_packed if encoding == SampleEncoding.PACKED else (lambda s: encode_gigl(s, ENDS, labeled=True))
    decoder = SampleDecoder(encoding, labeled=True, root_node_type=0, edge_endpoint_types=ENDS, feature_dims=DIMS)
    batch, failures = decoder.decode_batch([encode(s) for s in samples])
    assert failures == []
    expected = SampleBatch.from_neighborhoods(samples)
    for field in ("root_node_ids", "root_node_types", "labels"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(expected, field))
    for field in ("node_ids", "node_counts", "features", "edge_counts"):
        got, want = getattr(batch, field), getattr(expected, field)
        assert got.keys() == want.keys(), field
        for t in want:
            np.testing.assert_array_equal(got[t], want[t])
    assert batch.edges.keys() == expected.edges.keys()
    for t in expected.edges:
        for side in (0, 1):
            np.testing.assert_array_equal(batch.edges[t][side], expected.edges[t][side])
    assert batch.labels.tolist() == [-1, -1, 2] and batch.node_counts[1].tolist() == [1, 0, 1]
    for original, decoded in zip(samples, batch.neighborhoods(), strict=True):
        _assert_same(original, decoded)


def test_bad_records_in_a_batch_are_told_apart_from_the_good_ones():
    decoder = _decoder()
    good = encode_packed(packed_sample())
    outside = packed_sample()
    outside.edges[0] = (np.array([1]), np.array([1]))
    wrong_size = packed_sample()
    wrong_size.features[1] = np.zeros((1, 4), np.float32)
    records = [good, b"\x0a\xff garbage", good, encode_packed(outside), encode_packed(wrong_size), good]
    batch, failures = decoder.decode_batch(records)
    assert batch.root_node_ids.tolist() == [4, 4, 4] and len(batch.node_ids[0]) == 6
    assert [i for i, _ in failures] == [1, 3, 4]
    reasons = [error.reason for _, error in failures]
    assert reasons[0].startswith("not a PackedNeighborhood")
    assert reasons[1] == "edge type 0: an edge destination points outside the sample's 1 nodes"
    assert reasons[2] == "node type 1 has 4 features, the graph has 3"
    assert decoder.decode_batch([records[1]])[0] is None


def test_inconsistent_samples_are_refused():
    decoder = _decoder()
    sample = packed_sample()
    sample.edges[0] = (np.array([1]), np.array([1]))  # type 1 has one node: position 1 is outside
    with pytest.raises(SampleDecodeError, match="edge type 0: an edge destination points outside the sample's 1 nodes"):
        _decode_one(decoder, encode_packed(sample))
    sample = packed_sample()
    sample.root_node_id = 5
    with pytest.raises(SampleDecodeError, match="root node 5 is not among"):
        _decode_one(decoder, encode_packed(sample))


def test_gigl_edges_to_nodes_outside_the_sample_are_refused():
    message = RootedNodeNeighborhood.FromString(encode_gigl(packed_sample(), ENDS, labeled=False))
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
    decoder = _decoder()
    sample = packed_sample()
    sample.node_ids[0] = np.array([9, 4])  # unsorted, valid
    assert _decode_one(decoder, encode_packed(sample)).root_node_ids.tolist() == [4]
    sample.root_node_id = 5
    with pytest.raises(SampleDecodeError, match="root node 5 is not among"):
        _decode_one(decoder, encode_packed(sample))


def test_negative_edge_positions_are_refused():
    decoder = _decoder()
    sample = packed_sample()
    sample.edges[1] = (np.array([0, 0]), np.array([0, -1]))
    with pytest.raises(SampleDecodeError, match="edge type 1: an edge destination points outside"):
        _decode_one(decoder, encode_packed(sample))
