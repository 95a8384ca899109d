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
    # EIE: 4 PEs, one SPRAM of 16K x 16 bits each (32K entries (v, z) per
    # PE), activations in block RAM (32 per PE per file: layers up to 128
    # wide, the `make sim` MLP 64-128-64-10), at 36 MHz from the PLL
    # (eie_hz). A small part's pipeline: block RAM without an output
    # register (mem_latency 1), two activation-queue slots and two LNZD
    # slices in flight (the broadcast rate this allows, one column per few
    # cycles, is what a PE with several entries per column needs). Measured
    # (docs/boards.md, recorded build): all 30 block RAMs (6 a PE, the
    # layer table and codebooks 2, the link 4)
    eie=dict(n_pes=4, fifo_depth=2, entries_per_word=2, spmat_depth=16384, ptr_depth=256,
             bias_depth=64, act_depth=32, max_layers=4, mem_latency=1, queue_slots=2,
             lnzd_slots=2),
    eie_hz=36e6,
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
