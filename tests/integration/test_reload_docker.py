"""Contract 8 (reload) against a real Docker engine: a private dockerd
(dockerd.py) and containers whose shell counts the SIGHUPs it gets.

Each mount reaches the engine through a recording proxy, so the tests count
the kill requests runnerfs sent exactly, besides the count the container
itself saw. Skipped (never passed) when the engine cannot start here.
"""

import re
import time

import pytest

from dockerd import Counter, docker_engine, docker_proxy  # noqa: F401 (fixtures)
from rfs import assert_unchanged, fixture, replace_once, try_write, wait_for

F01 = fixture("01-register-docker.toml")
DELAY = 0.3                 # reload_delay=300
MAX_WAIT = 10 * DELAY       # the bounded maximum wait after the first change
MARGIN = 1.0                # scheduling, the engine's own latency
GUARD = 5.0                 # a container younger than this is not signalled

HUP = "rfs-hup"             # the session's long-lived counting container
STOPPED = "rfs-stopped"     # ran and exited
MISSING = "rfs-missing"     # never existed


@pytest.fixture(autouse=True, scope="module")
def _containers(docker_engine):  # noqa: F811
    """Start the long-lived container first thing, so that it is past the
    start-up guard when the tests that signal it run."""
    docker_engine.run_counter(HUP)
    docker_engine.run_stopped(STOPPED)
    yield


@pytest.fixture
def hup(docker_engine):  # noqa: F811
    """The long-lived counting container, older than the start-up guard."""
    docker_engine.wait_age(HUP, GUARD + 0.5)
    assert docker_engine.running(HUP), "the counting container died:\n" + docker_engine.log_tail()
    return Counter(HUP, docker_engine.dir / "out" / HUP / "count")


def _opts(proxy, container, delay_ms=300):
    return ["reload=docker:%s" % container, "docker_host=unix://%s" % proxy.path,
            "reload_delay=%d" % delay_ms]


def reload_lines(m):
    """The status lines about reload (`reload: ...`, `last reload: ...`)."""
    return "\n".join(line for line in m.status().splitlines()
                     if re.match(r"\s*(last )?reload", line, re.I))


def wait_status(m, pattern, timeout, what):
    """Poll .runnerfs/status until its reload lines match `pattern`."""
    return wait_for(lambda: re.search(pattern, reload_lines(m), re.I | re.S), timeout,
                    interval=0.05, what="%s in .runnerfs/status (reload lines now: %r)"
                    % (what, _safe_reload_lines(m)))


def _safe_reload_lines(m):
    try:
        return reload_lines(m)
    except OSError as e:
        return "<%s>" % e


def _generation(m):
    g = re.search(r"generation\D{0,20}?(\d+)", m.status(), re.I)
    assert g, "no generation in .runnerfs/status:\n" + m.status()
    return int(g.group(1))


def _write(m, rel, data):
    res = try_write(m.path(rel), data)
    assert res is None, "writing %r to %s failed: %r" % (data, rel, res)


# --------------------------------------------------------------------------
# the start-up guard (first: its container must be young, the session's one
# gets older meanwhile)

def test_young_container_is_not_signalled(runnerfs, docker_engine, docker_proxy):  # noqa: F811
    """A container that started less than 5 s ago is not sent SIGHUP (the
    runner dies on one that comes before its handler; it reads the file at
    start-up anyway): status says so, and the container lives on."""
    px = docker_proxy()
    young = docker_engine.run_counter("rfs-young")
    m = runnerfs(F01, options=_opts(px, "rfs-young"))
    _write(m, "concurrent", b"7\n")
    assert b"concurrent = 7" in m.read_config()
    # runnerfs must have asked about the container ...
    wait_for(lambda: px.seen(r"^GET \S*/containers/rfs-young/json"), DELAY + 3 * MARGIN,
             what="runnerfs to GET /containers/rfs-young/json")
    age_at_ask = docker_engine.age("rfs-young")
    assert age_at_ask < GUARD - 1, \
        "test setup too slow: the container was already %.1fs old when runnerfs asked" % age_at_ask
    # ... and then not signalled it
    wait_status(m, r"start|young|recent|skip|too soon|not (yet )?signal", 2 * MARGIN,
                "a reload line saying the container started too recently")
    time.sleep(MARGIN)
    assert px.kills() == [], "a container %.1fs old was signalled: %r" % (age_at_ask, px.kills())
    assert young.value() == 0, "the young container counted %s SIGHUPs" % young.value()
    assert docker_engine.running("rfs-young"), "the young container is not running any more"
    assert "rfs-young" in reload_lines(m), reload_lines(m)


# --------------------------------------------------------------------------
# 404 and 409: reported with the engine's message; the write stands

def test_missing_container_404(runnerfs, docker_proxy):  # noqa: F811
    px = docker_proxy()
    m = runnerfs(F01, options=_opts(px, MISSING))
    r = m.sh("echo 9 > concurrent")
    assert r.returncode == 0
    assert m.read_config() == replace_once(F01, b"concurrent = 4", b"concurrent = 9")
    lines = wait_status(m, r"No such container", DELAY + 3 * MARGIN,
                        "the engine's 'No such container' message")
    assert MISSING in reload_lines(m), reload_lines(m)
    wait_for(lambda: "No such container" in m.log(), MARGIN, what="the 404 in the runnerfs log")
    # reported, not retried forever
    n = len(px.seen(""))
    time.sleep(MAX_WAIT / 2)
    assert len(px.seen("")) == n, "runnerfs keeps asking about a missing container: %r" % px.seen("")
    assert lines


def test_stopped_container_409(runnerfs, docker_engine, docker_proxy):  # noqa: F811
    px = docker_proxy()
    assert not docker_engine.running(STOPPED)
    m = runnerfs(F01, options=_opts(px, STOPPED))
    r = m.sh("echo 11 > concurrent")
    assert r.returncode == 0
    assert m.read_config() == replace_once(F01, b"concurrent = 4", b"concurrent = 11")
    wait_status(m, r"not running", DELAY + 3 * MARGIN, "'not running' for the stopped container")
    assert STOPPED in reload_lines(m), reload_lines(m)
    wait_for(lambda: "not running" in m.log(), MARGIN, what="'not running' in the runnerfs log")
    n = len(px.seen(""))
    time.sleep(MAX_WAIT / 2)
    assert len(px.seen("")) == n, "runnerfs keeps asking about a stopped container: %r" % px.seen("")


# --------------------------------------------------------------------------
# coalescing

def test_burst_gives_one_reload(runnerfs, hup, docker_proxy):  # noqa: F811
    """20 quick changes: exactly one SIGHUP, after the quiet period; the
    status says how many changes it covered. One more change: one more."""
    px = docker_proxy()
    m = runnerfs(F01, options=_opts(px, HUP))
    c0 = hup.value()
    g0 = _generation(m)
    m.sh("for i in $(seq 1 20); do echo $i > concurrent; done")
    t_end = time.monotonic()
    assert m.read_config() == replace_once(F01, b"concurrent = 4", b"concurrent = 20")
    g1 = _generation(m)
    assert g1 > g0
    c1 = hup.wait_change(c0, MAX_WAIT + 2 * MARGIN)
    t_sig = time.monotonic()
    assert c1 == c0 + 1, "expected one SIGHUP after the burst, the container counted %s" % (c1 - c0)
    assert t_sig - t_end >= DELAY * 0.8, \
        "the SIGHUP came %.2fs after the last change: no quiet period" % (t_sig - t_end)
    # nothing more: wait past the bounded maximum
    time.sleep(MAX_WAIT + MARGIN)
    assert hup.value() == c0 + 1, "a second SIGHUP for the same burst (count %d)" % (hup.value() - c0)
    assert len(px.kills()) == 1, "kill requests for one burst: %r" % px.kills()
    assert re.search(r"SIGHUP", px.kills()[0]), px.kills()
    last = wait_status(m, r"last reload.*", MARGIN, "a 'last reload' line").group(0)
    assert re.search(r"\b%d\b" % (g1 - g0), last), \
        "the last reload covered %d changes; status says: %r" % (g1 - g0, last)
    # one more change, one more SIGHUP
    _write(m, "concurrent", b"21\n")
    c2 = hup.wait_change(c0 + 1, MAX_WAIT + 2 * MARGIN)
    assert c2 == c0 + 2, "one change: count went from %d to %s" % (c0 + 1, c2)
    time.sleep(DELAY + MARGIN)
    assert hup.value() == c0 + 2 and len(px.kills()) == 2, (hup.value(), px.kills())


def test_steady_stream_is_not_postponed_forever(runnerfs, hup, docker_proxy):  # noqa: F811
    """Changes every 50 ms for 3 s with reload_delay=100: the quiet period
    never comes, the bounded maximum (~10x the delay) does. A reload
    happens during the stream, and not one per change."""
    px = docker_proxy()
    m = runnerfs(F01, options=_opts(px, HUP, delay_ms=100))
    c0 = hup.value()
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 3.0:
        i += 1
        _write(m, "concurrent", b"%d\n" % (100 + i))
        time.sleep(0.05)
    during = len(px.kills())
    time.sleep(0.1 + MARGIN)
    total = len(px.kills())
    assert during >= 1, "no reload during 3 s of changes every 50 ms (reload_delay=100): " \
        "the quiet period is waited for without a bound"
    assert total <= 6, "%d reloads for %d changes in 3 s: not coalesced" % (total, i)
    assert hup.value() - c0 >= 1


def test_rejected_change_sends_nothing(runnerfs, hup, docker_proxy):  # noqa: F811
    px = docker_proxy()
    m = runnerfs(F01, options=_opts(px, HUP))
    c0 = hup.value()
    r = m.sh("echo abc > concurrent", check=False)
    assert r.returncode != 0, "a non-integer concurrent was accepted"
    assert_unchanged(F01, m.read_config())
    time.sleep(MAX_WAIT / 2 + MARGIN)
    assert px.kills() == [], "a rejected change sent %r" % px.kills()
    assert hup.value() == c0
    # the same mount does reload on a good change (so the silence above meant something)
    _write(m, "concurrent", b"5\n")
    assert hup.wait_change(c0, MAX_WAIT + 2 * MARGIN) == c0 + 1
    assert len(px.kills()) == 1


def test_reload_file_sends_one_now(runnerfs, hup, docker_proxy):  # noqa: F811
    """Writing anything to .runnerfs/reload: one SIGHUP now, config untouched."""
    px = docker_proxy()
    m = runnerfs(F01, options=_opts(px, HUP, delay_ms=2000))
    c0 = hup.value()
    t0 = time.monotonic()
    m.sh("echo > .runnerfs/reload")
    c1 = hup.wait_change(c0, 1.5)
    dt = time.monotonic() - t0
    assert c1 == c0 + 1, "writing .runnerfs/reload: count %s -> %s within 1.5 s" % (c0, c1)
    assert dt < 1.5
    time.sleep(MARGIN)
    assert hup.value() == c0 + 1 and len(px.kills()) == 1, (hup.value(), px.kills())
    assert_unchanged(F01, m.read_config())
    m.sh("echo > .runnerfs/reload")
    assert hup.wait_change(c0 + 1, 1.5) == c0 + 2
    wait_status(m, r"last reload", MARGIN, "a 'last reload' line")
