"""The drift histogram shows every node, those whose neighbours did not move at all included."""

from __future__ import annotations

import numpy as np
import pytest

from gnn_assets.comparison.pictures import overlap_bins, overlap_histogram_png


@pytest.mark.parametrize("neighbours", [1, 5, 10, 20])
def test_every_possible_overlap_falls_in_its_own_bin(neighbours):
    """Before: the bins stopped at 0.955 for 10 neighbours, so every node with overlap 1.0 was dropped."""
    possible = np.arange(neighbours + 1) / neighbours
    counts, _ = np.histogram(possible, bins=overlap_bins(neighbours))
    assert counts.tolist() == [1] * (neighbours + 1)


def test_a_job_compared_with_itself_fills_the_last_bin():
    overlaps = np.ones(2000)
    counts, _ = np.histogram(overlaps, bins=overlap_bins(10))
    assert counts[-1] == 2000
    assert overlap_histogram_png(overlaps, 10, "self").startswith(b"\x89PNG")
