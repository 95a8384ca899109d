"""cocotb test: the simulated board's UART, served to a host process.

The host (sim/board_harness.py SimBoard) listens on 127.0.0.1:$EIEGEN_BOARD_PORT;
this test connects and serves its requests in lockstep (the request format
is in board_harness.py): bytes the host writes are driven onto `uart_rx`
(8N1, $EIEGEN_CLOCKS_PER_BIT clock periods per bit, one Timer per bit),
bytes the board sends on `uart_tx` are sampled mid-bit and queued for the
host's reads. Simulated time passes only while a read waits or the host
idles. The clock is cocotb's (GPI) clock; the board resets itself (the
power-on reset of boards/clocking.py).
"""

import os
import socket
import struct
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Timer, FallingEdge, First, Event
from cocotb.utils import get_sim_time

from .cocotb_harness import report
from .lockstep import REQ, ANS, recv_exact



class Uart:
    def __init__(self, dut, period_ps, clocks_per_bit):
        self.dut = dut
        self.period = period_ps
        self.bit = period_ps * clocks_per_bit
        self.txq = bytearray()
        self.rxbuf = bytearray()
        self.tx_more = Event()
        self.rx_more = Event()
        self.sent = self.received = self.framing_errors = 0
        dut.uart_rx.value = 1

    async def sender(self):
        dut = self.dut
        while True:
            if not self.txq:
                self.tx_more.clear()
                await self.tx_more.wait()
                # change the pin half a clock period away from the rising edges
                now = int(get_sim_time("ps"))
                off = (self.period // 2 - now % self.period) % self.period
                if off:
                    await Timer(off, "ps")
            b = self.txq.pop(0)
            for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                dut.uart_rx.value = bit
                await Timer(self.bit, "ps")
            self.sent += 1

    async def receiver(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.uart_tx)
            await Timer(self.bit // 2, "ps")
            if int(dut.uart_tx.value) != 0:
                continue                                  # a glitch, not a start bit
            v = 0
            for i in range(8):
                await Timer(self.bit, "ps")
                v |= int(dut.uart_tx.value) << i
            await Timer(self.bit, "ps")
            if int(dut.uart_tx.value) != 1:
                self.framing_errors += 1
                continue
            self.rxbuf.append(v)
            self.received += 1
            self.rx_more.set()

    async def wait_bytes(self, n, timeout_ps):
        deadline = int(get_sim_time("ps")) + timeout_ps
        while len(self.rxbuf) < n:
            left = deadline - int(get_sim_time("ps"))
            if left <= 0:
                break
            self.rx_more.clear()
            await First(self.rx_more.wait(), Timer(left, "ps"))
        out = bytes(self.rxbuf[:n])
        del self.rxbuf[:n]
        return out


@cocotb.test()
async def serve_host(dut):
    t0 = time.perf_counter()
    period_ps = int(os.environ.get("EIEGEN_PERIOD_NS", "10")) * 1000
    cpb = int(os.environ.get("EIEGEN_CLOCKS_PER_BIT", "4"))
    port = int(os.environ["EIEGEN_BOARD_PORT"])
    cocotb.start_soon(Clock(dut.clk, period_ps, unit="ps").start())
    uart = Uart(dut, period_ps, cpb)
    cocotb.start_soon(uart.sender())
    cocotb.start_soon(uart.receiver())
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.settimeout(900)          # the host may think (or be stopped in a debugger) a while
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    requests = 0
    try:
        while True:
            op, arg, n = REQ.unpack(recv_exact(sock, REQ.size))
            data = recv_exact(sock, n) if n else b""
            requests += 1
            value, out = 0, b""
            if op == b"W":
                uart.txq += data
                uart.tx_more.set()
            elif op == b"R":
                out = await uart.wait_bytes(struct.unpack("<I", data)[0], arg)
            elif op == b"I":
                await Timer(arg, "ps")
            elif op == b"T":
                value = int(get_sim_time("ps"))
            elif op == b"L":
                value = int(dut.leds.value)
            elif op == b"Q":
                sock.sendall(ANS.pack(0, 0))
                break
            else:
                raise AssertionError(f"unknown request {op!r}")
            sock.sendall(ANS.pack(value, len(out)) + out)
    finally:
        sock.close()
    report({"requests": requests, "bytes_to_board": uart.sent, "bytes_from_board": uart.received,
            "framing_errors": uart.framing_errors, "sim_ps": int(get_sim_time("ps")),
            "wall_seconds": time.perf_counter() - t0})
    assert uart.framing_errors == 0, f"{uart.framing_errors} framing errors on uart_tx"
