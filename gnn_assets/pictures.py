"""Pictures as PNG bytes, drawn with matplotlib without a display (training curves, drift)."""

from __future__ import annotations

import io


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, *, tight: bool = True) -> bytes:
    """The figure as PNG, then closed. tight=False keeps a layout a colorbar has set."""
    if tight:
        fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return buffer.getvalue()
