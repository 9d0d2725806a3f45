"""The pytest helpers fail as `convlint check` does: on the findings it reports, listed as it
lists them; and their parametrisation runs one test per model in a user's own suite."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import SAMPLES

from analyzer.api import analyze
from analyzer.testing import assert_no_findings, check_model, model_files, models_in


def check_lines(*arguments: str, cwd=None) -> list[str]:
    """The finding lines `convlint check` prints (its last line is the summary)."""
    result = subprocess.run([sys.executable, "-m", "analyzer", "check", *arguments, "--isolated"],
                            capture_output=True, text=True, cwd=cwd)
    return result.stdout.splitlines()[:-1]


def test_the_failure_lists_the_findings_as_the_cli_does():
    report = analyze(str(SAMPLES / "broken_channels.json"))
    with pytest.raises(AssertionError) as failure:
        assert_no_findings(report)
    first, *lines = str(failure.value).splitlines()
    assert lines == check_lines(str(SAMPLES / "broken_channels.json"))
    assert first == f"convlint: 2 findings at or above warning in {SAMPLES / 'broken_channels.json'}:"


@pytest.mark.parametrize(("fail_on", "fails"), [("error", False), ("warning", True), ("info", True)])
def test_the_fail_level(fail_on, fails):
    report = analyze(str(SAMPLES / "seed.json"))  # one warning (F101)
    if fails:
        with pytest.raises(AssertionError, match="F101"):
            assert_no_findings(report, fail_on)
    else:
        assert_no_findings(report, fail_on)
    assert_no_findings(report, "info", ignore=["F1"])
    with pytest.raises(ValueError, match="fail_on must be error, warning or info"):
        assert_no_findings(report, "fatal")  # type: ignore[arg-type]


def test_check_model_at_training_sizes():
    report = check_model(str(SAMPLES / "unet.json"), input_shapes={"image": (1, 512, 512)}, batch=8)
    assert report.node("cat1").outputs[0].shape == [128, 512, 512]  # cat of 64 + 64 channels at full size
    with pytest.raises(AssertionError, match=r"S103 \[error\] cat3: inputs \(256, 24, 24\), \(256, 25, 25\) differ"):
        check_model(str(SAMPLES / "unet.json"), input_shapes={"image": (1, 100, 100)})
    with pytest.raises(AssertionError, match=r"convlint cannot read the model:\n.*missing\.json: no such file"):
        check_model("missing.json")


def test_model_files_are_what_check_finds(tmp_path):
    for name in ("seed.json", "unet.json", "tiny_resnet.onnx"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    (tmp_path / "notes.json").write_text('{"not": "a spec"}')
    assert sorted(model_files(tmp_path)) == sorted(str(tmp_path / n) for n in ("seed.json", "unet.json", "tiny_resnet.onnx"))
    with pytest.raises(ValueError, match="no models to test in"):
        model_files(tmp_path / "empty")
    marker = models_in(tmp_path)
    assert marker.args[0] == "model" and sorted(marker.kwargs["ids"]) == ["seed.json", "tiny_resnet.onnx", "unet.json"]


def test_a_users_suite_runs_one_test_per_model(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("seed.json", "unet.json", "broken_channels.json"):
        shutil.copy(SAMPLES / name, models / name)
    (tmp_path / "test_models.py").write_text(
        "from analyzer.testing import check_model, models_in\n\n"
        "@models_in('models')\n"
        "def test_architecture(model):\n"
        "    check_model(model, fail_on='error')\n"
    )
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_models.py"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 2 passed" in result.stdout
    assert "FAILED test_models.py::test_architecture[broken_channels.json]" in result.stdout
    for line in check_lines("models/broken_channels.json", cwd=tmp_path):
        assert line in result.stdout
