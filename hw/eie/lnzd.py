"""Leading non-zero detection (EIE §III-B, "LNZD").

Two blocks: the local LNZD of a PE, which finds the PE's next non-zero source
activation, and the LNZD node that the array's 4-ary tree is made of, which
picks the non-zero of lowest global column among its children. Together they
emit the non-zero input activations in increasing column order j, one per
cycle, skipping zeros entirely.
"""

from amaranth import Module, Signal, Mux, Cat, Const
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["priority_encode", "LNZD", "LNZDNode"]


def priority_encode(m, bits, width):
    """Index of the lowest set bit of `bits` (a Value of `width` bits), as a
    balanced tree of depth log2(width): returns (valid, index)."""
    size = 1 << ceil_log2(max(width, 1))

    def rec(lo, n):
        if n == 1:
            return (bits[lo] if lo < width else Const(0, 1)), Const(0, 0)
        v_lo, i_lo = rec(lo, n // 2)
        v_hi, i_hi = rec(lo + n // 2, n // 2)
        valid = Signal(name=f"pv_{lo}_{n}")
        idx = Signal(ceil_log2(n), name=f"pi_{lo}_{n}")
        m.d.comb += [valid.eq(v_lo | v_hi),
                     idx.eq(Mux(v_lo, Cat(i_lo, Const(0, 1)), Cat(i_hi, Const(1, 1))))]
        return valid, idx
    return rec(0, size)


class LNZD(wiring.Component):
    """Local leading non-zero detection over one PE's source activations.

    `flags[k]` says activation k of the source file is non-zero. While `enable`
    is low the scan position is reset to 0; while it is high, `head` is the
    lowest k >= position with k < `limit` and flags[k] set, and `pop` moves
    the position past it (next cycle's head is the following non-zero).
    """

    def __init__(self, depth):
        self.depth = depth
        kw = max(1, ceil_log2(depth))
        self.kw = kw
        super().__init__({
            "flags": In(depth),
            "limit": In(range(depth + 1)),
            "enable": In(1),
            "pop": In(1),
            "head_valid": Out(1),
            "head": Out(kw),
        })

    def elaborate(self, platform):
        m = Module()
        pos = Signal(range(self.depth + 1))
        live = Signal(self.depth)
        for k in range(self.depth):
            m.d.comb += live[k].eq(self.flags[k] & (k >= pos) & (k < self.limit))
        valid, idx = priority_encode(m, live, self.depth)
        m.d.comb += [self.head_valid.eq(valid & self.enable), self.head.eq(idx)]
        with m.If(~self.enable):
            m.d.sync += pos.eq(0)
        with m.Elif(self.pop & self.head_valid):
            m.d.sync += pos.eq(self.head + 1)
        return m


class LNZDNode(wiring.Component):
    """One node of the 4-ary LNZD tree: of up to four children (valid, k),
    the one with the lowest k, ties to the lowest child (the lower PE: global
    column j = k * N + pe). `sel` is the chosen child."""

    def __init__(self, kw, idw, fan_in=4):
        self.kw, self.idw, self.fan_in = kw, idw, fan_in
        sel_w = max(1, ceil_log2(fan_in))
        self.sel_w = sel_w
        members = {}
        for i in range(fan_in):
            members[f"valid{i}"] = In(1)
            members[f"k{i}"] = In(kw)
            members[f"id{i}"] = In(idw)
        members.update({"valid": Out(1), "k": Out(kw), "id": Out(idw + sel_w)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        # pairwise tournament keeps the logic depth at log2(fan_in) comparisons
        cands = [(getattr(self, f"valid{i}"), getattr(self, f"k{i}"),
                  Cat(getattr(self, f"id{i}"), Const(i, self.sel_w)) if self.idw else Const(i, self.sel_w))
                 for i in range(self.fan_in)]
        level = 0
        while len(cands) > 1:
            nxt = []
            for a in range(0, len(cands), 2):
                if a + 1 == len(cands):
                    nxt.append(cands[a])
                    continue
                (va, ka, ia), (vb, kb, ib) = cands[a], cands[a + 1]
                take_b = Signal(name=f"take_b_{level}_{a}")
                m.d.comb += take_b.eq(vb & (~va | (kb < ka)))
                v = Signal(name=f"v_{level}_{a}")
                k = Signal(self.kw, name=f"k_{level}_{a}")
                i = Signal(len(ia), name=f"i_{level}_{a}")
                m.d.comb += [v.eq(va | vb), k.eq(Mux(take_b, kb, ka)), i.eq(Mux(take_b, ib, ia))]
                nxt.append((v, k, i))
            cands = nxt
            level += 1
        v, k, i = cands[0]
        m.d.comb += [self.valid.eq(v), self.k.eq(k), self.id.eq(i)]
        return m
