/* SPDX-License-Identifier: MIT */
/*
 * Telling the runner: SIGHUP through the Docker Engine API (libcurl, unix
 * socket or TCP) or kill(2), once per burst of changes, from a thread of
 * its own. See reload.h.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/reload.h"
#include "runnerfs/rfs.h"

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* The soname libcurl's development package links against. */
#define CURL_SONAME "libcurl.so.4"

static int load_curl(struct reload_curl *c, char *err, size_t errlen)
{
	c->lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!c->lib) {
		snprintf(err, errlen, "reload=docker needs libcurl: %s", dlerror());
		return -ENOENT;
	}
	struct {
		void **fn;
		const char *name;
	} syms[] = {
		{(void **)&c->global_init, "curl_global_init"},
		{(void **)&c->global_cleanup, "curl_global_cleanup"},
		{(void **)&c->easy_init, "curl_easy_init"},
		{(void **)&c->easy_setopt, "curl_easy_setopt"},
		{(void **)&c->easy_perform, "curl_easy_perform"},
		{(void **)&c->easy_getinfo, "curl_easy_getinfo"},
		{(void **)&c->easy_strerror, "curl_easy_strerror"},
		{(void **)&c->easy_cleanup, "curl_easy_cleanup"},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if (!(*syms[i].fn = dlsym(c->lib, syms[i].name))) {
			snprintf(err, errlen, "reload=docker needs libcurl: %s has no %s", CURL_SONAME,
				 syms[i].name);
			dlclose(c->lib);
			c->lib = NULL;
			return -ENOENT;
		}
	return 0;
}

int reload_init(struct reload *r, const char *method, const char *docker_host, int delay_ms,
		char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->delay_ms = delay_ms < 0 ? 0 : delay_ms;
	snprintf(r->result, sizeof(r->result), "none sent yet");
	if (!method || !*method || !strcmp(method, "none")) {
		r->method = RELOAD_NONE;
		return 0;
	}
	const char *colon = strchr(method, ':');
	if (!colon || !colon[1]) {
		snprintf(err, errlen, "reload=%s: write none, docker:CONTAINER, pid:PIDFILE or signal:PID", method);
		return -EINVAL;
	}
	size_t n = (size_t)(colon - method);
	if (n == 6 && !strncmp(method, "docker", 6))
		r->method = RELOAD_DOCKER;
	else if (n == 3 && !strncmp(method, "pid", 3))
		r->method = RELOAD_PIDFILE;
	else if (n == 6 && !strncmp(method, "signal", 6))
		r->method = RELOAD_PID;
	else {
		snprintf(err, errlen, "reload=%s: write none, docker:CONTAINER, pid:PIDFILE or signal:PID", method);
		return -EINVAL;
	}
	r->target = strdup(colon + 1);
	if (r->method == RELOAD_PID) {
		pid_t pid;
		if (reload_parse_pid(r->target, &pid) < 0) {
			snprintf(err, errlen, "reload=signal:%s: not a process id (decimal, 2 to pid_max)", r->target);
			return -EINVAL;
		}
	}
	if (r->method == RELOAD_DOCKER) {
		const char *h = docker_host && *docker_host ? docker_host : getenv("DOCKER_HOST");
		if (!h || !*h)
			h = "unix:///var/run/docker.sock";
		if (!strncmp(h, "unix://", 7)) {
			r->docker_sock = strdup(h + 7);
			r->docker_url = strdup("http://localhost");
		} else if (!strncmp(h, "tcp://", 6)) {
			if (asprintf(&r->docker_url, "http://%s", h + 6) < 0)
				r->docker_url = NULL;
		} else {
			snprintf(err, errlen, "docker_host=%s: write unix:///PATH or tcp://HOST:PORT", h);
			return -EINVAL;
		}
		/* a container name or id: letters, digits, _ . - only */
		for (const char *p = r->target; *p; p++)
			if (!(*p == '_' || *p == '.' || *p == '-' || (*p >= '0' && *p <= '9') ||
			      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
				snprintf(err, errlen, "reload=docker:%s: not a container name", r->target);
				return -EINVAL;
			}
		return load_curl(&r->curl, err, errlen);
	}
	return 0;
}

/* ---- Docker Engine API ---- */

struct response {
	struct buf body;
	long status;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct response *res = arg;
	if (res->body.len < 65536)
		buf_add(&res->body, p, size * n);
	return size * n;
}

static int docker_request(struct reload *r, const char *method, const char *path,
			  struct response *res, char *why, size_t whylen)
{
	const struct reload_curl *k = &r->curl;
	void *c = k->easy_init();
	if (!c)
		return -ENOMEM;
	char url[512];
	snprintf(url, sizeof(url), "%s%s", r->docker_url, path);
	curl_write_callback write_cb = collect;
	k->easy_setopt(c, CURLOPT_URL, url);
	if (r->docker_sock)
		k->easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, r->docker_sock);
	k->easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "POST"))
		k->easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	k->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)RELOAD_TIMEOUT_MS);
	k->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	k->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	k->easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	k->easy_setopt(c, CURLOPT_WRITEDATA, res);
	int cc = k->easy_perform(c);
	if (cc == CURLE_OK)
		k->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	else
		snprintf(why, whylen, "the Docker engine at %s did not answer: %s",
			 r->docker_sock ? r->docker_sock : r->docker_url, k->easy_strerror(cc));
	k->easy_cleanup(c);
	return cc == CURLE_OK ? 0 : -EHOSTUNREACH;
}

/* The engine's own words ({"message": "..."}). */
static const char *engine_message(struct response *res, char *out, size_t n)
{
	cJSON *j = res->body.p ? cJSON_ParseWithLength(res->body.p, res->body.len) : NULL;
	cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "message") : NULL;
	snprintf(out, n, "%s", cJSON_IsString(m) ? m->valuestring : "no message");
	cJSON_Delete(j);
	return out;
}

/* Seconds since an RFC 3339 time like 2026-11-25T14:00:00.123456789Z. */
static long age_of(const char *started)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!started || !strptime(started, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	time_t t = timegm(&tm);
	return (long)(time(NULL) - t);
}

static int docker_reload(struct reload *r, char *why, size_t whylen)
{
	struct response res = {BUF_INIT, 0};
	char path[300], msg[200];
	snprintf(path, sizeof(path), "/containers/%s/json", r->target);
	int rc = docker_request(r, "GET", path, &res, why, whylen);
	if (rc < 0)
		goto out;
	if (res.status == 404) {
		snprintf(why, whylen, "no container %s (404: %s)", r->target, engine_message(&res, msg, sizeof(msg)));
		rc = -ENOENT;
		goto out;
	}
	if (res.status != 200) {
		snprintf(why, whylen, "inspecting %s failed (%ld: %s)", r->target, res.status,
			 engine_message(&res, msg, sizeof(msg)));
		rc = -EIO;
		goto out;
	}
	cJSON *j = cJSON_ParseWithLength(res.body.p, res.body.len);
	cJSON *state = j ? cJSON_GetObjectItemCaseSensitive(j, "State") : NULL;
	cJSON *running = state ? cJSON_GetObjectItemCaseSensitive(state, "Running") : NULL;
	cJSON *started = state ? cJSON_GetObjectItemCaseSensitive(state, "StartedAt") : NULL;
	bool is_running = cJSON_IsTrue(running);
	long age = age_of(cJSON_IsString(started) ? started->valuestring : NULL);
	cJSON_Delete(j);
	if (!is_running) {
		snprintf(why, whylen, "container %s is not running; it reads the file when it starts", r->target);
		rc = -ESRCH;
		goto out;
	}
	if (age >= 0 && age < RELOAD_YOUNG_SECONDS) {
		/* the runner dies on a SIGHUP that comes before its handler;
		 * it reads the file at start-up anyway */
		snprintf(why, whylen, "container %s started %ld s ago; not signalled, it reads the file at start-up",
			 r->target, age);
		rc = 1;
		goto out;
	}
	buf_free(&res.body);
	res = (struct response){BUF_INIT, 0};
	snprintf(path, sizeof(path), "/containers/%s/kill?signal=SIGHUP", r->target);
	rc = docker_request(r, "POST", path, &res, why, whylen);
	if (rc < 0)
		goto out;
	if (res.status == 204) {
		snprintf(why, whylen, "SIGHUP sent to container %s", r->target);
	} else {
		snprintf(why, whylen, "%s %s (%ld: %s)",
			 res.status == 404 ? "no container" : res.status == 409 ? "not running:" : "kill failed for",
			 r->target, res.status, engine_message(&res, msg, sizeof(msg)));
		rc = -EIO;
	}
out:
	buf_free(&res.body);
	return rc;
}

/* A process id as text: decimal digits only (surrounding white space
 * allowed, as pid files end with a newline), no overflow, greater than 1
 * (0 and 1 would signal a process group or init) and at most the
 * kernel's pid_max. 0 or -EINVAL. */
int reload_parse_pid(const char *s, pid_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	long long v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > 1LL << 32)
			return -EINVAL;
	}
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s)
		return -EINVAL;
	long long max = 4194304; /* the largest pid_max Linux allows */
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	if (f) {
		long long m;
		if (fscanf(f, "%lld", &m) == 1 && m > 1)
			max = m;
		fclose(f);
	}
	if (v <= 1 || v > max)
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

static int kill_reload(struct reload *r, char *why, size_t whylen)
{
	pid_t pid;
	if (r->method == RELOAD_PIDFILE) {
		char text[64];
		FILE *f = fopen(r->target, "re");
		if (!f) {
			int e = errno;
			snprintf(why, whylen, "cannot read pid file %s: %s", r->target, strerror(e));
			return -e;
		}
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		bool more = n == sizeof(text) - 1 && fgetc(f) != EOF;
		fclose(f);
		text[n] = '\0';
		if (more || strlen(text) != n || reload_parse_pid(text, &pid) < 0) {
			snprintf(why, whylen, "pid file %s does not hold a process id (decimal, 2 to pid_max); "
					      "no signal sent", r->target);
			return -EINVAL;
		}
	} else if (reload_parse_pid(r->target, &pid) < 0) {
		snprintf(why, whylen, "signal:%s is not a process id; no signal sent", r->target);
		return -EINVAL;
	}
	if (kill(pid, SIGHUP) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot signal process %ld: %s", (long)pid, strerror(e));
		return -e;
	}
	snprintf(why, whylen, "SIGHUP sent to process %ld", (long)pid);
	return 0;
}

static void *reload_thread(void *arg)
{
	struct reload *r = arg;
	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		if (!r->pending && !r->now) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long quiet = ms_between(&r->last, &now), since = ms_between(&r->first, &now);
		long max = (long)r->delay_ms * RELOAD_MAX_FACTOR;
		if (!r->now && quiet < r->delay_ms && since < max) {
			/* wait for the burst to end */
			long wait = r->delay_ms - quiet;
			if (since + wait > max)
				wait = max - since;
			struct timespec until = now;
			until.tv_sec += wait / 1000;
			until.tv_nsec += (wait % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r->cond, &r->lock, &until);
			continue;
		}
		int covered = r->pending;
		r->pending = 0;
		r->now = false;
		pthread_mutex_unlock(&r->lock);

		char why[300] = "";
		int rc = r->method == RELOAD_DOCKER ? docker_reload(r, why, sizeof(why)) : kill_reload(r, why, sizeof(why));

		pthread_mutex_lock(&r->lock);
		clock_gettime(CLOCK_REALTIME, &r->done);
		r->covered = covered;
		snprintf(r->result, sizeof(r->result), "%s: %s", rc == 0 ? "ok" : rc > 0 ? "skipped" : "failed", why);
		if (rc == 0)
			r->sent++;
		rfs_log(rc < 0 ? RFS_LOG_WARN : RFS_LOG_INFO, "reload (%d change%s): %s", covered,
			covered == 1 ? "" : "s", r->result);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int reload_start(struct reload *r)
{
	if (r->method == RELOAD_NONE)
		return 0;
	if (r->method == RELOAD_DOCKER)
		r->curl.global_init(CURL_GLOBAL_DEFAULT);
	int e = pthread_create(&r->tid, NULL, reload_thread, r);
	if (e)
		return -e;
	r->running = true;
	return 0;
}

void reload_changed(struct reload *r)
{
	if (r->method == RELOAD_NONE)
		return;
	pthread_mutex_lock(&r->lock);
	clock_gettime(CLOCK_MONOTONIC, &r->last);
	if (!r->pending)
		r->first = r->last;
	r->pending++;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void reload_now(struct reload *r)
{
	if (r->method == RELOAD_NONE)
		return;
	pthread_mutex_lock(&r->lock);
	r->now = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

int reload_status(struct reload *r, struct buf *out)
{
	static const char *const names[] = {"none", "docker", "pid", "signal"};
	pthread_mutex_lock(&r->lock);
	char when[32] = "never";
	if (r->done.tv_sec) {
		struct tm tm;
		gmtime_r(&r->done.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	int rc;
	if (r->method == RELOAD_NONE)
		rc = buf_addf(out, "reload: none (the runner notices a new mtime within 3 s)\n");
	else
		rc = buf_addf(out, "reload: %s:%s, delay %d ms\nlast reload: %s (%d change%s): %s\nreloads sent: %d\n"
				   "changes waiting: %d\n",
			      names[r->method], r->target, r->delay_ms, when, r->covered, r->covered == 1 ? "" : "s",
			      r->result, r->sent, r->pending);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void reload_stop(struct reload *r)
{
	if (!r->running)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->tid, NULL);
	r->running = false;
	if (r->method == RELOAD_DOCKER)
		r->curl.global_cleanup();
}

void reload_fini(struct reload *r)
{
	if (r->curl.lib)
		dlclose(r->curl.lib);
	free(r->target);
	free(r->docker_url);
	free(r->docker_sock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
}
