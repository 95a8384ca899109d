"""The host link end to end: the host client talks over the UART to the board
top-level (boards.top.BoardTop: HostLink + EIEArray) simulated in Verilator
(sim/board_harness.py, sim/cocotb_board.py).

- a real image loads (as image.bin streamed by a dumb loader, and by the
  client with read-back), runs, and gives outputs bit-exact with the golden
  model and counters equal to the cycle model;
- faults on the line (corrupted byte, dropped byte, truncated frame, wrong
  CRC, a lost frame, a corrupted answer) are answered with an error or
  silence and retried by the host, and the load still commits with the
  right checksum;
- refusals (write past the end of a memory, run before the load finished,
  wrong checksum, a load cut off, a board generated for other parameters)
  leave no runnable partial model;
- no frame sequence can hang the unit (issue 10): a layer count outside
  1 .. max_layers, a committed "model" of nothing but a layer count, a run
  longer than the watchdog, ABORT while the unit runs; each ends with the
  board idle and answering, the model memories intact, and the next load
  and run bit-exact.
"""

import dataclasses

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams, MEMORY_IDS
from eiegen.sim import board_harness as BH
from eiegen.sim import eie_harness
from eiegen.sim.testdata import random_compressed_model, random_input
from eiegen.sw.errors import LinkError
from eiegen.sw.image import write_image
from eiegen.sw.linkimage import (image_frames, load_writes, load_checksum_of, NUM_LAYERS_REG,
                                 watchdog_cycles)
from eiegen.sim.board_top import SIM_WATCHDOG_CYCLES
from eiegen.sw.link import protocol as P
from eiegen.sw.link.protocol import Cmd, Status, LinkRefused, LinkTimeout
from eiegen.sw.link.client import LinkClient, RunAborted
from eiegen.sw.packer import pack
from eiegen.sw.model import CompressedModel
from eiegen.boards.top import data_targets

# the simulated board's array; fifo_depth is the default, so `eiegen run
# --port sim` on an image packed for these parameters reuses the build. Its
# sparse-matrix memory holds a model that runs long enough (about 8500
# cycles) for three frames to arrive while it runs (the robustness tests)
PARAMS = EIEParams(n_pes=2, spmat_depth=8192, ptr_depth=256, bias_depth=128, act_depth=32,
                   max_layers=4)


@pytest.fixture(scope="module")
def built():
    return BH.build(PARAMS)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(20)
    model = random_compressed_model(rng, [30, 24, 10], [0.4, 0.5])
    image = pack(model, PARAMS)
    inputs = random_input(rng, 30, 0.7, batch=3)
    inputs[2] = 0
    return image, inputs


def check_bit_exact(image, inputs, res):
    rep = eie_harness.check(image, inputs, {"outputs": res.outputs, "counters": res.counters},
                            fifo_depth=PARAMS.fifo_depth)
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    bad = [pi for pi in rep["per_input"] if not pi["equal"]]
    assert not bad, f"counters differ from the cycle model: {bad[0]}"
    for c in res.counters:
        # the link counts from the start pulse to the first cycle with done: one more
        assert c["run_cycles"] == c["cycles"] + 1


def dumb_load(transport, frames):
    """Stream image.bin: each frame, then its answer (what a minimal loader does)."""
    answers = []
    for f in frames:
        transport.write(f)
        head = transport.read(P.RESPONSE_HEADER, 1e-3)
        rest = transport.read(P.response_length(head) - len(head), 1e-3)
        answers.append(P.decode_response(head + rest))
    return answers


def test_load_and_run_bit_exact(built, case, tmp_path):
    image, inputs = case
    write_image(image, tmp_path / "img")
    stream = (tmp_path / "img" / "image.bin").read_bytes()
    frames = [f.encode() for f in P.decode_frames(stream)]
    with BH.SimBoard(PARAMS, built=built, test_dir=tmp_path / "sim") as board:
        t = board.transport
        client = LinkClient(t)
        ident = client.check_image(image)
        assert ident["params"]["n_pes"] == 2 and ident["link"]["clocks_per_bit"] == 4
        assert not client.status()["loaded"] and not t.leds()["loaded"]
        # image.bin, streamed frame by frame, leaves a committed model
        answers = dumb_load(t, frames)
        assert [a.status for a in answers] == [Status.OK] * len(frames)
        st = client.status()
        assert st["loaded"] and st["checksum"] == load_checksum_of(image)
        assert t.leds()["loaded"]
        res = client.infer(image, inputs)
        check_bit_exact(image, inputs, res)
        # the client's own load, with read-back, and another run
        r = client.load(image, verify=True)
        assert r.verified and r.retries == 0 and r.writes == len(frames) - 2
        res2 = client.infer(image, inputs[:2][::-1])
        np.testing.assert_array_equal(res2.outputs, res.outputs[:2][::-1])
        st = client.status()
        assert st["rx_errors"] == 0 and client.stats.retries == 0
    assert board.result["framing_errors"] == 0


def test_line_faults_are_retried(built, case, tmp_path):
    image, inputs = case
    writes = load_writes(image)
    assert len(writes) >= 8
    with BH.SimBoard(PARAMS, built=built, test_dir=tmp_path / "sim") as board:
        t = BH.FaultyTransport(board.transport)

        def nth_write(i):
            return lambda f: f.cmd == Cmd.WRITE and (f.addr, f.payload) == writes[i]
        # one fault per write frame of the load, then on the control frames
        for i, kind in enumerate(["corrupt", "drop", "truncate", "crc", "lose", "answer"]):
            t.inject(kind, when=nth_write(i + 1))
        t.inject("answer", when=lambda f: f.cmd == Cmd.BEGIN)
        t.inject("corrupt", when=lambda f: f.cmd == Cmd.COMMIT)
        t.inject("answer", when=lambda f: f.cmd == Cmd.COMMIT)
        t.inject("answer", when=lambda f: f.cmd == Cmd.RUN)
        t.inject("crc", when=lambda f: f.cmd == Cmd.RUN)
        client = LinkClient(t)
        r = client.load(image)
        # every fault of the load happened, and each cost one retransmission
        assert [k for k, _ in t.applied] == ["answer", "corrupt", "drop", "truncate", "crc",
                                             "lose", "answer", "corrupt", "answer"]
        assert r.retries == 9
        problems = " | ".join(client.stats.problems)
        assert problems.count("BAD_CRC") == 3 and problems.count("TIMEOUT") == 2
        assert "no answer" in problems and "answer corrupted" in problems
        # the WRITE whose answer was lost was executed once: the checksum matched
        st = client.status()
        assert st["loaded"] and st["checksum"] == load_checksum_of(image)
        assert st["rx_errors"] >= 5
        res = client.infer(image, inputs)
        assert t.pending == 0
        # the RUN whose answer was lost did not run twice: counters and outputs exact
        check_bit_exact(image, inputs, res)


def test_refusals_leave_no_runnable_model(built, case, tmp_path):
    image, inputs = case
    writes = load_writes(image)
    spmat0 = MEMORY_IDS["spmat"] << 24
    with BH.SimBoard(PARAMS, built=built, test_dir=tmp_path / "sim") as board:
        bt = board.transport
        client = LinkClient(bt)
        client.check_image(image)

        def not_runnable():
            with pytest.raises(LinkRefused, match="NOT_LOADED") as e:
                client.run_unit()
            assert e.value.status == Status.NOT_LOADED
            assert not client.status()["loaded"] and not bt.leds()["loaded"]
            with pytest.raises(LinkError, match="no committed model"):
                client.infer(image, inputs[0])

        # run before anything was loaded
        not_runnable()
        # run before the load finished
        client.begin()
        for addr, payload in writes[:len(writes) // 2]:
            client.write(addr, payload)
        not_runnable()
        # write past the end of a memory: refused, not retried, nothing written
        last = PARAMS.spmat_depth - 1
        before = client.read(spmat0 | last, 2)
        with pytest.raises(LinkRefused, match="BAD_ADDRESS"):
            client.write(spmat0 | (last - 1), bytes(range(6)))       # the last 2 words and one more
        assert client.read(spmat0 | last, 2) == before
        with pytest.raises(LinkRefused, match="BAD_ADDRESS"):
            client.write(P.make_addr(MEMORY_IDS["bias"], PARAMS.n_pes, 0), b"\x01\x00")
        assert client.stats.retries == 0
        # ... also in the middle of a load: the load stops, nothing runs
        t = BH.FaultyTransport(bt)
        t.inject("readdress", when=lambda f: f.cmd == Cmd.WRITE and f.addr >> 24 == 0x11,
                 arg=spmat0 | PARAMS.spmat_depth)
        with pytest.raises(LinkRefused, match="BAD_ADDRESS"):
            LinkClient(t).load(image)
        not_runnable()
        # a commit with the wrong checksum
        client.begin()
        for addr, payload in writes:
            client.write(addr, payload)
        with pytest.raises(LinkRefused, match="differs"):
            client.commit(P.load_checksum(writes[:-1]))
        not_runnable()
        # a load cut off by a dead line
        t = BH.FaultyTransport(bt)
        t.inject("dead", skip=5)
        with pytest.raises(LinkTimeout, match="no valid answer"):
            LinkClient(t, retries=1).load(image)
        not_runnable()
        # a complete load runs; one more model word written afterwards stops it again
        client.load(image)
        check_bit_exact(image, inputs[:1], client.infer(image, inputs[:1]))
        model_write = [w for w in writes if w[0] >> 24 not in data_targets("eie", PARAMS)
                       and w[0] >> 24 < P.LINK_TARGET][-1]
        client.write(*model_write)
        not_runnable()
        # an image for other generator parameters is refused before anything is written
        other = pack(random_compressed_model(np.random.default_rng(1), [30, 10], 0.4),
                     PARAMS.replace(spmat_depth=512))
        frames0 = client.status()["frames"]
        with pytest.raises(LinkError, match=f"spmat_depth: board {PARAMS.spmat_depth}, image 512"):
            client.load(other)
        assert client.status()["frames"] == frames0 + 2     # IDENTIFY and this STATUS only


def test_cli_run_on_the_simulated_board(built, case, tmp_path, capsys):
    from eiegen.sw.cli import main
    from eiegen.sim.eie_golden import image_forward
    image, inputs = case
    write_image(image, tmp_path / "img")
    np.save(tmp_path / "x.npy", inputs)
    rc = main(["run", str(tmp_path / "img"), "--port", "sim", "--input", str(tmp_path / "x.npy"),
               "--input-format", "codes", "-o", str(tmp_path / "y.npy")])
    out = capsys.readouterr().out
    assert rc == 0, out
    y = np.load(tmp_path / "y.npy")
    p = image.params
    np.testing.assert_array_equal(y, image_forward(image.decode(), inputs, frac=p.frac,
                                                   acc_width=p.acc_width))
    assert "cycles" in out and "broadcasts" in out and "loaded" in out


@pytest.mark.full
def test_random_faults_four_pes_three_layers(tmp_path):
    """N = 4, a three-layer image, and 25 faults of every kind at random frames
    of the load and the runs: the results stay exact."""
    params = PARAMS.replace(n_pes=4, fifo_depth=4)
    rng = np.random.default_rng(33)
    model = random_compressed_model(rng, [50, 40, 30, 12], [0.3, 0.4, 0.6])
    image = pack(model, params)
    inputs = random_input(rng, 50, 0.6, batch=4)
    kinds = ["corrupt", "drop", "truncate", "crc", "lose", "answer"]
    with BH.SimBoard(params, test_dir=tmp_path / "sim") as board:
        t = BH.FaultyTransport(board.transport)
        # write() calls 3, 5-7 apart, ...: a fault never hits the retransmission
        # of the frame before it
        at = np.cumsum(rng.integers(2, 8, 25)) + 1
        for n in at:
            t.inject(str(rng.choice(kinds)), at=int(n))
        client = LinkClient(t)
        client.load(image, verify=True)
        res = client.infer(image, inputs)
        assert t.pending == 0 and len(t.applied) == 25
        assert client.stats.retries == 25
        assert {k for k, _ in t.applied} == set(kinds)
        rep = eie_harness.check(image, inputs, {"outputs": res.outputs, "counters": res.counters},
                                fifo_depth=params.fifo_depth)
        assert rep["mismatches"] == 0 and rep["cycles_equal"]


@pytest.mark.full
@pytest.mark.icarus
def test_load_and_run_icarus(case, tmp_path):
    image, inputs = case
    with BH.SimBoard(PARAMS, simulator="icarus", test_dir=tmp_path / "sim") as board:
        t = BH.FaultyTransport(board.transport)
        t.inject("corrupt", skip=2)
        t.inject("truncate", skip=4)
        client = LinkClient(t)
        client.load(image)
        assert client.stats.retries == 2
        check_bit_exact(image, inputs, client.infer(image, inputs))


# -- no frame sequence can hang the unit ------------------------------------------------------

CTRL_LAYERS = P.make_addr(MEMORY_IDS["control"], 0, NUM_LAYERS_REG)


def _unit_has(port):
    """Whether the EIE array has `port` (the unit contract's abort / config_ok)."""
    from eiegen.hw.eie.array import EIEArray
    unit = EIEArray(PARAMS)
    unit._MustUse__used = True
    return hasattr(unit, port)


@pytest.fixture(scope="module")
def long_case():
    rng = np.random.default_rng(21)
    # no ReLU: every activation of every layer stays non-zero, every entry is processed
    model = random_compressed_model(rng, [64, 64, 64, 64, 64], 1.0, scale=0.05)
    model = CompressedModel([dataclasses.replace(l, relu=False) for l in model.layers])
    image = pack(model, PARAMS)
    return image, random_input(rng, 64, 1.0, batch=2)


def model_words(client, image):
    """Every word the load wrote to a model memory, read back: {addr: payload}."""
    return {a: client.read(a, len(p)) for a, p in load_writes(image)
            if a >> 24 not in data_targets("eie", PARAMS) and a >> 24 < P.LINK_TARGET}


def idle_and_answering(client, image, inputs):
    """The board is idle, answers every command, and a new load and run are exact."""
    st = client.status()
    assert not st["busy"] and not st["running"], st
    client.load(image)
    res = client.infer(image, inputs)
    check_bit_exact(image, inputs, res)
    return res


def test_no_frame_sequence_hangs_a_loaded_board(built, long_case, tmp_path):
    """After a committed load: (1) a layer count outside 1 .. max_layers
    written to control word 1 (a data target: the model stays committed),
    then RUN: refused BAD_CONFIG, or, by a unit without config_ok, aborted by
    the watchdog the load set from the model; (2) a run longer than the
    watchdog is aborted; (3) ABORT while the unit runs stops it, the model
    memories intact. After each, the board is idle and answers, and the
    next load and run are bit-exact."""
    image, inputs = long_case
    with BH.SimBoard(PARAMS, built=built, test_dir=tmp_path / "sim") as board:
        client = LinkClient(board.transport)
        client.load(image)
        assert client.watchdog() == watchdog_cycles(image)
        cycles = client.infer(image, inputs[:1]).counters[0]["cycles"]
        assert cycles > 8000
        model = model_words(client, image)
        assert model == {a: p for a, p in load_writes(image) if a in model}

        # (1) a layer count the unit cannot run
        for count in (PARAMS.max_layers + 1, 0xFFFF):
            client.write(CTRL_LAYERS, P.pack_words([count], 4))
            assert client.status()["loaded"]
            if _unit_has("config_ok"):
                with pytest.raises(LinkRefused, match="BAD_CONFIG") as e:
                    client.run_unit()
                assert e.value.status == Status.BAD_CONFIG
                assert not client.status()["running"]
            else:
                client.run_unit()
                with pytest.raises(RunAborted, match="watchdog"):
                    client.wait_done()
                st = client.status()
                assert st["watchdog"] and st["aborted"]
                assert st["run_cycles"] > client.watchdog() == watchdog_cycles(image)
            idle_and_answering(client, image, inputs[:1])

        # (2) a run longer than the watchdog
        limit = cycles // 2
        client.set_watchdog(limit)
        assert client.status()["loaded"]               # the watchdog is a data target
        with pytest.raises(RunAborted, match=f"watchdog of {limit} cycles"):
            client.infer(image, inputs[:1])
        st = client.status()
        assert st["watchdog"] and st["aborted"] and not st["done"]
        assert limit < st["run_cycles"] <= limit + 2
        assert model_words(client, image) == model
        if _unit_has("abort"):                          # the model and layer count survive
            client.set_watchdog(watchdog_cycles(image))
            check_bit_exact(image, inputs[:1], client.infer(image, inputs[:1]))
        idle_and_answering(client, image, inputs)
        assert not client.status()["aborted"]

        # (3) ABORT while the unit runs
        client.run_unit()
        assert client.status()["busy"]
        with pytest.raises(LinkRefused, match="BUSY"):
            client.begin()
        st = client.abort()
        assert st["aborted"] and not st["watchdog"]
        assert not st["busy"] and not st["running"] and not st["done"] and st["loaded"]
        assert model_words(client, image) == model
        st = client.abort()                             # ABORT while idle changes nothing
        assert (st["loaded"], st["busy"], st["running"]) == (True, False, False)
        if _unit_has("abort"):                          # runs again without a new load
            check_bit_exact(image, inputs[:1], client.infer(image, inputs[:1]))
        idle_and_answering(client, image, inputs)


def test_fresh_board_with_only_a_layer_count(built, long_case, tmp_path):
    """BEGIN; WRITE control word 1 = 3; COMMIT; RUN on a board that never held
    a model: the layer table is whatever the memories hold. The board comes
    up with a finite watchdog, so the run ends (or is refused) either way."""
    image, inputs = long_case
    with BH.SimBoard(PARAMS, built=built, test_dir=tmp_path / "sim") as board:
        client = LinkClient(board.transport)
        client.identify()
        assert client.watchdog() == SIM_WATCHDOG_CYCLES
        assert client.ident["link"]["watchdog_cycles"] == SIM_WATCHDOG_CYCLES
        write = (CTRL_LAYERS, P.pack_words([3], 4))
        client.begin()
        client.write(*write)
        assert client.commit(P.load_checksum([write])) == P.load_checksum([write])
        try:
            client.run_unit()
        except LinkRefused as e:
            assert e.status == Status.BAD_CONFIG and _unit_has("config_ok")
        else:
            try:
                st = client.wait_done()
                assert st["done"]
            except RunAborted:
                st = client.status()
                assert st["watchdog"] and st["run_cycles"] > SIM_WATCHDOG_CYCLES
        idle_and_answering(client, image, inputs[:1])
