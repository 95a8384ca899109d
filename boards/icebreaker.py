"""iCEBreaker: Lattice iCE40UP5K-SG48 (5280 logic cells, 8 SB_MAC16 DSPs,
30 block RAMs of 4 Kbit, 4 SPRAMs of 256 Kbit), 12 MHz oscillator, FTDI UART,
two user LEDs.

The EIE array's sparse-matrix memories live in SPRAM, one block per PE:
SPRAM has no initial contents, so on this board the sparse matrices are
loaded over the host link while pointers, bias, layer table and codebook
can be baked into the bitstream or swapped with icebram (docs/boards.md).
"""

from amaranth_boards.icebreaker import ICEBreakerPlatform

from .board import Board, Resources

BOARD = Board(
    name="icebreaker",
    title="iCEBreaker (iCE40UP5K-SG48)",
    platform=ICEBreakerPlatform,
    family="ice40",
    resources=Resources(logic=5280, dsp=8, bram=30, spram=4, pll=1, logic_unit="LC"),
    clock="clk12", clock_hz=12e6,
    sync_hz=12e6,
    # one SPRAM of 16K x 16 bits per PE: 32K entries (v, z) per PE. One PE is
    # all that fits beside the host link (two need 7052 LCs); a short
    # activation queue keeps it clear of the 5280 LCs (one PE has no load
    # imbalance for the queue to absorb)
    eie=dict(n_pes=1, fifo_depth=2, entries_per_word=2, spmat_depth=16384, ptr_depth=256,
             bias_depth=256, act_depth=16, max_layers=4),
    # systolic: every SB_MAC16 a MAC (4 x 2 PEs, the DSP's input, pipeline and
    # output registers and its adder); the requantiser is bit-serial in logic,
    # one lane at a time (act_serial, act_lanes=1: 2 x 16 cycles per
    # accumulator row), clocked from the PLL (systolic_hz)
    systolic=dict(rows=4, cols=2, act_lanes=1, act_serial=1, ub_depth=256, acc_depth=256,
                  wmem_depth=256, imem_depth=256, counter_width=32),
    systolic_hz=24e6,
    uart="uart", baud=115200,
    leds=(("led_g", 0), ("led_r", 0)),
    spram_memories=("_spmat",),
    synth_opts=("-dsp",),
    programmer=("iceprog",),
)
