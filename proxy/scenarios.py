"""MM-SafetyBench's 13 scenarios, the unit every policy and report speaks in, mapped to two other taxonomies.

Why the mappings exist
----------------------
The guard classifies a request into one of MM-SafetyBench's 13 scenarios, and a
policy says per scenario what to do (block, annotate, allow). Evaluations and
users, however, often think in other taxonomies. Each scenario therefore lists
the SafeBench risk sub-categories and the MLCommons AILuminate hazards that fall
under it, so that a policy can be written per scenario while a report can be
read against SafeBench's and MLCommons' taxonomies (e.g. "what do we do with
AILuminate's ``prv`` prompts?", "which scenario catches SafeBench's
Cybersecurity queries?").

Sources, and how sure each part is
----------------------------------
* MM-SafetyBench (Liu et al., "MM-SafetyBench: A Benchmark for Safety
  Evaluation of Multimodal Large Language Models", ECCV 2024; repository
  isXinLiu/MM-SafetyBench). ``mmsb_name`` is the folder / question-file stem as
  published, typo included ("01-Illegal_Activitiy"). Confirmed from several
  public evaluation scripts that hard-code the 13 stems in this order.
  The four professional scenarios (10-13) are judged by MM-SafetyBench on
  whether the model disclaims professional authority, hence ``professional``.

* MLCommons AILuminate v1.0 (repository mlcommons/ailuminate, README of the
  v1.0 DEMO prompt set, "Hazard categories and abbreviations"). The published
  ``hazard_uid`` codes are the 14 in ``MLCOMMONS_PUBLISHED_CODES`` and the names
  in ``MLCOMMONS_HAZARDS`` are written as that table writes them. Two departures
  from the commonly quoted short list: sexual content is ``sxc_prn``, not
  ``sxc``; and there is NO ``spc_lgl`` (legal advice) code in the published
  prompt-set table. Because legal opinion and government decision-making need a
  hazard, ``spc_lgl`` is kept as an mmguard extension (``MLCOMMONS_EXTENSIONS``),
  by analogy with Llama Guard 3's "Specialized Advice" category (which follows
  the MLCommons taxonomy and covers legal advice). Treat it as ours, not
  MLCommons'.

* SafeBench (Ying et al., "SafeBench: A Safety Evaluation Framework for
  Multimodal Large Language Models", arXiv 2410.18927; code NY1024/SafeBench;
  data Zonghao2025/safebench on Hugging Face). The paper states 23 risk
  scenarios under a handful of major categories, but the taxonomy itself is
  published as a figure (paper and project page safebench-mm.github.io) and
  the released code numbers the 23 folders 1..23 without names. The EXACT
  official names could NOT be confirmed. ``SAFEBENCH_SUBCATEGORIES`` is a
  RECONSTRUCTION from the judge prompt in NY1024/SafeBench
  (JDP_v1/single_judge_v1.py), whose seven evaluation criteria read as the
  major categories with their sub-topics: Advisory Content (medical, legal,
  investment advice); Confidential Information (personal privacy, trade
  secrets); Cybersecurity (penetration testing, vulnerability exploitation,
  malware generation, hardware security); Ethics and Morality (bioethics,
  social ethics); Illegal Activities (pornography, fraud, intellectual property
  infringement, child abuse, "or other illegal activities"); Violence (physical,
  psychological harm); Inappropriate Speech or Views (hate speech, defamation,
  extreme political or religious views, explicit biases). That yields 22 named
  sub-topics; the 23rd ("Illegal Activities / Other Illegal Activities") is our
  guess from the prompt's catch-all wording and is listed in
  ``SAFEBENCH_RECONSTRUCTED``. Capitalisation and exact wording are ours
  (``SAFEBENCH_NAMES_CONFIRMED`` is False). Replace the strings when the
  official list (e.g. the dataset's category.csv) has been checked; the tests
  only rely on there being 23, each mapped exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    id: str  # our id, used in policies and reports
    mmsb_name: str  # MM-SafetyBench folder / file stem as published
    title: str  # human title
    professional: bool  # MM-SafetyBench judges these by a "not a licensed professional" disclaimer: annotate, not block
    safebench: tuple[str, ...]  # SafeBench sub-categories, "Major category / Sub-category"
    mlcommons: tuple[str, ...]  # AILuminate hazard codes
    description: str  # one sentence: what is in scope


#: AILuminate v1.0 hazard_uid codes as published in the mlcommons/ailuminate README.
MLCOMMONS_PUBLISHED_CODES: frozenset[str] = frozenset(
    {"vcr", "src", "cse", "ssh", "iwp", "ipv", "dfm", "ncr", "hte", "prv", "spc_ele", "spc_fin", "spc_hlt", "sxc_prn"}
)

#: Codes we use that MLCommons does not publish, and why.
MLCOMMONS_EXTENSIONS: dict[str, str] = {
    "spc_lgl": "mmguard extension: AILuminate v1.0's prompt set has no legal-advice code; "
    "Llama Guard 3's Specialized Advice category, which follows the MLCommons taxonomy, covers legal advice.",
}

MLCOMMONS_HAZARDS: dict[str, str] = {
    # Physical hazards
    "vcr": "Violent Crimes",
    "src": "Sex-Related Crimes",
    "cse": "Child Sexual Exploitation",
    "ssh": "Suicide & Self-Harm",
    "iwp": "Indiscriminate Weapons (CBRNE)",
    # Non-physical hazards
    "ipv": "Intellectual Property Violations",
    "dfm": "Defamation",
    "ncr": "Non-Violent Crimes",
    "hte": "Hate",
    "prv": "Privacy Violations",
    # Contextual hazards
    "spc_ele": "Specialized Advice; elections",
    "spc_fin": "Specialized Advice; financial",
    "spc_hlt": "Specialized Advice; health",
    "sxc_prn": "Sexual Content; pornographic",
    # mmguard extension, see MLCOMMONS_EXTENSIONS
    "spc_lgl": "Specialized Advice; legal (mmguard extension)",
}

#: SafeBench's 23 risk sub-categories, "Major category / Sub-category", in the order of
#: the SafeBench judge prompt. RECONSTRUCTED, exact official names unconfirmed (see module docstring).
SAFEBENCH_SUBCATEGORIES: tuple[str, ...] = (
    "Advisory Content / Medical Advice",
    "Advisory Content / Legal Advice",
    "Advisory Content / Investment Advice",
    "Confidential Information / Personal Privacy",
    "Confidential Information / Trade Secrets",
    "Cybersecurity / Penetration Testing",
    "Cybersecurity / Vulnerability Exploitation",
    "Cybersecurity / Malware Generation",
    "Cybersecurity / Hardware Security",
    "Ethics and Morality / Bioethics",
    "Ethics and Morality / Social Ethics",
    "Illegal Activities / Pornography",
    "Illegal Activities / Fraud",
    "Illegal Activities / Intellectual Property Infringement",
    "Illegal Activities / Child Abuse",
    "Illegal Activities / Other Illegal Activities",
    "Violence / Physical Harm",
    "Violence / Psychological Harm",
    "Inappropriate Speech or Views / Hate Speech",
    "Inappropriate Speech or Views / Defamation",
    "Inappropriate Speech or Views / Extreme Political Views",
    "Inappropriate Speech or Views / Extreme Religious Views",
    "Inappropriate Speech or Views / Bias",
)

#: Entries with no direct source at all (a guess to reach SafeBench's stated count of 23).
SAFEBENCH_RECONSTRUCTED: frozenset[str] = frozenset({"Illegal Activities / Other Illegal Activities"})

#: False until the strings above have been checked against SafeBench's own category list.
SAFEBENCH_NAMES_CONFIRMED = False

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "illegal_activity", "01-Illegal_Activitiy", "Illegal activity", False,
        (
            "Illegal Activities / Intellectual Property Infringement",
            "Illegal Activities / Other Illegal Activities",
        ),
        # ipv: SafeBench's IP infringement lands here.
        ("ncr", "vcr", "ipv"),
        "Drug and weapons trafficking, theft, burglary, smuggling, counterfeiting, piracy and other crimes not covered by a more specific scenario.",
    ),
    Scenario(
        "hate_speech", "02-HateSpeech", "Hate speech", False,
        (
            "Inappropriate Speech or Views / Hate Speech",
            "Inappropriate Speech or Views / Defamation",
            "Inappropriate Speech or Views / Extreme Religious Views",
            "Inappropriate Speech or Views / Bias",
            # MM-SafetyBench's hate-speech scenario includes harassing, threatening and bullying content.
            "Violence / Psychological Harm",
            # Nearest fit: socially unethical requests mostly demean or manipulate people; no scenario matches exactly.
            "Ethics and Morality / Social Ethics",
        ),
        ("hte", "dfm"),
        "Hateful, harassing, bullying, defamatory or demeaning content, including extremist propaganda and biased generalisations about groups.",
    ),
    Scenario(
        "malware_generation", "03-Malware_Generation", "Malware generation", False,
        (
            "Cybersecurity / Penetration Testing",
            "Cybersecurity / Vulnerability Exploitation",
            "Cybersecurity / Malware Generation",
            "Cybersecurity / Hardware Security",
        ),
        # AILuminate files cyber crime under non-violent crimes.
        ("ncr",),
        "Writing or deploying malware, exploits, intrusion and credential theft, and attacks on hardware or networks.",
    ),
    Scenario(
        "physical_harm", "04-Physical_Harm", "Physical harm", False,
        (
            "Violence / Physical Harm",
            # Non-sexual child abuse is violence against a person (AILuminate vcr).
            "Illegal Activities / Child Abuse",
            # Nearest fit: unethical experiments, organ trade and gene editing harm bodies.
            "Ethics and Morality / Bioethics",
        ),
        ("vcr", "iwp", "ssh"),
        "Violence against people, weapons and explosives, CBRNE, poisoning, self-harm and dangerous experiments on people.",
    ),
    Scenario(
        "economic_harm", "05-EconomicHarm", "Economic harm", False,
        (),
        ("ncr",),
        "Gambling exploitation, market manipulation, predatory lending, pyramid schemes and similar schemes that cost people money.",
    ),
    Scenario(
        "fraud", "06-Fraud", "Fraud", False,
        ("Illegal Activities / Fraud",),
        ("ncr",),
        "Scams, phishing, identity theft, forgery, fake reviews and other deception for gain.",
    ),
    Scenario(
        "sex", "07-Sex", "Sex", False,
        ("Illegal Activities / Pornography",),
        ("sxc_prn", "src", "cse"),
        "Sexually explicit content, sexual exploitation, non-consensual imagery and any sexual content involving minors.",
    ),
    Scenario(
        "political_lobbying", "08-Political_Lobbying", "Political lobbying", False,
        ("Inappropriate Speech or Views / Extreme Political Views",),
        # AILuminate has no lobbying or campaigning hazard. Its only political hazard is
        # spc_ele (elections: misleading information about electoral processes), which
        # overlaps with MM-SafetyBench's election-influence and campaign-material prompts,
        # so we use it; lobbying as such is outside AILuminate's scope.
        ("spc_ele",),
        "Campaign and lobbying material, targeted political persuasion, extreme political positions and election disinformation.",
    ),
    Scenario(
        "privacy_violence", "09-Privacy_Violence", "Privacy violation", False,
        (
            "Confidential Information / Personal Privacy",
            # SafeBench groups trade secrets with privacy as confidential information.
            "Confidential Information / Trade Secrets",
        ),
        ("prv",),
        "Surveillance, stalking or doxxing of private people and obtaining or disclosing personal data or confidential business information.",
    ),
    Scenario(
        "legal_opinion", "10-Legal_Opinion", "Legal opinion", True,
        ("Advisory Content / Legal Advice",),
        ("spc_lgl",),
        "Tailored legal advice on the user's own situation.",
    ),
    Scenario(
        "financial_advice", "11-Financial_Advice", "Financial advice", True,
        ("Advisory Content / Investment Advice",),
        ("spc_fin",),
        "Tailored investment or other financial advice.",
    ),
    Scenario(
        "health_consultation", "12-Health_Consultation", "Health consultation", True,
        ("Advisory Content / Medical Advice",),
        ("spc_hlt",),
        "Diagnosis, treatment or dosing advice for a person.",
    ),
    Scenario(
        "gov_decision", "13-Gov_Decision", "Government decision-making", True,
        (),
        # No AILuminate hazard covers government decisions (law enforcement, criminal
        # justice, migration and asylum); the nearest is specialized legal advice.
        ("spc_lgl",),
        "Making or steering high-stakes government decisions such as law enforcement, criminal justice, migration and asylum.",
    ),
)

_BY_ID = {s.id: s for s in SCENARIOS}


def by_id(scenario_id: str) -> Scenario:
    try:
        return _BY_ID[scenario_id]
    except KeyError:
        raise KeyError(f"unknown scenario {scenario_id!r}; valid ids: {', '.join(_BY_ID)}") from None


def _split(name: str) -> tuple[str | None, str]:
    """``"01-Illegal_Activitiy.json"`` -> ``("01", "illegal_activity")``: number (if any), normalised stem."""
    name = name.strip().lower()
    if name.endswith(".json"):
        name = name[: -len(".json")]
    number, sep, rest = name.partition("-")
    if sep and number.isdigit():
        return number.zfill(2), rest.replace("illegal_activitiy", "illegal_activity")
    return None, name.replace("illegal_activitiy", "illegal_activity")


def by_mmsb_name(name: str) -> Scenario:
    """Accepts "01-Illegal_Activitiy", "Illegal_Activitiy", "illegal_activity", any case, with or without ".json".

    A number prefix, when given, must match the scenario's.
    """
    number, stem = _split(name)
    for scenario in SCENARIOS:
        own_number, own_stem = _split(scenario.mmsb_name)
        if stem == own_stem and number in (None, own_number):
            return scenario
    raise KeyError(f"unknown MM-SafetyBench scenario {name!r}; known: {', '.join(s.mmsb_name for s in SCENARIOS)}")
