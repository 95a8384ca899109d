"""Small matplotlib helpers shared by the plots of `eiegen sim` and the benchmarks.

A library module: it imports matplotlib only (lazily), nothing of eiegen.
"""

__all__ = ["percent_ticks"]

_TICKS = (1, 2, 3, 5, 10, 20, 30, 50, 100)


def percent_ticks(ax, values):
    """Label a logarithmic x axis of percentages with plain numbers (1, 2, 5,
    10, ...) covering `values`, and no minor tick labels."""
    from matplotlib.ticker import NullFormatter
    ticks = [t for t in _TICKS if min(values) * 0.8 <= t <= max(values) * 1.25]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
