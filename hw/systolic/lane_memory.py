"""LaneMemory: a block RAM of rows of equal lanes, shared by the unit and the host.

The unified buffer, the weight memory, the accumulators and the instruction
memory are all rows of `lanes` lanes of `lane_shape`. The unit reads whole
rows through `n_read` read ports and writes through one write port with a
per-lane enable (Amaranth's write-port granularity, so BRAM byte/lane
enables do the masking). While `host_owns` is high, read port 0 and the
write port belong to the host bus instead.
"""

from amaranth import Module, Signal, Cat, Const, Mux, unsigned, Shape
from amaranth.lib import wiring, data
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .params import MEM_LATENCY
from ..eie.trees import FANOUT_ATTR

__all__ = ["LaneMemory", "HOST_READ_LATENCY"]

#: cycles from h_row/h_chunk presented to h_rdata: the block RAM, its output
#: register (MEM_LATENCY) and a register after the chunk multiplexer
HOST_READ_LATENCY = MEM_LATENCY + 1


class LaneMemory(wiring.Component):
    """Ports. Read ports (i = 0 .. n_read - 1), MEM_LATENCY = 2 cycles:

        cycle a      raddr{i} presented (with ren{i} high)
        cycle a + 1  the block RAM's synchronous read data
        cycle a + 2  rdata{i}: the row, from a register after the block RAM

    The register after the block RAM takes its clock-to-out delay off every path
    that uses the row. The read ports are not transparent: a read in the cycle
    of a write to the same row returns the old row (whoever needs the new one
    forwards it, see accumulators.py). With ren{i} low the block RAM keeps its
    data; with hold{i} high the output register keeps its own, so a stalled
    pipeline (the sequencer's fetch) can freeze both stages.

    `read_copy=True`: `rdata0_copy` (Out) is `rdata0` from a second output
    register (its copy for a second group of users; on platforms without
    fan-out copies, the iCE40's, the same register).

    Write port: `we` with `waddr`, `wdata` (a row) and `wlanes` (a write
    enable per lane) writes at the end of the cycle.

    `no_rw_check=True`: a read of the row being written in the same cycle
    is undefined (the memory carries Yosys' `no_rw_check`, so synthesis adds
    no collision logic after the block RAM: address comparators and a
    multiplexer on every output bit). For a memory whose users never use such
    a read (the accumulators forward the rows written since their read).
    With the class attribute `collision_model` set (the tests do), such a
    read returns the row with every bit inverted, so a simulation shows any
    use of one.

    Host side, while `host_owns` (In) is high (read port 0 and the write port
    are the host's then): on the host bus a row is `chunks` words of
    `chunk_lanes` lanes; a lane is `bus_lane_bits` bits of the word, little-end
    first, sign-extended when read. The host addresses (row, chunk) with
    `h_row`, `h_chunk`; `h_we` writes `h_wdata` (both taken in its cycle,
    with `h_chunk` and `host_owns`) at the end of the next cycle, to the row
    `h_row` names then (hold it a cycle past `h_we`; the write is the host's
    even if `host_owns` has fallen, so the unit must not write in the first
    cycle it owns the memory); a read of the row in the cycle the write
    lands (h_row presented then) returns the old row, or is undefined with
    `no_rw_check`;
    `h_rdata` is the word HOST_READ_LATENCY = 3 cycles after h_row/h_chunk
    were presented (the row's output register, then the chunk's word
    multiplexer into a register of its own: in one cycle with the unit's
    target multiplexer it was the 12 x 12 unit's critical path); lanes of a chunk past the row's last lane are ignored when
    written and read as 0.
    """

    #: tests: model a read during a write of its row as inverted data (no_rw_check)
    collision_model = False

    def __init__(self, *, lanes, lane_shape, depth, chunk_lanes, bus_lane_bits, n_read=1, init=None,
                 no_rw_check=False, read_copy=False):
        self.no_rw_check = no_rw_check
        self.read_copy = read_copy
        self.lanes = lanes
        self.lane_shape = Shape.cast(lane_shape)
        self.depth = depth
        self.chunk_lanes = chunk_lanes
        self.chunks = -(-lanes // chunk_lanes)
        self.bus_lane_bits = bus_lane_bits
        self.n_read = n_read
        self.abits = max(1, ceil_log2(depth))
        self.cbits = max(1, ceil_log2(self.chunks))
        self._init = init
        assert chunk_lanes * bus_lane_bits <= 64 and self.lane_shape.width <= bus_lane_bits
        row = data.ArrayLayout(self.lane_shape, lanes)
        ports = {}
        for i in range(n_read):
            ports[f"raddr{i}"] = In(self.abits)
            ports[f"ren{i}"] = In(1, init=1)
            ports[f"hold{i}"] = In(1)
            ports[f"rdata{i}"] = Out(row)
        if read_copy:
            ports["rdata0_copy"] = Out(row)
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
            "h_rdata": Out(64),      # HOST_READ_LATENCY cycles after h_row/h_chunk were presented
        })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        L, W = self.lanes, self.lane_shape.width
        m.submodules.mem = mem = Memory(shape=unsigned(L * W), depth=self.depth,
                                        init=self._init or [],
                                        attrs={"no_rw_check": 1} if self.no_rw_check else {})
        wr = mem.write_port(granularity=W)
        rds = [mem.read_port(transparent_for=()) for _ in range(self.n_read)]

        # unit side
        # (`read_copy`: read port 0's output register twice, `rdata0_copy` the second, both
        # kept apart by synthesis, where the platform asks for fan-out copies; elsewhere
        # `rdata0_copy` is `rdata0`)
        copy = self.read_copy and getattr(platform, "eiegen_fanout_copies", True)
        for i, rd in enumerate(rds):
            out = Signal(L * W, name=f"rdata{i}_q", reset_less=True,
                         attrs={FANOUT_ATTR: 1} if copy and i == 0 else {})
            m.d.comb += [rd.addr.eq(getattr(self, f"raddr{i}")), rd.en.eq(getattr(self, f"ren{i}"))]
            data_i = rd.data
            if self.no_rw_check and self.collision_model:
                # the read's data is undefined after a write to its row in its cycle
                coll = Signal(name=f"collision{i}")
                with m.If(rd.en):
                    m.d.sync += coll.eq(wr.en.any() & (wr.addr == rd.addr))
                data_i = rd.data ^ coll.replicate(L * W)
            with m.If(~getattr(self, f"hold{i}") | (self.host_owns if i == 0 else 0)):
                m.d.sync += out.eq(data_i)
            m.d.comb += getattr(self, f"rdata{i}").as_value().eq(out)
            if i == 0 and self.read_copy:
                out_copy = out
                if copy:
                    out_copy = Signal(L * W, name="rdata0_copy_q", reset_less=True,
                                      attrs={FANOUT_ATTR: 1})
                    with m.If(~self.hold0 | self.host_owns):
                        m.d.sync += out_copy.eq(data_i)
                m.d.comb += self.rdata0_copy.as_value().eq(out_copy)
        m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata.as_value()),
                     wr.en.eq(Cat(self.wlanes[i] & self.we for i in range(L)))]

        # host side: lane i sits in chunk i // chunk_lanes at position i % chunk_lanes
        cl, bl = self.chunk_lanes, self.bus_lane_bits
        # the host's write is registered here, beside the block RAMs (its data,
        # lane enables and the write port's owner), and lands a cycle later: the
        # host bus's write enable into the write port's multiplexer, across the
        # die, was the 12 x 12 board top's critical path
        h_wdata_q = Signal(64, name="h_wdata_q", reset_less=True)
        h_wen_q = Signal(L, name="h_wen_q")
        h_wown = Signal(name="h_wown")
        m.d.sync += [h_wdata_q.eq(self.h_wdata), h_wown.eq(self.host_owns),
                     h_wen_q.eq(Cat(self.h_we & (self.h_chunk == i // cl) for i in range(L)))]
        with m.If(self.host_owns):
            m.d.comb += [rds[0].addr.eq(self.h_row), rds[0].en.eq(1)]
        with m.If(h_wown):
            m.d.comb += [wr.addr.eq(self.h_row), wr.en.eq(h_wen_q),
                         wr.data.eq(Cat(h_wdata_q.word_select(i % cl, bl)[:W] for i in range(L)))]

        chunk_q = self.h_chunk
        for k in range(MEM_LATENCY):
            nxt = Signal(self.cbits, name=f"h_chunk_q{k + 1}")
            m.d.sync += nxt.eq(chunk_q)
            chunk_q = nxt
        row = self.rdata0.as_value()
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
        m.d.sync += self.h_rdata.eq(out)
        return m
