"""ActivationUnit: accumulators -> ReLU -> requantise -> unified buffer.

ACT acc=A ub=B n=N lane=L is dispatched at cycle d with the multiplier M and shift
S of the last SETQ and `wait`, the cycles until every MMUL row issued so far
is in the accumulators (0: all are). From e = d + max(1, wait) it reads one
accumulator row every k = params.act_row_cycles cycles and writes
unified-buffer row B + i (lanes L..L+C-1; L a multiple of C, else no lane)
P = params.act_latency cycles after
reading row A + i; `busy` is high from d + 1 to the last write.

One requantiser serves all C columns: it takes L = params.act_group_lanes
lanes at a time, so a row is G = ceil(C / L) groups, one after the other.
For each lane of a group:

    v = max(acc, 0) if relu else acc
    p = v * M                                      (multiplier stage)
    t = p >> S,  b = p[S - 1] (0 for S = 0)        (two shift stages)
    y = t + b, saturated to in_width bits          (saturation stage)

t + b = floor((p + 2**(S-1)) / 2**S): round half up, the golden model's
requantize(). Nothing wider than the product is ever shifted: the shift is
a window of in_width + 1 bits taken from (p, 0) in two steps (by whole
bytes, then by 0..7 bits), and whether t fits is whether the bits of p from
S + in_width - 1 up all equal its sign: those above the byte-shifted window
(an AND per possible byte shift, selected in the first step) and those of
the window from S mod 8 + in_width up (in the second).

Multiplier stage, DSP (act_serial = 0): the lane's value is cut into 16-bit
pieces (the low ones unsigned, the top one signed), each piece times M is a
DSP product (18 x 18 blocks: two per lane for 32 x 16), and the pieces are
added in the next cycle: the selected value's register (beside the lane
select; the lanes' DSPs may be far from it), the DSP's input registers,
product registers, sum register, ACT_DSP_STAGES = 4, one group per cycle. Bit-serial (act_serial = 1, no DSP,
for a device whose DSPs are all MACs): v * M least significant bit of M
first, one bit per cycle with an (acc_width + 2)-bit adder, mult_width
cycles per group.

Timing of the row read at cycle r (MEM_LATENCY = 2 for the read):

    r + 2 + g * c            group g: lane select, ReLU, into the value
                             register (DSP) or the multiplier (bit-serial)
                             (c = 1, DSP; c = mult_width, bit-serial)
    ... product ready        (+ 4, DSP; + 1 + mult_width, bit-serial)
    + 1, + 2, + 3            coarse shift; fine shift, rounding bit, fits;
                             saturation into the row buffer
    r + P                    the row buffer written to the unified buffer
"""

from amaranth import Module, Signal, Mux, Cat, Const, signed, unsigned
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from ..common.dsp import registered_product, MULT18X18D_WIDTH
from ..eie.trees import FANOUT_ATTR
from .params import MEM_LATENCY

__all__ = ["ActivationUnit"]

PIECE = 16      # bits of the accumulator per DSP partial product


class ActivationUnit(wiring.Component):
    """Ports (an ACT dispatched at cycle d; k = act_row_cycles, P = act_latency):
        start      In, a pulse at d. With it: `acc_addr`, `ub_addr`, `count`
                   (rows), `acc_end` (acc_addr + count), `ub_end` (ub_addr +
                   count), `relu`, `mult`, `shift`, `lane` (first unified-buffer
                   lane written, a multiple of C) and `wait` (cycles until the
                   MMUL rows issued so far are in the accumulators), all In and
                   sampled at d (while idle the unit follows them).
        busy       Out (a register): from d + 1 to the last write.
        busy_next  Out (from registers): busy in the next cycle unless an ACT
                   is dispatched in this one (the sequencer's `all_idle`,
                   registered a cycle ahead).
        acc_lo, acc_hi, ub_lo, ub_hi
                   Out (registers): the accumulator rows [acc_lo, acc_hi) and
                   unified-buffer rows [ub_lo, ub_hi) of the running ACT, valid
                   while busy (the sequencer's hazard checks).
        acc_raddr, acc_ren
                   Out: read accumulator row acc_raddr, one row every k cycles
                   from d + max(1, wait) (acc_ren marks the cycle a row is
                   read; the address is held until the next); `acc_rdata`
                   (In) is that row MEM_LATENCY cycles later.
        ub_waddr, ub_wdata, ub_wlanes, ub_we
                   Out: the requantised row, written (lanes ub_wlanes) P cycles
                   after its accumulator read.
    """

    def __init__(self, params):
        self.params = p = params
        acc_abits = max(1, (p.acc_depth - 1).bit_length())
        ub_abits = max(1, (p.ub_depth - 1).bit_length())
        super().__init__({
            "start": In(1),
            "acc_addr": In(16),
            "ub_addr": In(16),
            "acc_end": In(p.acc_abits + 1),       # acc_addr + count
            "ub_end": In(p.ub_abits + 1),         # ub_addr + count
            "count": In(16),
            "relu": In(1),
            "mult": In(p.mult_width),
            "shift": In(8),
            "lane": In(8),           # first unified-buffer lane written (a multiple of C)
            "wait": In(range((1 << p.row_count_bits) + p.pipeline_depth + 1)),
            "busy": Out(1),
            "busy_next": Out(1),
            # the rows the running ACT reads and writes (for the sequencer's hazards)
            "acc_lo": Out(p.acc_abits + 1), "acc_hi": Out(p.acc_abits + 1),
            "ub_lo": Out(p.ub_abits + 1), "ub_hi": Out(p.ub_abits + 1),
            "acc_raddr": Out(acc_abits),
            "acc_ren": Out(1),
            "acc_rdata": In(data.ArrayLayout(signed(p.acc_width), p.cols)),   # MEM_LATENCY later
            "ub_waddr": Out(ub_abits),
            "ub_wdata": Out(data.ArrayLayout(signed(p.in_width), p.ub_lanes)),
            "ub_wlanes": Out(p.ub_lanes),
            "ub_we": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        C, W, A = p.cols, p.in_width, p.acc_width
        PW = p.product_width
        L, G, k = p.act_group_lanes, p.act_groups, p.act_row_cycles
        gcyc = p.act_group_cycles
        lo, hi = -(1 << (W - 1)), (1 << (W - 1)) - 1

        # -- the ACT being run ------------------------------------------------------
        wait = Signal(range((1 << p.row_count_bits) + p.pipeline_depth + 1))
        waiting = Signal()                  # wait > 1
        left = Signal(p.row_count_bits)
        reading_rows = Signal()             # left != 0
        racc = Signal(p.acc_abits)
        wub = Signal(p.ub_abits)
        relu = Signal()
        mult = Signal(p.mult_width)
        shift = Signal(8)
        nblocks = p.ub_lanes // C
        block = Signal(nblocks)             # one-hot: the unified-buffer lanes written
        phase = Signal(range(max(k, 2)))
        tail = Signal(range(p.act_latency + 1))
        # busy = reading_rows | (tail != 0), kept as a register (the sequencer's
        # dispatch decision uses it): without a dispatch, a read keeps the unit
        # busy (its last read loads tail = P > 0), otherwise tail counts down
        # (reading_rows and tail != 0 never hold together: a dispatch needs ~busy)
        busy = Signal()
        busy_next = Signal()
        m.d.comb += [busy_next.eq(reading_rows | (tail > 1)),
                     self.busy.eq(busy), self.busy_next.eq(busy_next)]
        m.d.sync += busy.eq(busy_next)

        # reading_rows, waiting, phase and racc take their next values (rr_n,
        # w_n, ph_n, racc_n) from one place, because two registers are computed
        # from those next values too: read = reading_rows & ~waiting &
        # (phase == 0) enables the accumulators' read port, whose register
        # after the block RAM spans all C lanes, so it must not be logic behind
        # other registers; and the read address (below)
        read = Signal()
        rr_n, w_n, ph_n, racc_n = Signal(), Signal(), Signal.like(phase), Signal.like(racc)
        m.d.comb += [rr_n.eq(reading_rows), w_n.eq(waiting), ph_n.eq(phase), racc_n.eq(racc)]
        with m.If(reading_rows & ~waiting):
            if k > 1:
                m.d.comb += ph_n.eq(Mux(phase == k - 1, 0, phase + 1))
        with m.If(waiting):
            m.d.sync += wait.eq(wait - 1)
            m.d.comb += w_n.eq(wait != 2)
        with m.If(read):
            m.d.sync += left.eq(left - 1)
            m.d.comb += [racc_n.eq(racc + 1), rr_n.eq(left != 1)]
            with m.If(left == 1):
                m.d.sync += tail.eq(p.act_latency)
        with m.Elif(tail != 0):
            m.d.sync += tail.eq(tail - 1)
        # while idle the operands follow the sequencer's (they matter at dispatch
        # only, and so the dispatch drives the few flags below, not every register)
        with m.If(~self.busy):
            m.d.sync += [wait.eq(self.wait), left.eq(self.count),
                         wub.eq(self.ub_addr), relu.eq(self.relu), mult.eq(self.mult),
                         shift.eq(self.shift),
                         block.eq(Cat(self.lane == q * C for q in range(nblocks))),
                         self.acc_lo.eq(self.acc_addr), self.acc_hi.eq(self.acc_end),
                         self.ub_lo.eq(self.ub_addr), self.ub_hi.eq(self.ub_end)]
            m.d.comb += [racc_n.eq(self.acc_addr), ph_n.eq(0)]
        with m.If(self.start):
            m.d.sync += [tail.eq(0), busy.eq(self.count[:p.row_count_bits] != 0)]
            m.d.comb += [w_n.eq(self.wait > 1), rr_n.eq(self.count[:p.row_count_bits] != 0)]
        read_n = Signal()
        m.d.comb += read_n.eq(rr_n & ~w_n & (ph_n == 0))
        m.d.sync += [reading_rows.eq(rr_n), waiting.eq(w_n), phase.eq(ph_n), racc.eq(racc_n),
                     read.eq(read_n)]
        # `acc_ren` says a row is read; the accumulators' port reads every cycle
        # (accumulators.py: an enable, one register driving the C x acc_width
        # output flip-flops over the die, was the 12 x 12 unit's critical
        # path, 10.1 ns of routing), and the row stays there for the G groups
        # because its address is held until the next read: `racc` as it is in
        # the read's cycle, then `held`. Nothing writes the rows an ACT reads
        # while it runs (an MMUL into them waits for the ACT, sequencer.py), so
        # reading a row again returns the same.
        # The address is itself a register, Mux(read, racc, held) computed from
        # the next values of the three (`read` into the address multiplexer of
        # every accumulator block RAM was the next critical path, 6.7 ns of routing)
        held = Signal(p.acc_abits, reset_less=True)
        with m.If(read):
            m.d.sync += held.eq(racc)
        raddr = Signal(p.acc_abits, reset_less=True)
        m.d.sync += raddr.eq(Mux(read_n, racc_n, Mux(read, racc, held)))
        m.d.comb += [self.acc_raddr.eq(raddr), self.acc_ren.eq(read)]

        # -- groups: the read row is in the accumulators' output register at r + 2
        rd_stages = [read]
        for n in range(MEM_LATENCY):
            nxt = Signal(name=f"read_d{n + 1}")
            m.d.sync += nxt.eq(rd_stages[-1])
            rd_stages.append(nxt)
        rd_q = rd_stages[-1]
        issue = Signal()
        # the group issued (`gsel`: 0 with the row, then `gnext`) as registers
        # computed a cycle ahead from the next values of the read's delay line
        # and of gnext, with a copy per lane (kept apart by synthesis): the
        # select logic behind the delay line, driving the lane multiplexers of
        # all L x acc_width bits across the die, was the 12 x 12 board top's
        # critical path (5.3 ns of routing). Outside an issue it is not used.
        gsel = Signal(range(G), reset_less=True)
        gsel_l = [Signal(range(G), name=f"gsel{l}", reset_less=True, attrs={FANOUT_ATTR: 1})
                  for l in range(L)]
        if G > 1:
            gnext = Signal(range(G + 1), init=G)    # the next group to issue (G: none)
            gnext_n = Signal(range(G + 1))
            gtimer = Signal(range(gcyc))
            m.d.comb += gnext_n.eq(gnext)
            with m.If(rd_q):
                m.d.comb += [issue.eq(1), gnext_n.eq(1)]
                m.d.sync += gtimer.eq(gcyc - 1)
            with m.Elif(gnext != G):
                if gcyc > 1:
                    with m.If(gtimer == 0):
                        m.d.comb += [issue.eq(1), gnext_n.eq(gnext + 1)]
                        m.d.sync += gtimer.eq(gcyc - 1)
                    with m.Else():
                        m.d.sync += gtimer.eq(gtimer - 1)
                else:
                    m.d.comb += [issue.eq(1), gnext_n.eq(gnext + 1)]
            with m.If(self.start):
                m.d.comb += gnext_n.eq(G)
            m.d.sync += gnext.eq(gnext_n)
            for g in [gsel] + gsel_l:
                m.d.sync += g.eq(Mux(rd_stages[-2], 0, gnext_n))
        else:
            m.d.comb += issue.eq(rd_q)

        # lane select and ReLU into the multiplier's input registers
        vals, vnext = [], []
        for l in range(L):
            v = Signal(signed(A), name=f"v{l}", reset_less=True)
            choices = [self.acc_rdata[g * L + l] if g * L + l < C else Const(0, signed(A))
                       for g in range(G)]
            sel = choices[0]
            for g in range(1, G):
                sel = Mux(gsel_l[l] == g, choices[g], sel)
            vn = Signal(signed(A), name=f"vnext{l}")
            m.d.comb += vn.eq(Mux(relu & sel[-1], 0, sel))
            with m.If(issue):
                m.d.sync += v.eq(vn)
            vals.append(v)
            vnext.append(vn)
        tok = data.StructLayout({"valid": 1, "group": range(G)})

        # -- multiplier stage: the products p of the group, and when they are ready
        prods = [Signal(signed(PW), name=f"p{l}", reset_less=True) for l in range(L)]
        p_tok = Signal(tok)
        if not p.act_serial:
            t0 = Signal(tok)
            t_v = Signal(tok)
            t1 = Signal(tok)
            m.d.sync += [t0.valid.eq(issue), t0.group.eq(gsel), t_v.eq(t0), t1.eq(t_v), p_tok.eq(t1)]
            npieces = -(-A // PIECE)
            # the multiplier into each lane's DSPs from a copy of its own (kept
            # apart by synthesis, trees.FANOUT_ATTR), loaded with `mult`: the
            # lanes' DSPs are where the array leaves DSPs free, in every DSP
            # row of the die (hw/systolic/floorplan.py)
            mult_l = []
            for l in range(L):
                ml = Signal(p.mult_width, name=f"mult_l{l}", attrs={FANOUT_ATTR: 1})
                with m.If(~self.busy):
                    m.d.sync += ml.eq(self.mult)
                mult_l.append(ml)
            for l, (v, vn) in enumerate(zip(vals, vnext)):
                # the selected, ReLU-ed value registered next to the lane
                # select (every cycle) before it goes to the lane's DSPs:
                # the lanes' DSPs are spread over the die, the select is one
                # place (hw/systolic/floorplan.py); one of the ACT_DSP_STAGES
                vq = Signal(signed(A), name=f"vq{l}", reset_less=True)
                m.d.sync += vq.eq(vn)
                parts = []
                for j in range(npieces):
                    top = j == npieces - 1
                    pp = Signal(signed(len(v[j * PIECE:min(A, (j + 1) * PIECE)]) + p.mult_width + 1)
                                if top else unsigned(PIECE + p.mult_width),
                                name=f"pp{l}_{j}", reset_less=True)
                    # on the ECP5 the DSP's input registers are v's piece and
                    # mult, its output register pp (hw/common/dsp.py); mult is
                    # constant while an ACT runs, so loading it with v is the
                    # same. They load every cycle, not only on `issue` (no clock
                    # enable net from the group logic to every lane): the
                    # product is used only P cycles after an issue (p_tok),
                    # when it is the issued value's, as with the enable
                    npiece = vq[j * PIECE:min(A, (j + 1) * PIECE)]
                    npiece = npiece.as_signed() if top else Cat(npiece, Const(0, 1)).as_signed()
                    dsp = None
                    if p.mult_width < MULT18X18D_WIDTH:
                        dsp = registered_product(m, platform, npiece,
                                                 Cat(mult_l[l], Const(0, 1)).as_signed(),
                                                 name=f"mult{l}_{j}")
                    if dsp is not None:
                        m.d.comb += pp.eq(dsp)
                    else:
                        # registered_product's behavioural form: the piece and
                        # the lane's multiplier registered every cycle, as in the DSP
                        piece = Signal.like(npiece, name=f"piece{l}_{j}", reset_less=True)
                        m_q = Signal(p.mult_width, name=f"mult_q{l}_{j}", reset_less=True)
                        m.d.sync += [piece.eq(npiece), m_q.eq(mult_l[l])]
                        m.d.sync += pp.eq(piece * Cat(m_q, Const(0, 1)).as_signed())
                    parts.append((pp, j * PIECE))
                total = parts[0][0]
                for pp, sh in parts[1:]:
                    total = total + (pp << sh)
                m.d.sync += prods[l].eq(total)
        else:
            steps = Signal(range(p.mult_width + 1))      # steps left: mult_width .. 1
            first = Signal()
            group = Signal(range(G))
            stepping = steps != 0
            with m.If(stepping):
                m.d.sync += [steps.eq(steps - 1), first.eq(0)]
            with m.If(issue):
                m.d.sync += [steps.eq(p.mult_width), first.eq(1), group.eq(gsel)]
            m.d.sync += [p_tok.valid.eq(stepping & (steps == 1)), p_tok.group.eq(group)]
            # the multiplier bit of this step: mult[mult_width - steps]
            mbit = Cat(Const(0, 1), *[mult[i] for i in reversed(range(p.mult_width))]
                       ).bit_select(steps, 1)
            for l, v in enumerate(vals):
                hi_part = Signal(signed(A + 1), name=f"ser_hi{l}", reset_less=True)
                lo_part = Signal(p.mult_width, name=f"ser_lo{l}", reset_less=True)
                s = Signal(signed(A + 2), name=f"ser_sum{l}")
                m.d.comb += s.eq(Mux(first, 0, hi_part) + Mux(mbit, v, 0))
                with m.If(stepping):
                    m.d.sync += [hi_part.eq(s >> 1), lo_part.eq(Cat(lo_part[1:], s[0]))]
                m.d.comb += prods[l].eq(Cat(lo_part, hi_part))

        # -- coarse shift by whole bytes, then by 0..7 bits. t fits in_width bits
        # when the bits of p from S + W - 1 up all equal its sign: those above
        # the coarse window (hi_ok, one AND per possible byte shift, chosen by
        # it) and those of the window from f + W up (lo_ok, f = S mod 8).
        # The ANDs are registered beside the coarse window (`above`) and the
        # byte shift chooses among them in the fine stage: the lane's product
        # register sits by its DSPs, the shift stages by the row buffer, and
        # the route between them followed by the ANDs and the choice was the
        # 12 x 12 board top's critical path (5.7 ns of routing, 6 LUT levels)
        q_tok, f_tok = Signal(tok), Signal(tok)
        m.d.sync += [q_tok.eq(p_tok), f_tok.eq(q_tok)]
        nbs = max(1, (p.max_shift >> 3).bit_length())
        outs = []
        for l in range(L):
            # the shift from a copy of its own per lane, loaded as `shift` is
            # (kept apart by synthesis): one register driving every lane's
            # shifters and checks across the die was the 12 x 12 board top's
            # critical path (shift -> 3.4 ns, 5.0 ns of routing -> fits)
            shift_l = Signal(8, name=f"shift_l{l}", attrs={FANOUT_ATTR: 1})
            with m.If(~self.busy):
                m.d.sync += shift_l.eq(self.shift)
            byte_shift = shift_l[3:3 + nbs]
            fine = shift_l[:3]
            pv = prods[l]
            sign = pv[-1]
            pe = Cat(Const(0, 1), pv).as_signed()            # (p, 0): bit j + 1 = p[j]
            coarse = Signal(W + 8, name=f"coarse{l}", reset_less=True)
            m.d.sync += coarse.eq((pe >> (byte_shift * 8))[:W + 8])
            sign_q = Signal(name=f"sign{l}", reset_less=True)
            m.d.sync += sign_q.eq(sign)
            n_cs = p.max_shift // 8 + 1
            above = Signal(n_cs, name=f"above{l}", reset_less=True)
            for cs in range(n_cs):
                bits = [pv[k] == sign for k in range(8 * cs + W + 7, PW)]
                m.d.sync += above[cs].eq(Cat(*bits).all() if bits else 1)
            hi_ok = above[0]
            for cs in range(1, n_cs):
                hi_ok = Mux(byte_shift == cs, above[cs], hi_ok)
            # fine shift: t and the rounding bit b; fits
            u = Signal(W + 1, name=f"window{l}", reset_less=True)
            fits = Signal(name=f"fits{l}", reset_less=True)
            sign2 = Signal(name=f"sign2_{l}", reset_less=True)
            lo_ok = Cat((fine > i) | (coarse[W + i] == sign_q) for i in range(8)).all()
            m.d.sync += [u.eq((coarse >> fine)[:W + 1]), fits.eq(hi_ok & lo_ok), sign2.eq(sign_q)]
            t = u[1:].as_signed()
            b = u[0]
            y = Signal(signed(W), name=f"y{l}")
            with m.If(~fits):
                m.d.comb += y.eq(Mux(sign2, lo, hi))
            with m.Elif(b & (t == hi)):
                m.d.comb += y.eq(hi)
            with m.Else():
                m.d.comb += y.eq(t + b)
            outs.append(y)

        # -- saturation into the row buffer; the row is written when its last group is in
        rowbuf = Signal(data.ArrayLayout(signed(W), C))
        with m.If(f_tok.valid):
            for g in range(G):
                with m.If(f_tok.group == g):
                    for l in range(L):
                        if g * L + l < C:
                            m.d.sync += rowbuf[g * L + l].eq(outs[l])
        we = Signal()
        m.d.sync += we.eq(f_tok.valid & (f_tok.group == G - 1))
        with m.If(we):
            m.d.sync += wub.eq(wub + 1)
        # the row goes to every block of C lanes; only the ACT's block is enabled
        m.d.comb += [self.ub_we.eq(we), self.ub_waddr.eq(wub),
                     self.ub_wlanes.eq(Cat(block[j // C] for j in range(nblocks * C)))]
        for j in range(nblocks * C):
            m.d.comb += self.ub_wdata[j].eq(rowbuf[j % C])
        return m
