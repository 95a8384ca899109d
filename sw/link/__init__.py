"""The host side of the host link (docs/host-link.md): the protocol
(protocol.py), the client with its retry rules (client.py) and the
transports (a serial port through pyserial, imported only when used; the
simulated board lives in eiegen.sim.cocotb_uart)."""
