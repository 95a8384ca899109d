"""Activation queue (EIE §III-B): per-PE FIFO of broadcast activations.

It decouples the PEs: a PE with more entries in one column keeps working on
it while the central unit goes on broadcasting into the other PEs' queues.
eiegen reads the column pointers on arrival (pointer_read.py), so an item is
(value, start, end); the central control unit holds a credit per free slot,
so a write never finds the queue full. The queue has fifo_depth slots plus
one per broadcast that can be in flight (params.BCAST_IN_FLIGHT).
"""

from amaranth import Module
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .layouts import queue_layout

__all__ = ["ActivationQueue"]


class ActivationQueue(wiring.Component):
    def __init__(self, params):
        self.depth = params.queue_slots
        self.layout = queue_layout(params)
        super().__init__({
            "w": In(stream.Signature(self.layout)),
            "r": Out(stream.Signature(self.layout)),
            "level": Out(range(self.depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFO(width=self.layout.size, depth=self.depth)
        m.d.comb += [
            fifo.w_data.eq(self.w.payload.as_value()),
            fifo.w_en.eq(self.w.valid),
            self.w.ready.eq(fifo.w_rdy),
            self.r.payload.eq(fifo.r_data),
            self.r.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.r.ready),
            self.level.eq(fifo.level),
        ]
        return m
