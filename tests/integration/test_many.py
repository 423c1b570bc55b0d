"""Many runners: 1000 runners (~1.3 MB of TOML)."""

import os
import time

import pytest

from rfs import (assert_only_changed, assert_toml_change, check_tree, expected_tree, gen_runners,
                 replace_once, runner_dir_names, setp, toml_loads)

N = 1000


@pytest.fixture(scope="module")
def big():
    return gen_runners(N)


def test_list_all_runners(runnerfs, big):
    m = runnerfs(big)
    doc = toml_loads(big)
    t0 = time.monotonic()
    names = m.listdir("runners")
    dt = time.monotonic() - t0
    assert len(names) == N
    assert names == set(runner_dir_names(doc["runners"]))
    assert dt < 10, "listing %d runners took %.1fs" % (N, dt)


def test_one_edit(runnerfs, big):
    m = runnerfs(big)
    doc = toml_loads(big)
    i = 499
    name = doc["runners"][i]["name"]
    anchor = b'name = "%s"' % name.encode()
    old_limit = doc["runners"][i]["limit"]
    exp = replace_once(big, b"limit = %d #" % old_limit, b"limit = 7 #", after=anchor)
    m.sh("echo 7 > runners/%s/limit" % name)
    after = m.read_config()
    assert_only_changed(big, after, exp)
    assert_toml_change(big, after, setp(["runners", i, "limit"], 7))
    assert m.read("runners/%s/limit" % name) == b"7\n"


def test_read_every_file_of_one_runner(runnerfs, big):
    m = runnerfs(big)
    doc = toml_loads(big)
    name = doc["runners"][854]["name"]
    nodes, root_complete = expected_tree(doc, under=name)
    files = [n for n in nodes if not n.is_dir]
    assert len(files) > 20
    problems = check_tree(m.mnt, nodes, root_complete, only_under="runners/" + name)
    assert not problems, "\n".join(problems[:40])


def test_walk_whole_tree(runnerfs, big):
    """Every directory of the 1000-runner tree can be listed and stat'ed
    (what `find` does)."""
    m = runnerfs(big)
    nodes, _ = expected_tree(toml_loads(big))
    want_dirs = 1 + sum(1 for n in nodes if n.is_dir)          # + the root
    want_files = sum(1 for n in nodes if not n.is_dir) + 1     # + config.toml
    t0 = time.monotonic()
    ndirs = nfiles = 0
    for root, dirs, files in os.walk(m.mnt):
        ndirs += 1
        for f in files:
            os.lstat(os.path.join(root, f))
            nfiles += 1
    dt = time.monotonic() - t0
    # .runnerfs/ and (later) registries/ add a few more
    assert ndirs >= want_dirs and nfiles >= want_files, (ndirs, want_dirs, nfiles, want_files)
    assert dt < 60, "walking the tree took %.1fs" % dt
