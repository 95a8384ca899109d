"""Byte transports for the host-link client.

A transport moves bytes and measures time in its own clock:

    write(data)             queue bytes for the board
    read(n, timeout)        up to n bytes; fewer if `timeout` seconds pass first
    clock()                 seconds (wall clock for a serial port, simulated time
                            for the simulated board)
    bit_seconds             one bit time on the line
    slack_seconds           extra latency to allow per answer (USB serial adapters)
    close()

SerialTransport wraps pyserial, imported only when a real port is opened.
The simulated board's transport is eiegen.sim.board_harness.SimTransport.
"""

import math
import time

from ..errors import LinkError

__all__ = ["Transport", "SerialTransport", "open_serial", "DEFAULT_BAUD"]

DEFAULT_BAUD = 115200


class Transport:
    bit_seconds = 1.0 / DEFAULT_BAUD
    slack_seconds = 0.0

    def write(self, data):
        raise NotImplementedError

    def read(self, n, timeout):
        raise NotImplementedError

    def clock(self):
        return time.monotonic()

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialTransport(Transport):
    """A serial port (8N1) through pyserial."""

    def __init__(self, port, baud=DEFAULT_BAUD, *, slack_seconds=0.1):
        try:
            import serial
        except ImportError:
            raise LinkError(f"talking to a board on {port} needs pyserial (pip install pyserial); "
                            f"`--port sim` drives the simulated board without it") from None
        try:
            self.ser = serial.Serial(port, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                     timeout=0.1, write_timeout=10)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open serial port {port} at {baud} baud: {exc}") from None
        self.port, self.baud = port, baud
        self.bit_seconds = 1.0 / baud
        self.slack_seconds = slack_seconds
        self.ser.reset_input_buffer()

    def write(self, data):
        try:
            self.ser.write(bytes(data))
            self.ser.flush()
        except Exception as exc:           # serial.SerialException, timeouts, unplugged adapter
            raise LinkError(f"{self.port}: write failed: {exc}") from None

    def read(self, n, timeout):
        try:
            timeout = max(0.001, math.ceil(timeout * 1000) / 1000)
            if self.ser.timeout != timeout:        # pyserial reconfigures the port on change
                self.ser.timeout = timeout
            return bytes(self.ser.read(n))
        except Exception as exc:
            raise LinkError(f"{self.port}: read failed: {exc}") from None

    def close(self):
        self.ser.close()


def open_serial(port, baud=DEFAULT_BAUD):
    return SerialTransport(port, baud)
