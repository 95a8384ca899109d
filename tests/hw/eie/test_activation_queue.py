"""hw/eie/activation_queue.py: a FIFO of queue_depth items (lib.stream in and
out) whose head is a register: an item written at t is on `r` from t + 1
(straight into the head register when the queue is empty), a taken head is
replaced in the same cycle; order kept under random producer and consumer
stalls; w.ready low exactly when it holds queue_depth; `busy` while it holds
anything."""

import random

import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.activation_queue import ActivationQueue
from eiegen.sim.amaranth_sim import run, stream_put, stream_get


def _items(p, n, seed):
    rng = random.Random(seed)
    top = 1 << p.ptr_width
    out = []
    for _ in range(n):
        count = rng.choice([0, 1, rng.randrange(1 << p.count_width)])
        out.append({"value": rng.randrange(-32768, 32768), "start": rng.randrange(top),
                    "count": count, "empty": int(count == 0), "single": int(count == 1)})
    return out


def _as_dict(payload):
    return {"value": payload.value, "start": payload.start, "count": payload.count,
            "empty": payload.empty, "single": payload.single}


# mem_latency 2: the FIFO behind the head is a StagedFIFO, 1: a SyncFIFO (Timing.staged_queue)
@pytest.mark.parametrize("mem_latency", [1, 2])
@pytest.mark.parametrize("fifo_depth, n_pes", [(1, 1), (2, 4), (8, 5)])
def test_order_under_random_stalls(fifo_depth, n_pes, mem_latency):
    p = EIEParams(n_pes=n_pes, fifo_depth=fifo_depth, spmat_depth=256, mem_latency=mem_latency)
    dut = ActivationQueue(p)
    assert dut.depth == p.queue_depth == p.timing.queue_slots
    items = _items(p, 120, fifo_depth)
    rng = random.Random(n_pes)
    got = []

    async def producer(ctx):
        for it in items:
            for _ in range(rng.choice([0, 0, 0, 1, 3])):
                await ctx.tick()
            await stream_put(ctx, dut.w, it)

    async def consumer(ctx):
        for _ in items:
            for _ in range(rng.choice([0, 0, 1, 2, 8])):
                await ctx.tick()
            got.append(_as_dict(await stream_get(ctx, dut.r)))

    run(dut, producer, consumer)
    assert got == items


@pytest.mark.parametrize("mem_latency", [1, 2])
@pytest.mark.parametrize("fifo_depth, slots", [(1, 0), (3, 0), (1, 2), (1, 1)])
def test_capacity_and_latency(fifo_depth, slots, mem_latency):
    p = EIEParams(n_pes=2, fifo_depth=fifo_depth, spmat_depth=256, queue_slots=slots,
                  mem_latency=mem_latency)
    assert p.queue_depth == (slots or fifo_depth + p.timing.round_trip)
    dut = ActivationQueue(p)
    items = _items(p, p.queue_depth + 1, 7)

    async def tb(ctx):
        assert ctx.get(dut.r.valid) == 0 and ctx.get(dut.busy) == 0
        ctx.set(dut.w.payload, items[0])
        ctx.set(dut.w.valid, 1)
        assert ctx.get(dut.w.ready) == 1
        assert ctx.get(dut.r.valid) == 0                  # not in the same cycle
        await ctx.tick()
        assert ctx.get(dut.r.valid) == 1                  # from t + 1
        assert ctx.get(dut.busy) == 1
        assert _as_dict(ctx.get(dut.r.payload)) == items[0]
        for it in items[1:p.queue_depth]:
            ctx.set(dut.w.payload, it)
            assert ctx.get(dut.w.ready) == 1
            await ctx.tick()
        # full: queue_depth items held, the next is refused (as by a SyncFIFO:
        # also while the head leaves; the credits never send it)
        ctx.set(dut.w.payload, items[-1])
        assert ctx.get(dut.w.ready) == 0
        await ctx.tick()
        ctx.set(dut.w.valid, 0)
        out = []
        ctx.set(dut.r.ready, 1)
        while ctx.get(dut.r.valid):                       # one item a cycle, no bubble
            out.append(_as_dict(ctx.get(dut.r.payload)))
            await ctx.tick()
        assert out == items[:p.queue_depth]
        assert ctx.get(dut.busy) == 0

    run(dut, tb)


@pytest.mark.parametrize("mem_latency, kind", [(1, "SyncFIFO"), (2, "StagedFIFO")])
def test_fifo_kind_follows_the_timing(mem_latency, kind):
    from amaranth.hdl import Fragment
    p = EIEParams(n_pes=2, fifo_depth=2, spmat_depth=256, mem_latency=mem_latency)
    assert p.timing.staged_queue == (mem_latency == 2)
    frag = Fragment.get(ActivationQueue(p), None)
    kinds = [type(sub.origins[0]).__name__ for sub, name, *_ in frag.subfragments if name == "fifo"]
    assert kinds == [kind]
