"""Central control unit (EIE §III-B): layer sequencing, the slice scan that
feeds the LNZD, the end of a layer's compute phase, and the array-level
performance counters.

Per layer (hw/eie/timing.py has the numbers):
- SETUP (`setup` cycles): read the layer descriptor, copy the layer's 16
  codebook entries to the weight decoders (`cb_we`/`cb_index`/`cb_data`),
  clear the PEs' dequeue counters;
- INIT (out_local + init_tail): preload every accumulator row with its bias;
- COMPUTE: read slices k = 0 .. in_local - 1 (`pf_valid`/`pf_k`, at most
  `slice_slots` not yet retired by the LNZD); it ends on the first cycle in
  which every slice is retired, the last broadcast has had time to reach every
  PE (`arrival` + `idle_latency` cycles since it was issued) and the PEs
  report idle (`all_idle`, seen `idle_latency` cycles late);
- WB (out_local + wb_tail): write-back into the destination file; the files swap.

Host side: `start` (a pulse, ignored unless `config_ok`: 1 <= num_layers <=
max_layers), `busy`, `done`. An abort is a synchronous reset of this unit
(the array's ResetInserter): back to IDLE, memories kept.
"""

from amaranth import Module, Signal, Mux, Const, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.ram import RAM
from .layouts import descriptor_layout

__all__ = ["CentralControl"]


class CentralControl(wiring.Component):
    """The central control unit (module docstring: the phases of a layer).

    Run (host side):
    - `start` (in): a pulse; with `config_ok` it starts a run: `run_start`
      (out, combinational) pulses in that cycle, `busy` is high from the next.
    - `num_layers` (in): layers of a run (control register 1); `config_ok`
      (out, register): 1 <= num_layers <= max_layers, as num_layers was the
      cycle before (a start needs it: the range compare is not on the path
      from `start` into the counters it clears; num_layers only changes by a
      host write, long before a start).
    - `busy` (out): not idle; `done` (out, register): the last run finished,
      until the next start.
    - `cycles`, `broadcasts`, `bcast_stall`, `compute_cycles` (out, registers,
      cleared by a start): cycles busy, broadcasts issued, cycles the LNZD's
      head waited for room, COMPUTE cycles (issue and stall counted one cycle
      late). `broadcasts` has the bits of params.most_broadcasts (a run
      broadcasts at most that many columns), the others 32.

    Layer configuration (registers, stable while a layer runs):
    - `src_sel` (out): the source activation file (0 for the first layer, then
      alternating); `desc` (out): the layer descriptor, read in SETUP cycles 1..4;
    - `cb_we`, `cb_index`, `cb_data` (out): SETUP cycles 1..16 write codebook
      entry `cb_index` into every weight decoder;
    - `clear` (out): a pulse in the first SETUP cycle of a layer (dequeue counters).

    Phases:
    - `computing` (out): COMPUTE; `init_valid` (out): INIT, `wb_valid` (out):
      WB, with `k` (out) = 0, 1, .. out_local - 1, one a cycle;
    - `pf_valid`, `pf_k` (out, combinational from registers): read slice `pf_k`
      this cycle (at most `slice_slots` read and not yet retired).

    From the LNZD and the PEs:
    - `issue` (in): a broadcast is issued this cycle; `retire` (in): the LNZD's
      head slice leaves (frees a read-ahead slot, counted a cycle late);
      `stall` (in): the head waits for room; `all_idle` (in): every PE idle,
      as seen `idle_latency` cycles late.

    Host access (only while idle; ignored while busy):
    - `host_layers_we`, `host_cb_we`, `host_addr`, `host_wdata` (in): write word
      `host_addr` of the layer table / codebook memory at the end of the cycle;
    - `host_layers_rdata`, `host_cb_rdata` (out): the word at `host_addr`, one
      cycle later (block RAM, latency 1).
    """

    def __init__(self, params):
        self.params = params
        t = params.timing
        self.timing = t
        kw = params.act_index_width
        lw = max(1, ceil_log2(params.max_layers))
        self.lw = lw
        super().__init__({
            "start": In(1),
            "num_layers": In(16),
            "config_ok": Out(1),
            "busy": Out(1),
            "done": Out(1),
            "run_start": Out(1),
            # layer configuration
            "src_sel": Out(1),
            "desc": Out(descriptor_layout),
            "cb_we": Out(1),
            "cb_index": Out(4),
            "cb_data": Out(16),
            "clear": Out(1),
            # phases
            "computing": Out(1),
            "init_valid": Out(1),
            "wb_valid": Out(1),
            "k": Out(kw),
            "pf_valid": Out(1),
            "pf_k": Out(kw),
            # LNZD and PEs
            "issue": In(1),
            "retire": In(1),
            "stall": In(1),
            "all_idle": In(1),
            # counters
            "cycles": Out(32),
            "broadcasts": Out(max(1, params.most_broadcasts.bit_length())),     # never wraps
            "bcast_stall": Out(32),
            "compute_cycles": Out(32),
            # host access to the layer table and codebook memories
            "host_layers_we": In(1),
            "host_cb_we": In(1),
            "host_addr": In(16),
            "host_wdata": In(64),
            "host_layers_rdata": Out(16),
            "host_cb_rdata": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        t = self.timing
        m.submodules.layers = layers = RAM(width=16, depth=4 * p.max_layers, name="layers")
        m.submodules.cbmem = cbmem = RAM(width=16, depth=16 * p.max_layers, name="codebook")

        layer = Signal(self.lw)
        c = Signal(range(max(t.setup, t.wb_tail + 1, 18) + 1))
        k = Signal(p.act_index_width)
        desc = Signal(descriptor_layout)
        src_sel = Signal()
        done = Signal()
        m.d.comb += [self.desc.eq(desc), self.src_sel.eq(src_sel),
                     self.done.eq(done), self.k.eq(k)]
        config_ok = Signal()
        m.d.sync += config_ok.eq((self.num_layers >= 1) & (self.num_layers <= p.max_layers))
        m.d.comb += self.config_ok.eq(config_ok)

        host = Signal()
        m.d.comb += [
            layers.raddr.eq(Mux(host, self.host_addr, Cat(c[:2], layer))),
            cbmem.raddr.eq(Mux(host, self.host_addr, (layer << 4) | c[:4])),
            layers.we.eq(self.host_layers_we & host), layers.waddr.eq(self.host_addr),
            layers.wdata.eq(self.host_wdata),
            cbmem.we.eq(self.host_cb_we & host), cbmem.waddr.eq(self.host_addr),
            cbmem.wdata.eq(self.host_wdata),
            self.host_layers_rdata.eq(layers.rdata),
            self.host_cb_rdata.eq(cbmem.rdata),
        ]
        last_k = Signal()

        # -- slice scan (COMPUTE) -------------------------------------------------------------------
        # slices read and not yet retired by the LNZD: at most slice_slots. The retire
        # is registered before it frees a slot, and `more`/`room` are registers kept
        # with the compares done on the current values, so no comparator is in a loop.
        pf_k = Signal(range(p.act_depth + 1))
        outstanding = Signal(range(t.slice_slots + 2))
        retire_q = Signal()
        more = Signal()
        room = Signal()
        pf_issue = Signal()
        m.d.comb += [
            pf_issue.eq(self.computing & more & room),
            self.pf_valid.eq(pf_issue),
            self.pf_k.eq(pf_k),
        ]
        m.d.sync += [retire_q.eq(self.retire & self.computing),
                     outstanding.eq(outstanding + pf_issue - retire_q),
                     more.eq(Mux(pf_issue, pf_k + 1 < desc.in_local, pf_k < desc.in_local))]
        with m.Switch(Cat(retire_q, pf_issue)):
            with m.Case(0b01):
                m.d.sync += room.eq(outstanding - 1 < t.slice_slots)
            with m.Case(0b10):
                m.d.sync += room.eq(outstanding + 1 < t.slice_slots)
            with m.Default():
                m.d.sync += room.eq(outstanding < t.slice_slots)
        with m.If(pf_issue):
            m.d.sync += pf_k.eq(pf_k + 1)
        lnzd_done = Signal()
        m.d.comb += lnzd_done.eq(~more & (outstanding == 0))
        quiet = t.arrival + t.idle_latency
        since = Signal(range(quiet + 1), init=quiet)
        with m.If(self.issue):
            m.d.sync += since.eq(1)
        with m.Elif(since != quiet):
            m.d.sync += since.eq(since + 1)

        # phases as one-hot registers: every output below comes straight from a register
        idle = Signal(init=1)
        setup = Signal()
        init = Signal()
        init_tail = Signal()
        compute = Signal()
        wb = Signal()
        wb_tail = Signal()
        first = Signal()              # the first SETUP cycle of a layer
        last_layer = Signal()
        last_k_q = Signal()           # k == out_local - 1, kept as a register
        issue_q = Signal()
        stall_q = Signal()
        m.d.comb += [host.eq(idle), self.computing.eq(compute), self.init_valid.eq(init),
                     self.wb_valid.eq(wb), self.clear.eq(first), last_k.eq(last_k_q)]
        m.d.sync += [issue_q.eq(self.issue & compute), stall_q.eq(self.stall & compute), first.eq(0)]
        with m.If(issue_q):
            m.d.sync += self.broadcasts.eq(self.broadcasts + 1)
        with m.If(stall_q):
            m.d.sync += self.bcast_stall.eq(self.bcast_stall + 1)
        with m.If(compute):
            m.d.sync += self.compute_cycles.eq(self.compute_cycles + 1)
        with m.If(init | wb):
            m.d.sync += [k.eq(k + 1), last_k_q.eq(k + 2 == desc.out_local)]

        def enter_k0():
            return [k.eq(0), last_k_q.eq(desc.out_local == 1)]

        with m.If(idle):
            with m.If(self.start & config_ok):
                m.d.comb += self.run_start.eq(1)
                m.d.sync += [idle.eq(0), setup.eq(1), first.eq(1), layer.eq(0), c.eq(0),
                             src_sel.eq(0), done.eq(0), last_layer.eq(self.num_layers == 1),
                             self.cycles.eq(0), self.broadcasts.eq(0), self.bcast_stall.eq(0),
                             self.compute_cycles.eq(0)]
        with m.If(setup):
            m.d.sync += c.eq(c + 1)
            with m.If((c >= 1) & (c <= 4)):
                # the descriptor's four 16-bit words, low first
                m.d.sync += desc.as_value().word_select((c - 1)[:2], 16).eq(layers.rdata)
            with m.If((c >= 1) & (c <= 16)):
                m.d.comb += [self.cb_we.eq(1), self.cb_index.eq((c - 1)[:4]),
                             self.cb_data.eq(cbmem.rdata)]
            with m.If(c == t.setup - 1):
                m.d.sync += [setup.eq(0), init.eq(1), *enter_k0()]
        with m.If(init & last_k):
            m.d.sync += [init.eq(0), init_tail.eq(1), c.eq(0)]
        with m.If(init_tail):
            m.d.sync += c.eq(c + 1)
            with m.If(c == t.init_tail - 1):
                m.d.sync += [init_tail.eq(0), compute.eq(1), pf_k.eq(0), outstanding.eq(0),
                             since.eq(quiet), more.eq(1), room.eq(1), retire_q.eq(0)]
        with m.If(compute & lnzd_done & (since == quiet) & self.all_idle):
            m.d.sync += [compute.eq(0), wb.eq(1), *enter_k0()]
        with m.If(wb & last_k):
            m.d.sync += [wb.eq(0), wb_tail.eq(1), c.eq(0)]
        with m.If(wb_tail):
            m.d.sync += c.eq(c + 1)
            with m.If(c == t.wb_tail - 1):
                m.d.sync += wb_tail.eq(0)
                with m.If(last_layer):
                    m.d.sync += [done.eq(1), idle.eq(1)]
                with m.Else():
                    m.d.sync += [setup.eq(1), first.eq(1), layer.eq(layer + 1), src_sel.eq(~src_sel),
                                 c.eq(0), last_layer.eq(layer + 2 == self.num_layers)]
        m.d.comb += self.busy.eq(~host)
        with m.If(~host):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        return m
