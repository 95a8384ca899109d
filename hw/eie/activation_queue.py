"""Activation queue (EIE §III-B): per-PE FIFO of broadcast activations.

It decouples the PEs: a PE with more entries in one column keeps working on
it while the central unit goes on broadcasting into the other PEs' queues.
eiegen reads the column pointers on arrival (pointer_read.py), so an item is
(value, start, count). The central unit holds one credit per slot for every
PE (hw/eie/timing.py `queue_slots`: the FIFO depth the user asks for plus
what the broadcast pipeline holds), so a write never finds the queue full.

Ports (lib.stream, straight through a lib.fifo.SyncFIFO):
- `w` (in): an item written at cycle t is on `r` from t + 1.
- `r` (out): the head; taken when `r.ready`.
"""

from amaranth import Module
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .layouts import queue_layout

__all__ = ["ActivationQueue"]


class ActivationQueue(wiring.Component):
    def __init__(self, params):
        self.depth = params.queue_depth
        self.layout = queue_layout(params)
        super().__init__({
            "w": In(stream.Signature(self.layout)),
            "r": Out(stream.Signature(self.layout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFO(width=self.layout.size, depth=self.depth)
        wiring.connect(m, wiring.flipped(self.w), fifo.w_stream)
        wiring.connect(m, fifo.r_stream, wiring.flipped(self.r))
        return m
