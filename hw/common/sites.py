"""A device's hard-block sites (DSP multipliers, block RAMs) as nextpnr names
them, in the geometry a floorplan needs.

A board that knows its device gives them (boards/<board>.py `dsp_sites`,
`bram_sites`; the ECP5 board platforms as `platform.eiegen_dsp_sites`); the
arrays' floorplans (hw/systolic/floorplan.py, boards/floorplan.py) pick
sites from them and fix cells there with nextpnr's `BEL` attribute.
"""

import dataclasses

__all__ = ["Sites", "ecp5_dsp_sites", "ecp5_ebr_sites"]


@dataclasses.dataclass(frozen=True)
class Sites:
    """`rows[i][j]` is group j of row i: a tuple of the BEL names of blocks
    next to each other; groups left to right, rows top to bottom. `ys`:
    each row's tile row, `xs`: each group's first tile column (for distances)."""
    rows: tuple
    ys: tuple = ()
    xs: tuple = ()

    @property
    def groups_per_row(self):
        return min(len(r) for r in self.rows)

    @property
    def group_size(self):
        return min(len(g) for r in self.rows for g in r)

    def names(self):
        return [s for r in self.rows for g in r for s in g]


def ecp5_dsp_sites(ys, group_xs):
    """The MULT18X18D sites of an ECP5 device: DSP rows at tile rows `ys`;
    in each, groups of four multipliers starting at tile columns `group_xs`
    (MULT18_0 at x, MULT18_1 at x + 1, MULT18_4 at x + 4, MULT18_5 at x + 5:
    nextpnr-ecp5's BEL names)."""
    offsets = ((0, "MULT18_0"), (1, "MULT18_1"), (4, "MULT18_4"), (5, "MULT18_5"))
    return Sites(tuple(tuple(tuple(f"X{x + dx}/Y{y}/{bel}" for dx, bel in offsets) for x in group_xs)
                       for y in ys), tuple(ys), tuple(group_xs))


def ecp5_ebr_sites(ys, group_xs):
    """The DP16KD sites of an ECP5 device: block RAM rows at tile rows `ys`;
    in each, groups of four starting at tile columns `group_xs` (EBR0 .. EBR3
    at x, x + 2, x + 4, x + 6)."""
    return Sites(tuple(tuple(tuple(f"X{x + 2 * i}/Y{y}/EBR{i}" for i in range(4)) for x in group_xs)
                       for y in ys), tuple(ys), tuple(group_xs))
