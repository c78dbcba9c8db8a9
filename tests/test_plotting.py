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
