/* SPDX-License-Identifier: MIT */
/*
 * schema: GitLab Runner's config.toml keys, as data, and the checks that
 * read it (include/runnerfs/schema.h).
 *
 * The first half of this file is the data: one `struct schema_table` per
 * table the runner reads, written from ../shared/reference/
 * gitlab-runner-config.md section 1 (and, for the executor tables the
 * reference names without types, the runner's Go structs). The second half
 * is the logic: lookups, "did you mean", value checks, Go duration parsing
 * and the whole-document check behind `runnerfs --check`.
 *
 * Conventions the callers rely on:
 *   - For an SK_MAP key, `type`, `rule`, schema_check_value(),
 *     schema_toml_type() and schema_is_array() describe the map's values
 *     (a person writes values, never the map as a whole).
 *   - SV_ANY keys take any TOML value, a table included; if they have a
 *     rule it is applied to every scalar (and every scalar element).
 *   - key_rule may return 1 instead of -EINVAL: the key is accepted but
 *     looks wrong (a feature flag without FF_); schema_check_doc() reports
 *     it as a warning.
 *   - No message ever contains the value of an SF_SECRET key.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/schema.h"

/* ------------------------------------------------------------------ */
/* hard rules (defined below, referenced by the data)                 */

static int rule_concurrent(const toml_value *v, char *why, size_t whylen);
static int rule_label_value(const toml_value *v, char *why, size_t whylen);
static int rule_has_percent_s(const toml_value *v, char *why, size_t whylen);
static int rule_machine_name(const toml_value *v, char *why, size_t whylen);
static int rule_s3_auth(const toml_value *v, char *why, size_t whylen);
static int rule_s3_encryption(const toml_value *v, char *why, size_t whylen);
static int rule_number(const toml_value *v, char *why, size_t whylen);
static int key_rule_label(const char *key, size_t len, char *why, size_t whylen);
static int key_rule_feature_flag(const char *key, size_t len, char *why, size_t whylen);
static int key_rule_log_options(const char *key, size_t len, char *why, size_t whylen);

/* ------------------------------------------------------------------ */
/* the data                                                           */

#define STR SV_STRING
#define INT SV_INT
#define FLT SV_FLOAT
#define BOOL SV_BOOL
#define TIME SV_DATETIME
#define DUR SV_DURATION
#define STRS SV_STRINGS
#define INTS SV_INTS
#define ANY SV_ANY
#define SECRET SF_SECRET
#define RESTART SF_RESTART

/* A value: name, type, flags, allowed values, default, doc. */
#define V(n_, t_, f_, al_, def_, doc_) \
	{ .name = n_, .kind = SK_VALUE, .type = t_, .flags = f_, .allowed = al_, \
	  .def = def_, .doc = doc_ }
/* A value with a hard rule. */
#define VR(n_, t_, f_, al_, def_, doc_, rule_) \
	{ .name = n_, .kind = SK_VALUE, .type = t_, .flags = f_, .allowed = al_, \
	  .def = def_, .doc = doc_, .rule = rule_ }
/* [a.b] */
#define T(n_, f_, tab_, doc_) \
	{ .name = n_, .kind = SK_TABLE, .type = SV_NONE, .flags = f_, .doc = doc_, \
	  .table = &tab_ }
/* [[a.b]] */
#define E(n_, f_, tab_, doc_) \
	{ .name = n_, .kind = SK_ENTRIES, .type = SV_NONE, .flags = f_, .doc = doc_, \
	  .table = &tab_ }
/* A table of free keys whose values all have type t_. */
#define M(n_, t_, f_, doc_, rule_, key_rule_) \
	{ .name = n_, .kind = SK_MAP, .type = t_, .flags = f_, .doc = doc_, \
	  .rule = rule_, .key_rule = key_rule_ }

#define TABLE(var_, path_, keys_) \
	static const struct schema_table var_ = { path_, keys_, \
						  sizeof(keys_) / sizeof((keys_)[0]) }

static const char *const executors[] = {
	"shell", "docker", "docker-windows", "docker+machine", "docker-autoscaler",
	"instance", "kubernetes", "custom", "ssh", "parallels", "virtualbox", NULL,
};
/* "" everywhere below: an empty string is the same as leaving the key out. */
static const char *const shells[] = { "bash", "sh", "pwsh", "powershell", "cmd", "", NULL };
static const char *const log_levels[] = {
	"panic", "fatal", "error", "warn", "warning", "info", "debug", NULL,
};
static const char *const log_formats[] = { "runner", "text", "json", NULL };
static const char *const pull_policies[] = { "always", "never", "if-not-present", NULL };
static const char *const k8s_pull_policies[] = { "always", "never", "if-not-present", "", NULL };
static const char *const cache_types[] = { "s3", "gcs", "azure", "", NULL };
/* The runner compares these two ignoring case, so they are rules, not
 * allowed lists (which are exact). */
static const char *const s3_auth_types[] = { "iam", "access-key", NULL };
static const char *const s3_encryptions[] = { "S3", "KMS", "DSSE-KMS", NULL };
static const char *const dns_policies[] = {
	"none", "default", "cluster-first", "cluster-first-with-host-net", "", NULL,
};
static const char *const patch_types[] = { "json", "merge", "strategic", "", NULL };

/* ---- global [machine] and [experimental] ---- */

static const struct schema_key shutdown_drain_keys[] = {
	V("enabled", BOOL, 0, NULL, "false", "Remove idle machines when the runner shuts down"),
	V("concurrency", INT, 0, NULL, "3", "Machines removed at once during the drain"),
	V("max_retries", INT, 0, NULL, "3", "Attempts to remove one machine"),
	V("retry_backoff", DUR, 0, NULL, "5s", "Wait between removal attempts"),
};
TABLE(shutdown_drain_table, "machine.shutdown_drain", shutdown_drain_keys);

static const struct schema_key global_machine_keys[] = {
	T("shutdown_drain", 0, shutdown_drain_table, "Idle-machine removal at shutdown (18.10+)"),
};
TABLE(global_machine_table, "machine", global_machine_keys);

static const struct schema_key logrotate_keys[] = {
	V("log_dir", STR, 0, NULL, NULL, "Directory of the usage log files"),
	V("max_backup_files", ANY, 0, NULL, NULL, "Rotated files kept"),
	V("max_rotation_age", ANY, 0, NULL, NULL, "Age after which a file is rotated"),
	V("labels", ANY, 0, NULL, NULL, "Labels added to every usage record"),
};
TABLE(logrotate_table, "experimental.usage_logger.logrotate", logrotate_keys);

static const struct schema_key snowplow_keys[] = {
	V("collector_uri", STR, 0, NULL, NULL, "Snowplow collector address"),
	V("app_id", STR, 0, NULL, NULL, "Snowplow application ID"),
	V("category", STR, 0, NULL, NULL, "Event category"),
	V("realm", STR, 0, NULL, NULL, "Billing realm"),
	V("deployment_type", STR, 0, NULL, NULL, "Deployment type reported with events"),
	V("metadata", ANY, 0, NULL, NULL, "Extra metadata sent with events"),
	V("enable_oidc", BOOL, 0, NULL, NULL, "Authenticate to the collector with OIDC"),
	V("batch_delivery_duration_buckets", ANY, 0, NULL, NULL, "Histogram buckets of batch delivery times"),
	V("skip_oidc_if_unsupported_cloud", BOOL, 0, NULL, NULL, "Skip OIDC where the cloud does not support it"),
	V("skip_runner_system_failure", BOOL, 0, NULL, NULL, "Do not bill jobs that failed with a runner system failure"),
};
TABLE(snowplow_table, "experimental.usage_logger.snowplow_billing", snowplow_keys);

static const struct schema_key usage_logger_keys[] = {
	V("enabled", BOOL, 0, NULL, "false", "Turn the usage logger on"),
	V("writers", STRS, 0, NULL, "logrotate", "Where usage records go"),
	T("logrotate", 0, logrotate_table, "Settings of the logrotate writer"),
	T("snowplow_billing", 0, snowplow_table, "Settings of the Snowplow billing writer"),
	V("log_dir", STR, 0, NULL, NULL, "Deprecated: use logrotate.log_dir"),
	V("max_backup_files", ANY, 0, NULL, NULL, "Deprecated: use logrotate.max_backup_files"),
	V("max_rotation_age", ANY, 0, NULL, NULL, "Deprecated: use logrotate.max_rotation_age"),
	V("labels", ANY, 0, NULL, NULL, "Deprecated: use logrotate.labels"),
};
TABLE(usage_logger_table, "experimental.usage_logger", usage_logger_keys);

static const struct schema_key global_experimental_keys[] = {
	T("usage_logger", 0, usage_logger_table, "Usage logging (internal, GitLab.com)"),
};
TABLE(global_experimental_table, "experimental", global_experimental_keys);

/* ---- [session_server] ---- */

static const struct schema_key session_server_keys[] = {
	V("listen_address", STR, RESTART, NULL, NULL, "Address the session server listens on"),
	V("advertise_address", STR, RESTART, NULL, NULL, "Address GitLab uses to reach the session server (default: listen_address)"),
	V("session_timeout", INT, RESTART, NULL, "1800", "Seconds a terminal session stays open after the job ends"),
};
TABLE(session_server_table, "session_server", session_server_keys);

/* ---- [runners.docker] ---- */

static const struct schema_key docker_services_keys[] = {
	V("name", STR, 0, NULL, NULL, "Image of the service"),
	V("alias", STR, 0, NULL, NULL, "Aliases of the service, separated by spaces or commas"),
	V("command", STRS, 0, NULL, NULL, "Replaces the container's CMD"),
	V("entrypoint", STRS, 0, NULL, NULL, "Replaces the container's ENTRYPOINT"),
	V("environment", STRS, SECRET, NULL, NULL, "K=V environment of the service"),
	V("suspend_data_path", STR, 0, NULL, NULL, "Data path kept when a Kubernetes job is suspended"),
};
TABLE(docker_services_table, "runners.docker.services", docker_services_keys);

static const struct schema_key docker_keys[] = {
	V("host", STR, 0, NULL, "$DOCKER_HOST", "Docker daemon endpoint"),
	V("tls_cert_path", STR, 0, NULL, NULL, "Directory with the daemon's TLS certificates"),
	V("tls_verify", BOOL, 0, NULL, "false", "Verify the daemon's TLS certificate"),
	V("image", STR, 0, NULL, NULL, "Image of jobs that name none"),
	V("hostname", STR, 0, NULL, NULL, "Hostname inside job containers"),
	V("runtime", STR, 0, NULL, NULL, "OCI runtime (runsc, nvidia, ...)"),
	V("memory", STR, 0, NULL, NULL, "Memory limit of the job container (\"128m\")"),
	V("memory_swap", STR, 0, NULL, NULL, "Memory plus swap limit of the job container"),
	V("memory_reservation", STR, 0, NULL, NULL, "Soft memory limit of the job container"),
	V("cgroup_parent", STR, 0, NULL, NULL, "Parent cgroup of the job container"),
	V("cpuset_cpus", STR, 0, NULL, NULL, "CPUs the job container may use"),
	V("cpuset_mems", STR, 0, NULL, NULL, "Memory nodes the job container may use"),
	V("cpus", STR, 0, NULL, NULL, "CPU quota of the job container, may be fractional (\"1.5\")"),
	V("cpu_shares", INT, 0, NULL, "1024", "Relative CPU weight of the job container"),
	V("dns", STRS, 0, NULL, NULL, "DNS servers of the containers"),
	V("dns_search", STRS, 0, NULL, NULL, "DNS search domains of the containers"),
	V("extra_hosts", STRS, 0, NULL, NULL, "Extra /etc/hosts entries (host:ip)"),
	V("privileged", BOOL, 0, NULL, "false", "Run job containers privileged"),
	V("services_privileged", BOOL, 0, NULL, NULL, "Run service containers privileged (default: privileged)"),
	V("disable_entrypoint_overwrite", BOOL, 0, NULL, "false", "Keep the image's ENTRYPOINT"),
	V("user", STR, 0, NULL, NULL, "User that job commands run as"),
	V("allowed_users", STRS, 0, NULL, NULL, "Users a job may ask to run as"),
	V("group_add", STRS, 0, NULL, NULL, "Extra groups of the container user"),
	V("userns_mode", STR, 0, NULL, NULL, "User namespace mode"),
	V("cap_add", STRS, 0, NULL, NULL, "Linux capabilities to add"),
	V("cap_drop", STRS, 0, NULL, NULL, "Linux capabilities to drop"),
	V("oom_kill_disable", BOOL, 0, NULL, "false", "Turn off the OOM killer for job containers"),
	V("oom_score_adjust", INT, 0, NULL, "0", "OOM score adjustment"),
	V("security_opt", STRS, 0, NULL, NULL, "--security-opt values of job containers"),
	V("services_security_opt", STRS, 0, NULL, NULL, "--security-opt values of service containers"),
	V("devices", STRS, 0, NULL, NULL, "Host devices mapped into job containers"),
	V("device_cgroup_rules", STRS, 0, NULL, NULL, "Device cgroup rules"),
	M("services_devices", STRS, 0, "Image glob to the devices mapped into matching services", NULL, NULL),
	V("gpus", STR, 0, NULL, NULL, "GPUs of job containers (\"all\")"),
	V("service_gpus", STR, 0, NULL, NULL, "GPUs of service containers"),
	V("disable_cache", BOOL, 0, NULL, "false", "Turn off the automatic local cache volumes"),
	V("cache_dir", STR, 0, NULL, NULL, "Host directory of Docker cache volumes"),
	V("volumes", STRS, 0, NULL, NULL, "Extra volumes and bind mounts (-v)"),
	V("volume_keep", BOOL, 0, NULL, "false", "Keep volumes when containers are removed"),
	V("volume_driver", STR, 0, NULL, NULL, "Volume driver"),
	M("volume_driver_ops", STR, 0, "Options of the volume driver", NULL, NULL),
	V("volumes_from", STRS, 0, NULL, NULL, "Containers to inherit volumes from"),
	V("network_mode", STR, 0, NULL, NULL, "Network of the containers (host, a network name, ...)"),
	V("network_mtu", INT, 0, NULL, "0", "MTU of the per-job network (FF_NETWORK_PER_BUILD)"),
	V("enable_ipv6", BOOL, 0, NULL, "false", "IPv6 on per-job networks"),
	V("pid_mode", STR, 0, NULL, NULL, "PID namespace mode"),
	V("ipcmode", STR, 0, NULL, NULL, "IPC mode"),
	V("mac_address", STR, 0, NULL, NULL, "MAC address of job containers"),
	V("links", STRS, 0, NULL, NULL, "Legacy container links"),
	E("services", 0, docker_services_table, "Services started with every job"),
	V("services_limit", INT, 0, NULL, "-1", "Most services per job (-1: no limit)"),
	V("service_memory", STR, 0, NULL, NULL, "Memory limit of service containers"),
	V("service_memory_swap", STR, 0, NULL, NULL, "Memory plus swap limit of service containers"),
	V("service_memory_reservation", STR, 0, NULL, NULL, "Soft memory limit of service containers"),
	V("service_cpus", STR, 0, NULL, NULL, "CPU quota of service containers"),
	V("service_cpuset_cpus", STR, 0, NULL, NULL, "CPUs service containers may use"),
	V("service_cpu_shares", INT, 0, NULL, NULL, "Relative CPU weight of service containers"),
	V("service_cgroup_parent", STR, 0, NULL, NULL, "Parent cgroup of service containers"),
	V("service_slot_cgroup_template", STR, 0, NULL, NULL, "Slot cgroup name pattern of service containers"),
	V("wait_for_services_timeout", INT, 0, NULL, "30", "Seconds to wait for services to be healthy (-1: don't wait)"),
	V("allowed_images", STRS, 0, NULL, NULL, "Globs of the images jobs may use (none: any)"),
	V("allowed_services", STRS, 0, NULL, NULL, "Globs of the services jobs may use (none: any)"),
	V("allowed_privileged_images", STRS, 0, NULL, NULL, "Images that may run privileged"),
	V("allowed_privileged_services", STRS, 0, NULL, NULL, "Services that may run privileged"),
	V("allowed_pull_policies", STRS, 0, pull_policies, NULL, "Pull policies a job may ask for (default: pull_policy)"),
	V("pull_policy", SV_STRING_OR_STRINGS, 0, pull_policies, "always", "When images are pulled, one policy or several in order"),
	V("helper_image", STR, 0, NULL, NULL, "Replaces the helper image"),
	V("helper_image_flavor", STR, 0, NULL, "alpine", "Base distribution of the helper image"),
	V("isolation", STR, 0, NULL, NULL, "Windows isolation mode"),
	V("shm_size", INT, 0, NULL, "0", "Size of /dev/shm in bytes"),
	M("tmpfs", STR, 0, "Container path to tmpfs mount options, job containers", NULL, NULL),
	M("services_tmpfs", STR, 0, "Container path to tmpfs mount options, service containers", NULL, NULL),
	M("sysctls", STR, 0, "Sysctls set in the containers", NULL, NULL),
	M("ulimit", STR, 0, "Limit name to \"soft[:hard]\"", NULL, NULL),
	M("container_labels", STR, 0, "Labels added to the containers ($VAR expanded)", NULL, NULL),
	M("log_options", STR, 0, "Options of the json-file log driver (env and labels only)", NULL, key_rule_log_options),
};
TABLE(docker_table, "runners.docker", docker_keys);

/* ---- [runners.cache] ---- */

static const struct schema_key s3_keys[] = {
	V("ServerAddress", STR, 0, NULL, NULL, "S3 endpoint, host[:port]"),
	V("AccessKey", STR, SECRET, NULL, NULL, "S3 access key ID"),
	V("SecretKey", STR, SECRET, NULL, NULL, "S3 secret access key"),
	V("SessionToken", STR, SECRET, NULL, NULL, "STS session token"),
	V("BucketName", STR, 0, NULL, NULL, "Bucket of the cache"),
	V("BucketLocation", STR, 0, NULL, NULL, "Region of the bucket"),
	V("Insecure", BOOL, 0, NULL, "false", "Use plain HTTP"),
	VR("AuthenticationType", STR, 0, NULL, NULL, "How to authenticate: iam or access-key, any case (default: access-key with address and keys, else iam)", rule_s3_auth),
	VR("ServerSideEncryption", STR, 0, NULL, NULL, "Server-side encryption: S3, KMS or DSSE-KMS, any case", rule_s3_encryption),
	V("ServerSideEncryptionKeyID", STR, 0, NULL, NULL, "KMS key of server-side encryption"),
	V("DualStack", BOOL, 0, NULL, "true", "Use IPv4 and IPv6 endpoints"),
	V("PathStyle", BOOL, 0, NULL, NULL, "Use path-style bucket URLs (default: detected)"),
	V("Accelerate", BOOL, 0, NULL, "false", "Use S3 Transfer Acceleration"),
	V("RoleARN", STR, 0, NULL, NULL, "Role assumed for transfers"),
	V("UploadRoleARN", STR, 0, NULL, NULL, "Deprecated: use RoleARN"),
	V("AssumeRoleMaxConcurrency", INT, 0, NULL, "5", "Most AssumeRole calls at once (-1: no limit)"),
	V("DisableAssumeRoleCredentialsCaching", BOOL, 0, NULL, "false", "Don't cache assumed-role credentials"),
};
TABLE(s3_table, "runners.cache.s3", s3_keys);

static const struct schema_key gcs_keys[] = {
	V("AccessID", STR, 0, NULL, NULL, "Service account email"),
	V("PrivateKey", STR, SECRET, NULL, NULL, "Service account private key (PEM)"),
	V("CredentialsFile", STR, 0, NULL, NULL, "Service account JSON key file (wins over AccessID and PrivateKey)"),
	V("BucketName", STR, 0, NULL, NULL, "Bucket of the cache"),
	V("UniverseDomain", STR, 0, NULL, "googleapis.com", "GCP universe domain"),
};
TABLE(gcs_table, "runners.cache.gcs", gcs_keys);

static const struct schema_key azure_keys[] = {
	V("AccountName", STR, 0, NULL, NULL, "Storage account"),
	V("AccountKey", STR, SECRET, NULL, NULL, "Storage account key"),
	V("ContainerName", STR, 0, NULL, NULL, "Blob container of the cache"),
	V("StorageDomain", STR, 0, NULL, "blob.core.windows.net", "Blob endpoint domain"),
};
TABLE(azure_table, "runners.cache.azure", azure_keys);

static const struct schema_key cache_keys[] = {
	V("Type", STR, 0, cache_types, NULL, "Cache backend"),
	V("Path", STR, 0, NULL, NULL, "Prefix of cache object names"),
	V("Shared", BOOL, 0, NULL, "false", "Share the cache between runners"),
	V("MaxUploadedArchiveSize", INT, 0, NULL, "0", "Largest cache archive uploaded, in bytes (0: no limit)"),
	T("s3", 0, s3_table, "S3 backend"),
	T("gcs", 0, gcs_table, "Google Cloud Storage backend"),
	T("azure", 0, azure_table, "Azure Blob Storage backend"),
};
TABLE(cache_table, "runners.cache", cache_keys);

/* ---- [runners.ssh], [runners.custom], [runners.parallels], [runners.virtualbox] ---- */

static const struct schema_key ssh_keys[] = {
	V("host", STR, 0, NULL, NULL, "SSH host"),
	V("port", STR, 0, NULL, "22", "SSH port (a string)"),
	V("user", STR, 0, NULL, NULL, "Login user"),
	V("password", STR, SECRET, NULL, NULL, "Login password"),
	V("identity_file", STR, 0, NULL, NULL, "Private key file (not encrypted)"),
	V("disable_strict_host_key_checking", BOOL, 0, NULL, "false", "Don't verify the host key"),
	V("known_hosts_file", STR, 0, NULL, "~/.ssh/known_hosts", "Known hosts file"),
};
TABLE(ssh_table, "runners.ssh", ssh_keys);

static const struct schema_key custom_keys[] = {
	V("config_exec", STR, 0, NULL, NULL, "Program that returns executor settings"),
	V("config_args", STRS, 0, NULL, NULL, "Arguments of config_exec"),
	V("config_exec_timeout", INT, 0, NULL, "3600", "Seconds config_exec may run"),
	V("prepare_exec", STR, 0, NULL, NULL, "Program that prepares the environment"),
	V("prepare_args", STRS, 0, NULL, NULL, "Arguments of prepare_exec"),
	V("prepare_exec_timeout", INT, 0, NULL, "3600", "Seconds prepare_exec may run"),
	V("run_exec", STR, 0, NULL, NULL, "Program that runs the job scripts (required)"),
	V("run_args", STRS, 0, NULL, NULL, "Arguments of run_exec"),
	V("cleanup_exec", STR, 0, NULL, NULL, "Program that cleans up after the job"),
	V("cleanup_args", STRS, 0, NULL, NULL, "Arguments of cleanup_exec"),
	V("cleanup_exec_timeout", INT, 0, NULL, "3600", "Seconds cleanup_exec may run"),
	V("graceful_kill_timeout", INT, 0, NULL, "600", "Seconds between SIGTERM and SIGKILL"),
	V("force_kill_timeout", INT, 0, NULL, "600", "Seconds after SIGKILL before the process is given up"),
};
TABLE(custom_table, "runners.custom", custom_keys);

static const struct schema_key parallels_keys[] = {
	V("base_name", STR, 0, NULL, NULL, "VM cloned for jobs"),
	V("template_name", STR, 0, NULL, NULL, "Name of the VM template created"),
	V("disable_snapshots", BOOL, 0, NULL, "false", "Don't snapshot (faster VM creation)"),
	V("time_server", STR, 0, NULL, "time.apple.com", "Time server of the guests"),
	V("allowed_images", STRS, 0, NULL, NULL, "base_name values a job may ask for"),
};
TABLE(parallels_table, "runners.parallels", parallels_keys);

static const struct schema_key virtualbox_keys[] = {
	V("base_name", STR, 0, NULL, NULL, "VM cloned for jobs"),
	V("base_snapshot", STR, 0, NULL, NULL, "Snapshot of the VM to clone"),
	V("base_folder", STR, 0, NULL, NULL, "Folder of the new VMs"),
	V("disable_snapshots", BOOL, 0, NULL, "false", "Don't snapshot (faster VM creation)"),
	V("allowed_images", STRS, 0, NULL, NULL, "base_name values a job may ask for"),
	V("start_type", STR, 0, NULL, NULL, "Graphical front end of the VM"),
};
TABLE(virtualbox_table, "runners.virtualbox", virtualbox_keys);

/* ---- [runners.machine] (docker+machine; CamelCase keys) ---- */

static const struct schema_key machine_autoscaling_keys[] = {
	V("Periods", STRS, 0, NULL, NULL, "Cron periods this entry applies in"),
	V("Timezone", STR, 0, NULL, "Local", "Time zone of Periods"),
	V("IdleCount", INT, 0, NULL, NULL, "Idle machines kept in these periods"),
	V("IdleScaleFactor", FLT, 0, NULL, "0.0", "Idle machines as a factor of machines in use"),
	V("IdleCountMin", INT, 0, NULL, "1", "Fewest idle machines when IdleScaleFactor is used"),
	V("IdleTime", INT, 0, NULL, NULL, "Seconds a machine may stay idle in these periods"),
};
TABLE(machine_autoscaling_table, "runners.machine.autoscaling", machine_autoscaling_keys);

static const struct schema_key machine_keys[] = {
	V("MaxGrowthRate", INT, 0, NULL, "0", "Most machines created at once (0: no limit)"),
	V("IdleCount", INT, 0, NULL, NULL, "Idle machines kept"),
	V("IdleScaleFactor", FLT, 0, NULL, "0.0", "Idle machines as a factor of machines in use"),
	V("IdleCountMin", INT, 0, NULL, "1", "Fewest idle machines when IdleScaleFactor is used"),
	V("IdleTime", INT, 0, NULL, NULL, "Seconds a machine may stay idle"),
	V("MaxBuilds", INT, 0, NULL, NULL, "Jobs after which a machine is removed"),
	V("MachineDriver", STR, 0, NULL, NULL, "Docker Machine driver"),
	VR("MachineName", STR, 0, NULL, NULL, "Machine name pattern, must contain %s", rule_machine_name),
	V("MachineOptions", STRS, SECRET, NULL, NULL, "Driver options (often cloud credentials)"),
	VR("MachineOptionsWithName", STRS, 0, NULL, NULL, "Driver options that name the machine, each must contain %s", rule_has_percent_s),
	V("MaxRemovalAttempts", INT, 0, NULL, NULL, "Attempts to remove a machine"),
	V("OffPeakPeriods", STRS, 0, NULL, NULL, "Deprecated: use autoscaling"),
	V("OffPeakTimezone", STR, 0, NULL, NULL, "Deprecated: use autoscaling"),
	V("OffPeakIdleCount", INT, 0, NULL, NULL, "Deprecated: use autoscaling"),
	V("OffPeakIdleTime", INT, 0, NULL, NULL, "Deprecated: use autoscaling"),
	E("autoscaling", 0, machine_autoscaling_table, "Idle settings by time period (the last match wins)"),
};
TABLE(machine_table, "runners.machine", machine_keys);

/* ---- [runners.autoscaler] (instance, docker-autoscaler; read at start) ---- */

static const struct schema_key connector_keys[] = {
	V("os", STR, RESTART, NULL, NULL, "Operating system of the instances"),
	V("arch", STR, RESTART, NULL, NULL, "Architecture of the instances"),
	V("protocol", STR, RESTART, NULL, NULL, "Protocol used to reach the instances (ssh, winrm)"),
	V("protocol_port", INT, RESTART, NULL, NULL, "Port of that protocol"),
	V("username", STR, RESTART, NULL, NULL, "Login user"),
	V("password", STR, SECRET | RESTART, NULL, NULL, "Login password"),
	V("key_path", STR, RESTART, NULL, NULL, "Private key file"),
	V("use_static_credentials", BOOL, RESTART, NULL, "false", "Use these credentials, not the plugin's"),
	V("keepalive", DUR, RESTART, NULL, NULL, "Keep-alive interval of the connection"),
	V("timeout", DUR, RESTART, NULL, NULL, "Connection timeout"),
	V("use_external_addr", BOOL, RESTART, NULL, "false", "Connect to the external address"),
};
TABLE(autoscaler_connector_table, "runners.autoscaler.connector_config", connector_keys);
TABLE(vm_isolation_connector_table, "runners.autoscaler.vm_isolation.connector_config",
      connector_keys);

static const struct schema_key autoscaler_policy_keys[] = {
	V("periods", STRS, 0, NULL, "* * * * *", "Cron periods this policy applies in"),
	V("timezone", STR, 0, NULL, NULL, "Time zone of periods"),
	V("idle_count", INT, 0, NULL, NULL, "Idle capacity kept"),
	V("idle_time", DUR, 0, NULL, NULL, "How long an instance may stay idle"),
	V("scale_factor", FLT, 0, NULL, NULL, "Idle capacity as a factor of capacity in use"),
	V("scale_factor_limit", INT, 0, NULL, NULL, "Most idle capacity scale_factor may ask for"),
	V("preemptive_mode", BOOL, 0, NULL, NULL, "Ask for jobs only with idle capacity (default: idle_count > 0)"),
};
TABLE(autoscaler_policy_table, "runners.autoscaler.policy", autoscaler_policy_keys);

static const struct schema_key scale_throttle_keys[] = {
	V("limit", INT, RESTART, NULL, NULL, "Instances created per second"),
	V("burst", INT, RESTART, NULL, NULL, "Burst of instance creations"),
};
TABLE(scale_throttle_table, "runners.autoscaler.scale_throttle", scale_throttle_keys);

static const struct schema_key state_storage_keys[] = {
	V("enabled", BOOL, RESTART, NULL, "false", "Keep instance state across restarts"),
	V("dir", STR, RESTART, NULL, NULL, "Directory of the state"),
	V("keep_instance_with_acquisitions", BOOL, RESTART, NULL, "false", "Keep instances that still had jobs"),
};
TABLE(state_storage_table, "runners.autoscaler.state_storage", state_storage_keys);

static const struct schema_key vm_isolation_keys[] = {
	V("enabled", BOOL, RESTART, NULL, "false", "Run jobs in nested VMs"),
	V("nesting_host", STR, RESTART, NULL, NULL, "Address of the nesting daemon"),
	M("nesting_config", ANY, RESTART, "Settings passed to nesting", NULL, NULL),
	V("image", STR, RESTART, NULL, NULL, "Default VM image"),
	T("connector_config", RESTART, vm_isolation_connector_table, "How to reach the nested VMs"),
};
TABLE(vm_isolation_table, "runners.autoscaler.vm_isolation", vm_isolation_keys);

static const struct schema_key autoscaler_keys[] = {
	V("capacity_per_instance", INT, RESTART, NULL, NULL, "Jobs one instance runs at once"),
	V("max_use_count", INT, RESTART, NULL, NULL, "Jobs after which an instance is removed"),
	V("max_instances", INT, RESTART, NULL, NULL, "Most instances"),
	V("plugin", STR, RESTART, NULL, NULL, "Fleeting plugin"),
	V("instance_ready_command", STR, RESTART, NULL, NULL, "Command that must succeed before an instance is used"),
	V("instance_acquire_timeout", DUR, RESTART, NULL, NULL, "How long to wait for an instance"),
	V("update_interval", DUR, RESTART, NULL, NULL, "How often instance state is refreshed"),
	V("update_interval_when_expecting", DUR, RESTART, NULL, NULL, "Refresh interval while instances are expected"),
	V("deletion_retry_interval", DUR, RESTART, NULL, NULL, "Wait between deletion attempts"),
	V("shutdown_deletion_interval", DUR, RESTART, NULL, NULL, "Wait between deletions at shutdown"),
	V("shutdown_deletion_retries", INT, RESTART, NULL, NULL, "Deletion attempts at shutdown"),
	V("failure_threshold", INT, RESTART, NULL, NULL, "Failures after which an instance is replaced"),
	V("reservation_throttling", BOOL, RESTART, NULL, NULL, "Throttle reservations"),
	V("log_internal_ip", BOOL, RESTART, NULL, "false", "Log the instances' internal addresses"),
	V("log_external_ip", BOOL, RESTART, NULL, "false", "Log the instances' external addresses"),
	V("delete_instances_on_shutdown", BOOL, RESTART, NULL, "false", "Delete every instance at shutdown"),
	VR("instance_operation_time_buckets", ANY, RESTART, NULL, NULL, "Histogram buckets (seconds) of instance operations", rule_number),
	VR("instance_creation_time_buckets", ANY, RESTART, NULL, NULL, "Histogram buckets of instance creation", rule_number),
	VR("instance_is_running_time_buckets", ANY, RESTART, NULL, NULL, "Histogram buckets of instance start", rule_number),
	VR("instance_deletion_time_buckets", ANY, RESTART, NULL, NULL, "Histogram buckets of instance deletion", rule_number),
	VR("instance_readiness_time_buckets", ANY, RESTART, NULL, NULL, "Histogram buckets of instance readiness", rule_number),
	VR("instance_life_duration_buckets", ANY, RESTART, NULL, NULL, "Histogram buckets of instance lifetimes", rule_number),
	M("plugin_config", ANY, RESTART, "Plugin settings, passed to the plugin as JSON", NULL, NULL),
	T("connector_config", RESTART, autoscaler_connector_table, "How to reach the instances"),
	E("policy", 0, autoscaler_policy_table, "Idle capacity by time period (reloaded live)"),
	T("scale_throttle", RESTART, scale_throttle_table, "Rate limit of instance creation"),
	T("state_storage", RESTART, state_storage_table, "Instance state on disk"),
	T("vm_isolation", RESTART, vm_isolation_table, "Nested VMs"),
};
TABLE(autoscaler_table, "runners.autoscaler", autoscaler_keys);

/* ---- [runners.kubernetes] ---- */

static const struct schema_key k8s_pod_security_keys[] = {
	V("fs_group", INT, 0, NULL, NULL, "Supplemental group of every container"),
	V("run_as_group", INT, 0, NULL, NULL, "GID of the container processes"),
	V("run_as_non_root", BOOL, 0, NULL, NULL, "Containers must run as a non-root user"),
	V("run_as_user", INT, 0, NULL, NULL, "UID of the container processes"),
	V("supplemental_groups", INTS, 0, NULL, NULL, "Extra groups of the first process"),
	V("selinux_type", STR, 0, NULL, NULL, "SELinux type of the pod"),
};
TABLE(k8s_pod_security_table, "runners.kubernetes.pod_security_context", k8s_pod_security_keys);

static const struct schema_key k8s_capabilities_keys[] = {
	V("add", STRS, 0, NULL, NULL, "Capabilities to add"),
	V("drop", STRS, 0, NULL, NULL, "Capabilities to drop"),
};
TABLE(k8s_init_caps_table, "runners.kubernetes.init_permissions_container_security_context.capabilities", k8s_capabilities_keys);
TABLE(k8s_build_caps_table, "runners.kubernetes.build_container_security_context.capabilities", k8s_capabilities_keys);
TABLE(k8s_helper_caps_table, "runners.kubernetes.helper_container_security_context.capabilities", k8s_capabilities_keys);
TABLE(k8s_service_caps_table, "runners.kubernetes.service_container_security_context.capabilities", k8s_capabilities_keys);

#define K8S_CONTAINER_SECURITY_KEYS(caps_) \
	T("capabilities", 0, caps_, "Capabilities to add and drop"), \
	V("privileged", BOOL, 0, NULL, NULL, "Run the container privileged"), \
	V("run_as_user", INT, 0, NULL, NULL, "UID of the container process"), \
	V("run_as_group", INT, 0, NULL, NULL, "GID of the container process"), \
	V("run_as_non_root", BOOL, 0, NULL, NULL, "The container must run as a non-root user"), \
	V("read_only_root_filesystem", BOOL, 0, NULL, NULL, "Mount the root filesystem read-only"), \
	V("allow_privilege_escalation", BOOL, 0, NULL, NULL, "Processes may gain more privileges than their parent"), \
	V("selinux_type", STR, 0, NULL, NULL, "SELinux type of the container"), \
	V("proc_mount", STR, 0, NULL, NULL, "Type of /proc mount (default, unmasked)")

static const struct schema_key k8s_init_security_keys[] = { K8S_CONTAINER_SECURITY_KEYS(k8s_init_caps_table) };
static const struct schema_key k8s_build_security_keys[] = { K8S_CONTAINER_SECURITY_KEYS(k8s_build_caps_table) };
static const struct schema_key k8s_helper_security_keys[] = { K8S_CONTAINER_SECURITY_KEYS(k8s_helper_caps_table) };
static const struct schema_key k8s_service_security_keys[] = { K8S_CONTAINER_SECURITY_KEYS(k8s_service_caps_table) };
TABLE(k8s_init_security_table, "runners.kubernetes.init_permissions_container_security_context", k8s_init_security_keys);
TABLE(k8s_build_security_table, "runners.kubernetes.build_container_security_context", k8s_build_security_keys);
TABLE(k8s_helper_security_table, "runners.kubernetes.helper_container_security_context", k8s_helper_security_keys);
TABLE(k8s_service_security_table, "runners.kubernetes.service_container_security_context", k8s_service_security_keys);

#define K8S_VOLUME_KEYS \
	V("name", STR, 0, NULL, NULL, "Name of the volume"), \
	V("mount_path", STR, 0, NULL, NULL, "Where the volume is mounted in the container"), \
	V("sub_path", STR, 0, NULL, NULL, "Sub-path of the volume to mount")

static const struct schema_key k8s_host_path_keys[] = {
	K8S_VOLUME_KEYS,
	V("read_only", BOOL, 0, NULL, "false", "Mount read-only"),
	V("host_path", STR, 0, NULL, NULL, "Host path to mount"),
};
TABLE(k8s_host_path_table, "runners.kubernetes.volumes.host_path", k8s_host_path_keys);

static const struct schema_key k8s_pvc_keys[] = {
	K8S_VOLUME_KEYS,
	V("read_only", BOOL, 0, NULL, "false", "Mount read-only"),
};
TABLE(k8s_pvc_table, "runners.kubernetes.volumes.pvc", k8s_pvc_keys);

static const struct schema_key k8s_config_map_keys[] = {
	K8S_VOLUME_KEYS,
	V("read_only", BOOL, 0, NULL, "false", "Mount read-only"),
	M("items", STR, 0, "Key to path of the keys to use", NULL, NULL),
};
TABLE(k8s_config_map_table, "runners.kubernetes.volumes.config_map", k8s_config_map_keys);
TABLE(k8s_secret_table, "runners.kubernetes.volumes.secret", k8s_config_map_keys);

static const struct schema_key k8s_empty_dir_keys[] = {
	K8S_VOLUME_KEYS,
	V("medium", STR, 0, NULL, NULL, "\"Memory\" for a tmpfs"),
	V("size_limit", STR, 0, NULL, NULL, "Size limit of the volume"),
};
TABLE(k8s_empty_dir_table, "runners.kubernetes.volumes.empty_dir", k8s_empty_dir_keys);

static const struct schema_key k8s_csi_keys[] = {
	K8S_VOLUME_KEYS,
	V("driver", STR, 0, NULL, NULL, "CSI driver"),
	V("fs_type", STR, 0, NULL, NULL, "Filesystem type"),
	V("read_only", BOOL, 0, NULL, "false", "Mount read-only"),
	M("volume_attributes", STR, 0, "Attributes of the CSI volume", NULL, NULL),
};
TABLE(k8s_csi_table, "runners.kubernetes.volumes.csi", k8s_csi_keys);

static const struct schema_key k8s_volumes_keys[] = {
	E("host_path", 0, k8s_host_path_table, "Host paths mounted into the build pod"),
	E("pvc", 0, k8s_pvc_table, "Persistent volume claims mounted"),
	E("config_map", 0, k8s_config_map_table, "Config maps mounted"),
	E("secret", 0, k8s_secret_table, "Secrets mounted"),
	E("empty_dir", 0, k8s_empty_dir_table, "Empty directories mounted"),
	E("csi", 0, k8s_csi_table, "CSI volumes mounted"),
	V("nfs", ANY, 0, NULL, NULL, "NFS volumes mounted"),
};
TABLE(k8s_volumes_table, "runners.kubernetes.volumes", k8s_volumes_keys);

static const struct schema_key k8s_host_aliases_keys[] = {
	V("ip", STR, 0, NULL, NULL, "Address"),
	V("hostnames", STRS, 0, NULL, NULL, "Host names of the address"),
};
TABLE(k8s_host_aliases_table, "runners.kubernetes.host_aliases", k8s_host_aliases_keys);
TABLE(k8s_services_table, "runners.kubernetes.services", docker_services_keys);

static const struct schema_key k8s_dns_option_keys[] = {
	V("name", STR, 0, NULL, NULL, "Option name"),
	V("value", STR, 0, NULL, NULL, "Option value"),
};
TABLE(k8s_dns_option_table, "runners.kubernetes.dns_config.options", k8s_dns_option_keys);

static const struct schema_key k8s_dns_config_keys[] = {
	V("nameservers", STRS, 0, NULL, NULL, "DNS servers of the pod"),
	V("searches", STRS, 0, NULL, NULL, "DNS search domains of the pod"),
	E("options", 0, k8s_dns_option_table, "resolv.conf options"),
};
TABLE(k8s_dns_config_table, "runners.kubernetes.dns_config", k8s_dns_config_keys);

static const struct schema_key k8s_pod_spec_keys[] = {
	V("name", STR, 0, NULL, NULL, "Name of the patch"),
	V("patch_path", STR, 0, NULL, NULL, "File holding the patch"),
	V("patch", STR, 0, NULL, NULL, "The patch (YAML or JSON)"),
	V("patch_type", STR, 0, patch_types, "strategic", "Kind of patch"),
};
TABLE(k8s_pod_spec_table, "runners.kubernetes.pod_spec", k8s_pod_spec_keys);

static const struct schema_key k8s_autoscaler_keys[] = {
	V("max_pause_pods", INT, 0, NULL, NULL, "Most pause pods"),
	V("pause_pod_image", STR, 0, NULL, NULL, "Image of the pause pods"),
	V("pause_pod_priority_class_name", STR, 0, NULL, NULL, "Priority class of the pause pods"),
	V("policy", ANY, 0, NULL, NULL, "Pause pods by time period"),
	V("pause_pod_image_pull_secrets", STRS, 0, NULL, NULL, "Pull secrets of the pause pod image"),
};
TABLE(k8s_autoscaler_table, "runners.kubernetes.autoscaler", k8s_autoscaler_keys);

/* {,service_,helper_,pod_}{cpu,memory}_{limit,request} and
 * {,service_,helper_}ephemeral_storage_{limit,request}, each with its
 * _overwrite_max_allowed. */
#define K8S_RESOURCE(p_, what_, who_) \
	V(p_ "_limit", STR, 0, NULL, NULL, what_ " limit of " who_), \
	V(p_ "_limit_overwrite_max_allowed", STR, 0, NULL, NULL, "Largest " what_ " limit a job may ask for, " who_), \
	V(p_ "_request", STR, 0, NULL, NULL, what_ " request of " who_), \
	V(p_ "_request_overwrite_max_allowed", STR, 0, NULL, NULL, "Largest " what_ " request a job may ask for, " who_)

static const struct schema_key kubernetes_keys[] = {
	V("host", STR, 0, NULL, NULL, "API server URL (default: in-cluster or kubeconfig)"),
	V("context", STR, 0, NULL, NULL, "kubeconfig context used when host is not set"),
	V("cert_file", STR, 0, NULL, NULL, "Client certificate file"),
	V("key_file", STR, 0, NULL, NULL, "Client private key file"),
	V("ca_file", STR, 0, NULL, NULL, "CA certificate file"),
	V("bearer_token", STR, SECRET, NULL, NULL, "Service account token that starts build pods"),
	V("bearer_token_overwrite_allowed", BOOL, 0, NULL, "false", "Jobs may give their own bearer token"),
	V("image", STR, 0, NULL, NULL, "Image of jobs that name none"),
	V("namespace", STR, 0, NULL, NULL, "Namespace of the build pods"),
	V("namespace_overwrite_allowed", STR, 0, NULL, NULL, "Regex of the namespaces a job may ask for"),
	V("namespace_per_job", BOOL, 0, NULL, "false", "A namespace of its own for each job"),
	V("privileged", BOOL, 0, NULL, NULL, "Run containers privileged"),
	V("runtime_class_name", STR, 0, NULL, NULL, "Runtime class of the build pods"),
	V("allow_privilege_escalation", BOOL, 0, NULL, NULL, "allowPrivilegeEscalation of the containers"),
	K8S_RESOURCE("cpu", "CPU", "build containers"),
	K8S_RESOURCE("memory", "Memory", "build containers"),
	K8S_RESOURCE("ephemeral_storage", "Ephemeral storage", "build containers"),
	K8S_RESOURCE("service_cpu", "CPU", "service containers"),
	K8S_RESOURCE("service_memory", "Memory", "service containers"),
	K8S_RESOURCE("service_ephemeral_storage", "Ephemeral storage", "service containers"),
	K8S_RESOURCE("helper_cpu", "CPU", "helper containers"),
	K8S_RESOURCE("helper_memory", "Memory", "helper containers"),
	K8S_RESOURCE("helper_ephemeral_storage", "Ephemeral storage", "helper containers"),
	K8S_RESOURCE("pod_cpu", "CPU", "the whole pod"),
	K8S_RESOURCE("pod_memory", "Memory", "the whole pod"),
	V("allowed_images", STRS, 0, NULL, NULL, "Globs of the images jobs may use (none: any)"),
	V("allowed_pull_policies", STRS, 0, k8s_pull_policies, NULL, "Pull policies a job may ask for (default: pull_policy)"),
	V("allowed_services", STRS, 0, NULL, NULL, "Globs of the services jobs may use (none: any)"),
	V("allowed_users", STRS, 0, NULL, NULL, "Users a job may ask to run as"),
	V("allowed_groups", STRS, 0, NULL, NULL, "Groups a job may ask to run as"),
	V("pull_policy", SV_STRING_OR_STRINGS, 0, k8s_pull_policies, NULL, "When images are pulled (default: the cluster's)"),
	M("node_selector", STR, 0, "Node labels the build pods must match", NULL, NULL),
	V("node_selector_overwrite_allowed", STR, 0, NULL, NULL, "Regex of the node selectors a job may ask for"),
	M("node_tolerations", STR, 0, "\"key=value\" or \"key\" to the taint effect tolerated", NULL, NULL),
	V("node_tolerations_overwrite_allowed", STR, 0, NULL, NULL, "Regex of the tolerations a job may ask for"),
	V("affinity", ANY, 0, NULL, NULL, "Node and pod affinity of the build pods"),
	V("image_pull_secrets", STRS, 0, NULL, NULL, "Secrets used to pull images"),
	V("use_service_account_image_pull_secrets", BOOL, 0, NULL, "false", "Use the service account's pull secrets"),
	V("helper_image", STR, 0, NULL, NULL, "Replaces the helper image"),
	V("helper_image_flavor", STR, 0, NULL, "alpine", "Base distribution of the helper image"),
	V("helper_image_autoset_arch_and_os", BOOL, 0, NULL, "false", "Pick the helper image for the node's OS and architecture"),
	V("terminationGracePeriodSeconds", INT, 0, NULL, NULL, "Deprecated: use pod_termination_grace_period_seconds"),
	V("pod_termination_grace_period_seconds", INT, 0, NULL, NULL, "Seconds the pod has to stop before it is killed"),
	V("cleanup_grace_period_seconds", INT, 0, NULL, NULL, "Seconds the pod has to stop at cleanup"),
	V("cleanup_resources_timeout", DUR, 0, NULL, "5m", "Time allowed to clean up resources after the job"),
	V("poll_interval", INT, 0, NULL, "3", "Seconds between pod status checks"),
	V("poll_timeout", INT, 0, NULL, "180", "Seconds to wait for a new pod"),
	V("resource_availability_check_max_attempts", INT, 0, NULL, "5", "Checks that the service account and pull secrets exist"),
	V("retry_limit", INT, 0, NULL, "5", "Attempts of each Kubernetes API request"),
	V("retry_backoff_max", INT, 0, NULL, "2000", "Longest wait between API retries, in milliseconds"),
	M("retry_limits", INT, 0, "Error message to its own retry count", NULL, NULL),
	M("pod_labels", STR, 0, "Labels of the build pods ($VAR expanded)", NULL, NULL),
	V("pod_labels_overwrite_allowed", STR, 0, NULL, NULL, "Regex of the pod labels a job may set"),
	V("scheduler_name", STR, 0, NULL, NULL, "Scheduler of the build pods"),
	V("service_account", STR, 0, NULL, NULL, "Service account of the build pods"),
	V("service_account_overwrite_allowed", STR, 0, NULL, NULL, "Regex of the service accounts a job may ask for"),
	V("automount_service_account_token", BOOL, 0, NULL, NULL, "Mount the service account token in the build pod"),
	M("pod_annotations", STR, 0, "Annotations of the build pods", NULL, NULL),
	V("pod_annotations_overwrite_allowed", STR, 0, NULL, NULL, "Regex of the pod annotations a job may set"),
	T("pod_security_context", 0, k8s_pod_security_table, "Security context of the build pod"),
	T("init_permissions_container_security_context", 0, k8s_init_security_table, "Security context of the init-permissions container"),
	T("build_container_security_context", 0, k8s_build_security_table, "Security context of the build container"),
	T("helper_container_security_context", 0, k8s_helper_security_table, "Security context of the helper container"),
	T("service_container_security_context", 0, k8s_service_security_table, "Security context of the service containers"),
	T("volumes", 0, k8s_volumes_table, "Volumes mounted into the build pod"),
	E("host_aliases", 0, k8s_host_aliases_table, "Extra /etc/hosts entries"),
	E("services", 0, k8s_services_table, "Services started with every job"),
	V("cap_add", STRS, 0, NULL, NULL, "Linux capabilities to add"),
	V("cap_drop", STRS, 0, NULL, NULL, "Linux capabilities to drop"),
	V("suspend_pvc_size", STR, 0, NULL, NULL, "Size of the claim kept for suspended jobs"),
	V("suspend_pvc_storage_class", STR, 0, NULL, NULL, "Storage class of that claim"),
	V("dns_policy", STR, 0, dns_policies, "cluster-first", "DNS policy of the build pods"),
	T("dns_config", 0, k8s_dns_config_table, "DNS settings of the build pods"),
	V("container_lifecycle", ANY, 0, NULL, NULL, "post_start and pre_stop hooks of the containers"),
	V("priority_class_name", STR, 0, NULL, NULL, "Priority class of the build pods"),
	E("pod_spec", 0, k8s_pod_spec_table, "Patches applied to the pod spec"),
	V("logs_base_dir", STR, 0, NULL, NULL, "Directory prepended to the build log path"),
	V("scripts_base_dir", STR, 0, NULL, NULL, "Directory prepended to the build scripts path"),
	V("print_pod_warning_events", BOOL, 0, NULL, "true", "Print the pod's warning events when a job fails"),
	V("pod_disruption_budget", ANY, 0, NULL, NULL, "Pod disruption budget of the build pods"),
	T("autoscaler", 0, k8s_autoscaler_table, "Pause pods that keep nodes warm"),
};
TABLE(kubernetes_table, "runners.kubernetes", kubernetes_keys);

/* ---- the rest of [[runners]] ---- */

static const struct schema_key custom_build_dir_keys[] = {
	V("enabled", BOOL, 0, NULL, NULL, "Jobs may choose their build directory (default: on for docker, kubernetes and instance executors)"),
};
TABLE(custom_build_dir_table, "runners.custom_build_dir", custom_build_dir_keys);

static const struct schema_key artifact_keys[] = {
	V("upload_timeout", DUR, 0, NULL, "1h", "Time allowed to upload artifacts"),
	V("response_header_timeout", DUR, 0, NULL, "10m", "Time allowed for the response to an upload"),
};
TABLE(artifact_table, "runners.artifact", artifact_keys);

static const struct schema_key referees_metrics_keys[] = {
	V("prometheus_address", STR, 0, NULL, NULL, "Prometheus server queried"),
	V("query_interval", INT, 0, NULL, NULL, "Seconds between queries"),
	V("queries", STRS, 0, NULL, NULL, "PromQL queries whose results are attached to the job"),
};
TABLE(referees_metrics_table, "runners.referees.metrics", referees_metrics_keys);

static const struct schema_key referees_keys[] = {
	T("metrics", 0, referees_metrics_table, "Metrics referee"),
};
TABLE(referees_table, "runners.referees", referees_keys);

static const struct schema_key job_queuing_keys[] = {
	V("periods", STRS, 0, NULL, NULL, "Cron periods this entry applies in"),
	V("timezone", STR, 0, NULL, NULL, "Time zone of periods"),
	V("threshold", DUR, 0, NULL, NULL, "Queuing time above which jobs are counted"),
	V("jobs_running_for_project", STR, 0, NULL, NULL, "Regex of the running-job counts this entry applies to"),
};
TABLE(job_queuing_table, "runners.monitoring.job_queuing_durations", job_queuing_keys);

static const struct schema_key monitoring_keys[] = {
	E("job_queuing_durations", 0, job_queuing_table, "Job queuing time thresholds"),
};
TABLE(monitoring_table, "runners.monitoring", monitoring_keys);

static const struct schema_key boot_verify_keys[] = {
	V("enabled", BOOL, 0, NULL, "false", "Check that new instances boot before using them"),
	V("timeout", DUR, 0, NULL, "5m", "Time allowed for the check"),
	V("acquire_min_backoff", DUR, 0, NULL, "1s", "Shortest wait between attempts"),
	V("acquire_max_backoff", DUR, 0, NULL, "10s", "Longest wait between attempts"),
};
TABLE(boot_verify_table, "runners.experimental.boot_verify", boot_verify_keys);

static const struct schema_key runner_experimental_keys[] = {
	T("boot_verify", 0, boot_verify_table, "Boot verification of instances (19.2+)"),
};
TABLE(runner_experimental_table, "runners.experimental", runner_experimental_keys);

static const struct schema_key instance_keys[] = {
	V("allowed_images", STRS, 0, NULL, NULL, "Images a job may ask for (with VM isolation)"),
	V("use_common_build_dir", BOOL, 0, NULL, "false", "Every job uses the same build directory"),
};
TABLE(instance_table, "runners.instance", instance_keys);

static const struct schema_key runner_keys[] = {
	V("name", STR, 0, NULL, NULL, "Description of the runner, local only"),
	V("url", STR, 0, NULL, NULL, "GitLab URL (required)"),
	V("id", INT, 0, NULL, "0", "Runner ID given by GitLab"),
	V("token", STR, SECRET, NULL, NULL, "Authentication token (required)"),
	V("token_obtained_at", TIME, 0, NULL, NULL, "When the token was obtained"),
	V("token_expires_at", TIME, 0, NULL, NULL, "When the token expires (0001-01-01T00:00:00Z: never)"),
	V("tls-ca-file", STR, 0, NULL, NULL, "CA certificates of GitLab's HTTPS"),
	V("tls-cert-file", STR, 0, NULL, NULL, "Client certificate for mutual TLS"),
	V("tls-key-file", STR, 0, NULL, NULL, "Client private key file for mutual TLS"),
	V("limit", INT, 0, NULL, "0", "Most jobs of this runner at once (0: no limit)"),
	V("output_limit", INT, 0, NULL, "4096", "Largest job log, in KB"),
	V("request_concurrency", INT, 0, NULL, "1", "Most job requests to GitLab at once"),
	V("strict_check_interval", BOOL, 0, NULL, "false", "Don't poll again right after receiving a job"),
	V("unhealthy_requests_limit", INT, 0, NULL, "3", "Failed job requests before the worker is disabled"),
	V("unhealthy_interval", DUR, 0, NULL, "60m", "How long a disabled worker stays disabled"),
	V("job_status_final_update_retry_limit", INT, 0, NULL, "10", "Attempts of the final job status update"),
	V("executor", STR, 0, executors, NULL, "How jobs run (required)"),
	V("shell", STR, 0, shells, NULL, "Shell of the job scripts (default: the platform's)"),
	V("builds_dir", STR, 0, NULL, NULL, "Where builds are checked out"),
	V("cache_dir", STR, 0, NULL, NULL, "Where local caches are kept"),
	V("clone_url", STR, 0, NULL, NULL, "Replaces the URL used to clone"),
	V("environment", STRS, SECRET, NULL, NULL, "K=V variables added to every job"),
	M("labels", STR, 0, "Labels of this runner (override the global ones)", rule_label_value, key_rule_label),
	V("proxy_exec", BOOL, 0, NULL, NULL, "Run jobs through the proxy helper (experimental)"),
	V("pre_get_sources_script", STR, 0, NULL, NULL, "Commands run before the sources are fetched"),
	V("post_get_sources_script", STR, 0, NULL, NULL, "Commands run after the sources are fetched"),
	V("pre_build_script", STR, 0, NULL, NULL, "Commands run before the job script"),
	V("post_build_script", STR, 0, NULL, NULL, "Commands run after the job script"),
	V("prepare_timeout", DUR, 0, NULL, NULL, "Time allowed to prepare the environment (default: the job timeout)"),
	V("get_sources_timeout", DUR, 0, NULL, NULL, "Time allowed to fetch the sources (default: the job timeout)"),
	V("debug_trace_disabled", BOOL, 0, NULL, "false", "Refuse CI_DEBUG_TRACE"),
	V("safe_directory_checkout", BOOL, 0, NULL, NULL, "Add the build directory to Git's safe.directory"),
	V("clean_git_config", BOOL, 0, NULL, "true", "Clean the Git configuration before and after the job"),
	V("use_slot_cgroups", BOOL, 0, NULL, "false", "Put each job slot in a cgroup of its own"),
	V("slot_cgroup_template", STR, 0, NULL, "gitlab-runner/slot-${slot}", "Name pattern of the slot cgroups"),
	V("step_runner_image", STR, 0, NULL, NULL, "Replaces the step-runner image"),
	M("feature_flags", BOOL, 0, "FF_* feature flags, fixed for every job", NULL, key_rule_feature_flag),
	T("custom_build_dir", 0, custom_build_dir_table, "Job-chosen build directories"),
	T("cache", 0, cache_table, "Distributed cache"),
	T("artifact", 0, artifact_table, "Artifact upload timeouts"),
	T("referees", 0, referees_table, "Extra data attached to jobs"),
	T("monitoring", 0, monitoring_table, "Job queuing metrics"),
	T("experimental", 0, runner_experimental_table, "Experimental settings"),
	T("instance", 0, instance_table, "Instance executor"),
	T("ssh", 0, ssh_table, "SSH executor (and the guest login of parallels and virtualbox)"),
	T("docker", 0, docker_table, "Docker executor"),
	T("parallels", 0, parallels_table, "Parallels executor"),
	T("virtualbox", 0, virtualbox_table, "VirtualBox executor"),
	T("machine", 0, machine_table, "Docker Machine autoscaling (docker+machine)"),
	T("kubernetes", 0, kubernetes_table, "Kubernetes executor"),
	T("custom", 0, custom_table, "Custom executor"),
	T("autoscaler", RESTART, autoscaler_table, "Fleeting autoscaler (instance, docker-autoscaler)"),
};
TABLE(runner_table, "runners", runner_keys);

/* ---- the root ---- */

static const struct schema_key root_keys[] = {
	VR("concurrent", INT, 0, NULL, "1", "Most jobs running at once across all runners (at least 1)", rule_concurrent),
	V("check_interval", INT, 0, NULL, "3", "Seconds between job requests of each runner (0: 3)"),
	V("log_level", STR, 0, log_levels, "info", "Log level"),
	V("log_format", STR, 0, log_formats, "runner", "Log format"),
	V("sentry_dsn", STR, SECRET, NULL, "$SENTRY_DSN", "Sentry DSN for error reports"),
	V("connection_max_age", DUR, 0, NULL, "15m", "Longest life of the keep-alive connection to GitLab"),
	V("listen_address", STR, RESTART, NULL, NULL, "Address of the metrics and debug HTTP server"),
	V("shutdown_timeout", INT, 0, NULL, "30", "Seconds the forceful shutdown may take"),
	V("user", STR, 0, NULL, NULL, "User jobs run as (normally set by run --user)"),
	M("labels", STR, 0, "Labels of every runner (at most 32)", rule_label_value, key_rule_label),
	T("session_server", RESTART, session_server_table, "Interactive web terminal server"),
	E("runners", 0, runner_table, "The runners, one entry each"),
	T("machine", 0, global_machine_table, "Global docker+machine settings"),
	T("experimental", 0, global_experimental_table, "Experimental settings"),
};
TABLE(root_table, "", root_keys);

#undef STR
#undef INT
#undef FLT
#undef BOOL
#undef TIME
#undef DUR
#undef STRS
#undef INTS
#undef ANY
#undef SECRET
#undef RESTART

/* ------------------------------------------------------------------ */
/* small helpers                                                      */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool name_is(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

static bool name_is_ci(const char *a, const char *b, size_t blen)
{
	if (strlen(a) != blen)
		return false;
	for (size_t i = 0; i < blen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* snprintf that never complains about truncation. */
__attribute__((format(printf, 3, 4)))
static void say(char *buf, size_t len, const char *fmt, ...)
{
	if (!buf || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Quote bytes as a TOML basic string, shortened to about max bytes. */
static void quote(char *out, size_t outlen, const char *s, size_t len, size_t max)
{
	size_t o = 0;
	if (outlen < 8) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (i >= max || o + 12 >= outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04X", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* lookups                                                            */

const struct schema_table *schema_root(void)
{
	return &root_table;
}

const struct schema_key *schema_key(const struct schema_table *t, const char *name, size_t len)
{
	if (!t || !name)
		return NULL;
	for (size_t i = 0; i < t->nkeys; i++)
		if (name_is(t->keys[i].name, name, len))
			return &t->keys[i];
	return NULL;
}

static const struct schema_key *key_ci(const struct schema_table *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (name_is_ci(t->keys[i].name, name, len))
			return &t->keys[i];
	return NULL;
}

#define SUGGEST_MAX 64

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), ignoring ASCII case. Both lengths <= SUGGEST_MAX. */
static size_t osa_distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			int ca = lower((unsigned char)a[i - 1]), cb = lower((unsigned char)b[j - 1]);
			size_t cost = ca != cb;
			size_t best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) &&
			    lower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[n][m];
}

const char *schema_suggest(const struct schema_table *t, const char *name, size_t len)
{
	if (!t || !name || !len)
		return NULL;
	const struct schema_key *k = key_ci(t, name, len);
	if (k)
		return k->name;
	if (len > SUGGEST_MAX)
		return NULL;
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	for (size_t i = 0; i < t->nkeys; i++) {
		const char *cand = t->keys[i].name;
		size_t clen = strlen(cand);
		if (clen > SUGGEST_MAX)
			continue;
		size_t longer = clen > len ? clen : len;
		size_t limit = longer / 3;
		if (limit < 1)
			limit = longer >= 3 ? 1 : 0;
		size_t diff = clen > len ? clen - len : len - clen;
		if (diff > limit)
			continue;
		size_t d = osa_distance(name, len, cand, clen);
		if (d <= limit && d < best_d) {
			best = cand;
			best_d = d;
		}
	}
	return best;
}

/* ------------------------------------------------------------------ */
/* types                                                              */

const char *schema_type_name(enum schema_type t)
{
	switch (t) {
	case SV_NONE: return "table";
	case SV_STRING: return "string";
	case SV_INT: return "integer";
	case SV_FLOAT: return "float";
	case SV_BOOL: return "boolean";
	case SV_DATETIME: return "date-time";
	case SV_DURATION: return "duration";
	case SV_STRINGS: return "array of strings";
	case SV_INTS: return "array of integers";
	case SV_STRING_OR_STRINGS: return "string or array of strings";
	case SV_ANY: return "any";
	}
	return "unknown";
}

toml_type schema_toml_type(const struct schema_key *k)
{
	if (!k)
		return TOML_STRING;
	switch (k->kind) {
	case SK_TABLE:
		return TOML_TABLE;
	case SK_ENTRIES:
		return TOML_ARRAY;
	case SK_VALUE:
	case SK_MAP:
		break;
	}
	switch (k->type) {
	case SV_STRING:
	case SV_DURATION:
	case SV_STRINGS:
	case SV_STRING_OR_STRINGS:
		return TOML_STRING;
	case SV_INT:
	case SV_INTS:
		return TOML_INTEGER;
	case SV_FLOAT:
		return TOML_FLOAT;
	case SV_BOOL:
		return TOML_BOOL;
	case SV_DATETIME:
		return TOML_DATETIME;
	case SV_NONE:
	case SV_ANY:
		/* No single scalar type: the text is TOML (toml_set_raw). */
		return TOML_TABLE;
	}
	return TOML_STRING;
}

bool schema_is_array(const struct schema_key *k)
{
	if (!k || (k->kind != SK_VALUE && k->kind != SK_MAP))
		return false;
	return k->type == SV_STRINGS || k->type == SV_INTS || k->type == SV_STRING_OR_STRINGS;
}

/* "a string", "an integer", ... for a TOML type. */
static const char *a_toml_type(toml_type t)
{
	switch (t) {
	case TOML_STRING: return "a string";
	case TOML_INTEGER: return "an integer";
	case TOML_FLOAT: return "a float";
	case TOML_BOOL: return "a boolean";
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL: return "a date-time";
	case TOML_ARRAY: return "an array";
	case TOML_TABLE: return "a table";
	}
	return "a value";
}

/* What key k takes, after "takes" (values) or "values are" (maps). */
static const char *takes(const struct schema_key *k)
{
	bool map = k->kind == SK_MAP;
	switch (k->type) {
	case SV_NONE: return map ? "tables" : "a table";
	case SV_STRING: return map ? "strings" : "a string";
	case SV_INT: return map ? "integers" : "an integer";
	case SV_FLOAT: return map ? "numbers" : "a number";
	case SV_BOOL: return map ? "booleans" : "a boolean (true or false)";
	case SV_DATETIME: return map ? "date-times" : "a date-time";
	case SV_DURATION:
		return map ? "durations" : "a duration such as \"15m\", \"1h30m\" or \"90s\"";
	case SV_STRINGS: return map ? "arrays of strings" : "an array of strings";
	case SV_INTS: return map ? "arrays of integers" : "an array of integers";
	case SV_STRING_OR_STRINGS:
		return map ? "strings or arrays of strings" : "a string or an array of strings";
	case SV_ANY: return "any value";
	}
	return "a value";
}

/* "<value> is a string; limit takes an integer" */
static int type_error(const struct schema_key *k, const toml_value *v, char *why, size_t whylen)
{
	char shown[96];
	if (k->flags & SF_SECRET || v->type == TOML_ARRAY || v->type == TOML_TABLE) {
		snprintf(shown, sizeof shown, "the value");
	} else {
		switch (v->type) {
		case TOML_STRING:
			quote(shown, sizeof shown, v->str ? v->str : "", v->str ? v->len : 0, 40);
			break;
		case TOML_INTEGER:
			snprintf(shown, sizeof shown, "%" PRId64, v->i);
			break;
		case TOML_FLOAT:
			snprintf(shown, sizeof shown, "%g", v->f);
			break;
		case TOML_BOOL:
			snprintf(shown, sizeof shown, "%s", v->b ? "true" : "false");
			break;
		default:
			snprintf(shown, sizeof shown, "%.*s", (int)(v->len > 40 ? 40 : v->len),
				 v->str ? v->str : "");
			break;
		}
	}
	if (k->kind == SK_MAP)
		say(why, whylen, "%s is %s; values of %s are %s", shown, a_toml_type(v->type),
		    k->name, takes(k));
	else
		say(why, whylen, "%s is %s; %s takes %s", shown, a_toml_type(v->type), k->name,
		    takes(k));
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* Go durations (time.ParseDuration)                                  */

/* 0 when s is a duration Go's time.ParseDuration accepts: an optional
 * sign, then "0", or a sequence of decimal numbers with optional fraction
 * and a unit (ns, us, µs, μs, ms, s, m, h), e.g. "300ms", "-1.5h",
 * "2h45m". The total must fit in int64 nanoseconds. */
static int parse_duration(const char *s, size_t len, int64_t *out)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1ull },
		{ "us", 1000ull },
		{ "\xc2\xb5s", 1000ull }, /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000ull }, /* U+03BC Greek mu */
		{ "ms", 1000000ull },
		{ "s", 1000000000ull },
		{ "m", 60000000000ull },
		{ "h", 3600000000000ull },
	};
	const uint64_t lim = 1ull << 63;
	size_t i = 0;
	bool neg = false;
	uint64_t d = 0;
	if (i < len && (s[i] == '-' || s[i] == '+')) {
		neg = s[i] == '-';
		i++;
	}
	if (len - i == 1 && s[i] == '0') {
		*out = 0;
		return 0;
	}
	if (i == len)
		return -EINVAL;
	while (i < len) {
		uint64_t v = 0, f = 0;
		double scale = 1;
		if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '9')))
			return -EINVAL;
		size_t start = i;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (v > lim / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(s[i] - '0');
			if (v > lim)
				return -ERANGE;
		}
		bool pre = i != start, post = false;
		if (i < len && s[i] == '.') {
			i++;
			size_t fs = i;
			bool overflow = false;
			for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
				if (overflow)
					continue;
				if (f > (lim - 1) / 10) {
					overflow = true;
					continue;
				}
				uint64_t y = f * 10 + (uint64_t)(s[i] - '0');
				if (y > lim) {
					overflow = true;
					continue;
				}
				f = y;
				scale *= 10;
			}
			post = i != fs;
		}
		if (!pre && !post)
			return -EINVAL;
		size_t us = i;
		while (i < len && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'))
			i++;
		if (us == i)
			return -EINVAL; /* missing unit */
		uint64_t unit = 0;
		for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
			if (name_is(units[u].name, s + us, i - us))
				unit = units[u].ns;
		if (!unit)
			return -EINVAL;
		if (v > lim / unit)
			return -ERANGE;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				return -ERANGE;
		}
		d += v;
		if (d > lim)
			return -ERANGE;
	}
	if (neg) {
		*out = d == lim ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > lim - 1)
		return -ERANGE;
	*out = (int64_t)d;
	return 0;
}

/* ------------------------------------------------------------------ */
/* value checks                                                       */

static bool is_datetime(toml_type t)
{
	return t == TOML_DATETIME || t == TOML_DATETIME_LOCAL || t == TOML_DATE_LOCAL ||
	       t == TOML_TIME_LOCAL;
}

static int check_allowed(const struct schema_key *k, const toml_value *v, char *why,
			 size_t whylen)
{
	if (!k->allowed || v->type != TOML_STRING)
		return 0;
	bool empty_ok = false;
	for (const char *const *a = k->allowed; *a; a++) {
		if (name_is(*a, v->str ? v->str : "", v->str ? v->len : 0))
			return 0;
		if (!**a)
			empty_ok = true;
	}
	char shown[96], list[400];
	size_t o = 0;
	quote(shown, sizeof shown, v->str ? v->str : "", v->str ? v->len : 0, 40);
	list[0] = '\0';
	for (const char *const *a = k->allowed; *a; a++) {
		if (!**a)
			continue;
		int n = snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", *a);
		if (n < 0 || (size_t)n >= sizeof list - o)
			break;
		o += (size_t)n;
	}
	const char *hint = NULL;
	for (const char *const *a = k->allowed; *a; a++)
		if (**a && v->str && name_is_ci(*a, v->str, v->len))
			hint = *a;
	if (hint)
		say(why, whylen, "%s is not one of: %s%s (did you mean \"%s\"?)", shown, list,
		    empty_ok ? " (or empty)" : "", hint);
	else
		say(why, whylen, "%s is not one of: %s%s", shown, list,
		    empty_ok ? " (or empty)" : "");
	return -EINVAL;
}

int schema_check_value(const struct schema_key *k, const toml_value *v, char *why,
		       size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (!k || !v) {
		say(why, whylen, "no value");
		return -EINVAL;
	}
	if (k->kind == SK_TABLE || k->kind == SK_ENTRIES) {
		say(why, whylen, "%s is %s, not a value", k->name,
		    k->kind == SK_TABLE ? "a table" : "an array of tables");
		return -EINVAL;
	}
	bool fits;
	switch (k->type) {
	case SV_STRING:
	case SV_STRINGS:
	case SV_STRING_OR_STRINGS:
		fits = v->type == TOML_STRING;
		break;
	case SV_INT:
	case SV_INTS:
		fits = v->type == TOML_INTEGER;
		break;
	case SV_FLOAT:
		fits = v->type == TOML_FLOAT || v->type == TOML_INTEGER;
		break;
	case SV_BOOL:
		fits = v->type == TOML_BOOL;
		break;
	case SV_DATETIME:
		fits = is_datetime(v->type);
		break;
	case SV_DURATION:
		fits = v->type == TOML_STRING || v->type == TOML_INTEGER;
		break;
	case SV_ANY:
		fits = true;
		break;
	case SV_NONE:
	default:
		fits = v->type == TOML_TABLE;
		break;
	}
	if (!fits)
		return type_error(k, v, why, whylen);
	if (k->type == SV_DURATION && v->type == TOML_STRING) {
		int64_t ns;
		int r = parse_duration(v->str ? v->str : "", v->str ? v->len : 0, &ns);
		if (r < 0) {
			char shown[96];
			if (k->flags & SF_SECRET)
				snprintf(shown, sizeof shown, "the value");
			else
				quote(shown, sizeof shown, v->str ? v->str : "", v->str ? v->len : 0, 40);
			say(why, whylen, r == -ERANGE ? "%s is too long a duration"
				: "%s is not a duration; write e.g. \"15m\", \"1h30m\", \"90s\" or \"300ms\"",
			    shown);
			return -EINVAL;
		}
	}
	int r = check_allowed(k, v, why, whylen);
	if (r < 0)
		return r;
	if (k->rule && v->type != TOML_ARRAY && v->type != TOML_TABLE)
		return k->rule(v, why, whylen) < 0 ? -EINVAL : 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the runner's hard rules                                            */

static int rule_concurrent(const toml_value *v, char *why, size_t whylen)
{
	if (v->type == TOML_INTEGER && v->i < 1) {
		say(why, whylen, "concurrent must be at least 1 (%" PRId64 " makes the runner exit)",
		    v->i);
		return -EINVAL;
	}
	return 0;
}

static bool label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* ^[a-zA-Z0-9._-]{1,256}$ */
static int rule_label_value(const toml_value *v, char *why, size_t whylen)
{
	if (v->type != TOML_STRING)
		return 0;
	bool ok = v->len >= 1 && v->len <= 256;
	for (size_t i = 0; ok && i < v->len; i++)
		ok = label_char((unsigned char)v->str[i]);
	if (!ok) {
		char shown[96];
		quote(shown, sizeof shown, v->str ? v->str : "", v->len, 40);
		say(why, whylen,
		    "label value %s must be 1 to 256 of the characters a-z A-Z 0-9 . _ - "
		    "(the runner refuses the file)", shown);
		return -EINVAL;
	}
	return 0;
}

/* ^[a-zA-Z0-9_][a-zA-Z0-9._-]{2,64}$ */
static int key_rule_label(const char *key, size_t len, char *why, size_t whylen)
{
	bool ok = len >= 3 && len <= 65;
	for (size_t i = 0; ok && i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		ok = label_char(c) && (i > 0 || (c != '.' && c != '-'));
	}
	if (!ok) {
		char shown[96];
		quote(shown, sizeof shown, key, len, 40);
		say(why, whylen,
		    "label name %s must be 3 to 65 of the characters a-z A-Z 0-9 . _ - and "
		    "not start with . or - (the runner refuses the file)", shown);
		return -EINVAL;
	}
	return 0;
}

static int key_rule_feature_flag(const char *key, size_t len, char *why, size_t whylen)
{
	if (len >= 3 && !memcmp(key, "FF_", 3))
		return 0;
	char shown[96];
	quote(shown, sizeof shown, key, len, 40);
	say(why, whylen, "%s is not a feature flag; their names start with FF_", shown);
	return 1;
}

static int key_rule_log_options(const char *key, size_t len, char *why, size_t whylen)
{
	if (name_is("env", key, len) || name_is("labels", key, len))
		return 0;
	char shown[96];
	quote(shown, sizeof shown, key, len, 40);
	say(why, whylen, "log option %s is not used; the runner takes only env and labels",
	    shown);
	return 1;
}

/* MachineName and each MachineOptionsWithName entry. The value is not
 * shown: machine options often hold cloud credentials. */
static int rule_has_percent_s(const toml_value *v, char *why, size_t whylen)
{
	if (v->type != TOML_STRING)
		return 0;
	for (size_t i = 0; i + 1 < v->len; i++)
		if (v->str[i] == '%' && v->str[i + 1] == 's')
			return 0;
	say(why, whylen, "the value must contain %%s, where the machine name goes "
	    "(the runner refuses the file)");
	return -EINVAL;
}

static int rule_machine_name(const toml_value *v, char *why, size_t whylen)
{
	if (v->type == TOML_STRING && v->len == 0)
		return 0; /* empty: not set */
	return rule_has_percent_s(v, why, whylen);
}

/* One of list, ignoring ASCII case; empty is the same as not set. */
static int one_of_ci(const toml_value *v, const char *const *list, char *why, size_t whylen)
{
	if (v->type != TOML_STRING || v->len == 0)
		return 0;
	char shown[96], names[200];
	size_t o = 0;
	names[0] = '\0';
	for (const char *const *a = list; *a; a++) {
		if (name_is_ci(*a, v->str, v->len))
			return 0;
		int n = snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", *a);
		if (n > 0 && (size_t)n < sizeof names - o)
			o += (size_t)n;
	}
	quote(shown, sizeof shown, v->str, v->len, 40);
	say(why, whylen, "%s is not one of: %s", shown, names);
	return -EINVAL;
}

static int rule_s3_auth(const toml_value *v, char *why, size_t whylen)
{
	return one_of_ci(v, s3_auth_types, why, whylen);
}

static int rule_s3_encryption(const toml_value *v, char *why, size_t whylen)
{
	return one_of_ci(v, s3_encryptions, why, whylen);
}

static int rule_number(const toml_value *v, char *why, size_t whylen)
{
	if (v->type == TOML_INTEGER || v->type == TOML_FLOAT || v->type == TOML_ARRAY)
		return 0;
	say(why, whylen, "the value is %s; this takes numbers", a_toml_type(v->type));
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* walking the schema                                                 */

static void walk(const struct schema_table *t, void (*fn)(void *, const struct schema_table *),
		 void *arg)
{
	fn(arg, t);
	for (size_t i = 0; i < t->nkeys; i++)
		if ((t->keys[i].kind == SK_TABLE || t->keys[i].kind == SK_ENTRIES) && t->keys[i].table)
			walk(t->keys[i].table, fn, arg);
}

void schema_walk(void (*fn)(void *arg, const struct schema_table *t), void *arg)
{
	if (fn)
		walk(&root_table, fn, arg);
}

/* ------------------------------------------------------------------ */
/* checking a document                                                */

#define LABELS_MAX 32

struct checker {
	const toml_doc *doc;
	schema_report_fn report;
	void *arg;
	int errors;
};

struct path {
	char s[1024];
	size_t len;
};

static bool bare_key(const char *k, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Append ".key" (quoted when not bare) or "[i]"; returns the old length. */
static size_t path_key(struct path *p, const char *k, size_t len)
{
	size_t old = p->len;
	char q[200];
	const char *sep = p->len ? "." : "";
	int n;
	if (bare_key(k, len) && len < sizeof q) {
		n = snprintf(p->s + p->len, sizeof p->s - p->len, "%s%.*s", sep, (int)len, k);
	} else {
		quote(q, sizeof q, k, len, 120);
		n = snprintf(p->s + p->len, sizeof p->s - p->len, "%s%s", sep, q);
	}
	if (n > 0)
		p->len += (size_t)n < sizeof p->s - p->len ? (size_t)n : sizeof p->s - p->len - 1;
	return old;
}

static size_t path_index(struct path *p, size_t i)
{
	size_t old = p->len;
	int n = snprintf(p->s + p->len, sizeof p->s - p->len, "[%zu]", i);
	if (n > 0)
		p->len += (size_t)n < sizeof p->s - p->len ? (size_t)n : sizeof p->s - p->len - 1;
	return old;
}

static void path_back(struct path *p, size_t len)
{
	p->len = len;
	p->s[len] = '\0';
}

/* Line of node n: its own span, else that of its first child (tables made
 * only by longer headers, arrays of tables), else 0. */
static int line_of(const toml_doc *doc, uint32_t n)
{
	for (int depth = 0; n != TOML_NONE && depth < 256; depth++) {
		size_t s, e;
		if (toml_span(doc, n, &s, &e) == 0)
			return toml_line_of(doc, s);
		toml_type t = toml_type_of(doc, n);
		if (t != TOML_TABLE && t != TOML_ARRAY)
			return 0;
		n = toml_first(doc, n);
	}
	return 0;
}

static void report(struct checker *c, int severity, uint32_t n, const struct path *p,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct checker *c, int severity, uint32_t n, const struct path *p,
		   const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (severity >= 2)
		c->errors++;
	if (c->report)
		c->report(c->arg, severity, line_of(c->doc, n), p->s, msg);
}

/* The scalar at n as a toml_value; *owned is a malloc'd string to free. */
static int node_value(const toml_doc *doc, uint32_t n, toml_value *v, char **owned)
{
	memset(v, 0, sizeof *v);
	*owned = NULL;
	v->type = toml_type_of(doc, n);
	switch (v->type) {
	case TOML_STRING: {
		size_t len;
		int r = toml_get_string(doc, n, owned, &len);
		if (r < 0)
			return r;
		v->str = *owned;
		v->len = len;
		return 0;
	}
	case TOML_INTEGER:
		return toml_get_int(doc, n, &v->i);
	case TOML_FLOAT:
		return toml_get_float(doc, n, &v->f);
	case TOML_BOOL:
		return toml_get_bool(doc, n, &v->b);
	case TOML_ARRAY:
	case TOML_TABLE:
		return 0;
	default:
		v->str = toml_raw(doc, n, &v->len);
		return 0;
	}
}

/* One scalar (or one element) of key k. */
static void check_scalar(struct checker *c, const struct schema_key *k, uint32_t n,
			 const struct path *p)
{
	toml_value v;
	char *owned;
	char why[512];
	if (node_value(c->doc, n, &v, &owned) < 0) {
		report(c, 2, n, p, "cannot read the value (out of memory)");
		return;
	}
	if (schema_check_value(k, &v, why, sizeof why) < 0) {
		report(c, 2, n, p, "%s", why);
	} else if (k->type == SV_DURATION && v.type == TOML_INTEGER && v.i != 0) {
		/* GitLab Runner decodes a bare number as nanoseconds */
		if (v.i % 1000000000 == 0)
			report(c, 1, n, p, "%" PRId64 " is read as nanoseconds (%" PRId64 "s); write \"%" PRId64 "s\"",
			       v.i, v.i / 1000000000, v.i / 1000000000);
		else
			report(c, 1, n, p,
			       "%" PRId64 " is read as nanoseconds; write a duration string such as \"%" PRId64 "s\"",
			       v.i, v.i);
	}
	free(owned);
}

/* SV_ANY: only its rule, on every scalar inside. */
static void check_any(struct checker *c, const struct schema_key *k, uint32_t n,
		      struct path *p, int depth)
{
	toml_type t = toml_type_of(c->doc, n);
	if (!k->rule || depth > 64)
		return;
	if (t == TOML_ARRAY) {
		size_t i = 0;
		for (uint32_t e = toml_first(c->doc, n); e != TOML_NONE; e = toml_next(c->doc, e), i++) {
			size_t old = path_index(p, i);
			check_any(c, k, e, p, depth + 1);
			path_back(p, old);
		}
		return;
	}
	if (t == TOML_TABLE)
		return;
	toml_value v;
	char *owned;
	char why[512];
	if (node_value(c->doc, n, &v, &owned) < 0)
		return;
	if (k->rule(&v, why, sizeof why) < 0)
		report(c, 2, n, p, "%s", why);
	free(owned);
}

/* A value (not a table) of key k at node n. */
static void check_value_node(struct checker *c, const struct schema_key *k, uint32_t n,
			     struct path *p)
{
	toml_type t = toml_type_of(c->doc, n);
	if (k->type == SV_ANY) {
		check_any(c, k, n, p, 0);
		return;
	}
	bool array = k->type == SV_STRINGS || k->type == SV_INTS;
	bool either = k->type == SV_STRING_OR_STRINGS;
	if ((array || either) && t == TOML_ARRAY) {
		size_t i = 0;
		for (uint32_t e = toml_first(c->doc, n); e != TOML_NONE; e = toml_next(c->doc, e), i++) {
			size_t old = path_index(p, i);
			check_scalar(c, k, e, p);
			path_back(p, old);
		}
		return;
	}
	if (array) {
		/* A scalar where an array belongs. */
		toml_value v;
		char *owned;
		char why[512];
		if (node_value(c->doc, n, &v, &owned) < 0) {
			report(c, 2, n, p, "cannot read the value (out of memory)");
			return;
		}
		type_error(k, &v, why, sizeof why);
		report(c, 2, n, p, "%s", why);
		free(owned);
		return;
	}
	check_scalar(c, k, n, p);
}

static void check_table(struct checker *c, const struct schema_table *t, uint32_t n,
			struct path *p);

static void check_member(struct checker *c, const struct schema_key *k, uint32_t n,
			 struct path *p)
{
	const toml_doc *doc = c->doc;
	toml_type t = toml_type_of(doc, n);
	switch (k->kind) {
	case SK_TABLE:
		if (t == TOML_TABLE) {
			check_table(c, k->table, n, p);
		} else if (t == TOML_ARRAY && toml_form_of(doc, n) == TOML_FORM_AOT) {
			report(c, 2, n, p,
			       "an array of tables; %s is one table: write [%s], not [[%s]]",
			       k->name, k->table->path, k->table->path);
		} else {
			report(c, 2, n, p, "the value is %s; %s is a table", a_toml_type(t), k->name);
		}
		return;
	case SK_ENTRIES:
		if (t == TOML_ARRAY) {
			size_t i = 0;
			for (uint32_t e = toml_first(doc, n); e != TOML_NONE; e = toml_next(doc, e), i++) {
				size_t old = path_index(p, i);
				if (toml_type_of(doc, e) == TOML_TABLE)
					check_table(c, k->table, e, p);
				else
					report(c, 2, e, p, "the value is %s; %s takes tables ([[%s]])",
					       a_toml_type(toml_type_of(doc, e)), k->name, k->table->path);
				path_back(p, old);
			}
		} else if (t == TOML_TABLE) {
			report(c, 2, n, p,
			       "a single table; %s is an array of tables: write [[%s]], not [%s]",
			       k->name, k->table->path, k->table->path);
		} else {
			report(c, 2, n, p, "the value is %s; %s is an array of tables ([[%s]])",
			       a_toml_type(t), k->name, k->table->path);
		}
		return;
	case SK_MAP:
		if (t != TOML_TABLE) {
			report(c, 2, n, p, "the value is %s; %s is a table of keys", a_toml_type(t),
			       k->name);
			return;
		}
		for (uint32_t e = toml_first(doc, n); e != TOML_NONE; e = toml_next(doc, e)) {
			size_t klen;
			const char *key = toml_key(doc, e, &klen);
			size_t old = path_key(p, key ? key : "", key ? klen : 0);
			char why[512];
			int r = k->key_rule && key ? k->key_rule(key, klen, why, sizeof why) : 0;
			if (r < 0)
				report(c, 2, e, p, "%s", why);
			else if (r > 0)
				report(c, 1, e, p, "%s", why);
			check_value_node(c, k, e, p);
			path_back(p, old);
		}
		return;
	case SK_VALUE:
		check_value_node(c, k, n, p);
		return;
	}
}

static void check_table(struct checker *c, const struct schema_table *t, uint32_t n,
			struct path *p)
{
	const toml_doc *doc = c->doc;
	for (uint32_t e = toml_first(doc, n); e != TOML_NONE; e = toml_next(doc, e)) {
		size_t klen;
		const char *key = toml_key(doc, e, &klen);
		if (!key)
			continue;
		size_t old = path_key(p, key, klen);
		const struct schema_key *k = schema_key(t, key, klen);
		if (!k) {
			const struct schema_key *ci = key_ci(t, key, klen);
			if (ci) {
				report(c, 1, e, p,
				       "unknown key; did you mean \"%s\"? (the runner matches keys "
				       "case-insensitively and reads this as %s)", ci->name, ci->name);
				k = ci;
			} else {
				const char *s = schema_suggest(t, key, klen);
				toml_type et = toml_type_of(doc, e);
				const char *what = et == TOML_TABLE ? "unknown table"
					: et == TOML_ARRAY && toml_form_of(doc, e) == TOML_FORM_AOT
					? "unknown array of tables" : "unknown key";
				if (s)
					report(c, 1, e, p, "%s; did you mean \"%s\"?", what, s);
				else
					report(c, 1, e, p, "%s (the runner ignores it)", what);
			}
		}
		if (k)
			check_member(c, k, e, p);
		path_back(p, old);
	}
}

/* The runner allows at most 32 labels: the global ones, and for each
 * runner the global ones merged with its own. */
static void check_label_counts(struct checker *c)
{
	const toml_doc *doc = c->doc;
	struct path p = { "", 0 };
	uint32_t glob = toml_get(doc, TOML_ROOT, "labels", 6);
	size_t nglob = 0;
	if (glob != TOML_NONE && toml_type_of(doc, glob) == TOML_TABLE) {
		nglob = toml_count(doc, glob);
		if (nglob > LABELS_MAX) {
			path_key(&p, "labels", 6);
			report(c, 2, glob, &p, "%zu labels; the runner allows at most %d", nglob,
			       LABELS_MAX);
			path_back(&p, 0);
		}
	}
	uint32_t runners = toml_get(doc, TOML_ROOT, "runners", 7);
	if (runners == TOML_NONE || toml_type_of(doc, runners) != TOML_ARRAY)
		return;
	size_t i = 0;
	for (uint32_t r = toml_first(doc, runners); r != TOML_NONE; r = toml_next(doc, r), i++) {
		if (toml_type_of(doc, r) != TOML_TABLE)
			continue;
		uint32_t own = toml_get(doc, r, "labels", 6);
		if (own == TOML_NONE || toml_type_of(doc, own) != TOML_TABLE)
			continue;
		size_t total = nglob;
		for (uint32_t l = toml_first(doc, own); l != TOML_NONE; l = toml_next(doc, l)) {
			size_t klen;
			const char *key = toml_key(doc, l, &klen);
			if (!key || glob == TOML_NONE || toml_type_of(doc, glob) != TOML_TABLE ||
			    toml_get(doc, glob, key, klen) == TOML_NONE)
				total++;
		}
		if (total > LABELS_MAX) {
			path_key(&p, "runners", 7);
			path_index(&p, i);
			path_key(&p, "labels", 6);
			report(c, 2, own, &p, "%zu labels with the global ones; the runner allows at most %d",
			       total, LABELS_MAX);
			path_back(&p, 0);
		}
	}
}

int schema_check_doc(const toml_doc *doc, schema_report_fn report_fn, void *arg)
{
	struct checker c = { doc, report_fn, arg, 0 };
	struct path p = { "", 0 };
	if (!doc)
		return 0;
	check_table(&c, &root_table, TOML_ROOT, &p);
	check_label_counts(&c);
	return c.errors;
}
