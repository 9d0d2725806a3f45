"""Issue 13, the red team's second round on paths: names the kernel refuses, files and
configuration files convlint may not read, and globs over links (leading out of the folder,
or looping). Each gets one ``error:`` line or a listed skip, never "internal error" or a hang."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import SAMPLES
from test_hostile import convlint, one_error_line

TOO_LONG = os.strerror(errno.ENAMETOOLONG)


def test_a_name_too_long_is_one_error_line_in_every_command(tmp_path):
    long = "a" * 300 + ".onnx"  # longer than NAME_MAX (255): the kernel refuses to look it up
    deep = "/".join(["d" * 200] * 25) + "/m.onnx"  # longer than PATH_MAX (4096)
    for path in (long, deep):
        for command in (["analyze", path], ["sizes", path], ["diff", path, path]):
            line = one_error_line(convlint(*command, cwd=tmp_path))
            assert line == f"error: {path}: cannot read: {TOO_LONG}", (command, line)
    done = convlint("check", long, cwd=tmp_path)
    assert done.returncode == 2 and b"internal error" not in done.stderr + done.stdout
    assert done.stdout.decode().splitlines()[0] == f"error: {long}: cannot read: {TOO_LONG}"


def without_root_privileges(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """convlint as a user the file modes apply to: root loses the capability to read past them."""
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, sys.executable, "-m", "analyzer", *args], cwd=cwd, capture_output=True,
                          timeout=30, check=False)


def test_files_and_configurations_that_may_not_be_read_are_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(SAMPLES / "tiny_resnet.onnx", locked / "m.onnx")
    (locked / "convlint.toml").write_text('select = ["S"]\n')
    shutil.copy(SAMPLES / "tiny_resnet.onnx", tmp_path / "m.onnx")
    (tmp_path / "unreadable.toml").write_text('select = ["S"]\n')
    os.chmod(tmp_path / "unreadable.toml", 0)
    os.chmod(locked, 0)  # not searchable: nothing in it can even be looked at
    try:
        for command in (["analyze", "locked/m.onnx"], ["sizes", "locked/m.onnx"], ["export-spec", "locked/m.onnx"]):
            assert one_error_line(without_root_privileges(*command, cwd=tmp_path)) == \
                "error: locked/m.onnx: permission denied", command
        done = without_root_privileges("analyze", "m.onnx", "--config", "locked/convlint.toml", cwd=tmp_path)
        assert one_error_line(done) == "error: locked/convlint.toml: permission denied"
        done = without_root_privileges("analyze", "m.onnx", "--config", "unreadable.toml", cwd=tmp_path)
        assert one_error_line(done) == "error: --config: path 'unreadable.toml' is not readable"  # click's check
        os.rename(tmp_path / "unreadable.toml", tmp_path / "convlint.toml")  # found by the upward search
        done = without_root_privileges("check", "m.onnx", cwd=tmp_path)
        assert one_error_line(done) == f"error: {tmp_path / 'convlint.toml'}: permission denied"
    finally:
        os.chmod(locked, 0o755)


def test_a_glob_does_not_follow_a_folder_link_out_of_its_folder(tmp_path):
    """As a folder search: the link is skipped, and listed as skipped, whatever the glob."""
    outside = tmp_path / "outside"
    repo = tmp_path / "repo"
    outside.mkdir()
    repo.mkdir()
    shutil.copy(SAMPLES / "tiny_resnet.onnx", outside / "secret.onnx")
    shutil.copy(SAMPLES / "seed.json", outside / "secret.json")
    shutil.copy(SAMPLES / "tiny_resnet.onnx", repo / "m.onnx")
    (repo / "sub").symlink_to(outside)
    skip = {"path": "sub", "message": "a link to a folder outside .: not followed"}
    for paths in (["**/*.onnx"], ["**/*"], ["."]):
        done = convlint("check", *paths, "-f", "json", cwd=repo)
        assert done.returncode == 0, (paths, done.stderr)
        report = json.loads(done.stdout)
        assert [f["model"]["path"] for f in report["files"]] == (["./m.onnx"] if paths == ["."] else ["m.onnx"])
        expected = {**skip, "path": "./sub"} if paths == ["."] else skip
        assert report["skipped"] == [expected], paths
    done = convlint("check", "*/*.onnx", "-f", "json", cwd=repo)
    assert done.returncode == 2 and json.loads(done.stdout)["skipped"] == [skip]
    done = convlint("check", "../repo/**/*.json", "-f", "json", cwd=repo)
    assert done.returncode == 2 and json.loads(done.stdout)["skipped"] == [
        {"path": "../repo/sub", "message": "a link to a folder outside ../repo: not followed"}]


def test_a_glob_over_link_loops_ends_at_once(tmp_path):
    """Two links to their own folder make 2**40 paths for glob.glob to try; links to folders are
    not followed, so the model is found once."""
    shutil.copy(SAMPLES / "tiny_resnet.onnx", tmp_path / "m.onnx")
    (tmp_path / "a").symlink_to(".")
    (tmp_path / "b").symlink_to(".")
    started = time.monotonic()
    done = convlint("check", "**/*.onnx", "-f", "json", cwd=tmp_path, timeout=60)
    assert time.monotonic() - started < 30
    report = json.loads(done.stdout)
    assert [f["model"]["path"] for f in report["files"]] == ["m.onnx"] and report["skipped"] == []
