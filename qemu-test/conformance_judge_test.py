#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of qemu-test/conformance_judge.py on synthetic guest logs and TAP.

  python3 qemu-test/conformance_judge_test.py [-v]

The TAP is what Linux 7.3's kselftest harness prints (kselftest_harness.h, kselftest.h);
the guest log lines are what selftests/conformance/guest.sh prints; the kernel splat
expression is qemu-test/lib.sh's SPLATS, read from there. Ends with one line
`JUDGE-TESTS passed=N failed=N` (qemu-test/test-all's host tier counts it); exit status
0 when every test passed.
"""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conformance_judge as cj  # noqa: E402


def lib_splats():
    """qemu-test/lib.sh's SPLATS as the shell sees it: what qemu-test/conformance passes."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, IOASID_CACHE=d, IOASID_OUT=d)
        return subprocess.run(["bash", "-c", '. "$1" && printf %s "$SPLATS"', "lib",
                               os.path.join(HERE, "lib.sh")],
                              env=env, check=True, stdout=subprocess.PIPE, text=True).stdout


SPLATS = lib_splats()
SPLATS_RE = re.compile(SPLATS)

# --- synthetic harness output -------------------------------------------------------------


def harness_tap(tests, plan=None, stop=False):
    """TAP as the 7.3 harness prints it. tests: (name, outcome) with outcome pass, fail,
    skip, timeout, xfail, xpass, or crash (RUN printed, then the harness stops)."""
    plan = len(tests) if plan is None else plan
    out = ["TAP version 13", "1..%d" % plan, "# Starting %d tests from 1 test cases." % plan]
    n = 0
    npass = 0
    for name, outcome in tests:
        out.append("#  RUN           %s ..." % name)
        if outcome == "crash":
            return out
        n += 1
        short = name.split(".")[-1]
        if outcome == "pass":
            out += ["#            OK  %s" % name, "ok %d %s" % (n, name)]
            npass += 1
        elif outcome == "fail":
            out += ["# iommufd.c:123:%s:Expected 0 (0) == ioctl (-1)" % short,
                    "# %s: Test terminated by assertion" % short,
                    "#          FAIL  %s" % name, "not ok %d %s" % (n, name)]
        elif outcome == "timeout":
            out += ["# %s: Test terminated by timeout" % short,
                    "#          FAIL  %s" % name, "not ok %d %s" % (n, name)]
        elif outcome == "skip":
            out += ["#      SKIP      no huge pages", "#            OK  %s" % name,
                    "ok %d %s # SKIP no huge pages" % (n, name)]
        elif outcome == "xfail":
            out += ["#          FAIL  %s" % name, "ok %d %s # XFAIL unknown" % (n, name)]
        elif outcome == "xpass":
            out += ["#            OK  %s" % name, "ok %d %s # XPASS unknown" % (n, name)]
        else:
            raise ValueError(outcome)
    if stop:
        return out
    out.append("# %s: %d / %d tests passed." % ("PASSED" if npass == n else "FAILED", npass, n))
    out.append("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0" % (npass, n - npass))
    return out


class R:
    """One run in a synthetic guest log."""

    def __init__(self, binary, target, tests=None, rc=None, secs=10, times=None, tap=None,
                 finished=True):
        self.binary = binary
        self.target = target
        self.tap = tap if tap is not None else harness_tap(tests or [])
        if rc is None:
            rc = 0 if all(o in ("pass", "skip") for _, o in (tests or [])) else 1
        self.rc = rc
        self.secs = secs
        self.times = times or {}
        self.finished = finished  # False: the guest died in this run


def selections(runs):
    """What guest.sh says of each binary's baseline: `all` when its baseline run comes
    first (--full-baseline), else the number of tests the baseline run has (0: none)."""
    sel = {}
    for r in runs:
        if r.binary not in sel:
            sel[r.binary] = "all" if r.target == "iommufd" else 0
        elif r.target == "iommufd" and sel[r.binary] != "all":
            sel[r.binary] = len(cj.parse_tap(r.tap).results)
    return sel


def guest_log(runs, complete=True, before=(), after=(), errors=(), baseline=None):
    """A guest log as qemu-test/run saves it, with guest.sh's lines. baseline: {binary:
    "all" or the number of tests selected} for its CONFORMANCE-BASELINE lines (default:
    selections(runs)); a binary left out has none."""
    sel = selections(runs) if baseline is None else baseline
    said = set()
    lines = ["SeaBIOS (version 1.17.0)", "[    0.000000] Linux version 7.3.4",
             "IOASID-GUEST: 7.3.4 x86_64, 2 CPUs", "CONFORMANCE-INFO huge pages: 256 of 2048 kB"]
    lines += list(before)
    lines += ["CONFORMANCE-ERROR " + e for e in errors]
    for r in runs:
        if sel.get(r.binary) == "all" and r.binary not in said:
            lines.append("CONFORMANCE-BASELINE %s all" % r.binary)
            said.add(r.binary)
        lines.append("CONFORMANCE-BEGIN %s %s" % (r.binary, r.target))
        lines += r.tap
        if not r.finished:
            lines += list(after)
            return "\n".join(lines) + "\n"
        lines.append("CONFORMANCE-END %s %s rc=%d seconds=%d" % (r.binary, r.target, r.rc, r.secs))
        if r.target == "ioasid" and r.binary in sel and r.binary not in said:
            lines.append("CONFORMANCE-BASELINE %s %s" % (r.binary, sel[r.binary]))
            said.add(r.binary)
    lines += list(after)
    if complete:
        for r in runs:
            lines += ["CONFORMANCE-TAP %s %s %s" % (r.binary, r.target, l) for l in r.tap]
            lines += ["CONFORMANCE-TIME %s %s %.1f %s" % (r.binary, r.target, s, n)
                      for n, s in r.times.items()]
            lines.append("CONFORMANCE-RC %s %s %d %d" % (r.binary, r.target, r.rc, r.secs))
        lines += ["CONFORMANCE-BASELINE %s %s" % (b, n) for b, n in sel.items() if b in said]
        lines.append("CONFORMANCE-COMPLETE")
    lines += ["IOASID-CMD-EXIT=0", "IOASID-DONE"]
    return "\n".join(lines) + "\n"


LIST = """# comment block of the list
# second line
iommufd_ioas.mock_domain.dmabuf_simple needs dma-buf; fails on the baseline too
iommufd.vfio_ioas needs VFIO compat
arm64:iommufd_device_pasid.has_pasid.pasid_attach fails on arm64 only
"""

T1 = "iommufd.simple_close"
T2 = "iommufd_ioas.no_domain.access_rw"
T3 = "iommufd_ioas.no_domain.access_rw_unaligned"
DMABUF = "iommufd_ioas.mock_domain.dmabuf_simple"
VFIO = "iommufd.vfio_ioas"
PASID = "iommufd_device_pasid.has_pasid.pasid_attach"


def judge_of(runs, arch="x86_64", runrc=0, bins=("iommufd",), listing=LIST, limits=None, **kw):
    log = cj.parse_guest_log(guest_log(runs, **kw))
    j, _ = cj.judge(arch, log, runrc, list(bins), cj.ExpectedFailures(listing), SPLATS_RE,
                    limits or {}, guest_timeout=2100)
    return j


def text(j):
    return "\n".join(j.out)


# --- tests --------------------------------------------------------------------------------


class TapTest(unittest.TestCase):
    def test_outcomes(self):
        tap = cj.parse_tap(harness_tap([(T1, "pass"), (T2, "fail"), (T3, "skip"),
                                        ("a.b.c", "xfail"), ("a.b.d", "xpass")]))
        self.assertEqual(tap.plan, 5)
        self.assertEqual([(r.name, r.status) for r in tap.results.values()],
                         [(T1, "pass"), (T2, "fail"), (T3, "skip"), ("a.b.c", "xfail"), ("a.b.d", "xpass")])
        self.assertIsNone(tap.unfinished)
        self.assertFalse(any(r.timed_out for r in tap.results.values()))
        self.assertEqual(tap.results[T3].detail, "SKIP no huge pages")

    def test_timeout_is_the_running_test(self):
        # The harness names only the test, without fixture and variant.
        tap = cj.parse_tap(harness_tap([(T1, "pass"), (T2, "timeout"), (T3, "fail")]))
        self.assertTrue(tap.results[T2].timed_out)
        self.assertFalse(tap.results[T3].timed_out)
        self.assertEqual(tap.results[T2].status, "fail")

    def test_crash_mid_run(self):
        tap = cj.parse_tap(harness_tap([(T1, "pass"), (T2, "crash")], plan=3))
        self.assertEqual(tap.plan, 3)
        self.assertEqual(list(tap.results), [T1])
        self.assertEqual(tap.unfinished, T2)

    def test_not_ok_with_reason_and_noise(self):
        tap = cj.parse_tap(["noise", "[   12.5] iommufd: some kernel line", "1..1",
                            "not ok 1 x.y #  bad ioctl", "ok 2", "# ok 3 not.a.result"])
        self.assertEqual(list(tap.results), ["x.y"])
        self.assertEqual(tap.results["x.y"].status, "fail")
        self.assertEqual(tap.results["x.y"].detail, "bad ioctl")

    def test_conformance_error_lines(self):
        tap = cj.parse_tap(["# conformance-error: CONFORMANCE_TIME_LIMITS names a.b, which is no test"])
        self.assertEqual(tap.errors, ["CONFORMANCE_TIME_LIMITS names a.b, which is no test"])
        self.assertIsNone(tap.plan)

    def test_not_ok_with_a_skip_directive_is_no_failure(self):
        # TAP 14; guest.sh does not select such a test for the baseline either.
        tap = cj.parse_tap(["1..3", "not ok 1 a.b # SKIP no huge pages", "not ok 2 a.c # XFAIL x",
                            "not ok 3 a.d #  skipping is no directive"])
        self.assertEqual([r.status for r in tap.results.values()], ["skip", "xfail", "fail"])

    def test_duplicate_keeps_last(self):
        tap = cj.parse_tap(["1..2", "not ok 1 a.b", "ok 2 a.b"])
        self.assertEqual(tap.results["a.b"].status, "pass")
        self.assertEqual(tap.duplicates, ["a.b"])


class GuestLogTest(unittest.TestCase):
    def test_clean_copy_times_and_rc(self):
        log = cj.parse_guest_log(guest_log([
            R("iommufd", "iommufd", [(T1, "pass")], secs=150, times={T1: 1.5}),
            R("iommufd", "ioasid", [(T1, "fail")], secs=200)]))
        self.assertTrue(log.complete)
        run = log.runs[("iommufd", "iommufd")]
        self.assertEqual((run.rc, run.secs, run.end_rc, run.end_secs), (0, 150, 0, 150))
        self.assertEqual(run.times, {T1: 1.5})
        self.assertEqual(run.tap_lines(), run.clean)
        self.assertEqual(log.runs[("iommufd", "ioasid")].rc, 1)

    def test_console_copy_when_the_guest_died(self):
        log = cj.parse_guest_log(guest_log([
            R("iommufd", "iommufd", [(T1, "pass")]),
            R("iommufd", "ioasid", tap=harness_tap([(T1, "pass"), (T2, "crash")], plan=2),
              finished=False)], after=["[   99.1] BUG: kernel NULL pointer dereference"]))
        self.assertFalse(log.complete)
        run = log.runs[("iommufd", "ioasid")]
        self.assertIsNone(run.rc)
        self.assertIn("ok 1 %s" % T1, run.tap_lines())
        self.assertEqual(log.running_at(len(log.lines)), "iommufd against ioasid, test %s" % T2)
        lineno, line = log.first_splat(SPLATS_RE)
        self.assertIn("BUG:", line)
        self.assertEqual(log.lines[lineno - 1], line)

    def test_errors(self):
        log = cj.parse_guest_log(guest_log([], errors=["no /dev/ioasid (module not loaded?)"]))
        self.assertEqual(log.errors, ["CONFORMANCE-ERROR no /dev/ioasid (module not loaded?)"])

    def test_baseline_selection(self):
        log = cj.parse_guest_log(guest_log([
            R("iommufd", "ioasid", [(T1, "fail"), (T2, "fail")]),
            R("iommufd", "iommufd", [(T1, "pass"), (T2, "fail")]),
            R("iommufd_fail_nth", "ioasid", [("basic_fail_nth.basic", "pass")]),
            R("x", "iommufd", [(T1, "pass")]), R("x", "ioasid", [(T1, "pass")])]))
        self.assertEqual(log.baseline, {"iommufd": 2, "iommufd_fail_nth": 0, "x": "all"})
        # The clean copy's line is the one that counts.
        log = cj.parse_guest_log("CONFORMANCE-BASELINE a 3\nCONFORMANCE-BASELINE a 2 [ 1.0] x\n"
                                 "CONFORMANCE-BASELINE a 2\n")
        self.assertEqual(log.baseline, {"a": 2})


class SplatsTest(unittest.TestCase):
    def test_lib_sh_expression(self):
        # One definition, in qemu-test/lib.sh; Python's re reads it as grep -E does.
        for line in ("[   12.0] BUG: KASAN: use-after-free in x", "[ 1.0] WARNING: CPU: 0 PID: 1",
                     "unreferenced object 0xffff (size 64):", "INFO: task x blocked for more than 120 s",
                     "Unable to handle kernel paging request"):
            self.assertTrue(SPLATS_RE.search(line), line)
        self.assertIsNone(SPLATS_RE.search("CONFORMANCE-TAP iommufd ioasid ok 1 iommufd.simple_close"))


class ListTest(unittest.TestCase):
    def test_parse(self):
        e = cj.ExpectedFailures(LIST)
        self.assertEqual(e.header, ["# comment block of the list", "# second line"])
        self.assertTrue(e.listed("x86_64", VFIO))
        self.assertTrue(e.listed("arm64", PASID))
        self.assertFalse(e.listed("x86_64", PASID))
        self.assertEqual(e.reason("arm64", PASID), "fails on arm64 only")

    def test_bad_lines(self):
        for bad in ("a.b\n", "riscv:a.b why\n", "a.b why\na.b again\n"):
            with self.assertRaises(cj.InputError):
                cj.ExpectedFailures(bad)

    def test_limits(self):
        with tempfile.NamedTemporaryFile("w", suffix="limits", delete=False) as f:
            f.write("# comment\niommufd iommufd_ioas.access_rw 120  # x86_64 30 s\n\n")
        try:
            limits = cj.read_limits(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(limits, {("iommufd", "iommufd_ioas.access_rw"): 120})
        self.assertEqual(cj.limit_of(limits, "iommufd", T2), 120)
        self.assertEqual(cj.limit_of(limits, "iommufd", "iommufd_ioas.access_rw"), 120)
        self.assertEqual(cj.limit_of(limits, "iommufd_fail_nth", "basic_fail_nth.access_rw"), 30)
        self.assertEqual(cj.limit_of(limits, "iommufd", T3), 30)


def partial(binary, ioasid, baseline=None, **kw):
    """The runs of one binary as the guest runs them normally: ioasid, then (when some
    test did not pass) the baseline with only those tests."""
    runs = [R(binary, "ioasid", ioasid, **kw)]
    if baseline is not None:
        runs.append(R(binary, "iommufd", baseline))
    return runs


class JudgeTest(unittest.TestCase):
    def test_partial_baseline_selection_explained(self):
        j = judge_of(partial("iommufd", [(T1, "pass"), (VFIO, "fail"), (DMABUF, "fail"), (T2, "fail")],
                             [(VFIO, "pass"), (DMABUF, "fail"), (T2, "fail")]), listing=LIST + T2 + " why\n")
        self.assertEqual((j.passed, j.failed, j.skipped), (1, 0, 3))
        self.assertEqual(j.problems, [])
        self.assertIn("x86_64: iommufd against ioasid: exit 1, 10s", j.out)
        self.assertIn("x86_64: iommufd against iommufd: exit 1, 10s, the 3 tests that did not pass"
                      " against ioasid", j.out)
        # The baseline's per-fixture lines count what it ran; its failures are named.
        self.assertIn("CONFORMANCE arch=x86_64 target=iommufd fixture=iommufd passed=1 failed=0 skipped=0", j.out)
        self.assertIn("CONFORMANCE arch=x86_64 target=iommufd fixture=iommufd_ioas passed=0 failed=2 skipped=0", j.out)
        self.assertIn("x86_64: 2 tests fail against the iommufd baseline (reported, not judged):", j.out)
        self.assertEqual(sorted(j.failing), sorted([VFIO, DMABUF, T2]))

    def test_no_baseline_when_all_passed(self):
        j = judge_of(partial("iommufd", [(T1, "pass"), (T2, "skip")]))
        self.assertEqual((j.passed, j.failed, j.skipped), (1, 0, 1))
        self.assertIn("x86_64: iommufd against iommufd: left out, every test passed against ioasid", j.out)
        self.assertFalse([l for l in j.out if "target=iommufd" in l])

    def test_unexpected_failure_explained_by_the_partial_baseline(self):
        j = judge_of(partial("iommufd", [(T1, "fail"), (T2, "fail"), (T3, "pass")],
                             [(T1, "pass"), (T2, "fail")]))
        self.assertEqual(j.failed, 2)
        self.assertEqual(j.problems, [])
        self.assertIn((T1, "passes against the iommufd baseline"), j.unexpected_fail)
        self.assertIn((T2, "fails against the iommufd baseline too"), j.unexpected_fail)
        self.assertIn("    %s (passes against the iommufd baseline)" % T1, j.out)
        self.assertIn("    %s (fails against the iommufd baseline too)" % T2, j.out)

    def test_baseline_that_ran_a_different_number_of_tests(self):
        # Asked for two, the harness's plan says three: a broken run.
        j = judge_of(partial("iommufd", [(T1, "fail"), (T2, "fail")], [(T1, "pass"), (T2, "pass"), (T3, "pass")]),
                     baseline={"iommufd": 2})
        self.assertEqual(j.problems, ["iommufd against iommufd ran 3 tests, not the 2 it was asked to run"
                                      " (the tests that did not pass against ioasid)"])

    def test_baseline_that_ran_other_tests(self):
        j = judge_of(partial("iommufd", [(T1, "fail"), (T2, "fail"), (T3, "pass")], [(T1, "pass"), (T3, "pass")]))
        self.assertEqual(j.problems, ["iommufd against iommufd did not run the tests that failed against"
                                      " ioasid: left out %s; ran %s" % (T2, T3)])
        self.assertIn((T2, "not run against the iommufd baseline"), j.unexpected_fail)
        self.assertIn((T1, "passes against the iommufd baseline"), j.unexpected_fail)

    def test_selection_that_does_not_match_the_failures(self):
        j = judge_of(partial("iommufd", [(T1, "fail"), (T2, "fail")], [(T1, "pass")]))
        self.assertIn("the guest selected 1 tests of iommufd for the baseline, but 2 did not pass"
                      " against ioasid", j.problems)
        self.assertIn((T2, "not run against the iommufd baseline"), j.unexpected_fail)

    def test_baseline_run_although_none_selected(self):
        j = judge_of(partial("iommufd", [(T1, "pass")], []), baseline={"iommufd": 0})
        self.assertEqual(j.problems, ["iommufd against iommufd ran although the guest selected no test for it"])

    def test_no_selection_line(self):
        j = judge_of(partial("iommufd", [(T1, "fail")], [(T1, "pass")]), baseline={})
        self.assertEqual(j.problems, ["the guest named no baseline selection for iommufd"])
        self.assertIn((T1, "not run against the iommufd baseline"), j.unexpected_fail)

    def test_full_baseline(self):
        # --full-baseline: every test against /dev/iommu first.
        j = judge_of([R("iommufd", "iommufd", [(T1, "pass"), (VFIO, "pass"), (DMABUF, "fail")]),
                      R("iommufd", "ioasid", [(T1, "pass"), (VFIO, "fail"), (DMABUF, "fail")])])
        self.assertEqual((j.passed, j.failed, j.skipped), (1, 0, 2))
        self.assertIn("CONFORMANCE-RESULT arch=x86_64 passed=1 failed=0 skipped=2", j.out)
        self.assertIn("CONFORMANCE arch=x86_64 target=iommufd fixture=iommufd passed=2 failed=0 skipped=0", j.out)
        self.assertIn("CONFORMANCE arch=x86_64 target=ioasid fixture=iommufd passed=1 failed=1 skipped=0", j.out)
        self.assertIn("CONFORMANCE arch=x86_64 target=ioasid fixture=iommufd_ioas passed=0 failed=1 skipped=0", j.out)
        self.assertIn("x86_64: iommufd against iommufd: exit 1, 10s", j.out)
        # Baseline failures are named, not judged.
        self.assertIn("x86_64: 1 tests fail against the iommufd baseline (reported, not judged):", j.out)
        self.assertEqual(sorted(j.failing), [VFIO, DMABUF])

    def test_full_baseline_explains_too(self):
        j = judge_of([R("iommufd", "iommufd", [(T1, "pass"), (T2, "fail")]),
                      R("iommufd", "ioasid", [(T1, "fail"), (T2, "fail")])])
        self.assertEqual(j.failed, 2)
        self.assertIn((T1, "passes against the iommufd baseline"), j.unexpected_fail)
        self.assertIn((T2, "fails against the iommufd baseline too"), j.unexpected_fail)

    def test_expected_failure_that_passes(self):
        j = judge_of(partial("iommufd", [(VFIO, "pass")]))
        self.assertEqual((j.passed, j.failed, j.skipped), (0, 1, 0))
        self.assertEqual(j.unexpected_pass, [VFIO])
        self.assertIn("    " + VFIO, j.out)
        self.assertIn("now pass against ioasid", text(j))

    def test_arch_specific_entry(self):
        runs = partial("iommufd", [(PASID, "fail")], [(PASID, "fail")])
        self.assertEqual(judge_of(runs, arch="arm64").failed, 0)
        self.assertEqual(judge_of(runs, arch="x86_64").failed, 1)
        runs = partial("iommufd", [(PASID, "pass")])
        self.assertEqual(judge_of(runs, arch="arm64").unexpected_pass, [PASID])
        self.assertEqual(judge_of(runs, arch="x86_64").passed, 1)

    def test_timeout(self):
        limits = {("iommufd", "iommufd_ioas.access_rw"): 120}
        j = judge_of(partial("iommufd", [(T2, "timeout"), (T3, "timeout")], [(T2, "pass"), (T3, "pass")]),
                     limits=limits)
        self.assertEqual(j.failed, 2)
        self.assertEqual(j.problems, [])
        self.assertIn((T2, "ran into its time limit of 120 s"), j.unexpected_fail)
        self.assertIn((T3, "ran into its time limit of 30 s"), j.unexpected_fail)
        self.assertEqual(sorted(j.failing), [T2, T3])

    def test_listed_test_that_times_out_is_unexpected(self):
        j = judge_of(partial("iommufd", [(VFIO, "timeout")], [(VFIO, "pass")]))
        self.assertEqual(j.failed, 1)
        self.assertEqual(j.unexpected_fail, [(VFIO, "ran into its time limit of 30 s, listed as expected to fail")])

    def test_baseline_timeout_is_reported(self):
        j = judge_of(partial("iommufd", [(VFIO, "fail")], [(VFIO, "timeout")]))
        self.assertEqual(j.failed, 0)
        self.assertIn("    %s (timed out)" % VFIO, j.out)

    def test_harness_skip_xfail_xpass(self):
        j = judge_of(partial("iommufd", [(T1, "skip"), (T2, "xfail"), (T3, "xpass")]))
        self.assertEqual((j.passed, j.failed, j.skipped), (1, 0, 2))
        self.assertIn("x86_64: iommufd against iommufd: left out, every test passed against ioasid", j.out)

    def test_crash_mid_run(self):
        # The harness itself died (SIGSEGV) in T2: the baseline runs the failures before
        # it; the ioasid run is broken.
        j = judge_of(partial("iommufd", [], [(VFIO, "pass")], rc=139,
                             tap=harness_tap([(VFIO, "fail"), (T1, "pass"), (T2, "crash")], plan=4)))
        self.assertEqual((j.passed, j.skipped), (1, 1))
        self.assertEqual(j.problems, ["iommufd against ioasid exited with status 139 (a crash of the harness?), in test %s" % T2])
        self.assertEqual(j.failed, 1)

    def test_crash_mid_run_full_baseline(self):
        # With the whole baseline, the tests after the crash are named.
        j = judge_of([R("iommufd", "iommufd", [(T1, "pass"), (T2, "pass"), (T3, "pass"), (VFIO, "pass")]),
                      R("iommufd", "ioasid", rc=139,
                        tap=harness_tap([(T1, "pass"), (T2, "crash")], plan=4))])
        self.assertEqual(j.passed, 1)
        self.assertIn((T2, "did not run"), j.unexpected_fail)
        self.assertIn((T3, "did not run"), j.unexpected_fail)
        self.assertEqual(j.skipped, 1)  # VFIO: listed, and its run died: counted once, below
        self.assertEqual(j.problems, ["iommufd against ioasid exited with status 139 (a crash of the harness?), in test %s" % T2])
        self.assertEqual(j.failed, 3)

    def test_missing_test(self):
        # Every test must run against ioasid: its own plan counts them.
        j = judge_of(partial("iommufd", [], tap=harness_tap([(T1, "pass")], plan=2)))
        self.assertEqual(j.problems, ["iommufd against ioasid reported 1 of its 2 tests"])
        # With the whole baseline the test is named as well.
        j = judge_of([R("iommufd", "iommufd", [(T1, "pass"), (T2, "pass")]),
                      R("iommufd", "ioasid", tap=harness_tap([(T1, "pass")], plan=2))])
        self.assertIn((T2, "did not run"), j.unexpected_fail)
        self.assertEqual(j.problems, ["iommufd against ioasid reported 1 of its 2 tests"])

    def test_killed_run(self):
        j = judge_of(partial("iommufd", [], rc=137, secs=900, tap=harness_tap([(T1, "crash")], plan=1)))
        self.assertEqual(j.problems, ["iommufd against ioasid was killed (SIGKILL: the plan's time limit, or"
                                      " the OOM killer) after 900s, in test %s" % T1])

    def test_killed_baseline_run(self):
        j = judge_of([R("iommufd", "ioasid", [(T1, "fail"), (T2, "fail")]),
                      R("iommufd", "iommufd", rc=137, secs=300, tap=harness_tap([(T1, "pass"), (T2, "crash")], plan=2))],
                     baseline={"iommufd": 2})
        self.assertEqual(j.problems, ["iommufd against iommufd was killed (SIGKILL: the plan's time limit, or"
                                      " the OOM killer) after 300s, in test %s" % T2])
        self.assertIn((T2, "not run against the iommufd baseline"), j.unexpected_fail)

    def test_kernel_splat_names_the_test(self):
        runs = [R("iommufd", "iommufd", [(T1, "pass")]),
                R("iommufd", "ioasid", tap=harness_tap([(T1, "crash")], plan=1), finished=False)]
        j = judge_of(runs, runrc=1, complete=False,
                     after=["[  120.0] BUG: KASAN: use-after-free in ioas_unmap+0x10"])
        self.assertEqual(len(j.problems), 1)
        self.assertIn("kernel splat in the guest", j.problems[0])
        self.assertIn("while running: iommufd against ioasid, test %s" % T1, j.problems[0])
        # The unfinished run is named once, not counted again.
        self.assertIn("x86_64: iommufd against ioasid did not finish (results from the console copy), stopped in %s" % T1, j.out)
        self.assertEqual(j.unexpected_fail, [(T1, "did not run")])

    def test_kernel_splat_before_the_selection(self):
        # The guest died in the ioasid run: no baseline selection, named but not counted.
        runs = partial("iommufd", [], tap=harness_tap([(T1, "crash")], plan=1), finished=False)
        j = judge_of(runs, runrc=1, complete=False, after=["[  120.0] BUG: KASAN: use-after-free in x"])
        self.assertEqual(len(j.problems), 1)
        self.assertIn("x86_64: the guest named no baseline selection for iommufd", j.out)

    def test_kmemleak_report(self):
        j = judge_of(partial("iommufd", [(T1, "pass")]),
                     runrc=1, after=["unreferenced object 0xffff888003 (size 64):"])
        self.assertEqual(len(j.problems), 1)
        self.assertRegex(j.problems[0], r"^kernel splat in the guest \(log line [0-9]+\), while running: "
                         r"\(a kmemleak scan: see the backtrace\)$")

    def test_hang(self):
        runs = [R("iommufd", "iommufd", [(T1, "pass")]),
                R("iommufd", "ioasid", tap=harness_tap([(T1, "crash")], plan=1), finished=False)]
        j = judge_of(runs, runrc=124, complete=False)
        self.assertEqual(j.problems, ["the guest hung (qemu-test/run timeout 2100s), last started: iommufd against ioasid, test %s" % T1])

    def test_hang_in_the_baseline(self):
        runs = [R("iommufd", "ioasid", [(T1, "fail")]),
                R("iommufd", "iommufd", tap=harness_tap([(T1, "crash")], plan=1), finished=False)]
        j = judge_of(runs, runrc=124, complete=False, baseline={"iommufd": 1})
        self.assertEqual(j.problems, ["the guest hung (qemu-test/run timeout 2100s), last started: iommufd against iommufd, test %s" % T1])
        self.assertIn("x86_64: iommufd against iommufd did not finish (results from the console copy), stopped in %s" % T1, j.out)

    def test_guest_script_incomplete(self):
        j = judge_of(partial("iommufd", [(T1, "fail")], [(T1, "fail")]), complete=False)
        self.assertIn("the guest script did not complete", j.problems)
        self.assertIn("iommufd against ioasid did not finish (results from the console copy)", j.problems)
        self.assertIn("iommufd against iommufd did not finish (results from the console copy)", j.problems)

    def test_guest_errors_and_harness_errors(self):
        tap = ["# conformance-error: CONFORMANCE_TIME_LIMITS names a.b, which is no test of iommufd"]
        j = judge_of(partial("iommufd", [], tap=tap, rc=1), errors=["no /dev/ioasid (module not loaded?)"])
        self.assertIn("CONFORMANCE-ERROR no /dev/ioasid (module not loaded?)", j.problems)
        self.assertIn("iommufd against ioasid: CONFORMANCE_TIME_LIMITS names a.b, which is no test of iommufd", j.problems)
        self.assertIn("iommufd against ioasid printed no TAP plan (see iommufd.ioasid.tap)", j.problems)

    def test_namespace_failure(self):
        j = judge_of(partial("iommufd", [], tap=[], rc=125))
        self.assertIn("iommufd against ioasid: the mount namespace with /dev/ioasid could not be set up", j.problems)

    def test_two_binaries_and_listed_not_run(self):
        j = judge_of(partial("iommufd", [(T1, "pass")]) + partial("iommufd_fail_nth", [("basic_fail_nth.basic", "pass")]),
                     bins=("iommufd", "iommufd_fail_nth"))
        self.assertEqual((j.passed, j.failed), (2, 0))
        self.assertIn("CONFORMANCE arch=x86_64 target=ioasid fixture=basic_fail_nth passed=1 failed=0 skipped=0", j.out)
        self.assertIn("x86_64: iommufd_fail_nth against iommufd: left out, every test passed against ioasid", j.out)
        self.assertIn("x86_64: note: 2 listed tests did not run (renamed or gone upstream?)", j.out)
        self.assertIn("    " + DMABUF, j.out)

    def test_durations_and_headroom(self):
        limits = {("iommufd", "iommufd_ioas.access_rw"): 120}
        j = judge_of([R("iommufd", "iommufd", [(T1, "pass"), (T2, "pass"), (T3, "pass")],
                        times={T1: 0.5, T2: 12.0, T3: 9.0}),
                      R("iommufd", "ioasid", [(T1, "pass"), (T2, "pass"), (T3, "pass")],
                        times={T1: 0.5, T2: 41.0, T3: 11.0})], limits=limits)
        self.assertEqual(j.failed, 0)
        self.assertIn("x86_64: slowest against ioasid: %s 41s, %s 11s, %s 0s" % (T2, T3, T1), j.out)
        notes = [l for l in j.out if "more than 1/3 of its time limit" in l]
        self.assertEqual(len(notes), 2)
        self.assertIn("x86_64: note: %s took 41 s against ioasid, more than 1/3 of its time limit (120 s)" % T2, notes[0])
        self.assertIn("x86_64: note: %s took 11 s against ioasid, more than 1/3 of its time limit (30 s)" % T3, notes[1])


class UpdateListTest(unittest.TestCase):
    def test_both_arches(self):
        e = cj.ExpectedFailures(LIST)
        out = cj.update_list(e, {"x86_64": [VFIO, T1], "arm64": [VFIO, PASID, T2]})
        self.assertEqual(out.splitlines(), [
            "# comment block of the list", "# second line",
            "x86_64:iommufd.simple_close TODO reason",
            "iommufd.vfio_ioas needs VFIO compat",
            "arm64:iommufd_device_pasid.has_pasid.pasid_attach fails on arm64 only",
            "arm64:iommufd_ioas.no_domain.access_rw TODO reason",
        ])

    def test_one_arch_keeps_the_other(self):
        e = cj.ExpectedFailures(LIST)
        out = cj.update_list(e, {"x86_64": [VFIO, T1]})
        self.assertEqual(out.splitlines()[2:], [
            "x86_64:iommufd.simple_close TODO reason",
            "iommufd.vfio_ioas needs VFIO compat",
            "arm64:iommufd_device_pasid.has_pasid.pasid_attach fails on arm64 only",
            "arm64:iommufd_ioas.mock_domain.dmabuf_simple needs dma-buf; fails on the baseline too",
        ])


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, content):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(content)
        return path

    def main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cj.main(list(argv))
        return rc, out.getvalue(), err.getvalue()

    def judge(self, log, out, *extra):
        return self.main("judge", "--arch", "x86_64", "--log", log, "--runrc", "0",
                         "--plan", self.plan, "--list", self.lst, "--out", out,
                         "--splats", SPLATS, *extra)

    def test_judge_save_and_update(self):
        self.lst = self.write("list", LIST)
        self.plan = self.write("plan", "iommufd 900\niommufd_fail_nth 300 -t basic\n")
        limits = self.write("limits", "iommufd iommufd_ioas.access_rw 120\n")
        log = self.write("log", guest_log(
            partial("iommufd", [(T1, "pass"), (VFIO, "fail")], [(VFIO, "pass")], times={T1: 1.0})
            + partial("iommufd_fail_nth", [("basic_fail_nth.basic", "pass")])))
        out = os.path.join(self.d, "x86_64")
        rc, stdout, _ = self.judge(log, out, "--limits", limits)
        self.assertEqual(rc, 0)
        self.assertIn("CONFORMANCE-RESULT arch=x86_64 passed=2 failed=0 skipped=1\n", stdout)
        with open(os.path.join(out, "judgement.json")) as f:
            data = json.load(f)
        self.assertEqual(data["failing"], [VFIO])
        self.assertEqual(data["baseline"], {"iommufd": 1, "iommufd_fail_nth": 0})
        with open(os.path.join(out, "summary.txt")) as f:
            self.assertTrue(f.read().endswith("CONFORMANCE-RESULT arch=x86_64 passed=2 failed=0 skipped=1\n"))
        with open(os.path.join(out, "iommufd.ioasid.times")) as f:
            self.assertEqual(f.read(), "1.0 %s\n" % T1)
        with open(os.path.join(out, "iommufd.iommufd.tap")) as f:
            self.assertIn("ok 1 %s\n" % VFIO, f.read())
        self.assertFalse(os.path.exists(os.path.join(out, "iommufd_fail_nth.iommufd.tap")))

        # A regression: simple_close fails against ioasid, passes against the baseline.
        log2 = self.write("log2", guest_log(
            partial("iommufd", [(T1, "fail"), (VFIO, "fail")], [(T1, "pass"), (VFIO, "pass")])
            + partial("iommufd_fail_nth", [("basic_fail_nth.basic", "pass")])))
        out2 = os.path.join(self.d, "x86_64-2")
        rc, stdout, _ = self.judge(log2, out2)
        self.assertEqual(rc, 1)
        self.assertIn("    %s (passes against the iommufd baseline)\n" % T1, stdout)
        self.assertIn("CONFORMANCE-RESULT arch=x86_64 passed=1 failed=1 skipped=1\n", stdout)

        rc, stdout, _ = self.main("update-list", "--list", self.lst, out2)
        self.assertEqual(rc, 0)
        self.assertIn("x86_64:iommufd.simple_close TODO reason\n", stdout)

    def test_bad_input(self):
        self.plan = self.write("plan", "iommufd 900\n")
        log = self.write("log", guest_log([]))
        self.lst = self.write("list", "a.b\n")
        rc, _, err = self.judge(log, self.d)
        self.assertEqual(rc, 2)
        self.assertIn("no reason given for a.b", err)
        self.lst = self.write("list", LIST)
        rc, _, err = self.main("judge", "--arch", "x86_64", "--log", log, "--runrc", "0", "--plan",
                               self.plan, "--list", self.lst, "--out", self.d, "--splats", "BUG:(")
        self.assertEqual(rc, 2)
        self.assertIn("bad --splats expression", err)


def main():
    verbosity = 2 if "-v" in sys.argv[1:] else 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stderr).run(suite)
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("JUDGE-TESTS passed=%d failed=%d" % (result.testsRun - bad - len(result.skipped), bad))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
