"""The array's LNZD tree (EIE §III-B, Figure 4a): 4-ary tree of LNZD nodes
over the PEs' local heads. Combinational: `valid`, `k` and `pe` name the
non-zero input activation of lowest global column j = k * N + pe."""

from amaranth import Module, Const
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .lnzd import LNZDNode

__all__ = ["LNZDTree"]


class LNZDTree(wiring.Component):
    def __init__(self, n_pes, kw):
        self.n_pes, self.kw = n_pes, kw
        levels = max(1, -(-ceil_log2(max(n_pes, 1)) // 2))   # 4-ary levels
        self.levels = levels
        self.leaves = 4 ** levels
        members = {}
        for i in range(n_pes):
            members[f"valid{i}"] = In(1)
            members[f"k{i}"] = In(kw)
        members.update({"valid": Out(1), "k": Out(kw), "pe": Out(2 * levels)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cur = [(getattr(self, f"valid{i}"), getattr(self, f"k{i}"), None) if i < self.n_pes
               else (Const(0, 1), Const(0, self.kw), None) for i in range(self.leaves)]
        idw = 0
        level = 0
        while len(cur) > 1:
            nxt = []
            for g in range(0, len(cur), 4):
                node = LNZDNode(self.kw, idw)
                m.submodules[f"node_{level}_{g // 4}"] = node
                for c in range(4):
                    v, k, ident = cur[g + c]
                    m.d.comb += [getattr(node, f"valid{c}").eq(v), getattr(node, f"k{c}").eq(k)]
                    if idw:
                        m.d.comb += getattr(node, f"id{c}").eq(ident)
                nxt.append((node.valid, node.k, node.id))
            cur = nxt
            idw += 2
            level += 1
        v, k, ident = cur[0]
        m.d.comb += [self.valid.eq(v), self.k.eq(k), self.pe.eq(ident)]
        return m
