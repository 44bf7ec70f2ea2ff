// SPDX-License-Identifier: GPL-2.0
/*
 * One upstream kselftest (UPSTREAM_TEST, its path, given by the Makefile) compiled
 * unchanged, plus per-test time limits taken from the environment at run time:
 *
 *   CONFORMANCE_TIME_LIMITS='fixture.test=SECONDS ... [*=SECONDS]'
 *
 * Linux 7.3's kselftest harness takes a test's time limit only from TEST_F_TIMEOUT() in
 * the test's source (30 s otherwise): it has no option and reads no environment variable
 * for it. Its test objects are registered by constructors of priority
 * KSELFTEST_PRIO_TEST; this constructor runs after them and rewrites the `timeout` of the
 * tests named. A limit is per test (fixture.test: every variant of it), as the harness's
 * own. `*` sets every test first (qemu-test/conformance --measure uses it), then the
 * named tests. A name that matches no test fails the run: a renamed upstream test must
 * not lose its limit silently.
 */
#include UPSTREAM_TEST

static void __attribute__((constructor(KSELFTEST_PRIO_XFAIL + 1))) conformance_time_limits(void)
{
	const char *env = getenv("CONFORMANCE_TIME_LIMITS");
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	char *copy, *tok, *save = NULL;
	int pass;

	if (!env || !*env)
		return;
	/* Pass 0 applies `*`, pass 1 the named tests, so the order in the list does not matter. */
	for (pass = 0; pass < 2; pass++) {
		copy = strdup(env);
		if (!copy)
			abort();
		for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
			char *eq = strrchr(tok, '='), *dot, *end;
			long secs;
			bool found = false;

			if (!eq || eq == tok || !eq[1])
				goto bad;
			secs = strtol(eq + 1, &end, 10);
			if (*end || secs <= 0 || secs > 86400)
				goto bad;
			*eq = '\0';
			if (!strcmp(tok, "*")) {
				if (pass == 0)
					for (f = __fixture_list; f; f = f->next)
						for (t = f->tests; t; t = t->next)
							t->timeout = secs;
				continue;
			}
			dot = strchr(tok, '.');
			if (!dot || strchr(dot + 1, '.'))
				goto bad;
			*dot = '\0';
			for (f = __fixture_list; f; f = f->next) {
				if (strcmp(f->name, tok))
					continue;
				for (t = f->tests; t; t = t->next) {
					if (strcmp(t->name, dot + 1))
						continue;
					found = true;
					if (pass == 1) {
						t->timeout = secs;
						fprintf(stderr, "# conformance: time limit of %s.%s: %ld s\n",
							tok, dot + 1, secs);
					}
				}
			}
			if (!found) {
				fprintf(stderr, "# conformance-error: CONFORMANCE_TIME_LIMITS names %s.%s, which is no test of %s\n",
					tok, dot + 1, program_invocation_short_name);
				exit(KSFT_FAIL);
			}
			continue;
bad:
			fprintf(stderr, "# conformance-error: CONFORMANCE_TIME_LIMITS: bad entry '%s' (want fixture.test=SECONDS)\n",
				tok);
			exit(KSFT_FAIL);
		}
		free(copy);
	}
}
