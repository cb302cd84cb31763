"""Aggregates computed with the sources streamed in slabs (aggregation.py) equal one scatter over
all the edges and read the source in ascending slabs, only where edges reach."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.utils import scatter

from gnn_assets.layerwise.aggregation import aggregate_streamed
from gnn_assets.layerwise.spill import SpillArea


def _edges(num_src: int, num_dst: int, num_edges: int, seed: int = 0):
    """In-edges in the CSR's order (by destination, sources ascending); some destinations none."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, num_src, num_edges)
    dst = rng.integers(0, num_dst - 3, num_edges)  # the last three destinations get no in-edges
    order = np.lexsort((src, dst))
    return src[order].astype(np.int64), dst[order].astype(np.int32)


@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("slab_rows", [1, 7, 100_000])
def test_streamed_aggregates_equal_one_scatter_over_every_edge(kind, slab_rows):
    x = torch.randn(500, 6)
    src, dst = _edges(500, 120, 3_000)
    got, degrees = aggregate_streamed(x, src, dst, 120, kind, slab_rows)
    expected = scatter(x[torch.from_numpy(src)], torch.from_numpy(dst).long(), dim=0, dim_size=120, reduce=kind)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    assert degrees.tolist() == np.bincount(dst, minlength=120).tolist()
    assert got[-3:].abs().sum() == 0  # no in-edges: zeros, as PyG's aggregation gives


def test_no_edges_at_all_give_zeros():
    got, degrees = aggregate_streamed(torch.randn(10, 4), np.zeros(0, np.int64), np.zeros(0, np.int32), 5, "max", 3)
    assert got.shape == (5, 4) and not got.any() and not degrees.any()


def test_the_source_is_read_in_ascending_slabs_only_where_edges_reach():
    src, dst = _edges(1_000, 50, 40)
    x, windows = torch.randn(1_000, 3), []

    def read(lo, hi, following):
        windows.append((lo, hi, following))
        return x[lo:hi]

    aggregate_streamed(x, src, dst, 50, "sum", 100, read)
    reached = sorted({s // 100 for s in src.tolist()})
    assert [lo // 100 for lo, _, _ in windows] == reached
    assert all(hi == lo + 100 for lo, hi, _ in windows)
    assert [f for _, _, f in windows] == [(lo, hi) for lo, hi, _ in windows[1:]] + [None]


def test_a_mapped_source_is_read_from_its_file_slab_by_slab_and_stays_exact(tmp_path):
    values = np.random.default_rng(1).standard_normal((3_000, 16)).astype(np.float32)
    values.tofile(tmp_path / "rows.bin")
    spill = SpillArea(str(tmp_path / "area"))
    mapped = spill.map_file(str(tmp_path / "rows.bin"), values.shape, torch.float32)
    src, dst = _edges(3_000, 400, 20_000)
    got, _ = aggregate_streamed(mapped, src, dst, 400, "mean", 700, spill.slab_reader(mapped))
    expected, _ = aggregate_streamed(torch.from_numpy(values), src, dst, 400, "mean", 1_000)
    assert torch.equal(got, expected)
    spill.close()
    assert (tmp_path / "rows.bin").exists()  # a mapped file is the enumeration's: never deleted


def test_a_slab_reader_gives_the_rows_asked_for_whatever_it_read_ahead(tmp_path):
    values = np.arange(200 * 4, dtype=np.float32).reshape(200, 4)
    values.tofile(tmp_path / "rows.bin")
    spill = SpillArea(str(tmp_path / "area"))
    read = spill.slab_reader(spill.map_file(str(tmp_path / "rows.bin"), values.shape, torch.float32))
    for lo, hi, following in [(0, 10, (10, 20)), (10, 20, (50, 70)), (120, 200, None), (30, 40, (40, 45)), (40, 45, None)]:
        assert torch.equal(read(lo, hi, following), torch.from_numpy(values[lo:hi]))
    spill.close()
