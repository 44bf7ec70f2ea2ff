#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The judge of the conformance tier (qemu-test/conformance): standard library only.

It reads the guest log of one conformance boot (the lines selftests/conformance/guest.sh
prints: its header documents them), takes upstream iommufd's selftest results against
/dev/ioasid and against /dev/iommu (the baseline), and judges the ioasid results against
selftests/conformance/expected-failures.

  conformance_judge.py judge --arch A --log GUEST_LOG --runrc N --plan PLAN \\
      --list EXPECTED_FAILURES --out DIR --splats REGEX [--limits TIME_LIMITS] \\
      [--custom-plan] [--guest-timeout S]
  conformance_judge.py update-list --list EXPECTED_FAILURES DIR...

REGEX is what counts as a kernel splat in the guest log: qemu-test/lib.sh's SPLATS (the
one definition, which qemu-test/run uses too).

The baseline of a binary is normally partial: the guest runs against /dev/iommu only the
tests that did not pass against ioasid, and says how many it selected
(`CONFORMANCE-BASELINE <binary> N`; 0: no baseline run, every test passed), or `all`
for a whole baseline (qemu-test/conformance --full-baseline). The baseline explains an
unlisted ioasid failure: "passes against the iommufd baseline" (a regression) or "fails
against the iommufd baseline too". A partial baseline that did not run exactly the tests
that failed against ioasid (a different plan count than selected, other names, a missing
selection) is a broken run.

`judge` prints, per target and kselftest fixture,
  CONFORMANCE arch=A target=iommufd|ioasid fixture=F passed=N failed=N skipped=N
(a partial baseline counts only the tests it ran) then the judgement and
  CONFORMANCE-RESULT arch=A passed=N failed=N skipped=N
with passed = ioasid tests that pass and are not listed, skipped = listed tests that fail
as expected plus tests the harness skipped, failed = unexpected results (a failing test
that is not listed, a listed test that passes, a test that ran into its time limit,
a test that did not run against ioasid) plus one per broken run (a kernel splat, a hang,
a run killed by its time limit or that stopped early, a baseline that ran other tests
than it was asked to, a guest that stopped). Failures against the baseline are named,
never judged. It writes into DIR the TAP of each run (<binary>.<target>.tap), the exit
status and duration (.rc), each test's duration (.times), summary.txt (the lines above)
and judgement.json (what `update-list` needs). Exit status: 0 when the architecture
behaved as expected, 1 when not, 2 for bad input (a list line without a reason, a
missing file, a bad REGEX).

`update-list` prints the failing ioasid set of the judged architectures in the list's
format: the list's leading comment block, reasons kept for listed tests, "TODO reason"
for new ones; lines of architectures that were not judged are kept as they are.
"""

import argparse
import json
import os
import re
import sys

BASELINE = "iommufd"
IOASID = "ioasid"
TARGETS = (BASELINE, IOASID)
ARCHES = ("x86_64", "arm64")

# The harness's own default limit (TEST_TIMEOUT_DEFAULT in kselftest_harness.h of 7.3).
HARNESS_DEFAULT_LIMIT = 30
# Each test's limit should leave this factor over the time measured here: a machine
# three times slower must still pass.
HEADROOM = 3

KMEMLEAK = re.compile(r"unreferenced object|suspected memory leak")

TAP_RESULT = re.compile(r"^(not ok|ok) (\d+) (\S+)(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)\s*$")
TAP_RUN = re.compile(r"^#\s+RUN\s+(\S+) \.\.\.")
TAP_TIMEOUT = re.compile(r"^# (\S+): Test terminated by timeout\s*$")
TAP_DIRECTIVE = re.compile(r"#\s*(SKIP|XFAIL|XPASS)\b", re.IGNORECASE)
TAP_ERROR = re.compile(r"^# conformance-error: (.*)$")
# guest.sh: how many tests of a binary the baseline was asked to run, or `all`.
BASELINE_SELECTION = re.compile(r"^CONFORMANCE-BASELINE (\S+) (all|\d+)\s*$")

# Exit statuses of a harness run that finished on its own: 0 all passed, 1 some failed,
# 4 (KSFT_SKIP) all skipped.
HARNESS_EXITS = (0, 1, 4)


class InputError(Exception):
    """Bad input (list syntax, missing file): exit status 2."""


# --- TAP --------------------------------------------------------------------------------


class Result:
    """One test's result in one run."""

    __slots__ = ("name", "status", "timed_out", "detail")

    def __init__(self, name, status, timed_out=False, detail=""):
        self.name = name
        self.status = status  # pass, fail, skip, xfail (harness XFAIL), xpass
        self.timed_out = timed_out
        self.detail = detail

    def counts_as(self):
        """pass, fail or skip, for the per-fixture lines."""
        if self.status in ("pass", "xpass"):
            return "pass"
        if self.status in ("skip", "xfail"):
            return "skip"
        return "fail"

    def __repr__(self):
        return "Result(%r, %r%s)" % (self.name, self.status, ", timed out" if self.timed_out else "")


class Tap:
    """The parsed TAP output of one run of one harness binary."""

    def __init__(self):
        self.results = {}  # name -> Result, in TAP order (dicts keep insertion order)
        self.plan = None  # the `1..N` count, None when the run printed none
        self.unfinished = None  # a test started (RUN) without a result: the run stopped in it
        self.errors = []  # `# conformance-error:` lines (time_limits.c)
        self.duplicates = []


def parse_tap(lines):
    """Parses kselftest harness TAP (the lines of one run)."""
    tap = Tap()
    running = None
    timed_out = set()
    for raw in lines:
        line = raw.rstrip("\n")
        m = TAP_RUN.match(line)
        if m:
            running = m.group(1)
            continue
        m = TAP_TIMEOUT.match(line)
        if m and running is not None:
            # The harness names the test without fixture and variant: it is the running one.
            timed_out.add(running)
            continue
        m = TAP_ERROR.match(line)
        if m:
            tap.errors.append(m.group(1))
            continue
        m = TAP_PLAN.match(line)
        if m and tap.plan is None:
            tap.plan = int(m.group(1))
            continue
        m = TAP_RESULT.match(line)
        if not m:
            continue
        ok, name, rest = m.group(1), m.group(3), m.group(4)
        d = TAP_DIRECTIVE.search(rest)
        directive = d.group(1).upper() if d else ""
        # A SKIP or XFAIL directive makes even a `not ok` no failure (TAP 14; the
        # harness never prints one, and guest.sh selects the baseline's tests alike).
        if ok == "not ok" and directive not in ("SKIP", "XFAIL"):
            status = "fail"
        elif directive == "SKIP":
            status = "skip"
        elif directive == "XFAIL":
            status = "xfail"
        elif directive == "XPASS":
            status = "xpass"
        else:
            status = "pass"
        detail = rest.strip().lstrip("#").strip()
        if name in tap.results:
            tap.duplicates.append(name)
            del tap.results[name]
        tap.results[name] = Result(name, status, name in timed_out and status == "fail", detail)
        if running == name:
            running = None
    if running is not None and running not in tap.results:
        tap.unfinished = running
    return tap


# --- the guest log ----------------------------------------------------------------------


class Run:
    """One run of one binary against one target, as the guest log shows it."""

    def __init__(self, binary, target):
        self.binary = binary
        self.target = target
        self.clean = []  # CONFORMANCE-TAP lines (printed after all runs)
        self.console = []  # the live console copy between BEGIN and END
        self.began = False
        self.rc = None  # from CONFORMANCE-RC (None: the guest did not get that far)
        self.secs = None
        self.end_rc = None  # from CONFORMANCE-END (the console copy)
        self.end_secs = None
        self.times = {}  # test -> seconds

    def tap_lines(self):
        """The clean copy if the guest got that far, else the console copy."""
        return self.clean if self.rc is not None else self.console


class GuestLog:
    def __init__(self):
        self.lines = []
        self.runs = {}  # (binary, target) -> Run
        self.errors = []
        self.info = []
        self.baseline = {}  # binary -> "all" or the number of tests selected (the last line)
        self.complete = False

    def run(self, binary, target):
        key = (binary, target)
        if key not in self.runs:
            self.runs[key] = Run(binary, target)
        return self.runs[key]

    def first_splat(self, splats):
        """(1-based line number, line) of the first kernel splat (`splats`: a compiled
        expression), or None."""
        for i, line in enumerate(self.lines):
            if splats.search(line):
                return i + 1, line
        return None

    def running_at(self, lineno):
        """What ran at line `lineno` (1-based): "BINARY against TARGET, test NAME"."""
        run = test = None
        for line in self.lines[:lineno]:
            if line.startswith("CONFORMANCE-BEGIN "):
                f = line.split()
                if len(f) >= 3:
                    run, test = "%s against %s" % (f[1], f[2]), None
                continue
            m = TAP_RUN.match(line)
            if m:
                test = m.group(1)
        if run is None:
            return None
        return run + (", test " + test if test else "")


def parse_guest_log(text):
    log = GuestLog()
    log.lines = text.splitlines()
    live = None  # the Run whose console copy is being collected
    for line in log.lines:
        if line.startswith("CONFORMANCE-TAP "):
            f = line.split(" ", 3)
            if len(f) >= 3:
                log.run(f[1], f[2]).clean.append(f[3] if len(f) > 3 else "")
            continue
        if line.startswith("CONFORMANCE-BEGIN "):
            f = line.split()
            if len(f) >= 3:
                live = log.run(f[1], f[2])
                live.began = True
                live.console = []
            continue
        if line.startswith("CONFORMANCE-END "):
            f = line.split()
            if len(f) >= 3:
                r = log.run(f[1], f[2])
                for kv in f[3:]:
                    k, _, v = kv.partition("=")
                    if k == "rc" and v.isdigit():
                        r.end_rc = int(v)
                    elif k == "seconds" and v.isdigit():
                        r.end_secs = int(v)
            live = None
            continue
        if line.startswith("CONFORMANCE-RC "):
            f = line.split()
            if len(f) >= 4 and f[3].lstrip("-").isdigit():
                r = log.run(f[1], f[2])
                r.rc = int(f[3])
                r.secs = int(f[4]) if len(f) > 4 and f[4].isdigit() else None
            continue
        if line.startswith("CONFORMANCE-TIME "):
            f = line.split()
            if len(f) >= 5:
                try:
                    log.run(f[1], f[2]).times[f[4]] = float(f[3])
                except ValueError:
                    pass
            continue
        if line.startswith("CONFORMANCE-BASELINE "):
            m = BASELINE_SELECTION.match(line)
            if m:
                log.baseline[m.group(1)] = m.group(2) if m.group(2) == "all" else int(m.group(2))
            continue
        if line.startswith("CONFORMANCE-ERROR"):
            log.errors.append(line)
            continue
        if line.startswith("CONFORMANCE-INFO "):
            log.info.append(line[len("CONFORMANCE-INFO "):])
            continue
        if line.startswith("CONFORMANCE-COMPLETE"):
            log.complete = True
            continue
        if live is not None:
            live.console.append(line)
    return log


# --- inputs: the plan, the expected-failure list, the time limits -------------------------


def read_plan(path):
    """The binaries of a plan file (`BINARY TIMEOUT [ARGS]` per line), in order."""
    bins = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if w and not w[0].startswith("#") and w[0] not in bins:
                bins.append(w[0])
    return bins


class ExpectedFailures:
    """selftests/conformance/expected-failures: `[arch:]fixture[.variant].test reason`."""

    def __init__(self, text, path="expected-failures"):
        self.header = []
        self.entries = {}  # (arch or "*", name) -> reason
        self.order = []  # keys in file order
        in_header = True
        for n, line in enumerate(text.splitlines(), 1):
            if in_header and line.startswith("#"):
                self.header.append(line)
                continue
            in_header = False
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            w = s.split(None, 1)
            name = w[0]
            reason = w[1].strip() if len(w) > 1 else ""
            if not reason:
                raise InputError("%s:%d: no reason given for %s" % (path, n, name))
            arch = "*"
            if ":" in name:
                arch, name = name.split(":", 1)
                if arch not in ARCHES:
                    raise InputError("%s:%d: unknown architecture %s: in %s" % (path, n, arch, w[0]))
            key = (arch, name)
            if key in self.entries:
                raise InputError("%s:%d: %s is listed twice" % (path, n, w[0]))
            self.entries[key] = reason
            self.order.append(key)

    @classmethod
    def load(cls, path):
        try:
            with open(path) as f:
                return cls(f.read(), path)
        except OSError as e:
            raise InputError("cannot read %s: %s" % (path, e))

    def listed(self, arch, name):
        return (arch, name) in self.entries or ("*", name) in self.entries

    def reason(self, arch, name):
        return self.entries.get((arch, name), self.entries.get(("*", name)))

    def names_for(self, arch):
        return {n for (a, n) in self.entries if a in ("*", arch)}


def read_limits(path):
    """selftests/conformance/time-limits: {(binary, "fixture.test"): seconds}."""
    limits = {}
    if not path:
        return limits
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                w = line.split("#", 1)[0].split()
                if not w:
                    continue
                if len(w) != 3 or not w[2].isdigit():
                    raise InputError("%s:%d: want `BINARY fixture.test SECONDS`" % (path, n))
                limits[(w[0], w[1])] = int(w[2])
    except OSError as e:
        raise InputError("cannot read %s: %s" % (path, e))
    return limits


def limit_of(limits, binary, name):
    """The harness limit of test `name` (fixture[.variant].test) of `binary`."""
    parts = name.split(".")
    key = parts[0] + "." + parts[-1] if len(parts) > 1 else "global." + name
    return limits.get((binary, key), limits.get((binary, "*"), HARNESS_DEFAULT_LIMIT))


# --- judging ------------------------------------------------------------------------------


def fixture_lines(arch, target, taps):
    """The CONFORMANCE lines of one target: per fixture, in order of first appearance."""
    counts = {}
    for tap in taps:
        for r in tap.results.values():
            fx = r.name.split(".", 1)[0]
            c = counts.setdefault(fx, {"pass": 0, "fail": 0, "skip": 0})
            c[r.counts_as()] += 1
    return [
        "CONFORMANCE arch=%s target=%s fixture=%s passed=%d failed=%d skipped=%d"
        % (arch, target, fx, c["pass"], c["fail"], c["skip"])
        for fx, c in counts.items()
    ]


def save_run(directory, run, tap_lines):
    base = os.path.join(directory, "%s.%s" % (run.binary, run.target))
    with open(base + ".tap", "w") as f:
        f.write("".join(line + "\n" for line in tap_lines))
    with open(base + ".rc", "w") as f:
        f.write("%s %s\n" % ("none" if run.rc is None else run.rc, "?" if run.secs is None else run.secs))
    with open(base + ".times", "w") as f:
        for name, secs in run.times.items():
            f.write("%.1f %s\n" % (secs, name))


class Judgement:
    def __init__(self, arch):
        self.arch = arch
        self.out = []  # printed lines
        self.fixture_lines = []
        self.passed = 0
        self.skipped = 0
        self.unexpected_fail = []  # (name, why)
        self.unexpected_pass = []
        self.problems = []
        self.failing = []  # ioasid tests that did not pass (for update-list)
        self.run_secs = {}  # "binary target" -> seconds

    @property
    def failed(self):
        return len(self.unexpected_fail) + len(self.unexpected_pass) + len(self.problems)

    def result_line(self):
        return "CONFORMANCE-RESULT arch=%s passed=%d failed=%d skipped=%d" % (
            self.arch,
            self.passed,
            self.failed,
            self.skipped,
        )


def check_run(j, runrc, run, tap, asked=None):
    """Checks one run that was due, into j.problems (or j.out when the guest broke and
    its problem names it). asked: how many tests a partial baseline run was asked to run.
    Returns True when the run is sound: ended by the harness with every test of its plan
    (and the plan as asked)."""
    what = "%s against %s" % (run.binary, run.target)
    before = len(j.problems)
    # A run cut short by a broken guest is named, but counted once, with the guest.
    if run.rc is None:
        if run.began and run.console:
            msg = "%s did not finish (results from the console copy)" % what
        else:
            msg = "%s did not run" % what
        if tap.unfinished:
            msg += ", stopped in %s" % tap.unfinished
        if runrc == 0:
            j.problems.append(msg)
        else:
            j.out.append("%s: %s" % (j.arch, msg))
        return False
    if run.rc == 137:
        j.problems.append(
            "%s was killed (SIGKILL: the plan's time limit, or the OOM killer) after %ss%s"
            % (what, run.secs, ", in test " + tap.unfinished if tap.unfinished else "")
        )
    elif run.rc == 125 and run.target == IOASID:
        j.problems.append("%s: the mount namespace with /dev/ioasid could not be set up" % what)
    elif run.rc not in HARNESS_EXITS:
        j.problems.append(
            "%s exited with status %d (a crash of the harness?)%s"
            % (what, run.rc, ", in test " + tap.unfinished if tap.unfinished else "")
        )
    elif tap.plan is None:
        j.problems.append("%s printed no TAP plan (see %s.%s.tap)" % (what, run.binary, run.target))
    elif asked is not None and tap.plan != asked:
        j.problems.append("%s ran %d tests, not the %d it was asked to run (the tests that did"
                          " not pass against ioasid)" % (what, tap.plan, asked))
    elif len(tap.results) < tap.plan:
        j.problems.append(
            "%s reported %d of its %d tests%s"
            % (what, len(tap.results), tap.plan,
               ", it stopped in " + tap.unfinished if tap.unfinished else "")
        )
    for e in tap.errors:
        j.problems.append("%s: %s" % (what, e))
    return len(j.problems) == before


def judge(arch, log, runrc, bins, expected, splats, limits=None, custom_plan=False,
          guest_timeout=None):
    """Judges one architecture's boot.

    log: GuestLog; runrc: qemu-test/run's exit status; bins: the plan's binaries;
    splats: the compiled expression of a kernel splat.
    Returns (Judgement, {(binary, target): (Run, Tap)}).
    """
    limits = limits or {}
    j = Judgement(arch)
    say = j.out.append
    runs = {}

    def take(b, target):
        run = log.runs.get((b, target)) or Run(b, target)
        tap = parse_tap(run.tap_lines())
        runs[(b, target)] = (run, tap)
        return run, tap

    def said(run, note=""):
        if run.secs is not None:
            j.run_secs["%s %s" % (run.binary, run.target)] = run.secs
        say("%s: %s against %s: exit %s, %ss%s" % (
            arch, run.binary, run.target, "none" if run.rc is None else run.rc,
            "?" if run.secs is None else run.secs, note))

    for b in bins:
        sel = log.baseline.get(b)
        if sel == "all":
            # The whole baseline, before ioasid (--full-baseline).
            for target in TARGETS:
                run, tap = take(b, target)
                check_run(j, runrc, run, tap)
                said(run)
            continue
        run, tap = take(b, IOASID)
        check_run(j, runrc, run, tap)
        said(run)
        # The tests the baseline should have run: those that did not pass here.
        want = [n for n, r in tap.results.items() if r.status == "fail"] if run.rc is not None else None
        what = "%s against %s" % (b, BASELINE)
        if sel is None:
            # The guest stopped before it selected (counted once, with the guest).
            msg = "the guest named no baseline selection for %s" % b
            if runrc == 0:
                j.problems.append(msg)
            else:
                say("%s: %s" % (arch, msg))
            continue
        if want is not None and sel != len(want):
            j.problems.append("the guest selected %d tests of %s for the baseline, but %d did not"
                              " pass against ioasid" % (sel, b, len(want)))
        if sel == 0:
            if (b, BASELINE) in log.runs:
                j.problems.append("%s ran although the guest selected no test for it" % what)
            else:
                say("%s: %s: left out, every test passed against ioasid" % (arch, what))
            continue
        brun, btap = take(b, BASELINE)
        sound = check_run(j, runrc, brun, btap, asked=sel)
        said(brun, ", the %d tests that did not pass against ioasid" % sel)
        if sound and want is not None and sel == len(want):
            missing = [n for n in want if n not in btap.results]
            extra = [n for n in btap.results if n not in want]
            if missing or extra:
                j.problems.append("%s did not run the tests that failed against ioasid: %s" % (
                    what, "; ".join(x for x in (
                        "left out " + ", ".join(missing) if missing else "",
                        "ran " + ", ".join(extra) if extra else "") if x)))

    j.problems += log.errors

    # A splat, a hang or a guest that died: name the test that was running (a kmemleak
    # report comes from a later scan: its backtrace names the allocation instead).
    if runrc != 0:
        splat = log.first_splat(splats)
        if splat:
            lineno, line = splat
            if KMEMLEAK.search(line):
                where = "(a kmemleak scan: see the backtrace)"
            else:
                where = log.running_at(lineno) or "before the tests"
            j.problems.append("kernel splat in the guest (log line %d), while running: %s" % (lineno, where))
            say("%s: the first kernel splat (guest log line %d):" % (arch, lineno))
            for l in log.lines[lineno - 1:lineno + 24]:
                say("    " + l)
        elif runrc == 124:
            where = log.running_at(len(log.lines)) or "nothing"
            j.problems.append(
                "the guest hung (qemu-test/run timeout %ss), last started: %s"
                % (guest_timeout if guest_timeout else "?", where)
            )
        else:
            j.problems.append("qemu-test/run failed (exit %d), see the guest log" % runrc)
    elif not log.complete:
        j.problems.append("the guest script did not complete")

    # Per-fixture table.
    for target in TARGETS:
        j.fixture_lines += fixture_lines(arch, target, [runs[(b, target)][1] for b in bins if (b, target) in runs])
    j.out += j.fixture_lines

    # Baseline failures: reported only.
    base = {}
    for b in bins:
        if (b, BASELINE) in runs:
            base.update(runs[(b, BASELINE)][1].results)
    base_fail = [r for r in base.values() if r.status == "fail"]
    if base_fail:
        say("%s: %d tests fail against the iommufd baseline (reported, not judged):" % (arch, len(base_fail)))
        for r in base_fail:
            say("    %s%s" % (r.name, " (timed out)" if r.timed_out else ""))

    # ioasid, judged against the list; a test that ran on a whole baseline but not on
    # ioasid (the run died or was killed) counts as failing. With a partial baseline the
    # ioasid run's own count (its TAP plan) shows a test that did not run.
    state = {}
    for b in bins:
        if (b, BASELINE) in runs:
            for name in runs[(b, BASELINE)][1].results:
                state[name] = (b, None)
        if (b, IOASID) in runs:
            for name, r in runs[(b, IOASID)][1].results.items():
                state[name] = (b, r)
    for name in sorted(state):
        b, r = state[name]
        listed = expected.listed(arch, name)
        if r is not None and r.status in ("pass", "xpass"):
            if listed:
                j.unexpected_pass.append(name)
            else:
                j.passed += 1
            continue
        if r is not None and r.status in ("skip", "xfail"):
            j.skipped += 1
            continue
        j.failing.append(name)
        if r is not None and r.timed_out:
            # A listed test fails for the reason given, quickly; running into the
            # limit is something else (a hang, or a limit too tight for the machine).
            j.unexpected_fail.append((name, "ran into its time limit of %d s%s" % (
                limit_of(limits, b, name), ", listed as expected to fail" if listed else "")))
            continue
        if listed:
            j.skipped += 1
            continue
        if r is None:
            j.unexpected_fail.append((name, "did not run"))
            continue
        br = base.get(name)
        if br is None:
            # Never so in a sound run: the baseline's run or selection is a problem.
            why = "not run against the iommufd baseline"
        elif br.status in ("pass", "xpass"):
            why = "passes against the iommufd baseline"
        elif br.status in ("skip", "xfail"):
            why = "skipped against the iommufd baseline"
        else:
            why = "fails against the iommufd baseline too"
        j.unexpected_fail.append((name, why))

    # Listed tests that no run knows: renamed or gone upstream (or not in a custom plan).
    notrun = sorted(n for n in expected.names_for(arch) if n not in state)
    if notrun:
        if custom_plan:
            say("%s: note: %d listed tests are not in this plan" % (arch, len(notrun)))
        else:
            say("%s: note: %d listed tests did not run (renamed or gone upstream?)" % (arch, len(notrun)))
            for n in notrun:
                say("    " + n)

    # Durations: the slowest tests, and tests whose limit leaves less than HEADROOM.
    for target in TARGETS:
        times = []
        for b in bins:
            if (b, target) in runs:
                times += [(s, b, n) for n, s in runs[(b, target)][0].times.items()]
        times.sort(reverse=True)
        if times:
            say("%s: slowest against %s: %s" % (
                arch, target, ", ".join("%s %.0fs" % (n, s) for s, _, n in times[:5])))
        for s, b, n in times:
            lim = limit_of(limits, b, n)
            if s * HEADROOM > lim:
                say("%s: note: %s took %.0f s against %s, more than 1/%d of its time limit (%d s):"
                    " give it more in selftests/conformance/time-limits" % (arch, n, s, target, HEADROOM, lim))

    if j.unexpected_fail:
        say("%s: FAIL: %d tests fail against ioasid and are not in selftests/conformance/expected-failures"
            " (or ran into their time limit):" % (arch, len(j.unexpected_fail)))
        for name, why in j.unexpected_fail:
            say("    %s (%s)" % (name, why))
    if j.unexpected_pass:
        say("%s: FAIL: %d listed tests now pass against ioasid: remove them from"
            " selftests/conformance/expected-failures:" % (arch, len(j.unexpected_pass)))
        for name in j.unexpected_pass:
            say("    " + name)
    for p in j.problems:
        say("%s: FAIL: %s" % (arch, p))

    say(j.result_line())
    return j, runs


def update_list(expected, judged):
    """The list's text for the failing sets in `judged` ({arch: [names]}).

    An architecture that was not judged keeps what the list says of it.
    """
    failing_on = {}
    for a in ARCHES:
        names = judged[a] if a in judged else expected.names_for(a)
        for n in names:
            failing_on.setdefault(n, [])
            if a not in failing_on[n]:
                failing_on[n].append(a)
    lines = list(expected.header)
    for name in sorted(failing_on):
        on = failing_on[name]
        prefixes = [""] if on == list(ARCHES) else [a + ":" for a in on]
        for pre in prefixes:
            a = pre[:-1] if pre else on[0]
            r = expected.reason(a, name) if expected.listed(a, name) else "TODO reason"
            lines.append("%s%s %s" % (pre, name, r))
    return "\n".join(lines) + "\n"


# --- command line -------------------------------------------------------------------------


def cmd_judge(args):
    expected = ExpectedFailures.load(args.list)
    limits = read_limits(args.limits)
    bins = read_plan(args.plan)
    try:
        with open(args.log, errors="replace") as f:
            log = parse_guest_log(f.read())
    except OSError as e:
        raise InputError("cannot read the guest log: %s" % e)
    try:
        splats = re.compile(args.splats)
    except re.error as e:
        raise InputError("bad --splats expression: %s" % e)
    j, runs = judge(args.arch, log, args.runrc, bins, expected, splats, limits,
                    args.custom_plan, args.guest_timeout)
    os.makedirs(args.out, exist_ok=True)
    for (b, target), (run, _) in runs.items():
        save_run(args.out, run, run.tap_lines())
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("".join(l + "\n" for l in j.fixture_lines + [j.result_line()]))
    with open(os.path.join(args.out, "judgement.json"), "w") as f:
        json.dump({
            "arch": j.arch,
            "passed": j.passed,
            "failed": j.failed,
            "skipped": j.skipped,
            "failing": j.failing,
            "baseline": log.baseline,
            "run_seconds": j.run_secs,
        }, f, indent=1, sort_keys=True)
        f.write("\n")
    print("\n".join(j.out), flush=True)
    return 0 if j.failed == 0 else 1


def cmd_update_list(args):
    expected = ExpectedFailures.load(args.list)
    judged = {}
    for d in args.dirs:
        try:
            with open(os.path.join(d, "judgement.json")) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError("no judgement in %s: %s" % (d, e))
        judged[data["arch"]] = data["failing"]
    sys.stdout.write(update_list(expected, judged))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    sub.required = True
    j = sub.add_parser("judge", help="judge one architecture's conformance boot")
    j.add_argument("--arch", required=True, choices=ARCHES)
    j.add_argument("--log", required=True, help="the guest log")
    j.add_argument("--runrc", required=True, type=int, help="qemu-test/run's exit status")
    j.add_argument("--plan", required=True, help="the plan the guest ran")
    j.add_argument("--list", required=True, help="selftests/conformance/expected-failures")
    j.add_argument("--out", required=True, help="the artifact directory")
    j.add_argument("--splats", required=True,
                   help="what counts as a kernel splat: qemu-test/lib.sh's SPLATS")
    j.add_argument("--limits", help="selftests/conformance/time-limits")
    j.add_argument("--custom-plan", action="store_true")
    j.add_argument("--guest-timeout", type=int)
    u = sub.add_parser("update-list", help="print the list for the last judgements")
    u.add_argument("--list", required=True)
    u.add_argument("dirs", nargs="+", help="artifact directories of judged architectures")
    args = p.parse_args(argv)
    try:
        return cmd_judge(args) if args.cmd == "judge" else cmd_update_list(args)
    except InputError as e:
        print("conformance_judge: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
