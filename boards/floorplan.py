"""Floorplan of the EIE array on a device's block RAM and DSP sites.

A PE is a few hundred logic cells around its own hard blocks: on the ECP5
its block RAMs (sparse matrix, pointer banks, activation and bias data) and
its multiplier. Left to itself, nextpnr placed a 32-PE array's blocks
wherever they fitted best for the whole netlist: the blocks of one PE were
up to 70 tile rows apart (on a die of 95), and every critical path of that
build was a few LUTs inside one PE stretched between them
(docs/boards.md). The PEs share nothing but the registered broadcast and
gather trees, so each PE gets its blocks next to each other:

- the layer table's and the host link's block RAMs take the groups (four
  adjacent DP16KD) nearest the die's centre, and the PEs the next nearest,
  one group a PE, in rows, consecutive PEs side by side (the fan-out trees
  group consecutive PEs);
- a PE's block RAMs go into its group (cells in name order);
- its multiplier into the DSP group of the same tile columns in the nearest
  DSP row with a free slot.

Yosys makes the DP16KD cells from the memories and names them itself, so
the floorplan is applied to the synthesised netlist: `apply` (run by the
build between Yosys and nextpnr, `python -m eiegen.boards.floorplan`) sets
nextpnr's `BEL` attribute on the cells of each PE (name prefix `unit.pe<k>.`)
from the rules `eie_rules` wrote, and fails, naming the PE, when a PE has
more cells of a kind than the rules give it sites.
"""

import json
import shlex
import sys
from pathlib import Path

from ..sw.atomic import umask

__all__ = ["eie_rules", "apply", "prepare", "FLOORPLAN_FILE"]

FLOORPLAN_FILE = "floorplan.json"
UNIT = "unit"                   # the array's instance name in every top (boards/top.py, standalone.py)


#: block RAMs outside the PEs that get a group of their own (name prefix, most
#: blocks): the array's layer table and codebooks, and the host link's frame
#: buffer and microprogram (its two microprogram blocks, left to the placer,
#: were put far apart: pc -> adder -> 7.35 ns to the second block's address
#: was a floorplanned 32-PE build's critical path). A top without one (the
#: array alone has no link) just places none.
OTHER_GROUPS = ((f"{UNIT}.control.", 4), ("link.", 4))


def eie_rules(board, params, blocks_per_pe):
    """[{"prefix", "type", "sites"}] for the EIE array of EIEParams `params`
    on `board` with `blocks_per_pe` block RAMs a PE, or [] when the board has
    no sites or the array does not fit (one group for each of OTHER_GROUPS,
    and `blocks_per_pe` sites side by side a PE: a group of its own where
    that is a group's size, else consecutive sites along a row, which may
    run into the next group)."""
    bram, dsp = board.bram_sites, board.dsp_sites
    n = params.n_pes
    if bram is None or dsp is None or blocks_per_pe > bram.group_size or blocks_per_pe < 1:
        return []
    groups = [(i, j) for i in range(len(bram.rows)) for j in range(bram.groups_per_row)]
    cx = (bram.xs[0] + bram.xs[-1]) / 2
    cy = (min(bram.ys + dsp.ys) + max(bram.ys + dsp.ys)) / 2

    def dist(g):
        i, j = g
        return abs(bram.xs[j] - cx) + abs(bram.ys[i] - cy)

    # the centre's groups first to the layer table and the link (OTHER_GROUPS),
    # whose logic is the array's centre (the LNZD, the control, the host
    # bus) and talks to every PE; the PEs around them
    nearest = sorted(groups, key=lambda g: (dist(g), g))
    others = nearest[:len(OTHER_GROUPS)]
    # a PE's slots: each row's other groups' sites in runs of blocks_per_pe
    # (with four a PE, exactly the groups); (row, group of its first site, offset)
    slots, starting = {}, {}            # starting: slots that start in group (i, j)
    for i in range(len(bram.rows)):
        run = []
        for j in range(bram.groups_per_row):
            if (i, j) in others:
                run = []
                continue
            run += [(j, s) for s in bram.rows[i][j][:bram.group_size]]
            while len(run) >= blocks_per_pe:
                (j0, _), chunk, run = run[0], run[:blocks_per_pe], run[blocks_per_pe:]
                off = starting[(i, j0)] = starting.get((i, j0), -1) + 1
                slots[(i, j0, off)] = [site for _, site in chunk]
    if n > len(slots):
        return []
    chosen = sorted(sorted(slots, key=lambda k: (dist(k[:2]), k))[:n])
    free = {(i, j): list(dsp.rows[i][j]) for i in range(len(dsp.rows)) for j in range(dsp.groups_per_row)}
    rules = []
    for k, (i, j, off) in enumerate(chosen):
        y = bram.ys[i]
        rows = sorted(range(len(dsp.rows)), key=lambda r: (abs(dsp.ys[r] - y), r))
        r = next((r for r in rows if j < len(dsp.rows[r]) and free[(r, j)]), None)
        if r is None:
            return []
        prefix = f"{UNIT}.pe{k}."
        rules.append({"prefix": prefix, "type": "DP16KD", "sites": slots[(i, j, off)]})
        rules.append({"prefix": prefix, "type": "MULT18X18D", "sites": [free[(r, j)].pop(0)]})
    for (prefix, blocks), (i, j) in zip(OTHER_GROUPS, others):
        rules.append({"prefix": prefix, "type": "DP16KD", "sites": list(bram.rows[i][j][:blocks])})
    return rules


def pe_blocks(board, params):
    """Block RAMs a PE of the EIE array uses on `board` (boards/capacity.py)."""
    from .capacity import memory_blocks
    per = memory_blocks(board, params, link=False)["by_memory"]
    total = sum(per[k][0] for k in ("spmat", "ptr_even + ptr_odd", "act0 + act1 + bias",
                                    "accumulators + codebook"))
    return total // params.n_pes


def prepare(build_dir, board, params, env, name="top"):
    """Write the EIE floorplan of `params` on `board` into `build_dir` and
    return the environment that applies it: the family's nextpnr variable
    points at a wrapper that runs `apply` on the netlist, then nextpnr. When
    the board has no sites or the array does not fit the floorplan, nothing
    is written and `env` is returned as it is. The second value is the
    number of rules (0: no floorplan)."""
    rules = eie_rules(board, params, pe_blocks(board, params))
    if not rules:
        return env, 0
    var = f"NEXTPNR_{board.family.upper()}"
    build_dir = Path(build_dir)
    (build_dir / FLOORPLAN_FILE).write_text(json.dumps(rules, indent=1) + "\n")
    wrapper = build_dir / "nextpnr-floorplan.sh"
    wrapper.write_text("#!/bin/sh\n# the EIE floorplan (eiegen/boards/floorplan.py), then nextpnr\nset -e\n"
                       f"{shlex.quote(sys.executable)} -m eiegen.boards.floorplan {name}.json {FLOORPLAN_FILE}\n"
                       f"exec {shlex.quote(env.get(var, var.lower().replace('_', '-')))} \"$@\"\n")
    env = dict(env)
    env[var] = f"{build_dir.resolve() / wrapper.name}"
    wrapper.chmod(0o755 & ~umask())
    return env, len(rules)


class FloorplanError(Exception):
    pass


def apply(netlist, rules):
    """Set `BEL` on the cells of Yosys JSON netlist dict `netlist` (its top
    module) by `rules`; returns the number of cells placed."""
    tops = [m for m in netlist["modules"].values() if m.get("attributes", {}).get("top")]
    mod = tops[0] if tops else next(iter(netlist["modules"].values()))
    cells = mod["cells"]
    placed = 0
    for rule in rules:
        names = sorted(name for name, c in cells.items()
                       if c["type"] == rule["type"] and name.startswith(rule["prefix"]))
        if len(names) > len(rule["sites"]):
            raise FloorplanError(
                f"the floorplan gives {rule['prefix'][:-1]} {len(rule['sites'])} {rule['type']} site(s), "
                f"the netlist has {len(names)} of its {rule['type']} cells ({', '.join(names)})")
        for name, site in zip(names, rule["sites"]):
            cells[name]["attributes"]["BEL"] = site
            placed += 1
    return placed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m eiegen.boards.floorplan NETLIST.json FLOORPLAN.json", file=sys.stderr)
        return 2
    net_path, rules_path = argv
    with open(rules_path) as f:
        rules = json.load(f)
    with open(net_path) as f:
        netlist = json.load(f)
    try:
        n = apply(netlist, rules)
    except FloorplanError as exc:
        print(f"eiegen floorplan: {net_path}: {exc}", file=sys.stderr)
        return 1
    with open(net_path, "w") as f:
        json.dump(netlist, f)
    print(f"eiegen floorplan: {n} cells placed by {rules_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
