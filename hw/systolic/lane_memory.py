"""LaneMemory: a block RAM of rows of equal lanes, shared by the unit and the host.

The unified buffer, the weight memory, the accumulators and the instruction
memory are all rows of `lanes` lanes of `lane_shape`. The unit reads whole
rows through `n_read` synchronous read ports (one cycle of latency) and
writes through one write port with a per-lane enable (Amaranth's write-port
granularity, so BRAM byte/lane enables do the masking). While `host_owns`
is high, read port 0 and the write port belong to the host bus instead.

On the host bus a row is `chunks` words of `chunk_lanes` lanes; a lane is
`bus_lane_bits` bits of the word, little-end first, sign-extended when
read. The host addresses (row, chunk); lanes of a chunk past the row's last
lane are ignored when written and read as 0.
"""

from amaranth import Module, Signal, Cat, Const, Mux, unsigned, signed, Shape
from amaranth.lib import wiring, data
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["LaneMemory"]


class LaneMemory(wiring.Component):
    def __init__(self, *, lanes, lane_shape, depth, chunk_lanes, bus_lane_bits, n_read=1,
                 transparent=False, init=None):
        self.lanes = lanes
        self.lane_shape = Shape.cast(lane_shape)
        self.depth = depth
        self.chunk_lanes = chunk_lanes
        self.chunks = -(-lanes // chunk_lanes)
        self.bus_lane_bits = bus_lane_bits
        self.n_read = n_read
        self.transparent = transparent
        self.abits = max(1, ceil_log2(depth))
        self.cbits = max(1, ceil_log2(self.chunks))
        self._init = init
        assert chunk_lanes * bus_lane_bits <= 64 and self.lane_shape.width <= bus_lane_bits
        row = data.ArrayLayout(self.lane_shape, lanes)
        ports = {}
        for i in range(n_read):
            ports[f"raddr{i}"] = In(self.abits)
            ports[f"rdata{i}"] = Out(row)
        ports.update({
            "waddr": In(self.abits),
            "wdata": In(row),
            "wlanes": In(lanes),     # lane enables of a unit write
            "we": In(1),
            "host_owns": In(1),
            "h_row": In(self.abits),
            "h_chunk": In(self.cbits),
            "h_wdata": In(64),
            "h_we": In(1),
            "h_rdata": Out(64),      # the cycle after h_row/h_chunk were presented
        })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        L, W = self.lanes, self.lane_shape.width
        m.submodules.mem = mem = Memory(shape=unsigned(L * W), depth=self.depth,
                                        init=self._init or [])
        wr = mem.write_port(granularity=W)
        rds = [mem.read_port(transparent_for=(wr,) if self.transparent and i == 0 else ())
               for i in range(self.n_read)]

        # unit side
        for i, rd in enumerate(rds):
            m.d.comb += getattr(self, f"rdata{i}").as_value().eq(rd.data)
            m.d.comb += rd.addr.eq(getattr(self, f"raddr{i}"))
        m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata.as_value()),
                     wr.en.eq(Cat(self.wlanes[i] & self.we for i in range(L)))]

        # host side: lane i sits in chunk i // chunk_lanes at position i % chunk_lanes
        cl, bl = self.chunk_lanes, self.bus_lane_bits
        h_lane_data = Cat(self.h_wdata.word_select(i % cl, bl)[:W] for i in range(L))
        h_lane_en = Cat(self.h_we & (self.h_chunk == i // cl) for i in range(L))
        with m.If(self.host_owns):
            m.d.comb += [rds[0].addr.eq(self.h_row),
                         wr.addr.eq(self.h_row), wr.data.eq(h_lane_data), wr.en.eq(h_lane_en)]

        chunk_q = Signal(self.cbits)
        m.d.sync += chunk_q.eq(self.h_chunk)
        row = rds[0].data
        # one expression (not a switch), so that the constant padding bits
        # become a continuous assignment that every simulator sees at time 0
        words = []
        for k in range(self.chunks):
            fields = []
            for j in range(cl):
                i = k * cl + j
                if i < L:
                    lane = row[i * W:(i + 1) * W]
                    if self.lane_shape.signed and bl > W:
                        lane = Cat(lane, lane[-1].replicate(bl - W))     # sign-extend
                    fields.append(lane)
                else:
                    fields.append(Const(0, bl))
            word = Cat(*fields)
            if len(word) < 64:
                word = Cat(word, Const(0, 64 - len(word)))
            words.append(word)
        out = words[0]
        for k in range(1, len(words)):
            out = Mux(chunk_q == k, words[k], out)
        m.d.comb += self.h_rdata.eq(out)
        return m
