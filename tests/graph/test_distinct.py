"""Distinct ids with their inverse: the same answer as np.unique, whether the ids fill their
range (marked in a table of it) or are few out of a large one (sorted)."""

import numpy as np
import pytest

from gnn_assets.graph.distinct import distinct_with_inverse


@pytest.mark.parametrize(
    "count, bound, dtype",
    [(0, 10, np.int64), (1, 1, np.int64), (1, 1_000_000, np.int64), (5_000, 1_000, np.int64),
     (5_000, 1_000_000, np.int64), (200_000, 1_000_000, np.int64), (3_000, 2_000, np.int32)],
)
def test_distinct_ids_and_inverse_equal_numpys_unique(count, bound, dtype):
    ids = np.random.default_rng(count + bound).integers(0, bound, count).astype(dtype)
    distinct, inverse = distinct_with_inverse(ids, bound)
    expected, expected_inverse = np.unique(ids, return_inverse=True)
    np.testing.assert_array_equal(distinct, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    assert distinct.dtype == ids.dtype
    np.testing.assert_array_equal(distinct[inverse], ids)


def test_the_largest_id_of_the_range_is_kept():
    distinct, inverse = distinct_with_inverse(np.array([4, 0, 4, 4]), 5)
    assert distinct.tolist() == [0, 4] and inverse.tolist() == [1, 0, 1, 1]
