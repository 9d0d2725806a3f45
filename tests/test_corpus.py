"""The bad-input corpus (tests/corpus): every file gets its one-line errors and exit code 2,
or, when it is readable but the model is wrong or odd, its findings and exit code; never a
traceback, never a hang, never memory by declared size (each run is capped at 1 GiB)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", "analyze", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=60, preexec_fn=limited, check=False,
    )


def test_the_manifest_covers_the_corpus():
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".onnx", ".json") and p.name != "expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input(name):
    expected = EXPECTED[name]
    done = run(CORPUS / name)
    assert "Traceback" not in done.stderr
    assert done.returncode == expected["exit"], done.stderr
    if "errors" in expected:
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == len(expected["errors"])
        for line, message in zip(lines, expected["errors"]):
            assert line.startswith(f"error: {CORPUS / name}: {message}")
    else:
        report = json.loads(done.stdout)
        assert [d["code"] for d in report["diagnostics"]] == expected["findings"]
        if "params" in expected:
            assert report["totals"]["params"] == expected["params"]


def test_the_corpus_generator_is_reproducible(tmp_path):
    """The committed ONNX files are what make_corpus.py writes (random bytes have a seed)."""
    before = {p.name: p.read_bytes() for p in CORPUS.glob("*.onnx")}
    subprocess.run([sys.executable, str(CORPUS / "make_corpus.py")], check=True, capture_output=True)
    assert {p.name: p.read_bytes() for p in CORPUS.glob("*.onnx")} == before
