"""The host bus of a unit driven from cocotb, the one driver every cocotb test
uses (EIE array, systolic unit). Signals are set at falling clock edges, so a
request is stable around the rising edge that samples it; reads wait for
`rvalid` (any latency up to `read_timeout` cycles, one read in flight), as the
host link does (hw/common/hostbus.py)."""

from cocotb.triggers import FallingEdge, ReadOnly

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
            s["addr"].value = int(a)
            s["wdata"].value = int(v) & self.data_mask
            s["we"].value = 1
        await FallingEdge(self.clk)
        s["we"].value = 0

    async def read(self, addr):
        s = self.sig
        await FallingEdge(self.clk)
        s["addr"].value = int(addr)
        s["re"].value = 1
        await FallingEdge(self.clk)
        s["re"].value = 0
        for _ in range(self.read_timeout):
            await ReadOnly()
            if int(s["rvalid"].value):
                return int(s["rdata"].value)
            await FallingEdge(self.clk)
        raise AssertionError(f"no read answer for address {int(addr):#010x}")

    async def read_many(self, addrs):
        return [await self.read(a) for a in addrs]
