"""Activation queue (EIE §III-B): per-PE FIFO of broadcast activations.

It decouples the PEs: a PE with more entries in one column keeps working on
it while the central unit goes on broadcasting into the other PEs' queues.
eiegen reads the column pointers on arrival (pointer_read.py), so an item is
(value, start, count). The central unit holds one credit per slot for every
PE (hw/eie/timing.py `queue_slots`: the FIFO depth the user asks for plus
what the broadcast pipeline holds), so a write never finds the queue full.

The head is a register: the sparse-matrix read unit decides from the head's
`empty`/`single`/`start` whether it issues an entry this cycle, and that
decision fans out to its address, counters and the memory. Read straight
from the FIFO's LUT RAM (address register -> RAM -> read multiplexer ->
issue -> fan-out) it was the 32-PE ULX3S build's critical path (70.8 MHz,
docs/boards.md); from a register it is one LUT level. An item that finds the
queue empty goes straight into the head register, so the queue's timing is
that of one FIFO of `depth` items (first word on `r` the cycle after it is
written) and the cycle model does not change.

Whether an arriving item goes into the head register or the FIFO depends on
whether the head leaves in this cycle. With lib.fifo.SyncFIFO that decision
gated the LUT RAM's write enable, and the path from the sparse-matrix read
unit's `active` through it was the next 32-PE critical path (70.35 MHz). The
FIFO is a StagedFIFO (hw/common/staged_fifo.py) there: every arriving item
is written into its free slot, and the decision only advances the write
pointer and the level. On the iCE40, whose FIFO slots are flip-flops and
where the path is short, it stays a SyncFIFO, which costs fewer logic cells
(Timing.staged_queue).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..common.staged_fifo import StagedFIFO
from .layouts import queue_layout

__all__ = ["ActivationQueue"]


class ActivationQueue(wiring.Component):
    """One PE's activation queue: a head register and behind it a
    FIFO of `depth - 1` items (a StagedFIFO, SyncFIFO's behaviour, where
    Timing.staged_queue; else a SyncFIFO) (the formal harness names every
    slot of it, tests/hw/eie/formal_specs.py).

    Ports:
        w  In(stream of queue_layout): the broadcast column (value, start,
           count, empty, single) for this PE, from its pointer read unit. An
           item is taken in a cycle with w.valid and w.ready: into the head
           register when the queue is empty (or its only item leaves this
           cycle), else into the FIFO. The central unit keeps a credit per
           slot, so it never sends an item to a full queue.
        r  Out(stream of queue_layout): the head register, r.valid while it
           holds an item; the sparse-matrix read unit takes it with r.ready.
        busy  Out(1): the queue holds an item.

    Latency: an item written at cycle t is on `r` from t + 1 when the queue
    was empty, else the cycle after the item before it is taken (a taken
    head is replaced in the same cycle): exactly a SyncFIFO of `depth` items
    with first-word fall-through.

    Invariant: the FIFO holds items only while the head does, so the queue
    holds r.valid + the FIFO's level items, at most `depth` (w.ready is low
    when it holds `depth` and the head does not leave).

    Depth: EIEParams.queue_depth (hw/eie/timing.py Timing.queue_slots):
    fifo_depth slots of slack plus what the issue -> dequeue pipeline holds,
    so the credit loop sustains one broadcast a cycle; or exactly
    `queue_slots` when set (small parts).
    """

    def __init__(self, params):
        self.depth = params.queue_depth
        self.staged = params.timing.staged_queue
        self.layout = queue_layout(params)
        super().__init__({
            "w": In(stream.Signature(self.layout)),
            "r": Out(stream.Signature(self.layout)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        head_free = Signal()        # the head register is empty, or its item leaves this cycle
        bypass = Signal()           # the written item goes straight into the head register
        refill = Signal()           # the FIFO's oldest item moves into the head register
        m.d.comb += [head_free.eq(~self.r.valid | self.r.ready),
                     self.busy.eq(self.r.valid)]        # the FIFO holds items only behind the head
        if self.depth == 1:
            m.d.comb += [bypass.eq(self.w.valid & head_free), self.w.ready.eq(head_free)]
        else:
            if self.staged:
                m.submodules.fifo = fifo = StagedFIFO(width=self.layout.size, depth=self.depth - 1)
                m.d.comb += fifo.w_stage.eq(self.w.valid)   # the LUT RAM write: no read-side term
            else:
                m.submodules.fifo = fifo = SyncFIFO(width=self.layout.size, depth=self.depth - 1)
            m.d.comb += [
                bypass.eq(self.w.valid & head_free & ~fifo.r_rdy),
                fifo.w_data.eq(self.w.payload),
                fifo.w_en.eq(self.w.valid & ~bypass),   # the item is kept: pointer and level
                self.w.ready.eq(fifo.w_rdy | (head_free & ~fifo.r_rdy)),
                fifo.r_en.eq(head_free),
                refill.eq(head_free & fifo.r_rdy),
            ]
            with m.If(refill):
                m.d.sync += self.r.payload.eq(fifo.r_data)
        with m.If(bypass):
            m.d.sync += self.r.payload.eq(self.w.payload)
        with m.If(bypass | refill):
            m.d.sync += self.r.valid.eq(1)
        with m.Elif(self.r.ready):
            m.d.sync += self.r.valid.eq(0)
        return m
