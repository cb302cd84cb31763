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
