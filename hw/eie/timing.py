"""The EIE array's pipeline as numbers (plain Python, no Amaranth): one table
from which the RTL sizes its registers and queues and the cycle model
(sim/eie_cycles.py) takes its latencies, so the two cannot drift apart.

Every latency below is a count of clock cycles between two events of
docs/eie-architecture.md ("Pipeline"). The only inputs are the number of
PEs (how many register levels the trees that fan signals out to the PEs and
gather them back have) and the memories' read latency.
"""

import dataclasses

__all__ = ["Timing", "timing", "tree_levels", "pe_stage"]


def tree_levels(n_leaves):
    """Register levels inside a tree over `n_leaves` PEs (fan-out, OR-gather,
    minimum): none up to 4 PEs (one LUT level or four loads), then one more
    per factor of 4."""
    levels = 0
    reach = 4
    while n_leaves > reach:
        levels += 1
        reach *= 4
    return levels


@dataclasses.dataclass(frozen=True)
class Timing:
    n_pes: int
    mem_latency: int        # M: block-memory read latency (1, or 2 with output register)
    fanout: int             # Fl: register levels from the central unit to every PE
                            #     (tree levels, plus pe_stage)
    gather: int             # Gl: register levels of the value OR-tree and flag paths
    popcount: int           # Pc: register levels of the slice popcount
    min_tree: int           # Mn: register levels of the dequeue-count minimum tree
                            #     (tree levels + 1, plus pe_stage: a register per PE first)
    setup: int = 18         # SETUP: descriptor read and codebook copy
    fifo_depth: int = 1     # D: the slack a PE gets beyond the broadcast pipeline
    slots: int = 0          # activation queue slots when set explicitly (0: from D)
    lnzd: int = 0           # slices read ahead when set explicitly (0: one slice a cycle)
    pe_stage: int = 0       # 1: the fan-out trees end in a register of every PE's own

    # -- slice prefetch (LNZD) ------------------------------------------------------------
    @property
    def slice_latency(self):
        """Lp: slice read issued at R -> its mask can be the LNZD head at R + Lp
        (PE input register, memory, flag register, gather registers, popcount,
        slice queue)."""
        return 4 + self.fanout + self.mem_latency + self.gather + self.popcount

    @property
    def slice_slots(self):
        """F: slices read and not yet retired by the LNZD (head included):
        enough for one slice a cycle, or `lnzd` for a small part."""
        return self.lnzd or self.slice_latency + 2

    @property
    def slice_credit(self):
        """A slice retired at t frees its slot for a read at t + slice_credit
        (the retire is registered first)."""
        return 2

    # -- broadcast ----------------------------------------------------------------------------
    @property
    def bcast_latency(self):
        """L: issue at T -> the column can be dequeued by a PE at T + L
        (grant to the PE, value register, OR-gather, broadcast register,
        fan-out, pointer memory, count register, queue)."""
        return 5 + 2 * self.fanout + self.gather + self.mem_latency

    @property
    def credit_latency(self):
        """C: a dequeue at P frees a queue slot the central unit may fill at P + C
        (dequeue counter, minimum tree, the registered room check)."""
        return 2 + self.min_tree

    @property
    def round_trip(self):
        """Broadcasts the pipeline holds per PE when the PE keeps up."""
        return self.bcast_latency + self.credit_latency - 1

    @property
    def queue_slots(self):
        """S: slots of every activation queue = broadcasts that may be issued
        and not yet dequeued by a PE: the slack D plus what the pipeline holds
        when the PE keeps up (or `slots`, set for a small part: then fewer than
        round_trip + 1 slots limit the broadcast rate)."""
        return self.slots or self.fifo_depth + self.round_trip

    # -- the PE's arithmetic ----------------------------------------------------------------------
    @property
    def acc_write_stage(self):
        """1 where the accumulator write has a stage of its own (M3, off the
        accumulate loop): where memories have output registers (M = 2, the
        ECP5, whose LUT RAM write was in that loop); 0 on the iCE40, whose
        loop is not critical and where the forward registers cost cells."""
        return 1 if self.mem_latency >= 2 else 0

    @property
    def product_stage(self):
        """1 where the product gets a slice register after the multiplier's
        own output register, and the accumulator read waits a cycle for it:
        in large ECP5 arrays (pe_stage), where the DSP block's output -> 4.25 ns
        of routing -> the accumulate adder was a 48-PE ULX3S build's critical
        path (88.05 MHz)."""
        return self.pe_stage

    @property
    def late_saturation(self):
        """Whether the accumulate loop's sum registers (and the write stage's)
        hold the sum unsaturated, with its overflow and sign bits, and the
        saturation is applied where they are read (the bypass multiplexer, the
        write data, the forward register): in large ECP5 arrays (pe_stage), so
        that nothing but registers follows the adder (the saturation's choice
        after the adder's top bits fanned out to every bit of the sum: with
        the forward select's route, a 48-PE ULX3S build's critical path,
        86.82 MHz). Same values, same cycles."""
        return self.pe_stage

    @property
    def mac_latency(self):
        """Entry address issued at e -> accumulator written at e + mac_latency
        (sparse-matrix memory, decode register, product register(s), and the
        write stage)."""
        return self.mem_latency + 2 + self.product_stage + self.acc_write_stage

    # -- host port ------------------------------------------------------------------------------
    @property
    def host_stage(self):
        """Registers of the host's request inside a PE, in front of its
        memories: one where the memories have output registers (M = 2, the
        ECP5, where the PEs are many and spread), none on the iCE40 (where
        the path is short and a register costs a logic cell a bit)."""
        return 1 if self.mem_latency >= 2 else 0

    # -- phases -------------------------------------------------------------------------------------
    @property
    def parallel_min(self):
        """Whether the minimum tree (the credits' slowest dequeue count,
        trees.gather_min) compares a group's values all against each other at
        once (one subtraction deep, then a select) instead of in a tournament
        (a subtraction, a multiplexer, another subtraction: a 48-PE ULX3S
        build's critical path, 95.85 MHz): where memories have output
        registers (M = 2, the ECP5, 100 MHz); on the iCE40 the extra
        subtractors cost logic cells a full UP5K needs. Same minimum either
        way."""
        return self.mem_latency >= 2

    @property
    def staged_queue(self):
        """Whether the activation queue's FIFO is a StagedFIFO (its memory
        written whenever an item arrives, the keep decision off the write
        enable): where memories have output registers (M = 2, the ECP5, whose
        FIFO is LUT RAM with that enable on the 32-PE critical path); on the
        iCE40 the slots are flip-flops, where lib.fifo.SyncFIFO costs 39
        logic cells a PE fewer (4 PEs alone on the UP5K: 3972 against 4130
        LCs packed) and the path is not critical. Same behaviour on the
        ports either way (tests/hw/eie/test_formal.py)."""
        return self.mem_latency >= 2

    @property
    def init_tail(self):
        """INIT lasts out_local + init_tail cycles."""
        return 1

    @property
    def wb_tail(self):
        """WB lasts out_local + wb_tail cycles (the last write lands in the
        destination file at its end): fan-out, accumulator read, round and
        saturate registers."""
        return 4 + self.fanout

    @property
    def idle_latency(self):
        """A PE idle at t (nothing in its pipeline) is seen by the central unit
        at t + idle_latency (idle register, AND-tree levels, central register)."""
        return 2 + self.gather

    @property
    def arrival(self):
        """Issue at T -> the broadcast is in every PE's pointer-read input
        register (and so in its idle flag) at T + arrival."""
        return 3 + 2 * self.fanout + self.gather


def pe_stage(n_pes, mem_latency):
    """1 where the fan-out trees end in a register of every PE's own, one more
    level below the leaves shared by 4 PEs: where memories have output
    registers (M = 2, the ECP5) and the array has more than 16 PEs. There a
    leaf's 4 PEs lie apart on the die, and a leaf register that drove logic
    in all four was the 32- and 48-PE ULX3S builds' critical path (the flush
    into the LNZD lanes, the configuration into the activation and
    accumulator addresses: 4-6 ns of routing before the first LUT). Smaller
    arrays meet 100 MHz without it (the 8-PE array alone: 110 MHz)."""
    return 1 if mem_latency >= 2 and n_pes > 16 else 0


def timing(params):
    """The Timing of an array built with `params` (an EIEParams)."""
    n = params.n_pes
    lv = tree_levels(n)
    ps = pe_stage(n, params.mem_latency)
    return Timing(n_pes=n, mem_latency=params.mem_latency, fanout=lv + ps, gather=lv,
                  popcount=0 if n <= 16 else 1, min_tree=lv + 1 + ps, pe_stage=ps,
                  fifo_depth=params.fifo_depth, slots=params.queue_slots, lnzd=params.lnzd_slots)
