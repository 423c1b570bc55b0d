/* SPDX-License-Identifier: MIT */
/*
 * reload_parse_pid: a pid file or signal:PID is taken only when it holds
 * a process id (reload.h). 2^32+PID must not become PID, 4294967295 must
 * not become kill(-1, ...) (every process), 0 and 1 are refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "runnerfs/reload.h"
#include "test.h"

static void expect(const char *text, int want_rc, pid_t want)
{
	pid_t got = 0;
	t_case("\"%s\" -> %d, pid %ld", text, want_rc, (long)want);
	int rc = reload_parse_pid(text, &got);
	CHECK(rc == want_rc && (rc < 0 || got == want), "\"%s\": rc %d pid %ld, want rc %d pid %ld",
	      text, rc, (long)got, want_rc, (long)want);
}

int main(void)
{
	long max = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	if (!f || fscanf(f, "%ld", &max) != 1)
		max = 32768;
	if (f)
		fclose(f);
	char buf[64];

	expect("1234", 0, 1234);
	expect("1234\n", 0, 1234);
	expect(" 77 \n", 0, 77);
	expect("2", 0, 2);
	snprintf(buf, sizeof buf, "%ld", max);
	expect(buf, 0, (pid_t)max);

	expect("4295033530", -EINVAL, 0); /* 2^32 + 65234: was truncated to 65234 */
	expect("4294967295", -EINVAL, 0); /* was kill(-1, SIGHUP) */
	expect("99999999999999999999999", -EINVAL, 0);
	snprintf(buf, sizeof buf, "%ld", max + 1);
	expect(buf, -EINVAL, 0);
	expect("0", -EINVAL, 0);
	expect("1", -EINVAL, 0);
	expect("-5", -EINVAL, 0);
	expect("+5", -EINVAL, 0);
	expect("0x10", -EINVAL, 0);
	expect("12abc", -EINVAL, 0);
	expect("12 13", -EINVAL, 0);
	expect("", -EINVAL, 0);
	expect("\n", -EINVAL, 0);
	return t_done();
}
