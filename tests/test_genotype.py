import json

import optuna
import pytest

from nas import Genotype, UserError, ZOO, get_reference, parse_arch_string
from nas.arch.genotype import FORMAT_VERSION, Stage
from nas.arch.space_file import load_space, shipped_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)


def random_genotypes(n_per_space: int = 50, seed: int = 0) -> list[Genotype]:
    out = []
    for path in shipped_spaces():
        space = load_space(path)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        for _ in range(n_per_space):
            trial = study.ask()
            out.append(space.sample(trial))
            study.tell(trial, 0.0)
    return out


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_json_round_trip_is_exact(name):
    g = get_reference(name)
    again = Genotype.from_json(g.to_json())
    assert again == g
    assert again.to_json() == g.to_json()
    assert again.key() == g.key()


def test_random_genotypes_round_trip_json_and_arch_string():
    for g in random_genotypes():
        assert Genotype.from_json(g.to_json()) == g
        assert parse_arch_string(g.arch) == g
        assert parse_arch_string(g.arch).arch == g.arch


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_arch_string_round_trip(name):
    g = get_reference(name)
    assert parse_arch_string(g.arch) == g


def test_key_is_stable_and_ignores_name():
    a = get_reference("efficientnet_b0")
    b = a.with_updates(name="renamed")
    assert a.key() == b.key()
    assert len(a.key()) == 16
    # A one-channel change changes the key.
    stages = list(a.stages)
    stages[0] = Stage(**{**stages[0].__dict__, "channels": 24})
    assert a.with_updates(stages=tuple(stages)).key() != a.key()
    # Integer and float spellings of the same expansion are the same genotype.
    data = json.loads(a.to_json())
    data["stages"][1]["expansion"] = 6
    assert Genotype.from_dict(data).key() == a.key()


def test_stage_arch_string_format_matches_documented_grammar():
    g = get_reference("efficientnet_b0")
    assert "mb_r2_k3_s2_e6_c24_se0.25_nsw" in g.arch.split("/")
    r = get_reference("resnet50")
    assert r.arch.split("/")[1] == "resb_r3_k3_s1_e4_c256_nre"
    assert r.arch.startswith("stem_c64_k7_s2_nre_pool/")


def test_newer_format_version_is_refused():
    data = get_reference("mobilenet_v2").to_dict()
    data["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(UserError, match="format_version"):
        Genotype.from_dict(data, source="x.json")


@pytest.mark.parametrize("field,value,match", [
    ("kernel", 4, "kernel must be an odd integer"),
    ("stride", 3, "stride must be one of 1, 2"),
    ("se_ratio", 1.5, r"se_ratio must be a number in \[0, 1\], got 1.5"),
    ("channels", 0, "channels must be an integer >= 1, got 0"),
    ("cell", "conv", "cell must be one of 'mb', 'fmb', 'res', 'resb', got 'conv'"),
    ("activation", "gelu", "activation must be one of 'relu', .*got 'gelu'"),
])
def test_invalid_stage_values_name_field_and_allowed(field, value, match):
    data = get_reference("efficientnet_b0").to_dict()
    data["stages"][2][field] = value
    with pytest.raises(UserError, match=match) as info:
        Genotype.from_dict(data, source="g.json")
    assert "g.json: stage 2" in str(info.value)


def test_corrupt_json_and_unknown_fields_are_user_errors():
    with pytest.raises(UserError, match="not valid JSON"):
        Genotype.from_json("{not json", source="bad.json")
    data = get_reference("mobilenet_v2").to_dict()
    data["stages"][0]["colour"] = "red"
    with pytest.raises(UserError, match="unknown field 'colour'"):
        Genotype.from_dict(data)


def test_bad_arch_strings_are_user_errors():
    with pytest.raises(UserError):
        parse_arch_string("mb_r1_k3")
    g = get_reference("mobilenet_v2").arch.replace("mb_r2_k3_s2_e6", "mb_r2_k3_s2_x6", 1)
    with pytest.raises(UserError, match="unknown token 'x6'"):
        parse_arch_string(g)
