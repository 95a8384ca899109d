"""Leading non-zero detection (EIE §III-B, "LNZD").

The LNZD emits the non-zero input activations in increasing global column
j = k * N + pe (activation j lives in PE j mod N at local index k = j // N),
one per cycle, skipping zeros. eiegen scans the inputs by *slice*: slice k
is word k of every PE's source file. The central unit reads slice k = 0, 1,
2, ... ahead of use (`Prefetch` in control.py); every PE answers with one
flag bit (its word is non-zero) and keeps the word in its `LNZDLane`; the
central `LNZD` keeps the slices' N-bit masks and pops their set bits lowest
PE first. A slice with no set bit costs one cycle, a slice with b set bits
b cycles: the order is strictly increasing j, which keeps saturating
accumulation bit-exact with the golden model, and no path crosses the array
in one cycle (flags and values travel through registered trees).

    PE: data memory --word--> LNZDLane: flag ---------------------> LNZD (central)
                                        value queue  <-- grant, retire -- (pop)
                                        value_out  ---OR tree---> broadcast value
"""

from amaranth import Module, Signal, Mux, Cat, Const
from amaranth.lib import wiring, data
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["LNZDLane", "LNZD", "popcount"]


class LNZDLane(wiring.Component):
    """A PE's part of the LNZD.

    - `word_valid`, `word` (in): a slice word of this PE's source file (from
      the activation memory). Registered into `flag` (out, word != 0) the
      next cycle, and queued (`slots` deep; the central unit never has more
      slices outstanding).
    - `grant`, `retire` (in): the central LNZD granted this PE in the slice at
      the head of its queue / retired that slice. On a grant, `value_out`
      (out, registered) holds the head word the next cycle, else 0 (so the
      array ORs the PEs' values into the broadcast value; not reset: it
      follows the grant during a reset or flush too, and such a word travels
      beside its own broadcast's valid bit to PEs that are still flushing,
      hw/eie/array.py FLUSH_CYCLES). A retire pops the
      head after the grant of the same cycle has read it.
    - `busy` (out, combinational): a slice word is queued (from the cycle
      after its `word_valid` until its retire).
    """

    def __init__(self, slots):
        self.slots = slots
        super().__init__({
            "word_valid": In(1),
            "word": In(16),
            "flag": Out(1),
            "grant": In(1),
            "retire": In(1),
            "value_out": Out(16),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = q = SyncFIFO(width=16, depth=self.slots)
        m.d.sync += self.flag.eq(self.word_valid & (self.word != 0))
        m.d.comb += [
            q.w_data.eq(self.word),
            q.w_en.eq(self.word_valid),
            q.r_en.eq(self.retire),
            self.busy.eq(q.r_rdy),
        ]
        # no reset (nor flush): a word only follows its own grant, one PE a cycle; the reset
        # and flush in this register's logic, a LUT behind the PE's reset and the flush
        # leaf, were the 32-PE ULX3S build's critical path
        value = Signal(16, reset_less=True)
        m.d.sync += value.eq(Mux(self.grant, q.r_data, 0))
        m.d.comb += self.value_out.eq(value)
        return m


def popcount(m, bits, width, *, levels=0, name="pc"):
    """Number of set bits of `bits` (a Value of `width` bits) as an adder tree;
    with levels=1 the sums of groups of 16 are registered first."""
    if levels == 0:
        total = Const(0, ceil_log2(width + 1))
        for i in range(width):
            total = total + bits[i]
        out = Signal(ceil_log2(width + 1), name=name)
        m.d.comb += out.eq(total)
        return out
    parts = []
    for g in range(0, width, 16):
        n = min(16, width - g)
        s = Signal(ceil_log2(n + 1), name=f"{name}_g{g}")
        t = Const(0, len(s))
        for i in range(g, g + n):
            t = t + bits[i]
        m.d.sync += s.eq(t)
        parts.append(s)
    out = Signal(ceil_log2(width + 1), name=name)
    acc = Const(0, len(out))
    for s in parts:
        acc = acc + s
    m.d.comb += out.eq(acc)
    return out


class LNZD(wiring.Component):
    """The central LNZD: slice masks in, one grant per cycle out.

    - `slice_valid`, `slice_mask` (N bits), `slice_count` (its popcount),
      `slice_k` (in): a slice arrives (queued: `slots` deep including the head;
      the prefetch never has more outstanding).
    - `room` (in): every PE's activation queue has a free slot (credits; a
      register of the array that already counts this cycle's issue).
    - `enable` (in): COMPUTE.
    - `issue` (out, combinational): a non-zero is broadcast this cycle: PE
      `grant` (one-hot, out), local index `issue_k` (out).
    - `retire` (out, combinational): the head slice leaves this cycle (its last
      bit is issued, or it has none).
    - `stall` (out): the head holds a non-zero but `room` is low.
    - `head_valid` (out): a slice is at the head.

    Timing: a slice that arrives at cycle t can issue from t + 1 on; issues
    of one slice are back to back; the next slice's first issue follows the
    previous slice's last without a gap when it has arrived.
    """

    def __init__(self, n_pes, kw, slots):
        self.n, self.kw, self.slots = n_pes, kw, slots
        cw = ceil_log2(n_pes + 1)
        self.cw = cw
        super().__init__({
            "slice_valid": In(1),
            "slice_mask": In(n_pes),
            "slice_count": In(cw),
            "slice_k": In(kw),
            "room": In(1),
            "enable": In(1),
            "issue": Out(1),
            "grant": Out(n_pes),
            "issue_k": Out(kw),
            "retire": Out(1),
            "stall": Out(1),
            "head_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n, cw, kw = self.n, self.cw, self.kw
        # a slice as the LNZD keeps it: its mask, how many bits are left and, decoded
        # ahead, whether that is none, one or two (so no comparator sits in the loop)
        entry = data.StructLayout({"mask": n, "count": cw, "k": kw,
                                   "none": 1, "one": 1, "two": 1})
        m.submodules.backlog = fifo = SyncFIFO(width=entry.size, depth=max(1, self.slots - 1))

        head = Signal(entry)
        head_valid = Signal()
        m.d.comb += self.head_valid.eq(head_valid)

        m.d.comb += [
            self.issue.eq(self.enable & head_valid & ~head.none & self.room),
            self.stall.eq(self.enable & head_valid & ~head.none & ~self.room),
            self.grant.eq(head.mask & -head.mask),
            self.issue_k.eq(head.k),
            self.retire.eq(self.enable & head_valid & (head.none | (self.issue & head.one))),
        ]

        incoming = Signal(entry)
        c = self.slice_count
        m.d.comb += [incoming.mask.eq(self.slice_mask), incoming.count.eq(c),
                     incoming.k.eq(self.slice_k), incoming.none.eq(c == 0),
                     incoming.one.eq(c == 1), incoming.two.eq(c == 2)]
        from_fifo = Signal(entry)
        m.d.comb += from_fifo.eq(fifo.r_data)

        load = Signal()
        m.d.comb += load.eq(~head_valid | self.retire)
        bypass = Signal()
        m.d.comb += [
            bypass.eq(load & ~fifo.r_rdy & self.slice_valid),
            fifo.w_data.eq(incoming.as_value()),
            fifo.w_en.eq(self.slice_valid & ~bypass),
            fifo.r_en.eq(load & fifo.r_rdy),
        ]
        with m.If(load):
            with m.If(fifo.r_rdy):
                m.d.sync += [head_valid.eq(1), head.eq(from_fifo)]
            with m.Elif(self.slice_valid):
                m.d.sync += [head_valid.eq(1), head.eq(incoming)]
            with m.Else():
                m.d.sync += head_valid.eq(0)
        with m.Elif(self.issue):
            m.d.sync += [head.mask.eq(head.mask & (head.mask - 1)), head.count.eq(head.count - 1),
                         head.none.eq(head.one), head.one.eq(head.two), head.two.eq(head.count == 3)]
        return m
