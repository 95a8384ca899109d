"""Activation queue (EIE §III-B): per-PE FIFO of broadcast activations.

It decouples the PEs: a PE with more entries in one column keeps working on
it while the central unit goes on broadcasting into the other PEs' queues.
eiegen reads the column pointers on arrival (pointer_read.py), so an item is
(value, start, count). The central unit holds one credit per slot for every
PE (hw/eie/timing.py `queue_slots`: the FIFO depth the user asks for plus
what the broadcast pipeline holds), so a write never finds the queue full.
"""

from amaranth import Module
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .layouts import queue_layout

__all__ = ["ActivationQueue"]


class ActivationQueue(wiring.Component):
    """One PE's activation queue: a lib.fifo.SyncFIFO of `depth` items whose
    w_stream/r_stream are the ports (wiring.connect, nothing in between).

    Ports:
        w  In(stream of queue_layout): the broadcast column (value, start,
           count, empty, single) for this PE, from its pointer read unit. An
           item is taken in a cycle with w.valid and w.ready; w.ready is low
           exactly while the queue holds `depth` items. The central unit keeps
           a credit per slot, so it never sends an item to a full queue.
        r  Out(stream of queue_layout): the oldest item, r.valid while the
           queue is not empty (first-word fall-through); the sparse-matrix
           read unit takes it with r.ready.

    Latency: an item written at cycle t is on `r` from t + 1; no bypass (an
    empty queue answers the cycle after the write, a full one takes a write
    the cycle after a read).

    Depth: EIEParams.queue_depth (hw/eie/timing.py Timing.queue_slots):
    fifo_depth slots of slack plus what the issue -> dequeue pipeline holds,
    so the credit loop sustains one broadcast a cycle; or exactly
    `queue_slots` when set (small parts). The sizing is all that is special
    here: the queue itself is the library's FIFO.
    """

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
