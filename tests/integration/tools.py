"""Helpers for the real-tool tests (test_tools_*.py): every tool of issue 4
runs for real on a real mount, and the result is checked as exact bytes.

    from tools import tmount, need, ...     # tmount is a fixture

    def test_x(tmount):
        need("rsync")
        t = tmount(fixture("01-register-docker.toml"))
        after = t.edit("rsync /tmp/src " + t.q(D1 + "docker/image"), D1 + "docker/image",
                       b"alpine:3.20\\n", replace_once(t.before, OLD, NEW))

What `edit` checks, for every tool (issue 4):
  - the value reads back exactly as the user wrote it;
  - config.toml is exactly the expected bytes (the original with only that
    value's text replaced: the test builds it with replace_once);
  - no scratch name ever reaches config.toml: while the tool runs, a spy
    lists the directory and snapshots CONFIG whenever it changes; no name
    the spy saw (other than the directory's keys) may be a key of any
    version of CONFIG, nor appear in its bytes;
  - no scratch file is left in the mount after the tool exits (the listing
    is the one before, plus the names the test says the tool keeps, such
    as `key.bak`).

Why a bind mount: emacs makes no backup of files under /tmp (and vim's
'backupskip' skips /tmp/*), so a mount under pytest's /tmp would hide the
rename-based saves these tests exist for. As root, `tmount` bind-mounts the
FUSE mount at /run/runnerfs-tools/XXXX (what a user edits is /etc/..., not
/tmp) and runs every tool there; the bind is undone before the daemon is
stopped. Without root it uses the mount itself (tests that depend on the
backups skip).
"""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import pytest

import rfs
from rfs import assert_bytes, toml_loads, wait_for

BIND_BASE = Path("/run/runnerfs-tools")
# names of the built daemon (for ansible's validate and the like)
RUNNERFS_BIN = Path(os.environ.get("RUNNERFS") or rfs.REPO / "build" / "runnerfs").resolve()


def need(*programs):
    """Skip the test (never pass it) when a program is missing."""
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        pytest.skip("not installed: %s (contrib/install-deps.sh installs it)" % ", ".join(missing))


def tool_env(home):
    """The environment every tool runs with: a fresh HOME (no vimrc, no
    emacs init, ~/.ansible/tmp of its own), C.UTF-8, a terminal type."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "PYTEST_", "VIM", "EMACS", "TMUX", "PYTHON"))}
    home.mkdir(parents=True, exist_ok=True)
    # what a user's home has: emacs falls back to ~/.emacs.d for backups
    (home / ".emacs.d").mkdir(exist_ok=True)
    env.update(HOME=str(home), LANG="C.UTF-8", LC_ALL="C.UTF-8", TERM="xterm-256color",
               EDITOR="vi", SHELL="/bin/bash")
    env.pop("TMPDIR", None)
    # Debian's python3 for tools written in python (ansible): not a pyenv shim
    env["PATH"] = ":".join(p for p in env.get("PATH", "/usr/bin:/bin").split(":")
                           if ".pyenv" not in p) or "/usr/bin:/bin"
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if d not in env["PATH"].split(":"):
            env["PATH"] += ":" + d
    return env


# --------------------------------------------------------------------------
# watching the directory and CONFIG while a tool runs

def doc_keys(data):
    """Every key (at any depth) of a parsed config, or None if it does not parse."""
    try:
        doc = toml_loads(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    keys = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                keys.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(doc)
    return keys


class Spy:
    """A thread that, until stopped, lists directories (every name seen)
    and keeps every version of CONFIG it sees (by inode, mtime and size)."""

    def __init__(self, config, dirs, interval=0.004):
        self.config = Path(config)
        self.dirs = [Path(d) for d in dirs]
        self.interval = interval
        self.names = set()
        self.versions = []
        self._last = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _snap(self):
        for d in self.dirs:
            try:
                self.names.update(os.listdir(d))
            except OSError:
                pass
        try:
            st = os.stat(self.config)
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            if sig != self._last:
                data = self.config.read_bytes()
                self._last = sig
                if not self.versions or self.versions[-1] != data:
                    self.versions.append(data)
        except OSError:
            pass

    def _run(self):
        while not self._stop.is_set():
            self._snap()
            time.sleep(self.interval)

    def __enter__(self):
        self._snap()
        self._t.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self._t.join(5)
        self._snap()

    def check(self, original, known):
        """No name seen (besides `known`, the directory's keys) is a key of
        any version of CONFIG or, when it is distinctive, in its bytes."""
        scratch = self.names - set(known)
        problems = []
        for i, v in enumerate(self.versions):
            keys = doc_keys(v)
            if keys is None:
                problems.append("version %d of config.toml does not parse:\n%r" % (i, v[:2000]))
                continue
            leaked = sorted(n for n in scratch if n in keys or
                            (len(n) >= 5 and n.encode() in v and n.encode() not in original))
            if leaked:
                problems.append("scratch name(s) %s reached config.toml (version %d of %d):\n%s"
                                % (leaked, i + 1, len(self.versions), v.decode(errors="replace")))
        assert not problems, "\n".join(problems)
        return scratch


# --------------------------------------------------------------------------
# the mount the tools use

class ToolMount:
    def __init__(self, m, root, home, env):
        self.m = m              # conftest.Mount
        self.root = Path(root)  # where the tools see the tree
        self.home = home
        self.env = env
        self.before = m.read_config()

    # paths and reads
    def path(self, rel=""):
        return self.root / rel if rel else self.root

    def q(self, rel=""):
        """The absolute path, quoted for a shell command."""
        return shlex.quote(str(self.path(rel)))

    def read(self, rel):
        return self.path(rel).read_bytes()

    def listdir(self, rel=""):
        return set(os.listdir(self.path(rel)))

    def read_config(self):
        return self.m.read_config()

    def log(self):
        return self.m.log()

    # running things
    def sh(self, cmd, check=True, timeout=60, cwd=None, input=None):
        r = subprocess.run(["bash", "-c", cmd], cwd=str(cwd or self.root), env=self.env,
                           capture_output=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError("`%s` failed (exit %d):\nstdout: %s\nstderr: %s\nrunnerfs log (tail):\n%s"
                                 % (cmd, r.returncode, r.stdout.decode(errors="replace")[-3000:],
                                    r.stderr.decode(errors="replace")[-3000:], tail(self.log())))
        return r

    def spy(self, *dirs):
        return Spy(self.m.config, [self.path(d) for d in (dirs or ("",))])

    def edit(self, cmd, rel, want, expected, keep=(), gone=(), maybe=(), cwd=None, run=None):
        """Run `cmd` (a shell command, or the callable `run`) that changes
        the value file `rel`; then check everything (module docstring).
        want: the bytes `rel` must read as afterwards (None: it must be gone).
        expected: config.toml's exact bytes afterwards.
        keep: scratch names in rel's directory that the tool leaves on purpose.
        gone: names of that directory the operation removes.
        maybe: scratch names the tool may or may not leave there.
        Returns config.toml's bytes."""
        d = str(Path(rel).parent) if "/" in rel else ""
        listing = self.listdir(d)
        original = self.read_config()
        with self.spy(d) as spy:
            out = run() if run else self.sh(cmd, cwd=cwd)
        after = self.read_config()
        if want is not None:
            got = self.read(rel)
            assert got == want, "%s reads %r, expected %r" % (rel, got, want)
        assert_bytes(after, expected)
        final = (listing | {Path(rel).name} | set(keep)) - set(gone)
        if want is None:
            final.discard(Path(rel).name)
        left = self.listdir(d) & set(maybe)
        settle(self, d, final | left)
        spy.check(original, listing | final)
        return out


def settle(t, d, final, timeout=3.0):
    """The directory lists exactly `final` (within `timeout`: libfuse removes
    its .fuse_hidden files at RELEASE, which comes after the tool exited)."""
    def ok():
        return t.listdir(d) == set(final)
    try:
        wait_for(ok, timeout, what="the listing of %s/ to settle" % d)
    except AssertionError:
        got = t.listdir(d)
        raise AssertionError("scratch files left (or keys missing) in %s/ after the tool exited:\n"
                             "  left behind: %s\n  missing: %s"
                             % (d or ".", sorted(got - set(final)), sorted(set(final) - got)))


def tail(text, n=40):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


@pytest.fixture
def tmount(runnerfs, tmp_path):
    """Factory: tmount(config_bytes, options=(), bind=True) -> ToolMount."""
    binds = []

    def make(config, options=(), bind=True, **kw):
        m = runnerfs(config, options, **kw)
        root = m.mnt
        if bind and os.geteuid() == 0:
            BIND_BASE.mkdir(parents=True, exist_ok=True)
            d = Path(tempfile.mkdtemp(prefix="t", dir=BIND_BASE))
            subprocess.run(["mount", "--bind", str(m.mnt), str(d)], check=True,
                           capture_output=True, timeout=20)
            binds.append(d)
            root = d
        home = tmp_path / ("home%d" % (len(binds) + 1))
        return ToolMount(m, root, home, tool_env(home))

    yield make
    for d in reversed(binds):
        r = subprocess.run(["umount", str(d)], capture_output=True, timeout=20)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=20)
        try:
            d.rmdir()
        except OSError:
            pass


def outside_tmp(t):
    """Skip when the tools see the tree under /tmp (no root for the bind)."""
    if str(t.root).startswith("/tmp/") or str(t.root) == "/tmp":
        pytest.skip("needs root: the mount must be seen outside /tmp, where editors make "
                    "backups (emacs never backs up files under /tmp)")


# --------------------------------------------------------------------------
# interactive programs in tmux

class Tmux:
    """One detached tmux session running a program in a shell, on its own
    server socket (-L), without any tmux configuration."""

    def __init__(self, tmp_path, env, width=120, height=40):
        self.sock = "rfs%d_%d" % (os.getpid(), int(time.monotonic() * 1e6) % 10**9)
        self.env = dict(env)
        self.width, self.height = width, height
        self.started = False

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args), env=self.env,
                           capture_output=True, timeout=20)
        if check and r.returncode != 0:
            raise AssertionError("tmux %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r.stdout.decode(errors="replace")

    def start(self, cmd, cwd):
        """Run `cmd` in bash; when it ends, bash prints EXIT=<status> and waits."""
        script = "%s; echo EXIT=$?; exec sleep 3600" % cmd
        self.tmux("new-session", "-d", "-s", "s", "-x", str(self.width), "-y", str(self.height),
                  "-c", str(cwd), "bash", "--norc", "--noprofile", "-c", script)
        self.started = True

    def keys(self, *keys, literal=False, pause=0.15):
        self.tmux("send-keys", "-t", "s", *(["-l"] if literal else []), *keys)
        time.sleep(pause)

    def type(self, text, pause=0.15):
        self.keys(text, literal=True, pause=pause)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "s", check=False)

    def wait(self, cond, timeout=15.0, what="the screen"):
        """Wait until cond(screen) is true; fail showing the screen."""
        last = [""]

        def ok():
            last[0] = self.screen()
            return cond(last[0])
        try:
            wait_for(ok, timeout, interval=0.05, what=what)
            return last[0]
        except AssertionError as e:
            raise AssertionError("%s\nscreen:\n%s" % (e, last[0]))

    def wait_text(self, text, timeout=15.0):
        return self.wait(lambda s: text in s, timeout, what="%r on the screen" % text)

    def exit_status(self, timeout=15.0):
        """The program's exit status (once bash printed EXIT=...)."""
        scr = self.wait(lambda s: "EXIT=" in s, timeout, what="the program to exit")
        return int(re.search(r"EXIT=(\d+)", scr).group(1))

    def kill(self):
        if self.started:
            self.tmux("kill-server", check=False)
            self.started = False


def tmux_session(tmp_path, env):
    need("tmux")
    return Tmux(tmp_path, env)


# --------------------------------------------------------------------------
# ansible

def ansible_env(t):
    env = dict(t.env)
    tmp = t.home / ".ansible" / "tmp"
    env.update(ANSIBLE_LOCAL_TEMP=str(tmp), ANSIBLE_REMOTE_TEMP=str(tmp), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
               ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_RETRY_FILES_ENABLED="False",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CONFIG=str(t.home / "ansible.cfg"))
    return env


def playbook(t, tmp_path, tasks, name="play", vars=None):
    """Write a playbook (JSON is YAML) that runs `tasks` on localhost with
    connection: local; return the shell command that runs it."""
    import json
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": vars or {}, "tasks": tasks}]
    p = tmp_path / (name + ".yml")
    p.write_text(json.dumps(play, indent=1))
    return "ansible-playbook -i localhost, %s" % shlex.quote(str(p))


def recap(output):
    """{'ok': n, 'changed': n, 'failed': n, ...} from PLAY RECAP."""
    m = re.search(r"localhost\s*:\s*(ok=.*)", output)
    assert m, "no PLAY RECAP in ansible's output:\n" + output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
