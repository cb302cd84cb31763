"""The feature hash an incremental job diffs by: any one changed value changes its row's hash."""

import numpy as np

from gnn_assets.incremental.change import feature_hashes


def test_one_changed_value_in_any_column_changes_the_row_hash():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 64)).astype(np.float32)
    before = feature_hashes(features)
    assert len(np.unique(before)) == 200  # distinct rows, distinct hashes
    for column in range(64):
        changed = features.copy()
        changed[17, column] = np.nextafter(changed[17, column], np.float32(np.inf))  # the smallest change there is
        after = feature_hashes(changed)
        assert after[17] != before[17] and np.array_equal(np.delete(after, 17), np.delete(before, 17))


def test_hashes_do_not_depend_on_how_rows_are_chunked():
    features = np.random.default_rng(1).normal(size=(70_000, 3)).astype(np.float32)
    whole = feature_hashes(features)
    assert np.array_equal(whole[65_530:65_540], feature_hashes(features[65_530:65_540]))


def test_rows_wider_than_4096_features_hash_and_narrow_rows_hash_as_before():
    """Before: keepStates on a graph of more than 4,096 features failed with a traceback."""
    wide = np.random.default_rng(2).normal(size=(5, 5000)).astype(np.float32)
    hashes = feature_hashes(wide)
    changed = wide.copy()
    changed[3, 4999] += 1.0
    assert len(np.unique(hashes)) == 5 and feature_hashes(changed)[3] != hashes[3]
    # A column's multiplier does not depend on the width, so a base kept before still diffs the same.
    from gnn_assets.incremental.change import _multipliers

    assert np.array_equal(_multipliers(64), _multipliers(5000)[:64])
