"""Floorplan of the systolic array's multipliers on a device's DSP sites.

Left to itself, nextpnr puts a full array's multipliers wherever a DSP is
free: with every DSP of the LFE5U-85F used (a 12 x 12 array and the
requantiser), some PEs' multipliers landed across the die from their adders
and neighbours (139 tiles; placement's estimate 54 MHz against 100). The
array's data only moves between neighbours, so a floorplan that keeps the
grid's neighbours next to each other on the die leaves only short routes:

- a DSP row holds `per` consecutive grid rows (as few DSP rows as the grid
  needs, centred among the device's);
- grid column c takes one group of adjacent multipliers in each of those
  DSP rows (the groups centred in the row), its rows in the group's order:
  the partial sums and weights move down a column inside a group, and
  from the last grid row of one DSP row to the first of the next;
- activations move right from group to group.

`pe_sites` gives each PE's site (a BEL name, hw/common/dsp.py `site`), or
nothing when the grid does not fit this shape (more columns than groups in
a DSP row, or more grid rows than the DSP rows' groups hold); the placer
then places the multipliers itself, as before.
"""

__all__ = ["pe_sites"]


def pe_sites(rows, cols, sites):
    """{(r, c): BEL name} for an R x C array on the DSP sites `sites`
    (hw/common/sites.py Sites; None: no sites known), or {} when the array
    does not fit the floorplan."""
    if sites is None or not sites.rows:
        return {}
    size = sites.group_size
    used = -(-rows // size)                    # DSP rows the grid needs
    if used > len(sites.rows) or cols > sites.groups_per_row:
        return {}
    per = -(-rows // used)                     # grid rows per DSP row
    row0 = (len(sites.rows) - used) // 2
    group0 = (sites.groups_per_row - cols) // 2
    return {(r, c): sites.rows[row0 + r // per][group0 + c][r % per]
            for r in range(rows) for c in range(cols)}
