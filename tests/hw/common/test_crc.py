import binascii
import random
import zlib

import pytest

from eiegen.hw.common.crc import CRC, CRC16_CCITT_FALSE, CRC32, crc_reference
from eiegen.sim.amaranth_sim import run


def _simulate(dut, chunks):
    """Feed each chunk after a clear (with gaps between bytes); returns the
    value after each chunk."""
    out = []

    async def tb(ctx):
        for chunk in chunks:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for i, b in enumerate(chunk):
                ctx.set(dut.data, b)
                ctx.set(dut.valid, 1)
                await ctx.tick()
                if i % 3 == 1:              # a gap: the register must hold
                    ctx.set(dut.valid, 0)
                    ctx.set(dut.data, 0xFF)
                    await ctx.tick()
            ctx.set(dut.valid, 0)
            out.append(ctx.get(dut.value))

    run(dut, tb)
    return out


def test_reference_check_values():
    assert crc_reference(b"123456789", **CRC16_CCITT_FALSE) == 0x29B1
    assert crc_reference(b"123456789", **CRC32) == 0xCBF43926
    rng = random.Random(1)
    for _ in range(50):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        assert crc_reference(data, **CRC16_CCITT_FALSE) == binascii.crc_hqx(data, 0xFFFF)
        assert crc_reference(data, **CRC32) == zlib.crc32(data)


def test_crc16_hardware_matches_reference():
    rng = random.Random(2)
    chunks = [b"123456789", b"", b"\x00", b"\xff" * 5]
    chunks += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))) for _ in range(12)]
    got = _simulate(CRC(), chunks)
    assert got[0] == 0x29B1
    assert got[1] == 0xFFFF
    assert got == [binascii.crc_hqx(c, 0xFFFF) for c in chunks]


def test_crc16_residue_is_zero_over_frame_and_crc():
    rng = random.Random(3)
    chunks = []
    for _ in range(6):
        d = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
        chunks.append(d + binascii.crc_hqx(d, 0xFFFF).to_bytes(2, "big"))
    bad = bytearray(chunks[0])
    bad[0] ^= 0x10
    chunks.append(bytes(bad))
    got = _simulate(CRC(), chunks)
    assert got[:-1] == [0] * 6
    assert got[-1] != 0


def test_crc32_hardware_matches_zlib():
    rng = random.Random(4)
    chunks = [b"123456789"] + [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))
                               for _ in range(8)]
    got = _simulate(CRC(**CRC32), chunks)
    assert got[0] == 0xCBF43926
    assert got == [zlib.crc32(c) for c in chunks]


@pytest.mark.full
def test_crc16_long_random():
    rng = random.Random(5)
    chunks = [bytes(rng.randrange(256) for _ in range(rng.randrange(100, 400))) for _ in range(10)]
    assert _simulate(CRC(), chunks) == [binascii.crc_hqx(c, 0xFFFF) for c in chunks]
