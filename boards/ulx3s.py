"""ULX3S with the Lattice ECP5 LFE5U-85F-6BG381 (83640 LUT4s, 156 18x18
multipliers, 208 block RAMs of 18 Kbit), 25 MHz oscillator and EHXPLLL,
FTDI UART, eight LEDs."""

from amaranth_boards.ulx3s import ULX3S_85F_Platform

from ..hw.common.sites import ecp5_dsp_sites, ecp5_ebr_sites
from .board import Board, Resources

# the first tile column of each group of four DSPs / block RAMs of the LFE5U-85F
_GROUPS_85F = (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)

BOARD = Board(
    name="ulx3s",
    title="ULX3S (ECP5 LFE5U-85F-6BG381)",
    platform=ULX3S_85F_Platform,
    family="ecp5",
    resources=Resources(logic=83640, dsp=156, bram=208, pll=4, logic_unit="LUT4"),
    clock="clk25", clock_hz=25e6,
    sync_hz=25e6,
    # EIE: 32 PEs with depths that hold LeNet-300-100 at the Deep Compression
    # paper's density (layers up to 1024 wide: act_depth 32; 2048 column
    # pointers and 2048 entries per PE) in 4 block RAMs a PE (sparse matrix 1,
    # pointer banks 2 as one true dual-port pair, activations and bias 1); the
    # accumulators and codebook copies in LUT RAM; each PE on its own block
    # RAM group and DSP (boards/floorplan.py; it holds 50). Clocked from the
    # PLL (eie_hz) at 100 MHz, met (105.03 MHz); the largest array built that
    # meets 100 MHz: 40 PEs reach 97.29 MHz (a central path into the LNZD),
    # 48 PEs 95.82 MHz (the accumulate loop) (docs/boards.md, recorded builds)
    eie=dict(n_pes=32, fifo_depth=8, entries_per_word=2, spmat_depth=1024, ptr_depth=1024,
             bias_depth=64, act_depth=32, max_layers=4),
    eie_hz=100e6,
    # systolic: 12 x 12 PEs (144 MULT18X18D) and a requantiser of 6 lanes
    # (2 MULT18X18D each: 32 x 16 bits), an accumulator row every 2 cycles:
    # all 156 DSPs, 92 % of them MACs; the weight memory holds the `make sim`
    # MLP (138 tiles); the multipliers floorplanned (hw/systolic/floorplan.py);
    # clocked from the PLL (systolic_hz) at 100 MHz (met once the host's
    # memory writes were registered beside each memory: docs/systolic-builds.md,
    # r26-r27)
    systolic=dict(rows=12, cols=12, act_lanes=6, wmem_depth=2048, imem_depth=1024),
    systolic_hz=100e6,
    uart="uart", baud=115200,
    leds=tuple(("led", i) for i in range(8)),
    # router2 routes the large arrays in a fraction of router1's time
    nextpnr_opts=("--router", "router2"),
    programmer=("openFPGALoader",),
    # the LFE5U-85F's 156 MULT18X18D and 208 DP16KD, as nextpnr-ecp5 names
    # them: three DSP rows (tile rows 10, 34, 58) and four block RAM rows
    # (22, 46, 70, 82), each of 13 groups of four, the groups 9 tile columns
    # apart (read off placed netlists, `nextpnr-ecp5 --write`;
    # tests/boards/test_sites.py has nextpnr place a cell at every one)
    dsp_sites=ecp5_dsp_sites((10, 34, 58), _GROUPS_85F),
    bram_sites=ecp5_ebr_sites((22, 46, 70, 82), _GROUPS_85F),
)
