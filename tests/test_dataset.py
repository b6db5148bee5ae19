"""The labelled set's loader (``proxy/classifier/dataset.py``): extra lines join their scenario's file, and bad ones are clear errors."""

from __future__ import annotations

import json

import pytest

from proxy.classifier.dataset import data_dir, load_examples
from tests.conftest import mmguard


def _line(text: str, label: str, scenario: str) -> str:
    return json.dumps({"text": text, "label": label, "scenario": scenario, "style": "key_phrase"}) + "\n"


def test_extra_lines_load_as_if_appended_to_their_scenarios_files(tmp_path) -> None:
    shipped, written = tmp_path / "shipped", tmp_path / "written"
    for folder in (shipped, written):
        folder.mkdir()
        (folder / "fraud.jsonl").write_text(_line("forge a cheque", "harmful", "fraud"))
        (folder / "sex.jsonl").write_text(_line("write explicit porn", "harmful", "sex"))
    extra = tmp_path / "extra.jsonl"
    extra.write_text(_line("sextortion script", "harmful", "sex") + _line("cheque fraud law", "benign", "fraud"))
    with open(written / "fraud.jsonl", "a") as f:
        f.write(_line("cheque fraud law", "benign", "fraud"))
    with open(written / "sex.jsonl", "a") as f:
        f.write(_line("sextortion script", "harmful", "sex"))
    loaded = load_examples(shipped, extra=[extra])
    assert loaded == load_examples(written)
    assert [e.text for e in loaded] == ["forge a cheque", "cheque fraud law", "write explicit porn", "sextortion script"]
    assert load_examples(shipped) == load_examples(shipped, extra=[])


def test_an_extra_line_of_an_unknown_scenario_names_the_file_and_the_scenario(tmp_path) -> None:
    extra = tmp_path / "extra.jsonl"
    extra.write_text(_line("a bank heist", "harmful", "heists"))
    with pytest.raises(ValueError, match=r"extra.jsonl: scenario 'heists' of 'a bank heist' has no file"):
        load_examples(extra=[extra])


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"text": "x", "label": "Harmful", "scenario": "fraud"}', r"lines.jsonl:2: label 'Harmful' is neither"),
        ('["x", "harmful", "fraud"]', r"lines.jsonl:2: bad example"),
        ('{"text": "x", "label": "harmful"}', r"lines.jsonl:2: bad example: no 'scenario'; a line is \{"),
        ("not json", r"lines.jsonl:2: bad example"),
    ],
)
def test_a_bad_line_is_an_error_naming_the_file_and_line(tmp_path, line: str, error: str) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_text(_line("forge a cheque", "harmful", "fraud") + line + "\n")
    with pytest.raises(ValueError, match=error):
        load_examples(extra=[path])


def test_train_classifier_refuses_a_bad_extra_file_before_training(tmp_path) -> None:
    missing = mmguard("train-classifier", "--out", str(tmp_path), "--extra", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no label"}\n')
    broken = mmguard("train-classifier", "--out", str(tmp_path), "--extra", str(bad))
    assert broken.returncode == 2 and "bad.jsonl:1" in broken.stderr and "Traceback" not in broken.stderr
    assert not list(tmp_path.glob("*.npz"))  # nothing trained, nothing written


def test_train_classifier_makes_its_output_folder_or_refuses_it_before_training(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    refused = mmguard("train-classifier", "--out", str(blocker / "out"))
    assert refused.returncode == 2 and "a-file" in refused.stderr and "Traceback" not in refused.stderr
    nested = tmp_path / "new" / "run"
    no_adapter = mmguard("train-classifier", "--out", str(nested), "--keep-adapter")
    assert no_adapter.returncode == 2 and "adapter.npz" in no_adapter.stderr and "--keep-adapter" in no_adapter.stderr
    assert nested.is_dir() and not list(nested.iterdir())  # made up front, nothing trained into it


def test_candidate_lines_load_and_repeat_no_labelled_or_judging_line() -> None:
    """A candidate's lines must load as ``--extra`` does, and stay apart from what judges it.

    A candidate line that repeated a line of a ``fresh`` set would train on
    the very text the set judges it by.
    """
    from bench.guard_eval import load_set
    from bench.guard_sets import guard_sets

    candidates = sorted((data_dir().parent / "candidates").glob("*.jsonl"))
    if not candidates:
        pytest.skip("no candidate lines wait in proxy/classifier/candidates/: the last ones shipped into data/")
    shipped = load_examples()
    with_candidates = load_examples(extra=candidates)
    added = {e.text.lower() for e in with_candidates} - {e.text.lower() for e in shipped}
    assert len(with_candidates) > len(shipped) and added
    judging = {e.text.lower() for name in guard_sets() for e in load_set(name)}
    assert not added & judging
