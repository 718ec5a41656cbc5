"""Issue 32's replay benchmark: the pool's loading and snapping, equal-compute accounting."""

import csv

import numpy as np
import optuna
import pytest

from bench.replay import METHODS, OWN_TABLE, Member, Method, Pool, Scored, replay, reported_front
from nas.arch.space_file import load_space
from nas.model.cost import estimate_cost
from nas.train.rungs import Rungs

COLUMNS = ["key", "name", "arch", "params", "flops", "brief_seconds", "brief_naswot", "brief_val_accuracy",
           "brief_zero_cost_seconds", "test_acc_e20_s0", "test_acc_e20_s1"]


def genotypes(n: int):
    space = load_space("mobile")
    out = list(space.reference_genotypes(1, 10))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    while len(out) < n:
        trial = study.ask()
        out.append(space.sample(trial, 1, 10, "index"))
        study.tell(trial, 0.0)
    return out


def write_pool(path, gs, second_seed=True):
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for g in gs:
            cost = estimate_cost(g)
            w.writerow({"key": g.key(), "name": g.name, "arch": g.arch, "params": cost.params, "flops": cost.flops,
                        "brief_seconds": 2.0, "brief_naswot": rng.normal(600, 30), "brief_val_accuracy": rng.uniform(0.2, 0.6),
                        "brief_zero_cost_seconds": 0.1, "test_acc_e20_s0": rng.uniform(0.7, 0.9),
                        "test_acc_e20_s1": rng.uniform(0.7, 0.9) if second_seed else ""})
    return path


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return Pool.load(write_pool(tmp_path_factory.mktemp("pool") / "pool.csv", genotypes(24)))


def test_the_pool_loads_and_checks_each_arch_string_against_its_key(tmp_path, pool):
    assert len(pool.members) == 24 and pool.long_epochs == 20 and pool.seeds_complete == 2
    m = pool.members[0]
    assert m.name and m.genotype.key() == m.key and m.zero_cost_epochs() == pytest.approx(0.1 / 1.9)
    assert pool.judge(m) == m.long[1] and pool.top_score(m) == m.long[0]  # shown seed 0, judged on seed 1
    text = (write_pool(tmp_path / "bad.csv", genotypes(3))).read_text().splitlines()
    fields = text[1].split(",")
    fields[0] = "0" * 16
    (tmp_path / "bad.csv").write_text("\n".join([text[0], ",".join(fields), *text[2:]]) + "\n")
    with pytest.raises(ValueError, match="its arch string builds"):
        Pool.load(tmp_path / "bad.csv")
    half = Pool.load(write_pool(tmp_path / "half.csv", genotypes(4), second_seed=False))
    assert half.seeds_complete == 1 and half.judge(half.members[0]) == half.members[0].long[0]


def test_a_proposal_snaps_to_the_nearest_member_by_choices_then_flops(pool):
    m = pool.members[5]
    assert pool.snap(m.genotype) == (m, False)
    stages = list(m.genotype.stages)
    stages[-1] = stages[-1].__class__(**{**stages[-1].__dict__, "kernel": 7 if stages[-1].kernel != 7 else 3})
    proposal = m.genotype.with_updates(stages=tuple(stages))
    near, snapped = pool.snap(proposal)
    assert snapped and near.key == m.key  # one choice away from m, several from every other member
    other, snapped = pool.snap(proposal, {m.key})  # m scored already: the nearest of the others
    assert snapped and other.key != m.key
    assert pool.snap(m.genotype, {m.key}) == (m, False)  # an exact repeat stays itself (a free duplicate)


def test_committed_pool_loads():
    if not OWN_TABLE.exists():
        pytest.skip("bench/tables/mobile_cluttered.csv not built")
    pool = Pool.load()
    assert len(pool.members) >= 50 and pool.long_epochs == 20
    assert len({m.key for m in pool.members}) == len(pool.members)
    assert all(0.1 <= m.long[0] <= 1.0 for m in pool.members)


def test_successive_halving_pays_each_rung_and_the_cool_down_of_each_rung_passed(pool):
    rungs = Rungs(1.0, 20.0, 20.0)
    sh = next(m for m in METHODS if m.fidelity == "sh" and m.sampler == "random")
    scored, asks = replay(pool, sh, 0, 100.0, rungs)
    assert asks >= len(scored)
    steps = np.diff([0.0] + [s.compute for s in scored])
    assert set(np.round(steps, 6)) <= {1.0, 20.2}  # stopped at rung 1, or 20 epochs + rung 1's cool-down
    assert 20.2 in np.round(steps, 6) and 1.0 in np.round(steps, 6)
    assert all(s.top == (step > 1) for s, step in zip(scored, steps))
    assert scored[-1].compute >= 100.0 > scored[-2].compute  # stopped once the budget was spent
    assert len({s.member.key for s in scored}) == len(scored)  # a duplicate is free: never paid twice
    # the front a halving search reports is made of top-rung candidates only
    assert all(any(s.member is f and s.top for s in scored) for f in reported_front(pool, scored))


def test_single_fidelity_pays_what_its_signal_costs(pool):
    zero_cost = Method("x", "random", "single", "naswot")
    scored, _ = replay(pool, zero_cost, 0, 0.5, Rungs())
    assert np.allclose(np.diff([0.0] + [s.compute for s in scored]), 0.1 / 1.9)
    assert all(s.score == s.member.brief["naswot"] for s in scored)
    top = Method("y", "random", "single", "top")
    scored, _ = replay(pool, top, 0, 45.0, Rungs())
    assert [s.compute for s in scored] == [20.0, 40.0, 60.0] and all(s.score == s.member.long[0] for s in scored)


def test_the_reported_front_is_non_dominated_by_the_searchs_score_not_the_judge(pool):
    a, b, c = pool.members[:3]
    scored = [Scored(a, 1, 0.9, True, False), Scored(b, 2, 0.1, True, False), Scored(c, 3, 0.95, False, False)]
    front = reported_front(pool, scored)
    assert c not in front and a in front  # c not at the top rung; a ranks first by score
    assert (b in front) == (b.flops < a.flops)  # b kept only where it is cheaper
    assert isinstance(front[0], Member)
