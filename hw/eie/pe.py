"""Processing element (EIE §III-B, Figure 4).

    broadcast (value, j) -> pointer read unit -> activation queue
        -> sparse-matrix read unit -> weight decoder + address accumulator
        -> arithmetic unit (accumulators, bypass) -> write-back -> act R/W
    act R/W (source file) -> local LNZD -> head to the array's LNZD tree

The PE owns its image memories (sparse matrix, even/odd pointer banks, bias),
its activation files and its accumulators. While the array is idle the host
reads and writes those memories through the host port.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.ram import RAM
from .layouts import codebook_layout
from .lnzd import LNZD
from .activation_queue import ActivationQueue
from .pointer_read import PointerReadUnit
from .spmat_read import SparseMatrixReadUnit
from .weight_decoder import WeightDecoder
from .address_accumulator import AddressAccumulator
from .arithmetic_unit import ArithmeticUnit
from .writeback import Writeback
from .act_rw import ActivationReadWrite

__all__ = ["PE", "HOST_MEMS"]

#: the PE's memories on the host port, by local code (= MEMORY_IDS - 0x10)
HOST_MEMS = ("spmat", "ptr_even", "ptr_odd", "bias", "act0", "act1")


class PE(wiring.Component):
    def __init__(self, params, index):
        self.params, self.index = params, index
        kw = params.act_index_width
        super().__init__({
            # layer configuration (stable while a layer runs)
            "src_sel": In(1),
            "in_local": In(16),
            "ptr_base": In(16),
            "bias_base": In(15),
            "relu": In(1),
            "codebook": In(codebook_layout),
            # LNZD
            "lnzd_enable": In(1),
            "head_valid": Out(1),
            "head": Out(kw),
            "pop": In(1),
            "src_value": Out(signed(16)),
            # broadcast and credits
            "bcast_valid": In(1),
            "bcast_value": In(signed(16)),
            "bcast_col": In(params.col_width),
            "issue": In(1),
            "ready": Out(1),
            # phases
            "init_valid": In(1),
            "init_k": In(kw),
            "wb_valid": In(1),
            "wb_k": In(kw),
            # status
            "idle": Out(1),
            "issuing": Out(1),
            # host port
            "host_mode": In(1),
            "host_mem": In(3),
            "host_addr": In(16),
            "host_wdata": In(64),
            "host_we": In(1),
            "host_rdata": Out(64),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        i = self.index
        m.submodules.spmat = spmat = RAM(width=p.spmat_width, depth=p.spmat_depth, name=f"pe{i:02d}_spmat")
        m.submodules.ptr_even = ptr_even = RAM(width=p.ptr_width, depth=p.ptr_depth, name=f"pe{i:02d}_ptr_even")
        m.submodules.ptr_odd = ptr_odd = RAM(width=p.ptr_width, depth=p.ptr_depth, name=f"pe{i:02d}_ptr_odd")
        m.submodules.bias = bias = RAM(width=16, depth=p.bias_depth, name=f"pe{i:02d}_bias")

        m.submodules.lnzd = lnzd = LNZD(p.act_depth)
        m.submodules.act = act = ActivationReadWrite(p)
        m.submodules.ptr_read = ptr_read = PointerReadUnit(p)
        m.submodules.queue = queue = ActivationQueue(p)
        m.submodules.spmat_read = smr = SparseMatrixReadUnit(p)
        m.submodules.decoder = dec = WeightDecoder()
        m.submodules.addr_acc = aacc = AddressAccumulator(p.act_index_width)
        m.submodules.arith = au = ArithmeticUnit(p)
        m.submodules.writeback = wb = Writeback(p.acc_width, p.frac)

        host = self.host_mode
        # -- source activations and local LNZD ----------------------------------
        m.d.comb += [
            act.src_sel.eq(self.src_sel),
            lnzd.flags.eq(act.flags),
            lnzd.limit.eq(self.in_local),
            lnzd.enable.eq(self.lnzd_enable),
            lnzd.pop.eq(self.pop),
            self.head_valid.eq(lnzd.head_valid),
            self.head.eq(lnzd.head),
            act.raddr.eq(Mux(host, self.host_addr, lnzd.head)),
            self.src_value.eq(act.src_value),
        ]
        # -- broadcast -> pointers -> queue -----------------------------------------
        m.d.comb += [
            ptr_read.bcast_valid.eq(self.bcast_valid),
            ptr_read.bcast_value.eq(self.bcast_value),
            ptr_read.bcast_col.eq(self.bcast_col),
            ptr_read.ptr_base.eq(self.ptr_base),
            ptr_even.raddr.eq(Mux(host, self.host_addr, ptr_read.even_raddr)),
            ptr_odd.raddr.eq(Mux(host, self.host_addr, ptr_read.odd_raddr)),
            ptr_read.even_rdata.eq(ptr_even.rdata),
            ptr_read.odd_rdata.eq(ptr_odd.rdata),
        ]
        wiring.connect(m, ptr_read.out, queue.w)
        wiring.connect(m, queue.r, smr.col)
        # credits: one per free queue slot, taken at issue, returned at dequeue
        credit = Signal(range(p.queue_slots + 1), init=p.queue_slots)
        deq = Signal()
        m.d.comb += [deq.eq(queue.r.valid & queue.r.ready), self.ready.eq(credit != 0)]
        m.d.sync += credit.eq(credit - self.issue + deq)
        # -- entries -> decode -> MAC ---------------------------------------------
        m.d.comb += [
            spmat.raddr.eq(Mux(host, self.host_addr, smr.raddr)),
            smr.rdata.eq(spmat.rdata),
            dec.codebook.eq(self.codebook),
            dec.v.eq(smr.e.v),
            aacc.valid.eq(smr.e_valid),
            aacc.first.eq(smr.e_first),
            aacc.z.eq(smr.e.z),
            au.valid.eq(smr.e_valid),
            au.row.eq(aacc.row),
            au.w.eq(dec.w),
            au.a.eq(smr.e_value),
            self.issuing.eq(smr.issue),
        ]
        # -- bias preload and write-back ---------------------------------------------
        m.d.comb += [
            bias.raddr.eq(Mux(host, self.host_addr, self.bias_base + self.init_k)),
            au.init_valid.eq(self.init_valid),
            au.init_row.eq(self.init_k),
            au.bias.eq(bias.rdata),
            au.wb_valid.eq(self.wb_valid),
            au.wb_row.eq(self.wb_k),
            wb.acc.eq(au.wb_acc),
            wb.relu.eq(self.relu),
            act.wb_valid.eq(au.wb_out_valid),
            act.wb_k.eq(au.wb_out_row),
            act.wb_value.eq(wb.y),
        ]
        m.d.comb += self.idle.eq(~ptr_read.busy & ~queue.r.valid & ~smr.active & ~smr.e_valid & ~au.busy)
        # -- host port -------------------------------------------------------------------
        we = Signal(len(HOST_MEMS))
        m.d.comb += we.eq(Mux(self.host_we & host, 1 << self.host_mem, 0))
        for idx, ram in enumerate((spmat, ptr_even, ptr_odd, bias)):
            m.d.comb += [ram.we.eq(we[idx]), ram.waddr.eq(self.host_addr),
                         ram.wdata.eq(self.host_wdata)]
        m.d.comb += [
            act.host_we.eq(we[4] | we[5]),
            act.host_file.eq(we[5]),
            act.host_k.eq(self.host_addr),
            act.host_wdata.eq(self.host_wdata),
        ]
        mem_q = Signal(3)
        m.d.sync += mem_q.eq(self.host_mem)
        with m.Switch(mem_q):
            with m.Case(0):
                m.d.comb += self.host_rdata.eq(spmat.rdata)
            with m.Case(1):
                m.d.comb += self.host_rdata.eq(ptr_even.rdata)
            with m.Case(2):
                m.d.comb += self.host_rdata.eq(ptr_odd.rdata)
            with m.Case(3):
                m.d.comb += self.host_rdata.eq(bias.rdata)
            with m.Case(4):
                m.d.comb += self.host_rdata.eq(act.rdata0.as_unsigned())
            with m.Case(5):
                m.d.comb += self.host_rdata.eq(act.rdata1.as_unsigned())
        return m
