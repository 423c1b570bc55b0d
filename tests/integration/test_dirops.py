"""Issue 12: directory commands on runners, tables and entries — rm -r, mv,
cp -r — hit exactly the item named, exit as rename(2)/mkdir(2) would on a
real filesystem, and lose nothing; a burst of changes is one history
version. Each numbered case of the issue has a test; then property tests
over every fixture and a randomized test against a model."""

import copy
import os
import random
import shutil
import subprocess
import time

import pytest

from tools import tmount  # noqa: F401 (a fixture)
from rfs import FIXTURES, fixture, gen_runners, runner_dir_names, single_deletion, toml_loads, wait_for

DUP = b"""concurrent = 4
check_interval = 0

[session_server]
  session_timeout = 1800

[[runners]]
  name = "ci-host-01"
  url = "https://gitlab.example.com"
  id = 1
  token = "glrt-aaa"
  executor = "docker"
  [runners.docker]
    image = "alpine:3"
    pull_policy = ["always"]
    [[runners.docker.services]]
      name = "postgres"
    [[runners.docker.services]]
      name = "redis"
    [[runners.docker.services]]
      name = "mysql"

[[runners]]
  name = "ci-host-01"
  url = "https://gitlab.example.com"
  id = 2
  token = "glrt-bbb"
  executor = "shell"

[[runners]]
  name = "ci-host-01"
  url = "https://gitlab.example.com"
  id = 3
  token = "glrt-ccc"
  executor = "shell"
"""

NAMELESS = b"""concurrent = 1

[[runners]]
  url = "https://gitlab.example.com"
  id = 1

[[runners]]
  url = "https://gitlab.example.com"
  id = 2

[[runners]]
  url = "https://gitlab.example.com"
  id = 3
"""

REG = b"""concurrent = 2

[[runners]]
  name = "a"
  url = "https://gitlab.example.com"
  token = "glrt-aaa"
  executor = "docker"
  environment = ["DOCKER_AUTH_CONFIG={\\"auths\\":{\\"registry.example.com\\":{\\"auth\\":\\"ZGVwbG95OnMzY3JldA==\\"}}}", "FOO=bar"]
  [runners.docker]
    image = 'alpine:3'
    pull_policy = ["always"]
    volumes = ["/cache", "/certs"]
    [[runners.docker.services]]
      name = "postgres"
    [[runners.docker.services]]
      name = "redis"

[[runners]]
  name = "b"
  url = "https://gitlab.example.com"
  token = "glrt-bbb"
  executor = "shell"
"""


def nan_safe(v):
    """The value with each nan made a string (a nan is not equal to itself)."""
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, dict):
        return {k: nan_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [nan_safe(x) for x in v]
    return v


def runners_of(data):
    return nan_safe(toml_loads(data).get("runners", []))


def fails(m, cmd):
    r = m.sh(cmd, check=False)
    assert r.returncode != 0, "`%s` succeeded; it must fail" % cmd
    return r.stderr.decode(errors="replace")


# ---- the numbered cases of the issue ------------------------------------

def test_1_mv_onto_an_existing_runner_fails_and_keeps_both(runnerfs):
    m = runnerfs(REG)
    err = fails(m, "mv runners/a runners/b")
    assert "Operation not permitted" in err, err
    err = fails(m, "mv -T runners/a runners/b")
    assert "not empty" in err or "exists" in err, err
    assert m.read_config() == REG
    assert m.listdir("runners") == {"a", "b"}
    assert not os.path.exists(m.path("runners/b/a"))
    assert any("runners/b" in line for line in m.errors())


def test_2_a_table_keeps_its_name(runnerfs):
    m = runnerfs(REG)
    err = fails(m, "mv runners/a/docker runners/a/docker.bak")
    assert "Operation not permitted" in err and "subdirectory" not in err, err
    assert m.read_config() == REG
    assert "docker" in m.listdir("runners/a") and "docker.bak" not in m.listdir("runners/a")
    assert any("docker is a table and keeps its name" in line for line in m.errors())
    m.sh("echo ruby:3 > runners/a/docker/image")
    assert b"image = 'ruby:3'" in m.read_config()
    fails(m, "mkdir runners/a/docker")  # it is there, not shadowed


def test_3_rm_r_of_a_runner_sharing_its_name(runnerfs):
    m = runnerfs(DUP)
    assert m.listdir("runners") == {"ci-host-01", "ci-host-01#2", "ci-host-01#3"}
    m.sh("rm -r runners/ci-host-01")
    after = m.read_config()
    assert runners_of(after) == runners_of(DUP)[1:]
    single_deletion(DUP, after)  # one contiguous block went, nothing else
    assert m.listdir("runners") == {"ci-host-01#2", "ci-host-01#3"}


def test_3_ansible_and_python_remove_the_runner_named(runnerfs):
    m = runnerfs(DUP)
    shutil.rmtree(m.path("runners/ci-host-01#2"))
    assert [r["id"] for r in runners_of(m.read_config())] == [1, 3]
    m.sh("find runners/ci-host-01 -delete")
    assert [r["id"] for r in runners_of(m.read_config())] == [3]


def test_4_entries_keep_their_numbers_while_rm_runs(runnerfs):
    m = runnerfs(DUP)
    m.sh("rm -r runners/ci-host-01/docker/services/0 runners/ci-host-01/docker/services/1")
    assert runners_of(m.read_config())[0]["docker"]["services"] == [{"name": "mysql"}]
    assert m.listdir("runners/ci-host-01/docker/services") == {"2"}
    m.sh("mkdir runners/ci-host-01/docker/services/3 && echo redis > runners/ci-host-01/docker/services/3/name")
    assert runners_of(m.read_config())[0]["docker"]["services"] == [{"name": "mysql"}, {"name": "redis"}]


def test_4_nameless_runners(runnerfs):
    m = runnerfs(NAMELESS)
    assert m.listdir("runners") == {"#1", "#2", "#3"}
    m.sh("rm -r 'runners/#1' 'runners/#2'")
    assert [r["id"] for r in runners_of(m.read_config())] == [3]
    assert m.listdir("runners") == {"#3"}


@pytest.mark.parametrize("fx", ["01-register-docker.toml", "07-services-inline-dotted.toml",
                                "08-autoscaler-machine.toml"])
def test_5_rm_r_of_runners_holding_arrays_of_tables(runnerfs, fx):
    data = fixture(fx)
    names = runner_dir_names(runners_of(data))
    for i, name in enumerate(names):
        m = runnerfs(data)
        m.sh("rm -r runners/%s" % sh_quote(name))
        after = m.read_config()
        want = runners_of(data)[:i] + runners_of(data)[i + 1:]
        assert runners_of(after) == want, name
        assert b"[[runners]]" not in single_deletion(data, after).replace(b"[[runners]]", b"", 1)
        m.stop()


def test_6_one_rm_r_is_one_history_version(runnerfs):
    m = runnerfs(fixture("01-register-docker.toml"))
    before = m.read_config()
    name = runner_dir_names(runners_of(before))[0]
    m.sh("rm -r runners/%s" % sh_quote(name))
    assert m.listdir(".runnerfs/history") == {"1"}
    assert m.read(".runnerfs/history/1") == before
    m.sh("cp .runnerfs/history/1 config.toml")
    assert m.read_config() == before


def test_6_undo_of_the_undo(runnerfs):
    m = runnerfs(REG)
    m.sh("rm -r runners/b")
    gone = m.read_config()
    m.sh("cp .runnerfs/history/1 config.toml")
    assert m.read_config() == REG
    assert m.read(".runnerfs/history/1") == gone


def test_7_cp_r_of_a_runner(runnerfs):
    m = runnerfs(REG)
    m.sh("cp -r runners/a runners/c && cp -a runners/a runners/d")
    after = m.read_config()
    rs = runners_of(after)
    for r, name in zip(rs[2:], "cd"):
        want = dict(rs[0], name=name)
        assert r == want
    # the same bytes, key order and syntax: only the name differs
    blocks = after.split(b"[[runners]]\n")
    assert blocks[3] == blocks[1].replace(b'name = "a"', b'name = "c"')
    assert blocks[4].rstrip(b"\n") == blocks[1].replace(b'name = "a"', b'name = "d"').rstrip(b"\n")
    assert m.listdir(".runnerfs/history") == {"1"}
    assert m.read(".runnerfs/history/1") == REG


def test_8_cp_r_of_a_registry(runnerfs):
    m = runnerfs(REG)
    m.sh("cp -a runners/a/registries/registry.example.com runners/b/registries/")
    assert m.read("runners/b/registries/registry.example.com/username") == b"deploy\n"
    assert m.read("runners/b/registries/registry.example.com/password") == b"s3cret\n"
    env = runners_of(m.read_config())[1]["environment"]
    assert env == ['DOCKER_AUTH_CONFIG={"auths":{"registry.example.com":{"auth":"ZGVwbG95OnMzY3JldA=="}}}']


def test_9_names_stay_while_a_loop_walks(runnerfs):
    m = runnerfs(DUP)
    m.sh("i=0; for d in runners/*; do i=$((i+1)); test -d \"$d\" || exit 1; "
         "mv \"$d\" runners/n$i || exit 1; done")
    assert m.listdir("runners") == {"n1", "n2", "n3"}
    assert [r["name"] for r in runners_of(m.read_config())] == ["n1", "n2", "n3"]


def test_9_a_removed_name_key_keeps_the_directory(runnerfs):
    m = runnerfs(DUP)
    m.sh("rm runners/ci-host-01/name")
    assert m.listdir("runners") == {"ci-host-01", "ci-host-01#2", "ci-host-01#3"}
    m.sh("echo 5 > runners/ci-host-01/limit")
    assert runners_of(m.read_config())[0]["limit"] == 5


def test_10_name_and_mv_agree(runnerfs):
    m = runnerfs(REG)
    before = list(m.errors())
    err = fails(m, "echo b > runners/a/name")
    assert "File exists" in err, err
    m.wait_error(before, "runners/a/name", "another runner")
    assert m.read_config() == REG
    m.sh("echo a > runners/a/name")  # its own name: nothing to do
    m.sh("echo z > runners/a/name")
    assert m.listdir("runners") == {"z", "b"}
    assert runners_of(m.read_config())[0]["name"] == "z"


def test_11_unknown_directories_are_directories(runnerfs):
    m = runnerfs(REG)
    m.sh("mkdir runners/a/typo-dir && touch runners/a/typo-dir/x")
    assert m.listdir("runners/a/typo-dir") == {"x"}
    m.sh("rm -r runners/a/typo-dir")
    assert "typo-dir" not in m.listdir("runners/a")
    if shutil.which("git"):
        m.sh("git init -q . && ls .git/HEAD && rm -rf .git")
        assert ".git" not in m.listdir()
    assert m.read_config() == REG


# ---- every item of every fixture ----------------------------------------

def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def items(data):
    """(path in the mount, tomllib path) of every runner, table and entry."""
    out = []
    doc = toml_loads(data)

    def walk(table, rel, tpath):
        for k, v in table.items():
            if k == "registries" or "/" in k or "%" in k or "#" in k or k in (".", ".."):
                continue
            p = rel + "/" + k if rel else k
            if isinstance(v, dict):
                out.append((p, tpath + [k]))
                walk(v, p, tpath + [k])
            elif isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
                for i, e in enumerate(v):
                    out.append((p + "/" + str(i), tpath + [k, i]))
                    walk(e, p + "/" + str(i), tpath + [k, i])
    names = runner_dir_names(doc.get("runners", []))
    walk({k: v for k, v in doc.items() if k != "runners"}, "", [])
    for i, (r, name) in enumerate(zip(doc.get("runners", []), names)):
        out.append(("runners/" + name, ["runners", i]))
        walk(r, "runners/" + name, ["runners", i])
    return out


def prune(d, tpath):
    """d without the tables above tpath that are left empty: a table
    written only as dotted keys (machine.shutdown_drain.x = 1) goes with
    its last key, one with a [header] stays; both are right."""
    for depth in range(len(tpath) - 1, 0, -1):
        t = d
        for k in tpath[:depth - 1]:
            if not isinstance(t, (dict, list)):
                return d
            try:
                t = t[k]
            except (KeyError, IndexError):
                break
        else:
            k = tpath[depth - 1]
            if isinstance(t, dict) and t.get(k) in ({}, []):
                del t[k]
    return d


def without(doc, tpath):
    import copy
    d = copy.deepcopy(doc)
    t = d
    for k in tpath[:-1]:
        t = t[k]
    del t[tpath[-1]]
    # an array of tables left with no entry is no array at all
    if len(tpath) >= 2:
        up = d
        for k in tpath[:-2]:
            up = up[k]
        if isinstance(up[tpath[-2]], list) and not up[tpath[-2]]:
            del up[tpath[-2]]
    return d


FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("*.toml"))


@pytest.mark.parametrize("fx", FIXTURE_FILES)
def test_rm_r_of_every_item(runnerfs, fx):
    data = fixture(fx)
    doc = toml_loads(data)
    its = items(data)
    if not its:
        pytest.skip("no tables in %s" % fx)
    m = runnerfs(data)
    for path, tpath in its:
        m.sh("cp .runnerfs/history/1 config.toml" if m.read_config() != data else "true")
        assert m.read_config() == data
        r = m.sh("rm -r %s" % sh_quote(path), check=False)
        assert r.returncode == 0, (path, r.stderr)
        after = m.read_config()
        assert prune(nan_safe(toml_loads(after)), tpath) == prune(nan_safe(without(doc, tpath)), tpath), path
        assert os.path.exists(m.path(path)) is False or not path.split("/")[-1].isdigit(), path


@pytest.mark.parametrize("fx", FIXTURE_FILES)
def test_mv_and_cp_of_every_runner(runnerfs, fx):
    data = fixture(fx)
    rs = runners_of(data)
    if not rs:
        pytest.skip("no runners in %s" % fx)
    m = runnerfs(data, options=["burst=0"])
    for i, name in enumerate(runner_dir_names(rs)):
        m.sh("mv runners/%s runners/moved-away" % sh_quote(name))
        got = runners_of(m.read_config())
        assert got[i] == dict(rs[i], name="moved-away")
        m.sh("mv runners/moved-away runners/%s" % sh_quote(name))
        got = runners_of(m.read_config())
        if "name" in rs[i] and "#" not in name:
            assert got[i] == rs[i]
        m.sh("cp .runnerfs/history/2 config.toml")
        assert m.read_config() == data
    for i, name in enumerate(runner_dir_names(rs)):
        if "name" not in rs[i] or "#" in name:
            continue
        r = m.sh("cp -r runners/%s runners/the-copy" % sh_quote(name), check=False)
        assert r.returncode == 0, (name, r.stderr)
        got = runners_of(m.read_config())
        assert got[:len(rs)] == rs, name
        assert got[len(rs)] == dict(rs[i], name="the-copy"), name
        m.sh("rm -r runners/the-copy")
        assert runners_of(m.read_config()) == rs


# ---- random directory operations against a model ------------------------

@pytest.mark.parametrize("seed,size", [(1, 0), (2, 0), (3, 0), (4, 40), (5, 70)])
def test_random_directory_operations(runnerfs, seed, size):
    """size: 0 for the register fixture, else a generated config of that
    many runners (enough lists of kept names that they are made while
    others are in use)."""
    rnd = random.Random(seed)
    data = gen_runners(size) if size else fixture("01-register-docker.toml")
    m = runnerfs(data, options=["burst=0"])
    model = toml_loads(data)
    names = runner_dir_names(model.get("runners", []))  # the model's own names
    services = {}  # runner name -> names of its services entries
    fresh = 0
    for step in range(25):
        op = rnd.choice(["rm", "cp", "mv", "mkdir", "rm-entry", "edit"])
        rs = model.setdefault("runners", [])
        if not rs:
            op = "mkdir"
        i = rnd.randrange(len(rs)) if rs else 0
        fresh += 1
        new = "r%d" % fresh
        if op == "rm":
            m.sh("rm -r runners/%s" % sh_quote(names[i]))
            del rs[i]
            services.pop(names.pop(i), None)
        elif op == "cp" and "#" not in names[i] and "name" in rs[i]:
            m.sh("cp -r runners/%s runners/%s" % (sh_quote(names[i]), new))
            rs.append(dict(copy.deepcopy(rs[i]), name=new))  # its own tables
            names.append(new)
            if names[i] in services:
                services[new] = [str(k) for k in range(len(services[names[i]]))]
        elif op == "mv":
            m.sh("mv runners/%s runners/%s" % (sh_quote(names[i]), new))
            rs[i]["name"] = new
            services[new] = services.pop(names[i], None) or []
            if not services[new]:
                del services[new]
            names[i] = new
        elif op == "mkdir":
            m.sh("mkdir runners/%s && echo https://x.example.com > runners/%s/url" % (new, new))
            rs.append({"name": new, "url": "https://x.example.com"})
            names.append(new)
        elif op == "rm-entry":
            sv = rs[i].get("docker", {}).get("services")
            if not sv:
                continue
            ent = services.setdefault(names[i], [str(k) for k in range(len(sv))])
            k = rnd.randrange(len(sv))
            m.sh("rm -r runners/%s/docker/services/%s" % (sh_quote(names[i]), ent[k]))
            del sv[k]
            del ent[k]
            if not sv:
                del rs[i]["docker"]["services"]
                m.sh("rmdir runners/%s/docker/services" % sh_quote(names[i]))
        else:
            m.sh("echo %d > runners/%s/limit" % (step, sh_quote(names[i])))
            rs[i]["limit"] = step
        if not rs:
            model.pop("runners")
        got = toml_loads(m.read_config())
        if got != model:
            grs, mrs = got.get("runners", []), model.get("runners", [])
            k = next((k for k in range(min(len(grs), len(mrs))) if grs[k] != mrs[k]), None)
            diff = {key: (grs[k].get(key), mrs[k].get(key)) for key in set(grs[k]) | set(mrs[k])
                    if grs[k].get(key) != mrs[k].get(key)} if k is not None else (len(grs), len(mrs))
            raise AssertionError("step %d, %s: runner %s differs (got, model): %r" % (step, op, k, diff))
        assert m.listdir("runners") == set(names), (step, op)


def test_ansible_file_absent_removes_the_runner_named(tmount, tmp_path):
    from tools import need, playbook
    need("ansible-playbook")
    t = tmount(DUP)
    cmd = playbook(t, tmp_path, [{"file": {"path": str(t.path("runners/ci-host-01#2")), "state": "absent"}}])
    t.sh(cmd)
    assert [r["id"] for r in runners_of(t.read_config())] == [1, 3]


def test_7_copytree_and_rsync_of_a_runner(runnerfs):
    m = runnerfs(REG)
    shutil.copytree(m.path("runners/a"), m.path("runners/py"))
    if shutil.which("rsync"):
        m.sh("rsync -a runners/a/ runners/rs/")
    rs = runners_of(m.read_config())
    for r in rs[2:]:
        assert r == dict(rs[0], name=r["name"]), r["name"]
    assert [r["name"] for r in rs[2:]] == (["py", "rs"] if shutil.which("rsync") else ["py"])


def test_7_a_slow_copy_filled_from_another_process_stays_a_copy(runnerfs):
    """rsync makes the directory in one process and fills it from another,
    and on a loaded machine the whole copy can take longer than the
    moment a new directory is fresh (3 s): it stays a copy while it goes
    on being filled, so the source's TOML text is still taken at the end
    (seen in CI: rsync -a gave pull_policy = "always" for ["always"])."""
    m = runnerfs(REG)
    dst = m.path("runners/slow")
    os.listdir(m.path("runners/a"))
    subprocess.run(["mkdir", dst], check=True)  # not the process that fills it

    def put(rel, text):  # as rsync does: a temporary name, then rename
        tmp = os.path.join(os.path.dirname(os.path.join(dst, rel)), ".tmp.XXXXXX")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(dst, rel))

    for key in ("url", "token", "executor"):
        with open(m.path("runners/a/" + key)) as f:
            put(key, f.read())
        time.sleep(1.1)  # the slow copier itself, not a wait for a condition
    os.mkdir(os.path.join(dst, "docker"))
    put("docker/pull_policy", "always\n")
    slow = [r for r in runners_of(m.read_config()) if r["name"] == "slow"]
    assert slow and slow[0]["docker"]["pull_policy"] == ["always"], m.read_config().decode()


def test_7_copier_that_lists_the_registries_before_its_mkdir_lands(runnerfs):
    """rsync's sender goes on listing the source (down to its registries)
    while its generator's mkdir of the copy is on its way; on a loaded
    machine the registry listing comes first. The copy is still a copy of
    the runner listed (seen in CI: pull_policy lost its array syntax)."""
    m = runnerfs(REG)
    os.listdir(m.path("runners/a"))
    os.listdir(m.path("runners/a/registries/registry.example.com"))
    subprocess.run(["mkdir", m.path("runners/late")], check=True)
    os.mkdir(m.path("runners/late/docker"))
    tmp = m.path("runners/late/docker/.pull_policy.XXXXXX")
    tmp.write_bytes(b"always\n")
    os.rename(tmp, m.path("runners/late/docker/pull_policy"))
    late = [r for r in runners_of(m.read_config()) if r["name"] == "late"]
    assert late and late[0]["docker"]["pull_policy"] == ["always"], m.read_config().decode()


def test_fresh_runner_is_seen_whole_by_other_processes(runnerfs):
    """mkdir then read, from the same process and from another: what
    mkdir wrote is there (only a copy in progress hides it from the
    copier)."""
    m = runnerfs(REG)
    os.mkdir(m.path("runners/new"))
    assert m.read("runners/new/name") == b"new\n"
    m.sh("test \"$(cat runners/new/name)\" = new && ls runners/new | grep -qx registries")
    # a runner made a moment ago that gets another runner's name is a copy
    # or a restore (cp -r, rsync, tar x): it keeps its directory's name
    m.sh("echo a > runners/new/name")
    assert [r["name"] for r in runners_of(m.read_config())] == ["a", "b", "new"]


# ---- what a tester found (helper session) --------------------------------

UNK = b"""concurrent = 1

[[runners]]
  name = "u"
  url = "https://g"
  token = "tok1"
  executor = "docker"
  x_top = "keep"
  [runners.docker]
    image = "alpine"
    x_unknown_opt = 42
    [runners.docker.x_sub]
      deep = true
    [[runners.docker.x_arr]]
      k = 1
    [[runners.docker.x_arr]]
      k = 2
  [[runners.x_list]]
    a = 1
  [[runners.x_list]]
    a = 2
  [runners.cache.s3]
    x_bucket_opt = "z"
"""

INL = (b'concurrent = 1\nruners_note = "inline runners"\n'
       b'runners = [ { name = "i1", url = "u1", token = "t1", executor = "docker", docker = { image = "alpine", '
       b'services = [ { name = "pg" }, { name = "redis" } ] } }, { name = "i2", url = "u2", token = "t2", '
       b'executor = "shell" } ]\n')


def test_old_name_of_a_renamed_runner_cannot_take_a_taken_name(runnerfs):
    m = runnerfs(fixture("01-register-docker.toml"))
    before = m.read_config()
    m.sh("echo X > runners/shell-03/name")
    assert "X" in m.listdir("runners")
    err = fails(m, "echo docker-dind-02 > runners/shell-03/name")
    assert "File exists" in err, err
    names = [r.get("name") for r in runners_of(m.read_config())]
    assert len(names) == len(set(names)) and names == [r.get("name") for r in runners_of(before)][:2] + ["X"]


def test_a_name_key_another_runner_has_is_taken(runnerfs):
    m = runnerfs(DUP)
    m.sh("mv runners/ci-host-01 runners/a")
    # ci-host-01#2 and #3 are still named ci-host-01 in the file
    before = list(m.errors())
    fails(m, "mv runners/a runners/ci-host-01")
    m.wait_error(before, "runners/ci-host-01", "another runner is named")
    err = fails(m, "echo ci-host-01 > runners/a/name")
    assert "File exists" in err, err


def test_cp_r_of_unknown_tables_and_arrays(runnerfs):
    m = runnerfs(UNK)
    m.sh("cp -r runners/u runners/u2")
    rs = runners_of(m.read_config())
    assert rs[1] == dict(rs[0], name="u2")
    m.stop()
    m = runnerfs(UNK)
    shutil.copytree(m.path("runners/u"), m.path("runners/u3"))
    rs = runners_of(m.read_config())
    assert rs[1] == dict(rs[0], name="u3")


def test_cp_r_of_entries_that_do_not_start_at_0(runnerfs):
    m = runnerfs(DUP)
    m.sh("rm -r runners/ci-host-01/docker/services/0 && cp -r runners/ci-host-01 runners/copy")
    rs = runners_of(m.read_config())
    assert rs[-1] == dict(rs[0], name="copy")
    assert rs[-1]["docker"]["services"] == [{"name": "redis"}, {"name": "mysql"}]
    m.stop()
    m = runnerfs(INL)
    m.sh("rm -r runners/i1/docker/services/0 && cp -r runners/i1 runners/i3")
    rs = runners_of(m.read_config())
    assert rs[-1] == dict(rs[0], name="i3")
    assert rs[-1]["docker"]["services"] == [{"name": "redis"}]


def test_cp_r_onto_an_existing_runner_fails(runnerfs):
    m = runnerfs(REG)
    err = fails(m, "cp -r runners/a runners/b")
    assert "Operation not permitted" in err, err
    assert m.read_config() == REG
    assert "a" not in m.listdir("runners/b")


def key_order(v):
    """Every table's keys in order, recursively (tomllib keeps the file's)."""
    if isinstance(v, dict):
        return [(k, key_order(x)) for k, x in v.items()]
    if isinstance(v, list):
        return [key_order(x) for x in v]
    return None


@pytest.mark.parametrize("fx", ["01-register-docker.toml", "02-crlf.toml", "08-autoscaler-machine.toml"])
def test_7_cp_r_keeps_the_source_order(runnerfs, fx):
    """Tables are made in inode order by cp; each goes where the source
    has it. (Sources written with dotted keys become [headers] in the
    copy: not checked here.)"""
    data = fixture(fx)
    rs = runners_of(data)
    m = runnerfs(data)
    for i, name in enumerate(runner_dir_names(rs)):
        if "name" not in rs[i] or "#" in name:
            continue
        m.sh("cp -r runners/%s runners/copy-%d" % (sh_quote(name), i))
        got = runners_of(m.read_config())[-1]
        assert key_order(got) == key_order(dict(rs[i], name="copy-%d" % i)), name


def test_cp_r_while_another_process_writes(runnerfs):
    data = fixture("01-register-docker.toml")
    m = runnerfs(data)
    writer = subprocess.Popen(["bash", "-c", "for i in $(seq 30); do echo $i > runners/docker-shared-01/limit; done"],
                              cwd=m.path())
    try:
        m.sh("cp -r runners/shell-03 runners/S2")
    finally:
        assert writer.wait(timeout=60) == 0
    rs = {r["name"]: r for r in runners_of(m.read_config())}
    assert rs["S2"] == dict(rs["shell-03"], name="S2")
    assert rs["docker-shared-01"]["limit"] == 30


def test_copy_and_remove_while_another_process_walks(runnerfs):
    """A directory removed while `ls -R` reads it: libfuse then passes no
    path; the daemon answers ENOENT and lives (it crashed)."""
    m = runnerfs(fixture("01-register-docker.toml"))
    # (the crash came after 5 to 30 rounds, within about 10 s)
    m.sh("S=$SECONDS; "
         "(while [ $((SECONDS - S)) -lt 15 ]; do cp -r runners/docker-dind-02 runners/w1; rm -r runners/w1; done) & "
         "while [ $((SECONDS - S)) -lt 15 ]; do ls -R runners >/dev/null 2>&1; [ -d runners ] || exit 1; done; wait",
         timeout=60)
    assert m.listdir("runners") == {"docker-dind-02", "docker-shared-01", "shell-03"}


def test_a_scratch_directory_shadowed_by_an_outside_key_is_listed_once(runnerfs):
    m = runnerfs(REG)
    m.sh("mkdir runners/b/x_foo && echo hi > runners/b/x_foo/f")
    m.config.write_bytes(REG.replace(b'executor = "shell"\n', b'executor = "shell"\n  x_foo = 1\n'))
    wait_for(lambda: runners_of(m.read_config())[1].get("x_foo") == 1 and
             os.listdir(m.path("runners/b")).count("x_foo") == 1, what="one x_foo")
    assert sorted(os.listdir(m.path("runners/b"))).count("x_foo") == 1


def test_the_process_that_made_a_runner_names_it_by_its_directory(runnerfs):
    """cp -a /backup/x runners/NEW writes x's name file into NEW: the
    process that made the directory keeps its name."""
    m = runnerfs(REG)
    os.mkdir(m.path("runners/restored"))
    with open(m.path("runners/restored/name"), "w") as f:
        f.write("old-name\n")
    assert "restored" in m.listdir("runners")
    assert runners_of(m.read_config())[-1]["name"] == "restored"
    m.sh("mkdir runners/other && echo renamed > runners/other/name")  # another process: a rename
    assert runners_of(m.read_config())[-1]["name"] == "renamed"


@pytest.mark.parametrize("n", [7, 15, 40, 63])
def test_a_new_runner_named_and_copied_in_configs_of_many_sizes(runnerfs, n):
    """The names kept for each listed array (names.h) are made while the
    walk that drops the kernel's cache lists the arrays around them: with
    40 runners, naming a new runner made the list of lists grow under the
    walk, and the daemon read freed memory and died (a new user's find).
    The sizes cross the points where it grows."""
    m = runnerfs(gen_runners(n))
    first = sorted(m.listdir("runners"))[0]
    m.sh("mkdir runners/a1 && echo foo > runners/a1/name")
    assert "foo" in m.listdir("runners")
    r = m.sh("cp -r runners/%s runners/copy-a" % first, check=False)
    assert "copy-a" in m.listdir("runners"), r.stderr
    names = [x.get("name") for x in toml_loads(m.read_config())["runners"]]
    assert names.count("foo") == 1 and names.count("copy-a") == 1, names
    assert len(m.listdir("runners")) == n + 2


def test_a_name_written_with_crlf_is_checked_like_any(runnerfs):
    """`name` written by a Windows editor (CR LF) is the same name: taken
    by another runner, it is refused as `echo` of it is (a new user's
    find: it went in, and two runners had one directory)."""
    m = runnerfs(fixture("01-register-docker.toml"))
    before = m.read_config()
    err = fails(m, "printf 'docker-dind-02\\r\\n' > runners/shell-03/name")
    assert "File exists" in err, err
    assert m.read_config() == before
    m.sh("printf 'shell-b\\r\\n' > runners/shell-03/name")
    assert "shell-b" in m.listdir("runners")
    assert [r.get("name") for r in runners_of(m.read_config())][2] == "shell-b"


def test_a_name_too_long_for_a_directory_is_refused(runnerfs):
    """A runner's name is its directory's name: one longer than 255 bytes
    would make the runner vanish from the mount, so it is refused with
    ENAMETOOLONG and a sentence (mv to it is refused by the kernel)."""
    m = runnerfs(fixture("01-register-docker.toml"))
    before = m.read_config()
    errs = m.errors()
    err = fails(m, "echo %s > runners/shell-03/name" % ("q" * 300))
    assert "File name too long" in err, err
    m.wait_error(errs, "runners/shell-03/name", "255 bytes")
    assert m.read_config() == before
    m.sh("echo %s > runners/shell-03/name" % ("q" * 255))
    assert "q" * 255 in m.listdir("runners")
