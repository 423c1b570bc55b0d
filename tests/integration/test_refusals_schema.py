"""Issue 14: every schema key, a wrong value of each kind that one write
can show, written with bash's echo: echo must exit non-zero, the errno
must be EINVAL, and config.toml must stay byte-identical. The key list is
`runnerfs --schema` (the schema itself), so a key added to the schema is
tested without touching this file."""

import os
import re
import subprocess

WRONG = {
    "integer": ["abc", "1.5", "true"],
    "float": ["abc", "true"],
    "boolean": ["yes", "1", "abc"],
    "duration": ["900", "abc", "15 minutes"],
    "date-time": ["yesterday", "12"],
}

BASE = b'''concurrent = 4

[[runners]]
  name = "a"
  url = "https://gitlab.example.com"
  token = "glrt-a"
  executor = "docker"
'''


def schema():
    """(table path, key, type, allowed values) for every scalar key."""
    out = subprocess.run([os.environ["RUNNERFS"], "--schema"], capture_output=True, text=True,
                         check=True).stdout
    table, aot, keys = "", set(), []
    for line in out.splitlines():
        m = re.match(r"^## (\[\[?)([^\]]+)\]", line)
        if m:
            table = m.group(2)
            if m.group(1) == "[[":
                aot.add(table)
            continue
        if line.startswith("## Global"):
            table = ""
            continue
        m = re.match(r"^\| `([^`]+)` \| ([^|]+?) \|[^|]*\|[^|]*\| (.*) \|$", line)
        if not m:
            continue
        key, typ, doc = m.groups()
        allowed = re.findall(r"`([^`]+)`", doc.split("One of:", 1)[1]) if "One of:" in doc else []
        keys.append((table, key, typ, allowed))
    return keys, aot


def mount_dir(table, aot):
    """The directory of a table in the test runner: runners.docker.services
    -> runners/a/docker/services/0 (made with mkdir -p as needed)."""
    if not table:
        return ""
    parts = table.split(".")
    out, path = [], []
    for p in parts:
        path.append(p)
        out.append(p)
        if p == "runners" and len(path) == 1:
            out.append("a")
        elif ".".join(path) in aot:
            out.append("0")
    return "/".join(out)


def test_every_key_refuses_a_wrong_value_at_write(runnerfs):
    keys, aot = schema()
    m = runnerfs(BASE)
    # make every table once (mkdir of a table adds its header)
    made = set()
    for table, key, typ, allowed in keys:
        d = mount_dir(table, aot)
        if d and d not in made:
            parts = d.split("/")
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                if sub not in made and not os.path.isdir(m.path(sub)):
                    m.sh("mkdir '%s'" % sub)
                made.add(sub)
    before = m.read_config()
    tried, missed = 0, []
    for table, key, typ, allowed in keys:
        wrong = list(WRONG.get(typ, []))
        if allowed and typ in ("string", "string or array of strings"):
            wrong.append("not-an-allowed-value")
        d = mount_dir(table, aot)
        rel = (d + "/" if d else "") + key
        for w in wrong:
            tried += 1
            res = m.sh("echo '%s' > '%s'" % (w, rel), check=False)
            if res.returncode == 0 or b"Invalid argument" not in res.stderr:
                missed.append("%s <- %r: exit %d %s" % (rel, w, res.returncode, res.stderr.decode().strip()))
    assert not missed, "%d of %d wrong values were not refused at write():\n%s" % (
        len(missed), tried, "\n".join(missed[:40]))
    assert tried > 400, tried
    assert m.read_config() == before
