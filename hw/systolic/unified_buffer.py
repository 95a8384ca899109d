"""UnifiedBuffer: the activations, max(R, C) signed lanes per row.

MMUL reads rows (lanes 0..R-1 feed the array's rows), ACT writes rows
(lanes 0..C-1, the other lanes keep their contents), and the host reads and
writes them over the bus while the unit is not running. One block RAM with
per-lane write enables.
"""

from amaranth import signed

from .lane_memory import LaneMemory

__all__ = ["UnifiedBuffer"]


class UnifiedBuffer(LaneMemory):
    """A LaneMemory of ub_depth rows of max(R, C) signed in_width-bit lanes, one
    read port: the ports and their timing (MEM_LATENCY = 2 cycles from
    `raddr0` to `rdata0`, writes `we`/`waddr`/`wdata`/`wlanes` at the end of
    the cycle, the host's `host_owns`, `h_row`, `h_chunk`, `h_wdata`, `h_we`,
    `h_rdata`, and `ren0`, `hold0`) are LaneMemory's.
    """

    def __init__(self, params):
        self.params = p = params
        super().__init__(lanes=p.ub_lanes, lane_shape=signed(p.in_width), depth=p.ub_depth,
                         chunk_lanes=p.chunk_lanes(p.ub_lanes), bus_lane_bits=8 * p.lane_bytes)
