from collections import Counter

import pytest

from proxy.scenarios import (
    MLCOMMONS_EXTENSIONS,
    MLCOMMONS_HAZARDS,
    MLCOMMONS_PUBLISHED_CODES,
    SAFEBENCH_RECONSTRUCTED,
    SAFEBENCH_SUBCATEGORIES,
    SCENARIOS,
    Scenario,
    by_id,
    by_mmsb_name,
)

MMSB_NAMES = [
    "01-Illegal_Activitiy",
    "02-HateSpeech",
    "03-Malware_Generation",
    "04-Physical_Harm",
    "05-EconomicHarm",
    "06-Fraud",
    "07-Sex",
    "08-Political_Lobbying",
    "09-Privacy_Violence",
    "10-Legal_Opinion",
    "11-Financial_Advice",
    "12-Health_Consultation",
    "13-Gov_Decision",
]
PROFESSIONAL = {"legal_opinion", "financial_advice", "health_consultation", "gov_decision"}


def test_thirteen_scenarios_in_mmsb_order_with_unique_ids():
    assert len(SCENARIOS) == 13
    assert [s.mmsb_name for s in SCENARIOS] == MMSB_NAMES
    assert len({s.id for s in SCENARIOS}) == 13
    assert all(isinstance(s, Scenario) and s.title and s.description for s in SCENARIOS)


def test_exactly_the_four_professional_scenarios():
    assert {s.id for s in SCENARIOS if s.professional} == PROFESSIONAL


def test_safebench_has_23_subcategories_each_mapped_exactly_once():
    assert len(SAFEBENCH_SUBCATEGORIES) == 23
    assert len(set(SAFEBENCH_SUBCATEGORIES)) == 23
    mapped = Counter(sub for s in SCENARIOS for sub in s.safebench)
    assert set(mapped) == set(SAFEBENCH_SUBCATEGORIES)
    assert all(count == 1 for count in mapped.values()), [k for k, v in mapped.items() if v > 1]
    assert all(" / " in sub for sub in SAFEBENCH_SUBCATEGORIES)
    assert SAFEBENCH_RECONSTRUCTED <= set(SAFEBENCH_SUBCATEGORIES)


def test_mlcommons_codes_are_known_and_every_scenario_has_one():
    for scenario in SCENARIOS:
        assert scenario.mlcommons, scenario.id
        assert set(scenario.mlcommons) <= set(MLCOMMONS_HAZARDS), scenario.id
    assert by_id("political_lobbying").mlcommons == ("spc_ele",)


def test_mlcommons_table_is_the_published_codes_plus_declared_extensions():
    assert len(MLCOMMONS_PUBLISHED_CODES) == 14
    assert set(MLCOMMONS_HAZARDS) == MLCOMMONS_PUBLISHED_CODES | set(MLCOMMONS_EXTENSIONS)
    assert not MLCOMMONS_PUBLISHED_CODES & set(MLCOMMONS_EXTENSIONS)


def test_by_id():
    assert by_id("fraud").mmsb_name == "06-Fraud"
    for scenario in SCENARIOS:
        assert by_id(scenario.id) is scenario


def test_by_id_unknown_lists_valid_ids():
    with pytest.raises(KeyError) as info:
        by_id("nope")
    assert "illegal_activity" in str(info.value) and "gov_decision" in str(info.value)


@pytest.mark.parametrize(
    "name",
    [
        "01-Illegal_Activitiy",
        "Illegal_Activitiy",
        "illegal_activitiy",
        "ILLEGAL_ACTIVITIY",
        "Illegal_Activity",
        "01-Illegal_Activity",
        "01-illegal_activitiy.json",
    ],
)
def test_by_mmsb_name_accepts_typo_and_corrected_spelling(name):
    assert by_mmsb_name(name).id == "illegal_activity"


def test_by_mmsb_name_round_trips_every_scenario():
    for scenario in SCENARIOS:
        assert by_mmsb_name(scenario.mmsb_name) is scenario
        assert by_mmsb_name(scenario.mmsb_name.split("-", 1)[1].upper()) is scenario


@pytest.mark.parametrize("name", ["14-Misc", "Nope", "", "05-Illegal_Activitiy", "Hate Speech"])
def test_by_mmsb_name_unknown_raises_key_error(name):
    with pytest.raises(KeyError) as info:
        by_mmsb_name(name)
    assert "01-Illegal_Activitiy" in str(info.value)
