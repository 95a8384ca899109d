"""The host bus of a unit driven from cocotb, the one driver every cocotb test
uses (EIE array, systolic unit). Signals are set at falling clock edges, so a
request is stable around the rising edge that samples it; reads wait for
`rvalid` (any latency up to `read_timeout` cycles, one read in flight), as the
host link does (hw/common/hostbus.py).

The address is presented two cycles before the cycle of `we` or `re` and
held through it (the host-bus contract, hw/common/hostbus.py), so a write
takes three cycles (`write_many` writes one word every three cycles), and
a read is issued two or more cycles after a write. A read whose answer
comes L cycles after the edge that samples `re` takes 2 + max(L, 2)
cycles: `rvalid` is looked at just before the next edge after that one
(the falling edge: latency 1) and then just after every rising edge, so
the next address goes out at the falling edge of the cycle the answer is in.
"""

from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from ..hw.common.hostbus import ADDR_SETUP

__all__ = ["HostBus"]


class HostBus:
    def __init__(self, dut, *, prefix="bus__", clk=None, read_timeout=255):
        self.dut = dut
        self.clk = clk if clk is not None else dut.clk
        self.read_timeout = read_timeout
        self.sig = {name: getattr(dut, prefix + name)
                    for name in ("addr", "wdata", "we", "re", "rdata", "rvalid", "addr_ok",
                                 "word_bytes")}
        for name in ("we", "re", "addr", "wdata"):
            self.sig[name].value = 0
        self.data_mask = (1 << len(self.sig["wdata"])) - 1

    async def write(self, addr, data):
        await self.write_many([addr], [data])

    async def write_many(self, addrs, datas):
        s = self.sig
        for a, v in zip(addrs, datas):
            await FallingEdge(self.clk)
            s["we"].value = 0
            s["addr"].value = int(a)
            for _ in range(ADDR_SETUP):
                await FallingEdge(self.clk)
            s["wdata"].value = int(v) & self.data_mask
            s["we"].value = 1
        await FallingEdge(self.clk)
        s["we"].value = 0

    async def read(self, addr):
        s = self.sig
        await FallingEdge(self.clk)
        s["addr"].value = int(addr)
        for _ in range(ADDR_SETUP):
            await FallingEdge(self.clk)
        s["re"].value = 1
        await FallingEdge(self.clk)
        s["re"].value = 0
        # the edge that sampled `re` has passed: latency 1 shows now, a longer
        # one right after the rising edge it comes at (rvalid holds a whole cycle)
        await ReadOnly()
        if int(s["rvalid"].value):
            return int(s["rdata"].value)
        for _ in range(self.read_timeout - 1):
            await RisingEdge(self.clk)
            await ReadOnly()
            if int(s["rvalid"].value):
                return int(s["rdata"].value)
        raise AssertionError(f"no read answer for address {int(addr):#010x}")

    async def read_many(self, addrs):
        return [await self.read(a) for a in addrs]
