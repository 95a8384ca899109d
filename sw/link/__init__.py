"""The host side of the host link (docs/host-link.md): the protocol
(protocol.py), the client with its retry rules (client.py), the transports
(transport.py: a serial port through pyserial, imported only when used) and
the CLI's link options (connect.py). The simulated board and its transport
live in eiegen.sim.board_harness."""
