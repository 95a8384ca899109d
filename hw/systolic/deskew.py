"""Deskew: delay lane i of a row by lanes - 1 - i cycles.

Under the array, column c's sum for a vector leaves c cycles after column
0's; delaying it by C - 1 - c lines the whole output row up again, so the
accumulators take one complete row per cycle.
"""

from .skew import Skew

__all__ = ["Deskew"]


class Deskew(Skew):
    """Skew with the delays the other way: `o[lane]` (Out) is `i[lane]` (In)
    of lanes - 1 - lane cycles earlier (the last lane is combinational:
    latency 0).
    """

    def delay(self, lane):
        return self.lanes - 1 - lane
