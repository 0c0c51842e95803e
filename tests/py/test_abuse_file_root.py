# SPDX-License-Identifier: Apache-2.0
"""File connectors of deployed programs stay inside the server's --file-root; the CLI keeps local paths."""

from __future__ import annotations

import json
import os

import pytest

from server_support import ServerProcess
from varpulis import ApiError

pytestmark = pytest.mark.integration

READING_TO = 'connector Out = file(path: "{path}")\nstream S = Reading .emit(v: v) .to(Out)'


def deploy_error(client, path: str) -> ApiError:
    with pytest.raises(ApiError) as err:
        client.deploy("f", READING_TO.format(path=path))
    return err.value


@pytest.fixture
def rooted(varpulis_bin, tmp_path):
    """A worker with a state dir and the default file root (STATE/files)."""
    s = ServerProcess(varpulis_bin, "--state-dir", str(tmp_path / "state"))
    yield s, tmp_path
    s.stop()


def test_relative_and_inside_absolute_paths_write_in_the_default_root(rooted):
    server, tmp = rooted
    c = server.client()
    root = tmp / "state" / "files"
    for path in ("out/a.jsonl", str(root / "b.jsonl")):
        pid = c.deploy("f", READING_TO.format(path=path))["id"]
        c.inject(pid, "Reading", {"v": 7})
        c.delete(pid)  # closes the sink, so the line is in the file
    for name in ("out/a.jsonl", "b.jsonl"):
        [line] = (root / name).read_text().splitlines()
        assert json.loads(line)["v"] == 7


def test_outside_paths_are_400_with_one_message_whether_they_exist_or_not(rooted):
    server, tmp = rooted
    c = server.client()
    (tmp / "present").mkdir()
    state_file = tmp / "state" / "pipelines.json"
    c.deploy("keep", "stream K = Reading .emit(v: v)")  # so that the state file exists
    for path in (str(tmp / "present" / "f"), str(tmp / "nowhere" / "f"), str(state_file), "../pipelines.json",
                 "a/../../x", "/etc/passwd"):
        err = deploy_error(c, path)
        assert err.status == 400, path
        assert f"path '{path}' is outside the server's file root (--file-root); give a path relative to it" in err.message
        assert "No such" not in err.message and "denied" not in err.message
    assert not (tmp / "present" / "f").exists() and not (tmp / "nowhere").exists()
    assert json.loads(state_file.read_text())["pipelines"][0]["name"] == "keep"  # untouched


def test_symbolic_links_out_of_the_root_are_refused(rooted):
    server, tmp = rooted
    c = server.client()
    root = tmp / "state" / "files"
    root.mkdir(parents=True)
    (tmp / "outside").mkdir()
    os.symlink(tmp / "outside", root / "escape")
    os.symlink(tmp / "outside" / "target", root / "link.jsonl")
    assert "symbolic link" in deploy_error(c, "escape/f").message
    assert "symbolic link" in deploy_error(c, "link.jsonl").message
    assert list((tmp / "outside").iterdir()) == []


def test_route_connectors_are_held_to_the_root_too(rooted):
    server, tmp = rooted
    c = server.client()
    body = {"name": "r", "source": "stream S = Reading .emit(v: v)",
            "routes": {"publish": [{"connector": {"kind": "file", "params": {"path": str(tmp / "routed")}}, "topic": "t"}]}}
    with pytest.raises(ApiError) as err:
        c.request("POST", "/api/v1/pipelines", body)
    assert err.value.status == 400 and "outside the server's file root" in err.value.message
    assert not (tmp / "routed").exists()


def test_the_file_root_flag_names_the_folder(varpulis_bin, tmp_path):
    s = ServerProcess(varpulis_bin, "--file-root", str(tmp_path / "mine"))
    try:
        c = s.client()
        pid = c.deploy("f", READING_TO.format(path="x.jsonl"))["id"]
        c.inject(pid, "Reading", {"v": 1})
        c.delete(pid)
        assert (tmp_path / "mine" / "x.jsonl").read_text().count("\n") == 1
    finally:
        s.stop()


def test_the_cli_keeps_local_paths(run_cli, tmp_path):
    out = tmp_path / "elsewhere" / "out.jsonl"
    out.parent.mkdir()
    program = tmp_path / "p.vpl"
    program.write_text(READING_TO.format(path=out))
    events = tmp_path / "e.evt"
    events.write_text("Reading { v: 3 }\n")
    result = run_cli("simulate", "--program", str(program), "--events", str(events))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text().splitlines()[0])["v"] == 3
