"""An EIE image as host-link frames (docs/host-link.md, "Loading an image").

`load_writes(image)` is the list of WRITE operations, (address, payload),
that put an image into an EIE array over the host link: the layer table, the
codebooks, every PE's sparse-matrix memory, pointer banks and bias words,
then the number of layers (control register 1), and last the link's run
watchdog (`watchdog_write`: the most cycles a run of this model may take,
from the cycle model with a generous margin). Only the words in use are
written: the array never reads past them (docs/image-format.md), so what a
previous model left in the rest of a memory does not matter. Every payload
is whole words of the target (word_bytes little-endian bytes each, as the
array's host bus declares them) and at most MIN_MAX_PAYLOAD bytes, so every
link accepts it.

`image_frames(image)` encodes the whole load as request frames: BEGIN, the
WRITE frames, and COMMIT carrying the load checksum of those writes. That is
image.bin: a loader that sends each frame and waits for its answer (the link
drops bytes that arrive while it answers) leaves the board with the model
committed and runnable, or, if any frame went wrong, not runnable at all.
"""

import numpy as np

from ..hw.eie.params import MEMORY_IDS, CONTROL_REGS, host_map
from .errors import ImageError
from .link.protocol import (Cmd, MIN_MAX_PAYLOAD, encode_frame, make_addr, pack_words,
                            split_write, load_checksum, WATCHDOG_ADDR, LINK_WORD_BYTES)

__all__ = ["word_bytes", "load_writes", "load_checksum_of", "image_frames", "describe_addr",
           "NUM_LAYERS_REG", "watchdog_cycles", "watchdog_write", "WATCHDOG_MARGIN",
           "WATCHDOG_SLACK"]

#: control register holding the number of layers to run (hw/eie/array.py CONTROL_REGS)
NUM_LAYERS_REG = CONTROL_REGS["num_layers"]


def word_bytes(params):
    """Bytes per word on the link, per EIE target (hw/eie/params.py host_map)."""
    return host_map(params).word_bytes()


def _writes(target, pe, words, wb, max_payload):
    words = [int(w) for w in np.asarray(words).ravel()]
    if not words:
        return []
    if len(words) > 0x10000:
        raise ImageError(f"{target} memory of PE {pe}: {len(words)} words; the host link "
                         f"addresses at most 65536 words per memory")
    data = pack_words(words, wb)
    return split_write(make_addr(MEMORY_IDS[target], pe, 0), data, wb, max_payload)


def load_writes(image, max_payload=MIN_MAX_PAYLOAD):
    """[(addr, payload)] that load `image` (an eiegen.sw.image.Image)."""
    p = image.params
    wb = word_bytes(p)
    out = []
    out += _writes("layers", 0, image.layer_words(), wb["layers"], max_payload)
    out += _writes("codebook", 0, image.codebook_words(), wb["codebook"], max_payload)
    for pe in range(p.n_pes):
        for name, _, words in image.memories(pe):
            out += _writes(name, pe, words, wb[name], max_payload)
    out.append((host_map(p).reg_addr("num_layers"),
                pack_words([len(image.layers)], wb["control"])))
    out.append(watchdog_write(image))
    return out


#: the watchdog allows WATCHDOG_MARGIN times the slowest run of the cycle
#: model, plus WATCHDOG_SLACK cycles
WATCHDOG_MARGIN = 4
WATCHDOG_SLACK = 1 << 16


def watchdog_cycles(image):
    """The run watchdog for `image`: the cycle model's count for the slowest
    input (every activation of every layer non-zero, the shallowest
    activation queue: every column is broadcast, every entry processed, the
    most stalls), times WATCHDOG_MARGIN, plus WATCHDOG_SLACK; at most 2**32 - 1."""
    from ..sim.eie_cycles import simulate
    worst = [np.ones(layer.n_in, dtype=np.int64) for layer in image.layers]
    report = simulate(image, worst[0], fifo_depth=1, layer_inputs=worst)
    return min((1 << 32) - 1, WATCHDOG_MARGIN * int(report.total_cycles) + WATCHDOG_SLACK)


def watchdog_write(image):
    """(address, payload) that sets the link's run watchdog for `image`."""
    return WATCHDOG_ADDR, pack_words([watchdog_cycles(image)], LINK_WORD_BYTES)


def load_checksum_of(image):
    """The checksum COMMIT expects after BEGIN and load_writes(image)."""
    return load_checksum(load_writes(image))


def image_frames(image):
    """image.bin as a list of frames (bytes): BEGIN, WRITE..., COMMIT. Frame
    k carries TAG k mod 256, so no frame looks like a retransmission of the
    one before it."""
    writes = load_writes(image)
    frames = [encode_frame(Cmd.BEGIN, 0, b"", 0)]
    for i, (addr, payload) in enumerate(writes, 1):
        frames.append(encode_frame(Cmd.WRITE, addr, payload, i & 0xFF))
    frames.append(encode_frame(Cmd.COMMIT, 0, load_checksum(writes).to_bytes(4, "little"),
                               (len(writes) + 1) & 0xFF))
    return frames


_NAMES = {v: k for k, v in MEMORY_IDS.items()}


def describe_addr(addr):
    """'spmat of PE 1, word 12' for an EIE host-bus address."""
    target, pe, word = (addr >> 24) & 0xFF, (addr >> 16) & 0xFF, addr & 0xFFFF
    if addr == WATCHDOG_ADDR:
        return "the link's run watchdog"
    name = _NAMES.get(target, f"target {target:#04x}")
    if name in ("control", "layers", "codebook"):
        return f"{name} word {word}"
    return f"{name} of PE {pe}, word {word}"
