"""`python -m dataset_builder check`: one pass reports everything a build would stop on, exit 0 exactly when a
default build succeeds, and the build command it prints does succeed."""

from __future__ import annotations

import json
import shlex

import pytest

from dataset_builder.__main__ import main as cli_main
from dataset_builder.build import build_dataset
from dataset_builder.check import check_release
from dataset_builder.schema import Spellings
from dataset_builder.sources import BadRecordError
from dataset_builder.synthetic import write_synthetic_release


@pytest.fixture
def messy(tmp_path):
    """A release with one of each problem a real one may hold, after 20 good records."""
    release = write_synthetic_release(tmp_path / "release", 20, seed=12, zip_parts=2)
    lines = release.records_path.read_text().splitlines()
    good = json.loads(lines[0])
    lines += [
        json.dumps(dict(good, problem="p1", category="Multi Choice Q")),  # 21: unknown category spelling
        json.dumps(dict(good, problem="p2", reward="GPT judge")),  # 22: unknown reward spelling
        json.dumps(dict(good, problem="p3", category="Multi Choice Q")),  # 23: the same unknown spelling again
        lines[2],  # 24: duplicate of line 3
        json.dumps(dict(good, problem="p4", image_path="coco/train2017/absent.jpg")),  # 25: missing image
        json.dumps({key: value for key, value in good.items() if key != "refined_cot"}),  # 26: missing field
        "{oops",  # 27: not JSON
    ]
    release.records_path.write_text("\n".join(lines) + "\n")
    return release, tmp_path


def test_check_reports_every_problem_at_once(messy, capsys):
    release, tmp_path = messy
    args = ["check", "--source", str(release.records_path), "--images", str(release.images_root)]
    assert cli_main([*args, "--output-dir", str(tmp_path / "built")]) == 1
    text = capsys.readouterr().out
    assert "27 records in 1 file(s)" in text
    assert (
        "'Multi Choice Q'  UNKNOWN, e.g. " in text and f"{release.records_path}:21, {release.records_path}:23" in text
    )
    assert "'GPT judge'  UNKNOWN" in text
    for reason, count in [("category: unknown question type", 2), ("reward: unknown reward method", 1),
                          ("id: duplicate id", 1), ("image_path: missing image", 1),
                          ("refined_cot: missing required field", 1), ("malformed JSON", 1)]:  # fmt: skip
        assert f"{count:8d}  {reason}" in text, reason
    assert f"first seen at {release.records_path}:3" in text

    # The printed build command succeeds and keeps exactly the reported records aside.
    command = next(
        line.strip() for line in text.splitlines() if line.strip().startswith("python -m dataset_builder build")
    )
    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "dataset_builder", "build"] and words[-2:] == ["--on-error", "skip"]
    assert cli_main(words[3:]) == 0
    report = json.loads((tmp_path / "built" / "build_report.json").read_text())
    assert (report["rows_in"], report["rows_out"], report["rows_rejected"]) == (27, 20, 7)

    # The YAML skeleton it prints, once filled in, makes those records acceptable to check and build alike.
    spellings = tmp_path / "spellings.yaml"
    spellings.write_text('category:\n  multiple-choice: ["Multi Choice Q"]\nreward:\n  model: ["GPT judge"]\n')
    again = check_release([release.records_path], [release.images_root], Spellings.load(spellings))
    assert not any(again.unknown_spellings.values()) and again.bad_records == 4  # p1, p2 and p3 are now fine
    built = build_dataset(release.records_path, release.images_root, tmp_path / "b2", on_error="skip",
                          spellings=Spellings.load(spellings), export_sharegpt_json=False)  # fmt: skip
    assert built.rows_out == again.rows_ok == 23 and built.rows_rejected == again.bad_records


def test_check_exit_code_matches_a_default_build(tmp_path, capsys):
    release = write_synthetic_release(tmp_path / "release", 8, seed=13)
    args = ["check", "--source", str(release.records_path), "--images", str(release.images_root)]
    assert cli_main(args) == 0
    assert "A default build will succeed:" in capsys.readouterr().out
    assert build_dataset(release.records_path, release.images_root, tmp_path / "out").rows_out == 8
    with open(release.records_path, "a") as handle:
        handle.write(
            json.dumps(dict(json.loads(release.records_path.read_text().splitlines()[0]), category="essay")) + "\n"
        )
    assert cli_main(args) == 1
    with pytest.raises(BadRecordError, match=r"records.jsonl:9: field 'category': .*python -m dataset_builder check"):
        build_dataset(release.records_path, release.images_root, tmp_path / "out2")


def test_check_without_images_says_they_were_not_checked(tmp_path, capsys):
    release = write_synthetic_release(tmp_path / "release", 3, seed=14)
    assert cli_main(["check", "--source", str(release.records_path)]) == 0
    assert "images: not checked" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        ("category:\n  essay: [long answer]\n", "'essay' is not a question type"),
        ("category:\n  descriptive: [MC]\n", "spelling 'MC' maps to 'descriptive', but it already means"),
        ("rewards: {}\n", "expected a mapping with the keys"),
    ],
)
def test_a_bad_spellings_file_is_an_error_naming_it(tmp_path, capsys, content, message):
    path = tmp_path / "spellings.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        Spellings.load(path)
    release = write_synthetic_release(tmp_path / "release", 2, seed=15)
    assert cli_main(["check", "--source", str(release.records_path), "--spellings", str(path)]) == 2
    assert str(path) in capsys.readouterr().err
