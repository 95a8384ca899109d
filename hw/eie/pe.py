"""Processing element (EIE §III-B, Figure 4).

    slice read (pf) -> act R/W (data memory) -> LNZD lane: flag -> central LNZD
                                                           value -> OR tree -> broadcast
    broadcast (value, pointer addresses) -> pointer read unit -> activation queue
        -> sparse-matrix read unit -> weight decoder + address accumulator
        -> arithmetic unit (accumulators, bypass) -> write-back -> act R/W

The PE owns its image memories (sparse matrix, even/odd pointer banks, the
data memory with its activation files and bias words), its accumulators and
its codebook copy. While the array is idle the host reads and writes those
memories through the host port.
"""

from amaranth import Module, Signal, Mux, signed, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..common.ram import RAM, DualReadRAM
from .act_rw import ActivationReadWrite
from .lnzd import LNZDLane
from .activation_queue import ActivationQueue
from .pointer_read import PointerReadUnit
from .spmat_read import SparseMatrixReadUnit
from .weight_decoder import WeightDecoder
from .address_accumulator import AddressAccumulator
from .arithmetic_unit import ArithmeticUnit
from .writeback import Writeback
from .trees import delay, local_reset

__all__ = ["PE", "HOST_MEMS", "DEQ_WIDTH", "host_width", "busy_width"]

#: the PE's memories on the host port, by local code (= MEMORY_IDS - 0x10), and
#: the busy counter (code 6)
HOST_MEMS = ("spmat", "ptr_even", "ptr_odd", "bias", "act0", "act1")
BUSY_COUNTER = 6


def deq_width(params):
    """Bits of the dequeue counters compared modulo 2**bits (twice the
    queue's slots fit in half the range)."""
    return (4 * params.queue_depth).bit_length()


DEQ_WIDTH = deq_width


def host_width(params):
    """Bits of the widest word of the PE's memories on the host port."""
    return max(params.spmat_width, params.ptr_width, 16)


def busy_width(params):
    """Bits of the PE's busy counter: it counts the entries the PE issues in a
    run, at most most_broadcasts columns x 2**count_width - 1 entries a column
    (the queue's count field, whatever the pointers say), so it cannot wrap.
    32 bits would cost the small parts about 30 logic cells a PE for bits that
    stay 0."""
    return max(1, (params.most_broadcasts * ((1 << params.count_width) - 1)).bit_length())


def rdata_width(params):
    """Bits of the PE's host read word: a memory word or the busy counter."""
    return max(host_width(params), busy_width(params))


class PE(wiring.Component):
    """One processing element (module docstring: its blocks).

    Port contract (every input comes from a register of the array's fan-out
    trees, every output is a register; "t" is the cycle an input is seen):
    - layer configuration, stable while a layer runs: `src_sel` (source
      activation file), `bias_base`, `relu`, and the codebook
      (`cb_we`/`cb_index`/`cb_data` writes during SETUP);
    - slice scan: `pf_valid`/`pf_k` at t -> `flag` at t + mem_latency + 1; the
      word waits in the LNZD lane until `retire`; `grant` at t -> `value_out` at
      t + 1 (0 when not granted);
    - broadcast: `bcast_valid`, `bcast_value`, `bcast_even`, `bcast_odd`,
      `bcast_g_odd` at X -> the column can be dequeued from X + mem_latency + 2;
    - credits: `dequeues` counts the columns taken from the activation queue
      (modulo 2**len, registered);
    - INIT: `init_valid`/`init_k` at t -> acc[k] = bias[bias_base + k] << FRAC at
      t + mem_latency;
    - WB: `wb_valid`/`wb_k` at t -> destination word k written at the end of t + 3;
    - `computing` (in): COMPUTE (counts busy cycles); `idle` (out, registered):
      nothing of a broadcast is left in the PE's pipeline;
    - `clear` (in): resets the dequeue count (before a layer); `run_start` (in):
      resets the busy counter (a run starts); `flush` (in): drops all work (abort);
    - host port: `host_mode` (in): the array is idle, the host owns the
      memories (host writes are ignored without it); `host_re`/`host_we` with
      `host_mem` (HOST_MEMS index), `host_addr`, `host_wdata`, `host_sel` (this
      PE) at t -> the memories written at the end of t + host_stage (timing's
      host register) -> `host_rdata` (registered, 0 unless selected) at
      t + host_stage + mem_latency + 1, the same for every memory and the busy
      counter (`host_mem` 6). Where the fan-out trees end in a register of
      every PE's own (timing's pe_stage: large ECP5 arrays), writes come
      instead as `host_wen` (in): this PE's write enables, one bit per
      HOST_MEMS memory, decoded by the array into that register (the decode
      after the leaf, `host_sel` and `host_mem` into the write enables, was a
      48-PE ULX3S build's critical path, 96.65 MHz); `host_we` is then unused.
    """

    def __init__(self, params, index):
        self.params, self.index = params, index
        t = params.timing
        kw = params.act_index_width
        ports = {
            "src_sel": In(1),
            "bias_base": In(15),
            "relu": In(1),
            # slice scan and LNZD lane
            "pf_valid": In(1),
            "pf_k": In(kw),
            "flag": Out(1),
            "grant": In(1),
            "retire": In(1),
            "value_out": Out(16),
            # broadcast and credits
            "bcast_valid": In(1),
            "bcast_value": In(signed(16)),
            "bcast_even": In(16),
            "bcast_odd": In(16),
            "bcast_g_odd": In(1),
            "dequeues": Out(deq_width(params)),
            "clear": In(1),
            "run_start": In(1),
            # phases
            "init_valid": In(1),
            "init_k": In(kw),
            "wb_valid": In(1),
            "wb_k": In(kw),
            "computing": In(1),
            "idle": Out(1),
            # host port
            "host_mode": In(1),
            "host_sel": In(1),
            "host_mem": In(3),
            "host_addr": In(16),
            "host_wdata": In(host_width(params)),
            "host_we": In(1),
            "host_re": In(1),
            "host_rdata": Out(rdata_width(params)),
            **({"host_wen": In(len(HOST_MEMS))} if t.pe_stage else {}),
            "flush": In(1),
            "cb_we": In(1),
            "cb_index": In(4),
            "cb_data": In(signed(16)),
        }
        super().__init__(ports)
        self.slice_slots = t.slice_slots

    def elaborate(self, platform):
        m = Module()
        p = self.params
        i = self.index
        t = p.timing
        lat = p.mem_latency
        m.submodules.spmat = spmat = RAM(width=p.spmat_width, depth=p.spmat_depth,
                                         name=f"pe{i:02d}_spmat", latency=lat)
        m.submodules.ptrs = ptrs = DualReadRAM(width=p.ptr_width, depth=p.ptr_depth, latency=lat,
                                               names=(f"pe{i:02d}_ptr_even", f"pe{i:02d}_ptr_odd"))

        m.submodules.act = act = ActivationReadWrite(p, i)
        # an abort flushes the units that hold work (their state, not their data)
        if t.pe_stage:
            # in large ECP5 arrays each flushed unit takes the PE's reset through a register
            # of its own (a cycle later; the reset is the power-on one) and ORs the flush into
            # it by itself: the PE's reset leaf -> 5.1 ns -> the one shared flush OR -> 4.8 ns
            # -> the sparse-matrix read unit's column register was a 48-PE ULX3S build's
            # critical path (89.53 MHz at 100), and the 85 MHz build's before it
            def flushed(unit, name):
                return local_reset(m, unit, name, self.flush, domain=f"{name}_cd")
        else:
            flushed = lambda unit, name: ResetInserter({"sync": self.flush})(unit)
        lane = LNZDLane(self.slice_slots)
        m.submodules.lane = flushed(lane, "lane")
        ptr_read = PointerReadUnit(p)
        m.submodules.ptr_read = flushed(ptr_read, "ptr_read")
        queue = ActivationQueue(p)
        m.submodules.queue = flushed(queue, "queue")
        smr = SparseMatrixReadUnit(p)
        m.submodules.spmat_read = flushed(smr, "spmat_read")
        m.submodules.decoder = dec = WeightDecoder()
        m.submodules.addr_acc = aacc = AddressAccumulator(p.act_index_width)
        m.submodules.arith = au = ArithmeticUnit(p)
        m.submodules.writeback = wb = Writeback(p.acc_width, p.frac, p.act_index_width)

        host = self.host_mode
        # the host's request, registered next to the memories where they have output registers
        # (t.host_stage, the ECP5): the decoded write enables were the 32-PE array's critical
        # path (the leaf's select compare and memory decode, then a long route to a block RAM)
        hs = t.host_stage
        we_d = Signal(len(HOST_MEMS))
        re_d = Signal()
        if t.pe_stage:
            m.d.comb += we_d.eq(self.host_wen)        # decoded by the array, in host mode only
        else:
            m.d.comb += we_d.eq(Mux(self.host_we & self.host_sel & host, 1 << self.host_mem, 0))
        m.d.comb += re_d.eq(self.host_re & self.host_sel)
        # each PE's own (keep): the PEs behind one fan-out leaf have identical
        # request registers, and merged into one they drove 4 PEs' block RAMs
        # from one place (the floorplanned 32-PE build's critical path, 9.4 ns)
        we = delay(m, we_d, hs, name="host_we_s", keep=True)
        h_re = delay(m, re_d, hs, name="host_re_s", keep=True)
        h_mem = delay(m, self.host_mem, hs, name="host_mem_s", reset_less=True, keep=True)
        h_addr = delay(m, self.host_addr, hs, name="host_addr_s", reset_less=True, keep=True)
        h_wdata = delay(m, self.host_wdata, hs, name="host_wdata_s", reset_less=True, keep=True)
        # -- slice scan: source words -> LNZD lane ----------------------------------------
        m.d.comb += [
            act.src_sel.eq(self.src_sel),
            act.pf_valid.eq(self.pf_valid),
            act.pf_k.eq(self.pf_k),
            lane.word_valid.eq(delay(m, self.pf_valid, lat, name="pf_valid_q")),
            lane.word.eq(act.rdata),
            self.flag.eq(lane.flag),
            lane.grant.eq(self.grant),
            lane.retire.eq(self.retire),
            self.value_out.eq(lane.value_out),
        ]
        # -- broadcast -> pointers -> queue -> sparse-matrix read --------------------------
        m.d.comb += [
            ptr_read.bcast_valid.eq(self.bcast_valid),
            ptr_read.bcast_value.eq(self.bcast_value),
            ptr_read.bcast_even.eq(self.bcast_even),
            ptr_read.bcast_odd.eq(self.bcast_odd),
            ptr_read.bcast_g_odd.eq(self.bcast_g_odd),
            ptrs.raddr0.eq(Mux(host, h_addr, ptr_read.even_raddr)),
            ptrs.raddr1.eq(Mux(host, h_addr, ptr_read.odd_raddr)),
            ptr_read.even_rdata.eq(ptrs.rdata0),
            ptr_read.odd_rdata.eq(ptrs.rdata1),
        ]
        wiring.connect(m, ptr_read.out, queue.w)
        wiring.connect(m, queue.r, smr.col)
        with m.If(self.clear):
            m.d.sync += self.dequeues.eq(0)
        with m.Elif(smr.dequeue):
            m.d.sync += self.dequeues.eq(self.dequeues + 1)
        # -- entries -> decode -> MAC ----------------------------------------------------------
        m.d.comb += [dec.cb_we.eq(self.cb_we), dec.cb_index.eq(self.cb_index),
                     dec.cb_data.eq(self.cb_data)]
        m.d.comb += [
            spmat.raddr.eq(Mux(host, h_addr, smr.raddr)),
            smr.rdata.eq(spmat.rdata),
            dec.v.eq(smr.e.v),
            aacc.valid.eq(smr.e_valid),
            aacc.first.eq(smr.e_first),
            aacc.z.eq(smr.e.z),
            au.valid.eq(smr.e_valid),
            au.row.eq(aacc.row),
            au.w.eq(dec.w),
            au.a.eq(smr.e_value),
            au.flush.eq(self.flush),
        ]
        # -- bias preload (INIT) and write-back (WB) -----------------------------------------
        m.d.comb += [
            act.init_valid.eq(self.init_valid),
            act.init_k.eq(self.init_k),
            act.bias_base.eq(self.bias_base),
            au.init_valid.eq(delay(m, self.init_valid, lat, name="init_valid_q", keep=hs > 0)),
            au.init_row.eq(delay(m, self.init_k, lat, name="init_k_q", reset_less=True, keep=hs > 0)),
            au.bias.eq(act.rdata),
            au.wb_valid.eq(self.wb_valid),
            au.wb_row.eq(self.wb_k),
            wb.valid.eq(delay(m, self.wb_valid, 1, name="wb_valid_q", keep=hs > 0)),
            wb.k.eq(delay(m, self.wb_k, 1, name="wb_k_q", reset_less=True, keep=hs > 0)),
            wb.acc.eq(au.wb_acc),
            wb.relu.eq(self.relu),
            act.wb_valid.eq(wb.y_valid),
            act.wb_k.eq(wb.y_k),
            act.wb_value.eq(wb.y),
        ]
        # -- status ----------------------------------------------------------------------------------
        entry_pipe = smr.e_valid
        for v in [delay(m, smr.issue, k, name=f"iss_q{k}") for k in range(1, lat)]:
            entry_pipe = entry_pipe | v
        m.d.sync += self.idle.eq(~(self.bcast_valid | ptr_read.busy | queue.busy | smr.active |
                                   smr.issue | entry_pipe | au.busy))
        busy = Signal(busy_width(p))
        counted = Signal()              # registered, so the counter is off the issue path
        m.d.sync += counted.eq(self.computing & smr.issue)
        with m.If(self.run_start):
            m.d.sync += busy.eq(0)
        with m.Elif(counted):
            m.d.sync += busy.eq(busy + 1)
        # -- host port -----------------------------------------------------------------------------
        m.d.comb += [spmat.we.eq(we[0]), spmat.waddr.eq(h_addr), spmat.wdata.eq(h_wdata),
                     ptrs.we.eq(we[1] | we[2]), ptrs.wbank.eq(we[2]), ptrs.waddr.eq(h_addr),
                     ptrs.wdata.eq(h_wdata)]
        region = Signal(2)
        with m.Switch(h_mem):
            with m.Case(3):
                m.d.comb += region.eq(2)
            with m.Case(4):
                m.d.comb += region.eq(0)
            with m.Default():
                m.d.comb += region.eq(1)
        m.d.comb += [
            act.host_mode.eq(host),
            act.host_region.eq(region),
            act.host_addr.eq(h_addr),
            act.host_we.eq(we[3] | we[4] | we[5]),
            act.host_wdata.eq(h_wdata),
        ]
        mem_q = delay(m, h_mem, lat, name="host_mem_q")
        re_q = delay(m, h_re, lat, name="host_re_q")
        word = Signal(len(self.host_rdata))
        with m.Switch(mem_q):
            with m.Case(0):
                m.d.comb += word.eq(spmat.rdata)
            with m.Case(1):
                m.d.comb += word.eq(ptrs.rdata0)
            with m.Case(2):
                m.d.comb += word.eq(ptrs.rdata1)
            with m.Case(3, 4, 5):
                m.d.comb += word.eq(act.rdata.as_unsigned())
            with m.Case(BUSY_COUNTER):
                m.d.comb += word.eq(busy)           # static while the host reads
        m.d.sync += self.host_rdata.eq(Mux(re_q, word, 0))
        return m
