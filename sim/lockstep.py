"""The lockstep byte pipe between the host process (sim/board_harness.py)
and the simulated board's cocotb test (sim/cocotb_board.py): one request
(op byte, argument, payload length, payload), one answer (value, payload
length, payload), over a local TCP socket."""

import struct

__all__ = ["REQ", "ANS", "recv_exact"]

REQ = struct.Struct("<cQI")
ANS = struct.Struct("<QI")


def recv_exact(sock, n):
    """Exactly n bytes from sock; ConnectionError when the other side closes."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the other side of the simulated board's pipe closed the connection")
        buf += chunk
    return bytes(buf)
