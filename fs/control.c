/* SPDX-License-Identifier: MIT */
/*
 * .runnerfs/: what the daemon can tell about itself. Never a secret: the
 * status names paths and states, errors name paths and reasons.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runnerfs/control.h"
#include "runnerfs/watch.h"
#include "runnerfs/history.h"
#include "runnerfs/rfs.h"

static void iso(const struct timespec *ts, char *out, size_t n)
{
	if (!ts->tv_sec) {
		snprintf(out, n, "never");
		return;
	}
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int status(struct rfs *fs, struct buf *out)
{
	char written[32], loaded[32];
	iso(&fs->last_write, written, sizeof(written));
	iso(&fs->loaded_mtime, loaded, sizeof(loaded));
	size_t len;
	toml_text(fs->doc, &len);
	int r = buf_addf(out,
			 "config: %s\n"
			 "generation: %llu\n"
			 "size: %zu\n"
			 "last write: %s\n"
			 "file mtime when read: %s\n"
			 "parses: %s\n",
			 fs->disk.path, (unsigned long long)fs->generation, len, written, loaded,
			 fs->disk_state == 0   ? "yes"
			 : watch_settling(fs) ? "being rewritten (it changed a moment ago; showing the last version that parsed)"
					      : "no");
	if (r >= 0 && fs->disk_state != 0 && !watch_settling(fs))
		r = buf_addf(out, "parse error: %s\n"
				  "showing: the last version that parsed; writes fail with EIO until the file is fixed\n",
			     fs->disk_error);
	if (r >= 0 && fs->outside_loss[0])
		r = buf_addf(out, "warning: %s\n", fs->outside_loss);
	if (r >= 0)
		r = buf_addf(out, "write mode: %s\n", fs->txn.in_place ? "in place (CONFIG is a bind-mounted file)"
									: "atomic (temp file + rename)");
	if (r >= 0)
		r = buf_addf(out, "read-only: %s\nbackups: %d kept of %d (changes less than %d ms apart are one)\n",
			     fs->opt.ro ? "yes" : "no", fs->hist.n, fs->opt.backups, fs->opt.burst);
	if (r >= 0)
		r = reload_status(&fs->reload, out);
	for (size_t i = 0; r >= 0 && i < fs->chg.halfreg.n; i++) {
		const char *k = fs->chg.halfreg.v[i].key, *slash = strrchr(k, '/');
		r = buf_addf(out, "incomplete registry: %.*s (no username yet: its password waits in memory, not in config.toml)\n",
			     (int)(slash ? slash - k : (ptrdiff_t)strlen(k)), k);
	}
	if (r >= 0)
		r = buf_addf(out, "errors: %d\n", fs->nerrors);
	return r;
}

int control_render(struct rfs *fs, const struct tree_ref *r, struct buf *out)
{
	if (r->kind == TK_HISTFILE) {
		/* a commit in flight (fs->lock released, txn.c) has made the
		 * document new but not yet pushed the version it replaced: the
		 * diffs would apply to the wrong text */
		while (fs->txn.committing)
			pthread_cond_wait(&fs->txn.committed, &fs->lock);
		return history_text(fs, r->index, out);
	}
	if (r->kind != TK_CTLFILE)
		return -EINVAL;
	switch (r->index) {
	case CTL_STATUS:
		return status(fs, out);
	case CTL_ERRORS:
		for (int i = 0; i < fs->nerrors; i++) {
			int rc = buf_addf(out, "%s\n", fs->errors[(fs->errors_head + i) % RFS_ERRORS_KEPT]);
			if (rc < 0)
				return rc;
		}
		return 0;
	case CTL_RELOAD:
		return 0;
	}
	return -EINVAL;
}
