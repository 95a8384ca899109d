"""Pointer read unit (EIE §III-B): column pointers p[g] and p[g+1] in one cycle.

Pointers sit in two banks, even g and odd g (both at address g // 2), so the
pair always comes from different banks: even[(g+1) >> 1] and odd[g >> 1],
swapped when g is odd. The central unit computes g = ptr_base + j once for
the whole array and broadcasts both bank addresses with the activation.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .layouts import queue_layout
from .trees import delay, FANOUT_ATTR

__all__ = ["PointerReadUnit"]


class PointerReadUnit(wiring.Component):
    """Ports:
    - `bcast_valid`, `bcast_value`, `bcast_even`, `bcast_odd`, `bcast_g_odd` (in):
      a broadcast activation and its pointer addresses, from the array's
      fan-out registers (cycle X).
    - `even_raddr`, `odd_raddr` (out) / `even_rdata`, `odd_rdata` (in): the banks
      (RAMs of `mem_latency` cycles): addressed in cycle X, data in X + latency.
    - `out` (out, stream): (value, start, count) registered at X + latency + 1,
      pushed into the activation queue (which is never full: credits; `ready`
      is not looked at).
    - `busy` (out): a broadcast is in this unit.
    """

    def __init__(self, params):
        self.params = params
        aw = max(1, ceil_log2(params.ptr_depth))
        self.aw = aw
        super().__init__({
            "bcast_valid": In(1),
            "bcast_value": In(signed(16)),
            "bcast_even": In(16),
            "bcast_odd": In(16),
            "bcast_g_odd": In(1),
            "even_raddr": Out(aw),
            "even_rdata": In(params.ptr_width),
            "odd_raddr": Out(aw),
            "odd_rdata": In(params.ptr_width),
            "out": Out(stream.Signature(queue_layout(params))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lat = self.params.mem_latency
        m.d.comb += [self.even_raddr.eq(self.bcast_even), self.odd_raddr.eq(self.bcast_odd)]
        # where memories have output registers (M >= 2, the ECP5) each PE keeps
        # its own copies of the broadcast (`keep`): the PEs behind one fan-out
        # leaf would otherwise share them, one register driving 4 PEs' queues
        keep = lat >= 2
        valid = [self.bcast_valid]
        for i in range(lat):
            v = Signal(name=f"valid_{i}", attrs={FANOUT_ATTR: 1} if keep else {})
            m.d.sync += v.eq(valid[-1])
            valid.append(v)
        value = delay(m, self.bcast_value, lat, name="value", reset_less=True, keep=keep)
        odd = delay(m, self.bcast_g_odd, lat, name="odd", reset_less=True, keep=keep)
        start = Signal(self.params.ptr_width)
        end = Signal(self.params.ptr_width)
        m.d.comb += [
            start.eq(Mux(odd, self.odd_rdata, self.even_rdata)),
            end.eq(Mux(odd, self.even_rdata, self.odd_rdata)),
        ]
        count = Signal(self.params.ptr_width)      # fits count_width (docs: params.py)
        m.d.comb += count.eq(end - start)
        m.d.sync += [
            self.out.valid.eq(valid[-1]),
            self.out.payload.value.eq(value),
            self.out.payload.start.eq(start),
            self.out.payload.count.eq(count),
            self.out.payload.empty.eq(start == end),
            self.out.payload.single.eq(count == 1),
        ]
        busy = valid[0]
        for v in valid[1:]:
            busy = busy | v
        m.d.comb += self.busy.eq(busy | self.out.valid)
        return m
