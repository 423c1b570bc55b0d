/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_REGISTRY_H
#define RUNNERFS_REGISTRY_H

/*
 * registry: a runner's private-registry credentials (docs/filesystem.md "Registries").
 * GitLab Runner reads them from DOCKER_AUTH_CONFIG, a JSON document kept
 * as one `DOCKER_AUTH_CONFIG=<json>` string element of the runner's
 * `environment` array. This module reads and edits that JSON with cJSON
 * (never by pasting strings) and writes it back as that one element;
 * every other element of `environment`, and the rest of the JSON
 * (credsStore, credHelpers, unknown fields, key order), stay.
 * Locking: called with fs->lock held, inside a transaction (txn.h).
 *
 * `runner` is the node of a [[runners]] entry, or TOML_NONE for "every
 * runner" (the root registries/: hosts every runner has with the same
 * credentials; edits there apply to each runner). Edits change `doc` in
 * place (a transaction's working copy) and return 0 or -errno with a
 * sentence in why; no message contains a credential.
 *
 * Fields of a registry: `auth` (base64 of user:password), and `username`
 * and `password` (decoded from auth, or the entry's own fields when it
 * has no auth); other string fields (identitytoken, ...) are shown as
 * they are.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runnerfs/buf.h"
#include "runnerfs/toml.h"

/* Registries of a runner (NONE: common to all), as decoded host keys,
 * each followed by a NUL, in JSON order. -EINVAL: the JSON is not valid
 * (the directory is then empty and read-only). */
int registry_hosts(const toml_doc *doc, uint32_t runner, struct buf *out, size_t *count);
bool registry_has(const toml_doc *doc, uint32_t runner, const char *host);
/* The fields a registry shows, NUL-separated. */
int registry_fields(const toml_doc *doc, uint32_t runner, const char *host, struct buf *out);
int registry_get(const toml_doc *doc, uint32_t runner, const char *host, const char *field,
		 struct buf *out);
bool registry_field_name(const char *field);

int registry_set(toml_doc *doc, uint32_t runner, const char *host, const char *field,
		 const char *value, size_t len, char *why, size_t whylen);
int registry_unset(toml_doc *doc, uint32_t runner, const char *host, const char *field,
		   char *why, size_t whylen);
int registry_add(toml_doc *doc, uint32_t runner, const char *host, char *why, size_t whylen);
int registry_remove(toml_doc *doc, uint32_t runner, const char *host, char *why, size_t whylen);
int registry_rename(toml_doc *doc, uint32_t runner, const char *from, const char *to, char *why,
		    size_t whylen);
/* Move registry `host` of runner `from` to runner `to`, named `to_host`
 * there, whole (credentials and every other field); -EEXIST if `to` has
 * one of that name, -EPERM unless both are runners. */
int registry_move(toml_doc *doc, uint32_t from, uint32_t to, const char *host,
		  const char *to_host, char *why, size_t whylen);
/* Give a new runner the registries every runner has. `common` is the
 * document before the runner was added. */
int registry_inherit(toml_doc *doc, uint32_t runner, const toml_doc *common, char *why,
		     size_t whylen);

/* Standard base64 (exposed for tests). */
int base64_encode(const unsigned char *in, size_t len, struct buf *out);
int base64_decode(const char *in, size_t len, struct buf *out);

#endif
