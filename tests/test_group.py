"""Candidates trained as a group (nas.train.group): each as it would be alone, failures alone."""

import dataclasses
import threading

import pytest
import torch

from nas import Genotype, Head, Stem
from nas.arch.arch_string import parse_stage
from nas.train.config import CandidateFailed, TrainConfig
from nas.train.group import CandidatePool, train_group
from nas.train.side_by_side import TrainingStopped, check_stop, stoppable
from nas.train.sources import load_dataset
from nas.train.trainer import train_candidate


def net(width: int, dropout: float = 0.0) -> Genotype:
    """10-30k parameters; ``width`` tells the group's members apart."""
    return Genotype(stem=Stem(16, 3, 1, "relu"),
                    stages=(parse_stage("mb_r1_k3_s1_e1_c16_nre"), parse_stage(f"mb_r1_k3_s2_e4_c{width}_nre"),
                            parse_stage("mb_r1_k3_s2_e4_c32_se0.25_nre")),
                    head=Head(64, "relu", dropout), resolution=16, in_channels=1, num_classes=10)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def untimed(signals) -> dict:
    """The signals without the seconds they took."""
    return {k: v for k, v in dataclasses.asdict(signals).items() if not k.endswith("seconds")}


def test_a_group_trains_each_candidate_bit_for_bit_as_alone_on_the_cpu(digits):
    cfg = TrainConfig(epochs=1, seed=3)
    members = [net(24, dropout=0.2), net(16), net(32, dropout=0.2)]
    grouped = train_group(members, digits, cfg, torch.device("cpu"), keep_models=True)
    for g, result in zip(members, grouped):
        alone = train_candidate(g, digits, cfg, "cpu", keep_model=True)
        assert not isinstance(result, BaseException), result
        assert same_weights(result.model, alone.model)
        assert result.val_accuracy == alone.val_accuracy and result.train_loss == alone.train_loss
        assert untimed(result.signals) == untimed(alone.signals)


def test_candidates_side_by_side_keep_their_own_seed_and_data_order(digits):
    """Threads at once (the GPU's way, forced on the CPU): without dropout, nothing a candidate
    draws is shared, so each still equals its lone run bit for bit."""
    cfg = TrainConfig(epochs=1, seed=5)
    members = [net(24), net(16), net(24)]
    grouped = train_group(members, digits, cfg, torch.device("cpu"), concurrent=True, keep_models=True)
    alone = train_candidate(members[0], digits, cfg, "cpu", keep_model=True)
    assert same_weights(grouped[0].model, alone.model) and same_weights(grouped[2].model, alone.model)


def test_a_failing_candidate_fails_alone(digits):
    cfg = TrainConfig(epochs=1, seed=0, lr=1e30)  # diverges: every member fails its own way
    good = TrainConfig(epochs=1, seed=0)
    pool = CandidatePool(torch.device("cpu"), 3, concurrent=True)
    try:
        futures = [pool.submit(train_candidate, net(16), digits, good, "cpu"),
                   pool.submit(train_candidate, net(24), digits, cfg, "cpu"),
                   pool.submit(train_candidate, net(32), digits, good, "cpu")]
        results = [f.exception() or f.result() for f in futures]
    finally:
        pool.close()
    assert isinstance(results[1], CandidateFailed) and "non-finite" in str(results[1])
    assert results[0].val_accuracy > 0.3 and results[2].val_accuracy > 0.3


def test_closing_the_pool_stops_what_still_trains(digits):
    started = threading.Event()

    def train_forever() -> None:
        started.set()
        while True:
            check_stop()

    pool = CandidatePool(torch.device("cpu"), 2, concurrent=True)
    future = pool.submit(train_forever)
    assert started.wait(10)
    pool.close()
    assert isinstance(future.exception(), TrainingStopped)


def test_a_stop_event_stops_the_trainer_at_its_next_step(digits):
    event = threading.Event()
    event.set()
    with stoppable(event), pytest.raises(TrainingStopped):
        train_candidate(net(16), digits, TrainConfig(epochs=1), "cpu")
    check_stop()  # outside the block: nothing to stop


def test_the_memory_estimate_counts_a_real_forward_and_the_largest_candidate_bounds_the_space() -> None:
    from nas.arch.space_file import load_space
    from nas.model.builder import build_model
    from nas.model.cost import estimate_cost
    from nas.model.memory import activation_values, largest_genotype, training_bytes

    g = net(24)
    model, seen = build_model(g).train(), []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out.numel()))
             for m in model.modules() if not list(m.children())]
    model(torch.zeros(1, 1, 16, 16))
    for h in hooks:
        h.remove()
    assert activation_values(g) == sum(seen)  # on the meta device, nothing allocated
    space = load_space("mobile")
    largest = largest_genotype(space, 3, 10)
    assert space.contains(largest)
    refs = space.reference_genotypes(3, 10)
    assert all(estimate_cost(largest).flops >= estimate_cost(r).flops for r in refs)
    assert all(training_bytes(largest, 256) > training_bytes(r, 256) for r in refs)
    assert training_bytes(g, 128) > training_bytes(g, 64)
