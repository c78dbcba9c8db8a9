"""Matplotlib settings for the executed notebook pages of the site.

The site has a light and a dark theme, and a notebook's figures are PNG
images shown on either. :func:`site_style` makes them transparent and draws
text, axes and grid in a mid grey that reads on both backgrounds (contrast
about 4.5:1 on white and 3.6:1 on the dark theme); the lines keep
matplotlib's default colour cycle, which is legible on both. The grey is just
darker than middle grey on purpose: for a transparent figure with light tick
labels, Jupyter's inline backend asks for a dark box behind the image, which
would show as a dark rectangle on the light theme. Figures of
about ``figsize=(7, 4)`` with fonts of 11 points stay legible at the width
the pages show them (about 550 pixels).

matplotlib is an extra (the ``docs`` and ``test`` extras install it); the
rest of the package does not need it.
"""

from __future__ import annotations

__all__ = ["GREY", "site_style"]

#: The colour of text, axes and grid lines: readable on white and on the dark theme.
GREY = "#777777"


def site_style() -> None:
    """Update ``matplotlib.pyplot.rcParams`` for figures that read in both themes."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.facecolor": "none", "axes.facecolor": "none", "savefig.transparent": True,
        "font.size": 11, "text.color": GREY, "axes.labelcolor": GREY, "axes.edgecolor": GREY,
        "xtick.color": GREY, "ytick.color": GREY, "grid.color": GREY, "legend.framealpha": 0,
    })
