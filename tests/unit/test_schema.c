/* SPDX-License-Identifier: MIT */
/*
 * test_schema: the schema of config.toml keys (include/runnerfs/schema.h).
 *
 *   test_schema FIXTURES_DIR
 *
 * Lookups, types, allowed values, the runner's hard rules (concurrent,
 * labels, %s, Go durations), "did you mean", secret and restart flags, the
 * consistency of the data itself, and schema_check_doc() on small
 * documents and on every fixture (which must have no errors).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/schema.h"
#include "runnerfs/toml.h"

#include "test.h"

/* ---- lookups ---- */

/* Key at a dotted schema path: "runners.docker.image". */
static const struct schema_key *key_at(const char *path)
{
	const struct schema_table *t = schema_root();
	const struct schema_key *k = NULL;
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!t)
			return NULL;
		k = schema_key(t, p, len);
		if (!k || !dot)
			return k;
		t = k->table;
		p = dot + 1;
	}
}

static toml_value str(const char *s)
{
	toml_value v = { .type = TOML_STRING, .str = s, .len = strlen(s) };
	return v;
}

static toml_value num(long long i)
{
	toml_value v = { .type = TOML_INTEGER, .i = i };
	return v;
}

static toml_value flt(double f)
{
	toml_value v = { .type = TOML_FLOAT, .f = f };
	return v;
}

static toml_value boolean(bool b)
{
	toml_value v = { .type = TOML_BOOL, .b = b };
	return v;
}

/* 0 or -EINVAL; the reason in why. */
static int check(const char *path, toml_value v, char *why, size_t len)
{
	const struct schema_key *k = key_at(path);
	if (!k) {
		snprintf(why, len, "no key %s", path);
		return -ENOENT;
	}
	return schema_check_value(k, &v, why, len);
}

static void ok(const char *path, toml_value v)
{
	char why[512] = "";
	int r = check(path, v, why, sizeof why);
	CHECK(r == 0, "%s: expected ok, got %d (%s)", path, r, why);
}

/* Must fail; when want is not NULL, the reason must equal it (or contain
 * it, when want starts with '~'). */
static void bad(const char *path, toml_value v, const char *want)
{
	char why[512] = "";
	int r = check(path, v, why, sizeof why);
	CHECK(r == -EINVAL, "%s: expected -EINVAL, got %d", path, r);
	CHECK(why[0], "%s: no reason given", path);
	if (want && want[0] == '~')
		CHECK(strstr(why, want + 1), "%s: reason \"%s\" lacks \"%s\"", path, why, want + 1);
	else if (want)
		CHECK(!strcmp(why, want), "%s: reason \"%s\", want \"%s\"", path, why, want);
}

static void test_lookups(void)
{
	const struct schema_table *root = schema_root();
	CHECK(root && !strcmp(root->path, ""), "root path");
	const struct schema_key *k = schema_key(root, "runners", 7);
	CHECK(k && k->kind == SK_ENTRIES && k->table && !strcmp(k->table->path, "runners"),
	      "runners");
	CHECK(schema_key(root, "runner", 6) == NULL, "prefix is not a match");
	CHECK(schema_key(root, "runnersX", 7) != NULL, "length is honoured");
	CHECK(schema_key(root, "Concurrent", 10) == NULL, "exact match only");
	static const char *const present[] = {
		"concurrent", "check_interval", "log_level", "log_format", "sentry_dsn",
		"connection_max_age", "listen_address", "shutdown_timeout", "user", "labels",
		"session_server.listen_address", "session_server.advertise_address",
		"session_server.session_timeout", "machine.shutdown_drain.retry_backoff",
		"runners.tls-ca-file", "runners.tls-cert-file", "runners.tls-key-file",
		"runners.unhealthy_interval", "runners.feature_flags", "runners.labels",
		"runners.custom_build_dir.enabled", "runners.artifact.upload_timeout",
		"runners.referees.metrics.queries",
		"runners.monitoring.job_queuing_durations.threshold",
		"runners.experimental.boot_verify.acquire_max_backoff",
		"runners.instance.use_common_build_dir",
		"runners.docker.image", "runners.docker.ipcmode", "runners.docker.pull_policy",
		"runners.docker.services.alias", "runners.docker.services_devices",
		"runners.docker.log_options", "runners.docker.volume_driver_ops",
		"runners.docker.ulimit", "runners.docker.sysctls", "runners.docker.tmpfs",
		"runners.docker.services_tmpfs", "runners.docker.container_labels",
		"runners.cache.Type", "runners.cache.MaxUploadedArchiveSize",
		"runners.cache.s3.AuthenticationType", "runners.cache.gcs.CredentialsFile",
		"runners.cache.azure.StorageDomain", "runners.ssh.port",
		"runners.custom.run_exec", "runners.machine.MachineOptionsWithName",
		"runners.machine.autoscaling.IdleScaleFactor",
		"runners.autoscaler.plugin_config", "runners.autoscaler.connector_config.password",
		"runners.autoscaler.policy.preemptive_mode", "runners.autoscaler.scale_throttle.burst",
		"runners.autoscaler.state_storage.dir",
		"runners.autoscaler.vm_isolation.connector_config.key_path",
		"runners.kubernetes.bearer_token", "runners.kubernetes.pod_memory_request",
		"runners.kubernetes.helper_ephemeral_storage_limit_overwrite_max_allowed",
		"runners.kubernetes.volumes.host_path.mount_path",
		"runners.kubernetes.pod_security_context.run_as_user",
		"runners.parallels.base_name", "runners.virtualbox.start_type",
	};
	for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
		CHECK(key_at(present[i]) != NULL, "missing key %s", present[i]);
}

/* ---- types ---- */

static void test_types(void)
{
	bad("runners.limit", str("4"), "\"4\" is a string; limit takes an integer");
	ok("runners.limit", num(4));
	bad("runners.limit", flt(4.0), "4 is a float; limit takes an integer");
	bad("runners.limit", boolean(true), "~is a boolean; limit takes an integer");
	bad("concurrent", str("4"), "\"4\" is a string; concurrent takes an integer");
	ok("runners.machine.IdleScaleFactor", num(2));
	ok("runners.machine.IdleScaleFactor", flt(1.5));
	bad("runners.machine.IdleScaleFactor", str("1.5"), "~takes a number");
	ok("runners.docker.privileged", boolean(false));
	bad("runners.docker.privileged", str("true"), "~takes a boolean");
	ok("runners.url", str("https://gitlab.com"));
	bad("runners.url", num(1), "1 is an integer; url takes a string");
	toml_value dt = { .type = TOML_DATETIME, .str = "2024-05-01T10:00:00Z", .len = 20 };
	ok("runners.token_obtained_at", dt);
	bad("runners.token_obtained_at", str("2024-05-01T10:00:00Z"), "~takes a date-time");
	/* durations: a Go duration string or an integer (nanoseconds) */
	ok("runners.unhealthy_interval", str("1h30m"));
	ok("runners.unhealthy_interval", num(3600));
	bad("runners.unhealthy_interval", flt(1.5), "~takes a duration");
	bad("runners.unhealthy_interval", str("15 minutes"), "~is not a duration");
	/* arrays: one call per element */
	ok("runners.docker.volumes", str("/cache"));
	bad("runners.docker.volumes", num(1), "1 is an integer; volumes takes an array of strings");
	ok("runners.kubernetes.pod_security_context.supplemental_groups", num(1000));
	bad("runners.kubernetes.pod_security_context.supplemental_groups", str("x"),
	    "~takes an array of integers");
	ok("runners.docker.pull_policy", str("always"));
	/* maps: the check is on their values */
	ok("runners.feature_flags", boolean(true));
	bad("runners.feature_flags", str("yes"),
	    "\"yes\" is a string; values of feature_flags are booleans");
	ok("runners.docker.services_devices", str("/dev/kvm"));
	ok("runners.autoscaler.plugin_config", num(3));
	ok("runners.autoscaler.plugin_config", str("x"));
	/* tables are not values */
	bad("runners.docker", str("x"), NULL);
	toml_value arr = { .type = TOML_ARRAY };
	bad("runners.limit", arr, "the value is an array; limit takes an integer");

	/* schema_toml_type, schema_is_array, schema_type_name */
	CHECK(schema_toml_type(key_at("concurrent")) == TOML_INTEGER, "int");
	CHECK(schema_toml_type(key_at("runners.url")) == TOML_STRING, "string");
	CHECK(schema_toml_type(key_at("runners.unhealthy_interval")) == TOML_STRING, "duration");
	CHECK(schema_toml_type(key_at("runners.docker.volumes")) == TOML_STRING, "strings");
	CHECK(schema_toml_type(key_at("runners.docker.pull_policy")) == TOML_STRING, "either");
	CHECK(schema_toml_type(key_at("runners.docker.privileged")) == TOML_BOOL, "bool");
	CHECK(schema_toml_type(key_at("runners.machine.IdleScaleFactor")) == TOML_FLOAT, "float");
	CHECK(schema_toml_type(key_at("runners.token_expires_at")) == TOML_DATETIME, "time");
	CHECK(schema_toml_type(key_at("runners.feature_flags")) == TOML_BOOL, "map values");
	CHECK(schema_toml_type(key_at("runners.docker")) == TOML_TABLE, "table");
	CHECK(schema_toml_type(key_at("runners")) == TOML_ARRAY, "entries");
	CHECK(schema_is_array(key_at("runners.docker.volumes")), "volumes is an array");
	CHECK(schema_is_array(key_at("runners.docker.pull_policy")), "pull_policy may be one");
	CHECK(schema_is_array(key_at("runners.docker.services_devices")), "device lists");
	CHECK(!schema_is_array(key_at("runners.docker.image")), "image is not");
	CHECK(!schema_is_array(key_at("runners")), "entries are not value arrays");
	CHECK(!strcmp(schema_type_name(SV_DURATION), "duration"), "type name");
	CHECK(!strcmp(schema_type_name(SV_STRINGS), "array of strings"), "type name");
	CHECK(!strcmp(schema_type_name(SV_STRING_OR_STRINGS), "string or array of strings"),
	      "type name");
}

/* ---- allowed values ---- */

static void test_allowed(void)
{
	static const char *const executors[] = {
		"shell", "docker", "docker-windows", "docker+machine", "docker-autoscaler",
		"instance", "kubernetes", "custom", "ssh", "parallels", "virtualbox",
	};
	for (size_t i = 0; i < sizeof executors / sizeof executors[0]; i++)
		ok("runners.executor", str(executors[i]));
	bad("runners.executor", str("dokcer"), "~is not one of: shell, docker,");
	bad("runners.executor", str(""), NULL);
	ok("runners.shell", str("pwsh"));
	ok("runners.shell", str(""));
	bad("runners.shell", str("zsh"), "~(or empty)");
	static const char *const levels[] = {
		"panic", "fatal", "error", "warn", "warning", "info", "debug",
	};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		ok("log_level", str(levels[i]));
	bad("log_level", str("verbose"), NULL);
	ok("log_format", str("json"));
	bad("log_format", str("xml"), "\"xml\" is not one of: runner, text, json");
	ok("runners.docker.pull_policy", str("if-not-present"));
	bad("runners.docker.pull_policy", str("fast"),
	    "\"fast\" is not one of: always, never, if-not-present");
	bad("runners.docker.allowed_pull_policies", str("sometimes"), NULL);
	ok("runners.docker.allowed_pull_policies", str("never"));
	ok("runners.cache.Type", str("s3"));
	ok("runners.cache.Type", str("azure"));
	bad("runners.cache.Type", str("S3"), "~(did you mean \"s3\"?)");
	/* the runner compares these two ignoring case */
	ok("runners.cache.s3.AuthenticationType", str("access-key"));
	ok("runners.cache.s3.AuthenticationType", str("IAM"));
	ok("runners.cache.s3.AuthenticationType", str(""));
	bad("runners.cache.s3.AuthenticationType", str("token"),
	    "\"token\" is not one of: iam, access-key");
	ok("runners.cache.s3.ServerSideEncryption", str("DSSE-KMS"));
	ok("runners.cache.s3.ServerSideEncryption", str("kms"));
	bad("runners.cache.s3.ServerSideEncryption", str("AES"), NULL);
	ok("runners.kubernetes.dns_policy", str("cluster-first-with-host-net"));
}

/* ---- hard rules ---- */

static void test_rules(void)
{
	bad("concurrent", num(0), "~at least 1");
	bad("concurrent", num(-3), "~at least 1");
	ok("concurrent", num(1));
	ok("concurrent", num(1000));

	/* labels: keys ^[a-zA-Z0-9_][a-zA-Z0-9._-]{2,64}$, values ^[a-zA-Z0-9._-]{1,256}$ */
	const struct schema_key *labels = key_at("labels");
	const struct schema_key *rlabels = key_at("runners.labels");
	CHECK(labels && labels->kind == SK_MAP && labels->key_rule, "labels map");
	CHECK(rlabels && rlabels->kind == SK_MAP && rlabels->key_rule, "runner labels map");
	char why[512];
	static const char *const good_keys[] = { "env", "_ab", "team.name", "a-b_c", "0xy",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde" /* 65 */ };
	static const char *const bad_keys[] = { "", "ab", ".ab", "-ab", "a b", "a/b", "ä_x",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdef" /* 66 */ };
	for (size_t i = 0; i < sizeof good_keys / sizeof good_keys[0]; i++)
		CHECK(labels->key_rule(good_keys[i], strlen(good_keys[i]), why, sizeof why) == 0,
		      "label key %s should pass", good_keys[i]);
	for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++)
		CHECK(labels->key_rule(bad_keys[i], strlen(bad_keys[i]), why, sizeof why) == -EINVAL,
		      "label key \"%s\" should fail", bad_keys[i]);
	ok("labels", str("prod"));
	ok("labels", str("1.2.3-rc_1"));
	ok("runners.labels", str("x"));
	bad("labels", str(""), "~label value");
	bad("labels", str("a b"), "~label value");
	bad("runners.labels", str("a:b"), "~label value");
	char longv[258];
	memset(longv, 'v', 257);
	longv[257] = '\0';
	bad("labels", str(longv), NULL);
	longv[256] = '\0';
	ok("labels", str(longv));

	/* %s in MachineName and each MachineOptionsWithName entry */
	ok("runners.machine.MachineName", str("runner-%s"));
	bad("runners.machine.MachineName", str("runner"), "~%s");
	ok("runners.machine.MachineName", str(""));
	ok("runners.machine.MachineOptionsWithName", str("name=%s"));
	bad("runners.machine.MachineOptionsWithName", str("secret-key=hunter2"), "~%s");
	char w2[512];
	check("runners.machine.MachineOptionsWithName", str("secret-key=hunter2"), w2, sizeof w2);
	CHECK(!strstr(w2, "hunter2"), "machine options are not shown: %s", w2);

	/* Go durations */
	static const char *const good_durs[] = {
		"0", "-0", "+0", "15m", "1h30m", "1.5h", "300ms", "-1s", "+5s", "90s", "1us",
		"1\xc2\xb5s", "1\xce\xbcs", "2ns", ".5s", "5.s", "1h2m3s4ms5us6ns", "15m0s",
		"2562047h47m16.854775807s", "-2562047h47m16.854775808s", "0.000000001s",
		"1.00000000000000000000000001s",
	};
	static const char *const bad_durs[] = {
		"", "-", "15", "0.0", "00", "15 m", " 15m", "15m ", "1x", "h", ".s", ".", "1h-5m",
		"1hh", "1H", "1e3s", "9999999999999h", "2562047h47m16.854775808s", "1,5h",
		"15m\n",
	};
	for (size_t i = 0; i < sizeof good_durs / sizeof good_durs[0]; i++)
		ok("runners.unhealthy_interval", str(good_durs[i]));
	for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++)
		bad("runners.unhealthy_interval", str(bad_durs[i]), NULL);
	toml_value nul = { .type = TOML_STRING, .str = "1s\0", .len = 3 };
	bad("runners.unhealthy_interval", nul, NULL);
	ok("connection_max_age", str("15m0s"));
	ok("runners.autoscaler.policy.idle_time", str("20m0s"));

	/* feature flags: a name without FF_ is a warning (1), not an error */
	const struct schema_key *ff = key_at("runners.feature_flags");
	CHECK(ff && ff->key_rule && ff->key_rule("FF_X", 4, why, sizeof why) == 0, "FF_ ok");
	CHECK(ff && ff->key_rule && ff->key_rule("USE_FASTZIP", 11, why, sizeof why) == 1,
	      "no FF_: warning");
}

/* ---- did you mean ---- */

static void suggest(const char *table, const char *name, const char *want)
{
	const struct schema_table *t = *table ? key_at(table)->table : schema_root();
	const char *s = schema_suggest(t, name, strlen(name));
	if (want)
		CHECK(s && !strcmp(s, want), "suggest(%s, %s) = %s, want %s", table, name,
		      s ? s : "NULL", want);
	else
		CHECK(s == NULL, "suggest(%s, %s) = %s, want nothing", table, name, s);
}

static void test_suggest(void)
{
	suggest("runners.cache", "type", "Type");
	suggest("runners.cache", "TYPE", "Type");
	suggest("runners.cache.s3", "accesskey", "AccessKey");
	suggest("runners.cache.s3", "AcessKey", "AccessKey");
	suggest("runners.docker", "imagee", "image");
	suggest("runners.docker", "imgae", "image");
	suggest("runners.docker", "privilegd", "privileged");
	suggest("runners.docker", "pull-policy", "pull_policy");
	suggest("runners.docker", "Image", "image");
	suggest("", "concurent", "concurrent");
	suggest("", "runner", "runners");
	suggest("", "check_intervall", "check_interval");
	suggest("runners", "tls_ca_file", "tls-ca-file");
	suggest("runners", "excutor", "executor");
	suggest("runners.machine", "idlecount", "IdleCount");
	suggest("runners.machine", "MachineOption", "MachineOptions");
	suggest("runners.docker", "xyz", NULL);
	suggest("runners.docker", "completely_unrelated_name", NULL);
	suggest("", "x", NULL);
	suggest("", "", NULL);
}

/* ---- flags ---- */

static void test_flags(void)
{
	static const char *const secrets[] = {
		"sentry_dsn", "runners.token", "runners.environment",
		"runners.cache.s3.AccessKey", "runners.cache.s3.SecretKey",
		"runners.cache.s3.SessionToken", "runners.cache.gcs.PrivateKey",
		"runners.cache.azure.AccountKey", "runners.ssh.password",
		"runners.kubernetes.bearer_token", "runners.autoscaler.connector_config.password",
		"runners.autoscaler.vm_isolation.connector_config.password",
		"runners.machine.MachineOptions", "runners.docker.services.environment",
	};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		const struct schema_key *k = key_at(secrets[i]);
		CHECK(k && (k->flags & SF_SECRET), "%s must be secret", secrets[i]);
	}
	static const char *const plain[] = {
		"concurrent", "runners.url", "runners.name", "runners.tls-key-file",
		"runners.docker.image", "runners.cache.s3.BucketName", "runners.ssh.identity_file",
		"runners.cache.gcs.CredentialsFile", "runners.executor", "runners.docker.volumes",
	};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		const struct schema_key *k = key_at(plain[i]);
		CHECK(k && !(k->flags & SF_SECRET), "%s must not be secret", plain[i]);
	}
	static const char *const restart[] = {
		"listen_address", "session_server", "session_server.listen_address",
		"session_server.advertise_address", "session_server.session_timeout",
		"runners.autoscaler", "runners.autoscaler.plugin", "runners.autoscaler.max_instances",
		"runners.autoscaler.plugin_config", "runners.autoscaler.connector_config.username",
	};
	for (size_t i = 0; i < sizeof restart / sizeof restart[0]; i++) {
		const struct schema_key *k = key_at(restart[i]);
		CHECK(k && (k->flags & SF_RESTART), "%s must need a restart", restart[i]);
	}
	static const char *const live[] = {
		"concurrent", "runners.limit", "runners.autoscaler.policy",
		"runners.autoscaler.policy.idle_count", "runners.docker.image",
	};
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
		const struct schema_key *k = key_at(live[i]);
		CHECK(k && !(k->flags & SF_RESTART), "%s is reloaded live", live[i]);
	}
	/* A type error on a secret never shows the value. */
	char why[512];
	check("runners.token", num(123456789), why, sizeof why);
	CHECK(!strstr(why, "123456789") && strstr(why, "the value"), "secret shown: %s", why);
}

/* ---- the data itself ---- */

struct walk_state {
	int tables;
	const char *paths[256];
};

static void walk_fn(void *arg, const struct schema_table *t)
{
	struct walk_state *w = arg;
	for (int i = 0; i < w->tables && i < 256; i++)
		CHECK(strcmp(w->paths[i], t->path), "table %s walked twice", t->path);
	if (w->tables < 256)
		w->paths[w->tables] = t->path;
	w->tables++;
	CHECK(t->nkeys > 0, "table %s has no keys", t->path);
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct schema_key *k = &t->keys[i];
		CHECK(k->name && *k->name, "nameless key in %s", t->path);
		CHECK(schema_key(t, k->name, strlen(k->name)) == k, "%s.%s defined twice", t->path,
		      k->name);
		CHECK(k->doc && *k->doc, "%s.%s has no doc", t->path, k->name);
		if (k->doc && *k->doc) {
			size_t n = strlen(k->doc);
			CHECK(k->doc[n - 1] != '.', "%s.%s: doc ends in a period", t->path, k->name);
			CHECK(!strchr(k->doc, '\n'), "%s.%s: doc is one line", t->path, k->name);
		}
		bool has_table = k->kind == SK_TABLE || k->kind == SK_ENTRIES;
		CHECK(has_table == (k->table != NULL), "%s.%s: table pointer", t->path, k->name);
		CHECK(has_table == (k->type == SV_NONE), "%s.%s: type of a table", t->path, k->name);
		if (has_table && k->table) {
			char want[300];
			snprintf(want, sizeof want, "%s%s%s", t->path, *t->path ? "." : "", k->name);
			CHECK(!strcmp(k->table->path, want), "%s: path %s", want, k->table->path);
		}
		CHECK(!k->key_rule || k->kind == SK_MAP, "%s.%s: key_rule off a map", t->path,
		      k->name);
		if (k->allowed) {
			CHECK(k->type == SV_STRING || k->type == SV_STRINGS ||
			      k->type == SV_STRING_OR_STRINGS, "%s.%s: allowed on a non-string",
			      t->path, k->name);
			/* the default, if any, is allowed */
			if (k->def) {
				bool found = false;
				for (const char *const *a = k->allowed; *a; a++)
					found |= !strcmp(*a, k->def);
				CHECK(found, "%s.%s: default %s not allowed", t->path, k->name, k->def);
			}
		}
		/* a default must pass the key's own check */
		if (k->def && k->kind == SK_VALUE && k->def[0] != '$') {
			toml_value v;
			toml_error err;
			int r = toml_value_parse(schema_toml_type(k), k->def, strlen(k->def), &v, &err);
			char why[512] = "";
			if (r == 0 && k->type != SV_ANY)
				r = schema_check_value(k, &v, why, sizeof why);
			CHECK(r == 0 || k->type == SV_ANY, "%s.%s: default %s does not fit (%s)",
			      t->path, k->name, k->def, why);
		}
	}
}

static void test_data(void)
{
	struct walk_state w = { 0 };
	schema_walk(walk_fn, &w);
	CHECK(w.tables >= 50, "only %d tables", w.tables);
	CHECK(w.tables > 0 && !strcmp(w.paths[0], ""), "the root comes first");
}

/* ---- schema_check_doc ---- */

struct problem {
	int severity, line;
	char path[256], msg[600];
};

struct problems {
	int n;
	struct problem p[64];
};

static void collect(void *arg, int severity, int line, const char *path, const char *msg)
{
	struct problems *ps = arg;
	if (ps->n < 64) {
		struct problem *p = &ps->p[ps->n];
		p->severity = severity;
		p->line = line;
		snprintf(p->path, sizeof p->path, "%s", path);
		snprintf(p->msg, sizeof p->msg, "%s", msg);
	}
	ps->n++;
}

static int check_text(const char *text, struct problems *ps)
{
	toml_doc *doc;
	toml_error err;
	memset(ps, 0, sizeof *ps);
	if (toml_parse(text, strlen(text), &doc, &err) < 0) {
		CHECK(0, "does not parse: %s\n%s", err.msg, text);
		return -1;
	}
	int errors = schema_check_doc(doc, collect, ps);
	toml_free(doc);
	int counted = 0;
	for (int i = 0; i < ps->n && i < 64; i++)
		counted += ps->p[i].severity == 2;
	CHECK(counted == errors, "returned %d errors, reported %d", errors, counted);
	return errors;
}

static void dump(const struct problems *ps)
{
	for (int i = 0; i < ps->n && i < 64; i++)
		fprintf(stderr, "    %d line %d %s: %s\n", ps->p[i].severity, ps->p[i].line,
			ps->p[i].path, ps->p[i].msg);
}

/* The document has exactly one problem, of this severity, line, path and
 * message (a message starting with '~' need only be contained). */
static void one(const char *text, int severity, int line, const char *path, const char *msg)
{
	struct problems ps;
	check_text(text, &ps);
	bool good = ps.n == 1 && ps.p[0].severity == severity && ps.p[0].line == line &&
		    !strcmp(ps.p[0].path, path) &&
		    (msg[0] == '~' ? strstr(ps.p[0].msg, msg + 1) != NULL : !strcmp(ps.p[0].msg, msg));
	CHECK(good, "want one problem %d line %d %s: %s, got %d in:\n%s", severity, line, path,
	      msg, ps.n, text);
	if (!good)
		dump(&ps);
}

static void none(const char *text)
{
	struct problems ps;
	check_text(text, &ps);
	CHECK(ps.n == 0, "want no problems, got %d in:\n%s", ps.n, text);
	if (ps.n)
		dump(&ps);
}

static void test_check_doc(void)
{
	none("");
	none("concurrent = 4\ncheck_interval = 0\n[session_server]\nsession_timeout = 1800\n"
	     "[[runners]]\nname = \"a\"\nurl = \"https://x\"\ntoken = \"t\"\nexecutor = \"docker\"\n"
	     "[runners.docker]\nimage = \"alpine\"\npull_policy = \"always\"\n"
	     "[[runners.docker.services]]\nname = \"postgres\"\n");
	one("concurrent = 0\n", 2, 1, "concurrent", "~at least 1");
	one("concurrent = \"4\"\n", 2, 1, "concurrent",
	    "\"4\" is a string; concurrent takes an integer");
	one("[[runners]]\nlimit = \"4\"\n", 2, 2, "runners[0].limit",
	    "\"4\" is a string; limit takes an integer");
	one("[[runners]]\n[[runners]]\n[runners.docker]\nimagee = \"x\"\n", 1, 4,
	    "runners[1].docker.imagee", "unknown key; did you mean \"image\"?");
	one("[[runners]]\n[runners.cache]\ntype = \"s3\"\n", 1, 3, "runners[0].cache.type",
	    "~did you mean \"Type\"?");
	/* the runner reads `type` as Type, so its value is checked too */
	{
		struct problems ps;
		int e = check_text("[[runners]]\n[runners.cache]\ntype = \"minio\"\n", &ps);
		CHECK(e == 1 && ps.n == 2, "case-folded key is still checked (%d, %d)", e, ps.n);
	}
	one("[[runners]]\n[[runners.docker]]\nimage = \"x\"\n", 2, 2, "runners[0].docker",
	    "~write [runners.docker], not [[runners.docker]]");
	one("[runners]\nname = \"x\"\n", 2, 1, "runners",
	    "~write [[runners]], not [runners]");
	one("runners = \"x\"\n", 2, 1, "runners", "~array of tables");
	one("[[runners]]\ndocker = \"x\"\n", 2, 2, "runners[0].docker", "~docker is a table");
	one("[[runners]]\n[runners.docker]\npull_policy = [\"always\", \"fast\"]\n", 2, 3,
	    "runners[0].docker.pull_policy[1]",
	    "\"fast\" is not one of: always, never, if-not-present");
	none("[[runners]]\n[runners.docker]\npull_policy = [\"always\", \"if-not-present\"]\n");
	one("[[runners]]\n[runners.docker]\npull_policy = 1\n", 2, 3,
	    "runners[0].docker.pull_policy", "~takes a string or an array of strings");
	one("[[runners]]\n[runners.docker]\nvolumes = \"/cache\"\n", 2, 3,
	    "runners[0].docker.volumes",
	    "\"/cache\" is a string; volumes takes an array of strings");
	one("[[runners]]\n[runners.docker]\nvolumes = [\"/cache\", 2]\n", 2, 3,
	    "runners[0].docker.volumes[1]", "2 is an integer; volumes takes an array of strings");
	one("[[runners]]\nenvironment = \"PASSWORD=hunter2\"\n", 2, 2, "runners[0].environment",
	    "the value is a string; environment takes an array of strings");
	one("[[runners]]\ntoken = 42\n", 2, 2, "runners[0].token",
	    "the value is an integer; token takes a string");
	/* unknown tables: one warning, no descent */
	one("[[runners]]\n[runners.foo]\nx = 1\ny = 2\n[runners.foo.bar]\nz = 3\n", 1, 2,
	    "runners[0].foo", "unknown table (the runner ignores it)");
	one("[[runners]]\n[runners.foo.bar]\nz = 3\n", 1, 2, "runners[0].foo",
	    "unknown table (the runner ignores it)");
	one("[[runners]]\n[[runners.dockerr]]\n", 1, 2, "runners[0].dockerr",
	    "unknown array of tables; did you mean \"docker\"?");
	one("foo = 1\n", 1, 1, "foo", "unknown key (the runner ignores it)");
	/* maps */
	none("[[runners]]\n[runners.feature_flags]\nFF_USE_FASTZIP = true\n"
	     "[runners.docker.sysctls]\n\"net.ipv4.ip_forward\" = \"1\"\n"
	     "[runners.docker.services_devices]\n\"gitlab/*\" = [\"/dev/kvm\"]\n"
	     "[runners.autoscaler.plugin_config]\nname = \"x\"\nn = 3\nnested = { a = [1] }\n");
	one("[[runners]]\n[runners.feature_flags]\nUSE_FASTZIP = true\n", 1, 3,
	    "runners[0].feature_flags.USE_FASTZIP", "~start with FF_");
	one("[[runners]]\n[runners.feature_flags]\nFF_X = \"yes\"\n", 2, 3,
	    "runners[0].feature_flags.FF_X", "~values of feature_flags are booleans");
	one("[[runners]]\n[runners.docker.sysctls]\n\"net.core.somaxconn\" = 1024\n", 2, 3,
	    "runners[0].docker.sysctls.\"net.core.somaxconn\"", "~values of sysctls are strings");
	one("[[runners]]\nfeature_flags = true\n", 2, 2, "runners[0].feature_flags",
	    "~feature_flags is a table of keys");
	one("[[runners]]\n[runners.docker.log_options]\nmax-size = \"10m\"\n", 1, 3,
	    "runners[0].docker.log_options.max-size", "~only env and labels");
	/* labels */
	none("[labels]\nteam = \"ci\"\n[[runners]]\n[runners.labels]\nenv = \"prod\"\n");
	one("[labels]\nab = \"ci\"\n", 2, 2, "labels.ab", "~label name \"ab\"");
	one("[[runners]]\nlabels = { env = \"a b\" }\n", 2, 2, "runners[0].labels.env",
	    "~label value \"a b\"");
	{
		char text[4096] = "[labels]\n";
		for (int i = 0; i < 33; i++)
			snprintf(text + strlen(text), sizeof text - strlen(text), "key%02d = \"v\"\n", i);
		one(text, 2, 1, "labels", "33 labels; the runner allows at most 32");
		/* 20 global + 13 runner (1 overlapping): 32, fine; one more: 33 */
		char t2[4096] = "[labels]\n";
		for (int i = 0; i < 20; i++)
			snprintf(t2 + strlen(t2), sizeof t2 - strlen(t2), "key%02d = \"v\"\n", i);
		strcat(t2, "[[runners]]\n[runners.labels]\n");
		for (int i = 19; i < 32; i++)
			snprintf(t2 + strlen(t2), sizeof t2 - strlen(t2), "key%02d = \"w\"\n", i);
		none(t2);
		strcat(t2, "key99 = \"w\"\n");
		one(t2, 2, 23, "runners[0].labels",
		    "33 labels with the global ones; the runner allows at most 32");
	}
	/* %s */
	one("[[runners]]\n[runners.machine]\nMachineName = \"runner\"\n", 2, 3,
	    "runners[0].machine.MachineName", "~must contain %s");
	one("[[runners]]\n[runners.machine]\nMachineOptionsWithName = [\"a=%s\", \"key=hunter2\"]\n",
	    2, 3, "runners[0].machine.MachineOptionsWithName[1]", "~must contain %s");
	/* durations */
	one("connection_max_age = \"15 min\"\n", 2, 1, "connection_max_age", "~is not a duration");
	none("connection_max_age = \"15m0s\"\n");
	one("[[runners]]\nunhealthy_interval = 3600\n", 1, 2, "runners[0].unhealthy_interval",
	    "3600 is read as nanoseconds; write a duration string such as \"3600s\"");
	one("[[runners]]\nunhealthy_interval = 3600000000000\n", 1, 2, "runners[0].unhealthy_interval",
	    "3600000000000 is read as nanoseconds (3600s); write \"3600s\"");
	/* arrays of numbers that have no type of their own */
	none("[[runners]]\n[runners.autoscaler]\ninstance_operation_time_buckets = [1, 5.5, 30]\n");
	one("[[runners]]\n[runners.autoscaler]\ninstance_operation_time_buckets = [1, \"5\"]\n", 2,
	    3, "runners[0].autoscaler.instance_operation_time_buckets[1]", "~takes numbers");
	/* inline tables and dotted keys are tables too */
	none("[[runners]]\ndocker.image = \"x\"\ncache = { Type = \"s3\", s3 = { BucketName = \"b\" } }\n");
	one("[[runners]]\ncache = { Type = \"s4\" }\n", 2, 2, "runners[0].cache.Type", "~not one of");
	/* entries given as an inline array of tables */
	none("[[runners]]\n[runners.docker]\nservices = [{ name = \"redis\" }, { name = \"pg\" }]\n");
	one("[[runners]]\n[runners.docker]\nservices = [\"redis\"]\n", 2, 3,
	    "runners[0].docker.services[0]", "~takes tables");
	/* datetimes */
	none("[[runners]]\ntoken_obtained_at = 2024-05-01T10:00:00Z\n"
	     "token_expires_at = 0001-01-01T00:00:00Z\n");
	one("[[runners]]\ntoken_expires_at = \"2024-05-01\"\n", 2, 2, "runners[0].token_expires_at",
	    "~takes a date-time");
	/* quoted keys in paths */
	one("[[runners]]\n\"we ird\" = 1\n", 1, 2, "runners[0].\"we ird\"", "~unknown key");
	/* several problems come in document order */
	{
		struct problems ps;
		int e = check_text("concurrent = 0\nlog_level = \"loud\"\nfoo = 1\n[[runners]]\n"
				   "limit = true\nexecutor = \"dockr\"\n", &ps);
		CHECK(e == 4 && ps.n == 5, "several: %d errors, %d problems", e, ps.n);
		for (int i = 1; i < ps.n && i < 64; i++)
			CHECK(ps.p[i].line >= ps.p[i - 1].line, "order: line %d after %d",
			      ps.p[i].line, ps.p[i - 1].line);
	}
	CHECK(schema_check_doc(NULL, collect, NULL) == 0, "NULL document");
}

/* Every fixture: no errors. */
static void test_fixtures(const char *dir)
{
	DIR *d = opendir(dir);
	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 5, ".toml"))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		CHECK(f != NULL, "cannot open %s", path);
		if (!f)
			continue;
		static char text[1 << 20];
		size_t got = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		toml_doc *doc;
		toml_error err;
		if (toml_parse(text, got, &doc, &err) < 0) {
			CHECK(0, "%s does not parse: %s", path, err.msg);
			continue;
		}
		struct problems ps = { 0 };
		int e = schema_check_doc(doc, collect, &ps);
		toml_free(doc);
		CHECK(e == 0, "%s: %d errors", de->d_name, e);
		if (e)
			dump(&ps);
		n++;
	}
	closedir(d);
	CHECK(n >= 10, "only %d fixtures", n);
}

int main(int argc, char **argv)
{
	t_case("lookups");
	test_lookups();
	t_case("types");
	test_types();
	t_case("allowed values");
	test_allowed();
	t_case("the runner's hard rules");
	test_rules();
	t_case("did you mean");
	test_suggest();
	t_case("flags");
	test_flags();
	t_case("the data is consistent");
	test_data();
	t_case("schema_check_doc on small documents");
	test_check_doc();
	t_case("every fixture: no errors");
	if (argc > 1)
		test_fixtures(argv[1]);
	else
		t_skip("no fixtures directory given");
	return t_done();
}
