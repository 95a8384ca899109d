"""The host-link client's decisions, against scripted answers (no simulator):
which answers are retried, that a retransmission is the same frame (same
TAG) sent after the line was quiet, that refusals are not retried and name
what was refused, and the identity check. The whole client against the
real board top-level is tests/sim/test_board_link.py."""

import sys

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sw.errors import LinkError
from eiegen.sw.link import protocol as P
from eiegen.sw.link.protocol import Cmd, Status, LinkRefused, LinkTimeout
from eiegen.sw.link.client import LinkClient
from eiegen.sw.link.transport import Transport, SerialTransport
from eiegen.sw.packer import pack
from eiegen.sim.testdata import random_compressed_model

BIT = 1e-6
PARAMS = EIEParams(n_pes=2, spmat_depth=256, ptr_depth=64, bias_depth=64, act_depth=32)


class Scripted(Transport):
    """`answer(frame, n)` (n = how many frames were written so far) returns the
    bytes the 'board' sends back, or None for silence. Reads on an empty
    line let the whole timeout pass on a fake clock."""

    bit_seconds = BIT

    def __init__(self, answer):
        self.answer = answer
        self.now = 0.0
        self.buf = bytearray()
        self.sent = []            # (time, raw bytes)

    def write(self, data):
        self.sent.append((self.now, bytes(data)))
        frame, _ = P.decode_frame(data)
        a = self.answer(frame, len(self.sent))
        if a:
            self.buf += a

    def read(self, n, timeout):
        if not self.buf:
            self.now += timeout
            return b""
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.now += len(out) * 10 * BIT
        return out

    def clock(self):
        return self.now


def ok(frame, payload=b""):
    return P.encode_response(frame.cmd, frame.tag, Status.OK, payload)


def status(frame, st):
    return P.encode_response(frame.cmd, frame.tag, st)


def test_line_errors_are_retried_with_the_same_frame_after_quiet():
    script = {1: lambda f: status(f, Status.BAD_CRC),
              2: lambda f: status(f, Status.TIMEOUT),
              3: lambda f: None,                                          # silence
              4: lambda f: bytearray(ok(f, b"\x01\x02"))[:-1] + b"\x00",  # corrupted answer
              5: lambda f: b"\x00\x13" + ok(f, b"\x01\x02")}              # noise, then the answer
    t = Scripted(lambda f, n: script[n](f))
    c = LinkClient(t, retries=4)
    r = c.exchange(Cmd.READ, P.make_addr(0x10, 1, 4), (2).to_bytes(2, "little"))
    assert r.payload == b"\x01\x02"
    frames = [raw for _, raw in t.sent]
    assert len(frames) == 5 and len(set(frames)) == 1          # same bytes, same TAG
    assert c.stats.retries == 4 and c.stats.sent == 5
    assert "BAD_CRC" in c.stats.problems[0] and "TIMEOUT" in c.stats.problems[1]
    assert "no answer" in c.stats.problems[2] and "corrupted" in c.stats.problems[3]
    # before each retransmission the line was quiet longer than the board's timeout
    quiet = 1.5 * P.DEFAULT_TIMEOUT_BITS * BIT
    assert all(b[0] - a[0] >= quiet for a, b in zip(t.sent, t.sent[1:]))


def test_new_frames_get_new_tags():
    t = Scripted(lambda f, n: ok(f))
    c = LinkClient(t)
    for _ in range(300):
        c.exchange(Cmd.BEGIN)
    tags = [P.decode_frame(raw)[0].tag for _, raw in t.sent]
    assert all(a != b for a, b in zip(tags, tags[1:]))


@pytest.mark.parametrize("st", [Status.BAD_ADDRESS, Status.NOT_LOADED, Status.BUSY,
                                Status.BAD_COMMAND])
def test_refusals_are_not_retried(st):
    t = Scripted(lambda f, n: status(f, st))
    c = LinkClient(t)
    addr = P.make_addr(0x10, 0, 255)
    with pytest.raises(LinkRefused, match=st.name) as e:
        c.exchange(Cmd.WRITE, addr, b"\x00\x00\x00\x00")
    assert e.value.status == st
    assert f"{addr:#010x}" in str(e.value)
    assert len(t.sent) == 1 and c.stats.retries == 0


def test_gives_up_after_the_retries():
    t = Scripted(lambda f, n: None)
    c = LinkClient(t, retries=2)
    with pytest.raises(LinkTimeout, match="no valid answer after 3 attempts"):
        c.status()
    assert len(t.sent) == 3


def test_a_persistent_bad_length_is_a_refusal():
    t = Scripted(lambda f, n: status(f, Status.BAD_LENGTH))
    c = LinkClient(t, retries=1)
    with pytest.raises(LinkRefused, match="BAD_LENGTH"):
        c.exchange(Cmd.WRITE, 0, b"\x01")
    assert len(t.sent) == 2


def test_a_stale_answer_is_not_taken_for_the_answer():
    def answer(f, n):
        if n == 1:
            return P.encode_response(f.cmd, (f.tag - 1) & 0xFF, Status.OK, bytes(P.STATUS_BYTES))
        return ok(f, P.encode_status(True, False, True, False, 7, 9, 0, 3))
    c = LinkClient(Scripted(answer))
    st = c.status()
    assert st["loaded"] and st["checksum"] == 7 and c.stats.retries == 1
    assert "stale" in c.stats.problems[0]


def _identify_answer(params, design="eie"):
    ident = P.encode_identify(design, params.to_dict(), {"max_payload": 256, "timeout_bits": 100,
                                                          "clocks_per_bit": 4})

    def answer(f, n):
        if f.cmd == Cmd.IDENTIFY:
            return ok(f, ident)
        if f.cmd == Cmd.STATUS:
            return ok(f, P.encode_status(False, False, False, False, 0, 0, 0, 1))
        return ok(f)
    return answer


@pytest.fixture(scope="module")
def image():
    return pack(random_compressed_model(np.random.default_rng(2), [20, 10], 0.5), PARAMS)


def test_identity_mismatch_names_the_parameter(image):
    c = LinkClient(Scripted(_identify_answer(PARAMS.replace(spmat_depth=512, frac=7))))
    with pytest.raises(LinkError, match=r"spmat_depth: board 512, image 256") as e:
        c.load(image)
    assert "frac: board 7, image 8" in str(e.value)
    c = LinkClient(Scripted(_identify_answer(PARAMS, design="systolic")))
    with pytest.raises(LinkError, match="design is 'systolic'"):
        c.check_image(image)
    # a matching board: its link fields are taken over
    c = LinkClient(Scripted(_identify_answer(PARAMS.replace(fifo_depth=3))))
    c.check_image(image)
    assert c.timeout_bits == 100 and c.max_payload == 256


def test_commit_with_a_wrong_checksum_is_reported(image):
    def answer(f, n):
        if f.cmd == Cmd.COMMIT:
            return P.encode_response(f.cmd, f.tag, Status.BAD_CHECKSUM, (0x1234).to_bytes(4, "little"))
        return _identify_answer(PARAMS)(f, n)
    c = LinkClient(Scripted(answer))
    with pytest.raises(LinkRefused, match="0x00001234 differs .* cannot run"):
        c.load(image)


def test_infer_refuses_a_board_without_a_committed_model(image):
    c = LinkClient(Scripted(_identify_answer(PARAMS)))
    with pytest.raises(LinkError, match="no committed model"):
        c.infer(image, np.zeros(20, dtype=np.int16))


def test_serial_port_needs_pyserial_only_when_used(monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(LinkError, match="needs pyserial .*--port sim"):
        SerialTransport("/dev/ttyUSB0")


def test_cli_needs_a_port(tmp_path, image, capsys):
    from eiegen.sw.cli import main
    from eiegen.sw.image import write_image
    write_image(image, tmp_path / "img")
    assert main(["load", str(tmp_path / "img")]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["load", str(tmp_path / "img"), "--sim", "--port", "/dev/ttyS0"]) == 2
    assert "contradict" in capsys.readouterr().err
    (tmp_path / "img" / "image.bin").write_bytes(b"")   # manifest checksum catches it first
    assert main(["load", str(tmp_path / "img"), "--sim"]) == 2
    assert "image.bin" in capsys.readouterr().err
