"""rnn.plotting: the notebook figures are transparent with grey text."""

import pytest


def test_site_style_sets_transparent_grey_figures():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt
    import numpy as np

    from rnn.plotting import GREY, site_style

    with plt.rc_context():
        site_style()
        assert plt.rcParams["savefig.transparent"] and plt.rcParams["text.color"] == GREY
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.plot([0, 1], [0, 1])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
    image = plt.imread(io.BytesIO(buffer.getvalue()))
    assert image.shape[2] == 4 and image[0, 0, 3] == 0  # the corner is fully transparent
    assert np.any(image[..., 3] > 0)  # and the line is drawn


def test_no_dark_box_behind_the_figures_on_the_light_theme():
    """Jupyter's inline backend marks a transparent figure with light tick labels as
    needing a dark background, which the notebook pages draw as a dark box."""
    pytest.importorskip("matplotlib")
    backend = pytest.importorskip("matplotlib_inline.backend_inline")
    import matplotlib.pyplot as plt

    from rnn.plotting import site_style

    with plt.rc_context():
        site_style()
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        metadata = backend._fetch_figure_metadata(fig)
        plt.close(fig)
    assert metadata == {"needs_background": "light"}  # transparent, and no dark box
