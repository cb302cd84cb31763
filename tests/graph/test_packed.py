import numpy as np
import pytest

from gnn_assets.graph import packed
from gnn_assets.graph.packed import PACKED_NEIGHBORHOOD_MAGIC, decode_packed_batch, encode_packed
from gnn_assets.graph.samples import SampleDecodeError
from gnn_assets.proto.training_samples_schema_pb2 import PackedNeighborhood
from tests.support.samples import DIMS, packed_sample


def test_packed_header_that_does_not_fit_the_arrays_is_refused():
    arrays = PackedNeighborhood.FromString(encode_packed(packed_sample())).arrays
    for changed, error in (
        (arrays + b"\0" * 4, "arrays hold 176 bytes, the header describes 172"),
        (arrays[:-4], "arrays hold 168 bytes, the header describes 172"),
        (arrays[:20], "do not match their header"),
        (arrays[:16] + np.array([0, -1, 2], "<i8").tobytes() + arrays[40:], "bad node group \\(type 0, count -1\\)"),
        (arrays[:16] + np.array([0, 1 << 60, 2], "<i8").tobytes() + arrays[40:], "bad node group \\(type 0, count 1152921504606846976\\)"),
        (arrays[:40] + np.array([0, 1, 2], "<i8").tobytes() + arrays[64:], "bad node group \\(type 0, count 1\\)"),  # type 0 twice
        (np.array([1 << 40, 1], "<i8").tobytes() + arrays[16:], "172 bytes cannot hold the header of 1099511627776 node"),
        (arrays + b"\0", "173 bytes is not a header and whole arrays"),
    ):
        message = PackedNeighborhood(magic=PACKED_NEIGHBORHOOD_MAGIC, root_node_id=4, arrays=changed)
        with pytest.raises(SampleDecodeError, match=error):
            decode_packed_batch([message.SerializeToString()], DIMS)


def test_records_in_another_field_order_decode_as_the_canonical_ones():
    """The batch decoder reads protobuf's own layout off the wire; any other valid layout of the
    same message (here: fields in reverse order, a default written out) goes through protobuf."""
    sample = packed_sample(label=0)
    canonical = encode_packed(sample)
    message = PackedNeighborhood.FromString(canonical)
    reordered = (
        PackedNeighborhood(arrays=message.arrays).SerializeToString()
        + PackedNeighborhood(root_label=0).SerializeToString()
        + PackedNeighborhood(root_node_id=4).SerializeToString()
        + PackedNeighborhood(magic=PACKED_NEIGHBORHOOD_MAGIC).SerializeToString()
    )
    assert canonical[5:7] == bytes([0x10, 4])  # magic, then root_node_id
    explicit_default = canonical[:7] + bytes([0x18, 0x00]) + canonical[7:]  # root_condensed_node_type = 0, written out
    assert PackedNeighborhood.FromString(reordered) == PackedNeighborhood.FromString(explicit_default) == message
    assert packed._wire_fields([explicit_default]) is not None and packed._wire_fields([reordered]) is None
    expected = decode_packed_batch([canonical, canonical], DIMS)
    for records in ([reordered, canonical], [explicit_default, canonical]):
        batch = decode_packed_batch(records, DIMS)
        assert batch.labels.tolist() == [0, 0] and batch.root_node_ids.tolist() == [4, 4]
        for t in expected.node_ids:
            np.testing.assert_array_equal(batch.node_ids[t], expected.node_ids[t])
            np.testing.assert_array_equal(batch.features[t], expected.features[t])
        for t in expected.edges:
            for side in (0, 1):
                np.testing.assert_array_equal(batch.edges[t][side], expected.edges[t][side])



def test_a_last_record_of_long_varints_is_refused_not_read_past_the_batch():
    """The wire reader looks ahead by fixed widths; a short record of maximal varints at the
    end of a batch must still come out as a decode error."""
    long_varint = bytes([0xFF] * 9 + [0x01])
    crafted = bytes([0x0D]) + PACKED_NEIGHBORHOOD_MAGIC.to_bytes(4, "little") + b"".join(bytes([tag]) + long_varint for tag in (0x10, 0x18, 0x20))
    for records in ([crafted], [encode_packed(packed_sample()), crafted], [crafted[:6]]):
        with pytest.raises(SampleDecodeError):
            decode_packed_batch(records, DIMS)


def test_an_error_names_the_record_in_the_whole_batch():
    """Records are checked in groups of one header shape; an error still names the record's
    index in the batch, not in its group."""
    from gnn_assets.graph.samples import Neighborhood

    isolated = Neighborhood(8, 0, {0: np.array([8])}, {0: np.array([[0.5, 0.25]], np.float32)}, {})  # another header shape
    wrong = packed_sample()
    wrong.features[1] = np.zeros((1, 4), np.float32)
    with pytest.raises(SampleDecodeError, match="node type 1 has 4 features") as raised:
        decode_packed_batch([encode_packed(isolated), encode_packed(packed_sample()), encode_packed(isolated), encode_packed(wrong)], DIMS)
    assert raised.value.record == 3
