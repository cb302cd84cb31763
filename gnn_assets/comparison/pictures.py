"""Drift pictures (PNG): the per-node overlap histogram and a 2-D projection of both embedding sets."""

from __future__ import annotations

import numpy as np

from gnn_assets.pictures import png_bytes, pyplot


def overlap_bins(neighbours: int) -> np.ndarray:
    """One bin per possible overlap (0, 1/k, ..., 1 for k neighbours), centred on it: 1.0 included."""
    return (np.arange(neighbours + 2) - 0.5) / neighbours


def overlap_histogram_png(overlaps: np.ndarray, neighbours: int, title: str) -> bytes:
    plt = pyplot()
    fig, axis = plt.subplots(figsize=(6, 3.4), dpi=110)
    axis.hist(overlaps, bins=overlap_bins(neighbours), color="tab:blue", edgecolor="white")
    axis.set_xlim(-0.5 / neighbours, 1 + 0.5 / neighbours)
    axis.axvline(float(np.mean(overlaps)), color="tab:red", linestyle="--", label=f"mean {np.mean(overlaps):.2f}")
    axis.set_xlabel(f"overlap of the {neighbours} nearest neighbours (champion vs challenger)")
    axis.set_ylabel("nodes")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8)
    return png_bytes(fig)


def projection_png(champion: np.ndarray, challenger: np.ndarray, overlaps: np.ndarray, names: tuple[str, str], title: str) -> bytes:
    """Each set's first two principal components, the nodes coloured by their overlap."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), dpi=110)
    for axis, values, name in zip(axes, (champion, challenger), names):
        centred = values - values.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        points = centred @ vt[:2].T
        shown = axis.scatter(points[:, 0], points[:, 1], c=overlaps, cmap="viridis", vmin=0, vmax=1, s=6)
        axis.set_title(name, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    fig.colorbar(shown, ax=axes, label="neighbour overlap", shrink=0.8)
    fig.suptitle(title, fontsize=9)
    return png_bytes(fig, tight=False)
