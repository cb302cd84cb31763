"""The training curve as a PNG: loss and the validation figure per epoch."""

from __future__ import annotations

from gnn_assets.pictures import png_bytes, pyplot


def training_curve_png(history: list[dict], figure_name: str, baseline: float | None = None, title: str = "") -> bytes:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    epochs = [h["epoch"] for h in history]
    fig, loss_axis = plt.subplots(figsize=(6, 3.4), dpi=110)
    loss_axis.plot(epochs, [h["loss"] for h in history], color="tab:red", marker="o", label="training loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axis.set_ylabel("training loss", color="tab:red")
    figure_axis = loss_axis.twinx()
    figure_axis.plot(epochs, [h[figure_name] for h in history], color="tab:blue", marker="s", label=f"validation {figure_name}")
    if baseline is not None:
        # On the validation figure's axis, in its colour: a baseline of that figure, not a loss.
        figure_axis.axhline(baseline, color="tab:blue", linestyle=":", alpha=0.7, label=f"trivial baseline (validation {figure_name})")
    figure_axis.set_ylabel(f"validation {figure_name}", color="tab:blue")
    handles = loss_axis.get_legend_handles_labels()[0] + figure_axis.get_legend_handles_labels()[0]
    figure_axis.legend(handles, [h.get_label() for h in handles], loc="center right", fontsize=8)
    loss_axis.set_title(title, fontsize=9)
    return png_bytes(fig)
