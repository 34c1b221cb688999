/* store_instance: the store's instances, interned by name and labels, forgotten, and matched to series */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"

#define RETIRED_SCAN	4		/* retired local indexes tried for reuse */
#define INSTANCES_MAX	1000000
#define NAME_MAX_LEN	256

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void store_instance_free(struct instance *in)
{
	size_t j;

	for (j = 0; j < in->nlabels; j++) {
		free(in->keys[j]);
		free(in->values[j]);
	}
	free(in->keys);
	free(in->values);
	free(in->name);
	free(in->deployment);
	free(in->endpoint);
	free(in->hkey);
	memset(in, 0, sizeof(*in));
}

static int hash_grow(struct store *st)
{
	size_t size = st->hash_size ? st->hash_size * 2 : 1024, i, h;
	int *hash = malloc(size * sizeof(*hash));

	if (!hash)
		return -ENOMEM;
	memset(hash, -1, size * sizeof(*hash));
	for (i = 0; i < st->ninst; i++) {
		if (!st->inst[i].hkey)
			continue;
		for (h = hash_str(st->inst[i].hkey) & (size - 1); hash[h] >= 0; h = (h + 1) & (size - 1))
			;
		hash[h] = (int)i;
	}
	free(st->hash);
	st->hash = hash;
	st->hash_size = size;
	return 0;
}

int store_instance(struct store *st, const char *name, const char *deployment,
		   const char *endpoint, const struct store_label *labels, size_t nlabels)
{
	char key[2048];
	size_t off, i, h;
	struct instance *in;
	int r, id;

	if (!name || !*name || strlen(name) >= NAME_MAX_LEN || nlabels > 32)
		return -EINVAL;
	off = (size_t)snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", name, deployment ? deployment : "",
			       endpoint ? endpoint : "");
	for (i = 0; i < nlabels && off < sizeof(key); i++)
		off += (size_t)snprintf(key + off, sizeof(key) - off, "\x1f%s=%s",
					labels[i].key, labels[i].value);
	if (off >= sizeof(key))
		return -EINVAL;
	if (st->hash_size) {
		for (h = hash_str(key) & (st->hash_size - 1); st->hash[h] >= 0;
		     h = (h + 1) & (st->hash_size - 1))
			if (strcmp(st->inst[st->hash[h]].hkey, key) == 0)
				return st->hash[h];
	}
	if (st->nfree) {
		id = st->free_ids[--st->nfree];
		in = &st->inst[id];
		goto fill;
	}
	if (st->ninst >= INSTANCES_MAX)
		return -ENOSPC;
	if ((st->ninst + 1) * 2 > st->hash_size && (r = hash_grow(st)) < 0)
		return r;
	if (st->ninst == st->cap_inst) {
		size_t cap = st->cap_inst ? st->cap_inst * 2 : 64;

		in = realloc(st->inst, cap * sizeof(*in));
		if (!in)
			return -ENOMEM;
		st->inst = in;
		st->cap_inst = cap;
	}
	id = (int)st->ninst;
	in = &st->inst[id];
fill:
	memset(in, 0, sizeof(*in));
	in->name = strdup(name);
	in->deployment = store_dup_or_empty(deployment);
	in->endpoint = store_dup_or_empty(endpoint);
	in->hkey = strdup(key);
	in->keys = calloc(nlabels + 1, sizeof(char *));
	in->values = calloc(nlabels + 1, sizeof(char *));
	if (!in->name || !in->deployment || !in->endpoint || !in->hkey || !in->keys || !in->values)
		goto nomem;
	for (i = 0; i < nlabels; i++) {
		in->keys[i] = strdup(labels[i].key);
		in->values[i] = strdup(labels[i].value);
		in->nlabels = i + 1;
		if (!in->keys[i] || !in->values[i])
			goto nomem;
	}
	for (h = hash_str(key) & (st->hash_size - 1); st->hash[h] >= 0; h = (h + 1) & (st->hash_size - 1))
		;
	st->hash[h] = id;
	if (id == (int)st->ninst)
		st->ninst++;
	return id;
nomem:
	store_instance_free(in);
	if (id < (int)st->ninst)
		st->free_ids[st->nfree++] = id;	/* it was free: still is */
	return -ENOMEM;
}

/* Takes id out of the hash (linear probing: later entries of its run move up). */
static void hash_remove(struct store *st, int id)
{
	size_t mask = st->hash_size - 1, i, j, k;

	for (i = hash_str(st->inst[id].hkey) & mask; st->hash[i] != id; i = (i + 1) & mask)
		;
	st->hash[i] = -1;
	for (j = (i + 1) & mask; st->hash[j] >= 0; j = (j + 1) & mask) {
		k = hash_str(st->inst[st->hash[j]].hkey) & mask;
		/* stays when its home slot k is cyclically within (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		st->hash[i] = st->hash[j];
		st->hash[j] = -1;
		i = j;
	}
}

int store_instance_forget(struct store *st, int id)
{
	struct series *s;
	unsigned *ret;
	size_t i;

	if (id < 0 || (size_t)id >= st->ninst || !st->inst[id].hkey)
		return -EINVAL;
	if (st->nfree == st->cap_free) {
		size_t cap = st->cap_free ? st->cap_free * 2 : 64;
		int *f = realloc(st->free_ids, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		st->free_ids = f;
		st->cap_free = cap;
	}
	for (i = 0; i < st->nseries; i++) {
		s = &st->series[i];
		if ((size_t)id >= s->nmatch || s->match[id] < 0)
			continue;
		if (s->nretired == s->cap_retired) {
			unsigned cap = s->cap_retired ? s->cap_retired * 2 : 16;

			ret = realloc(s->retired, cap * sizeof(*ret));
			if (!ret)
				return -ENOMEM;
			s->retired = ret;
			s->cap_retired = cap;
		}
	}
	/* nothing can fail from here on */
	for (i = 0; i < st->nseries; i++) {
		s = &st->series[i];
		if ((size_t)id >= s->nmatch || s->match[id] == -2)
			continue;
		/* samples it sent for open grains stay: its local index is reused once they close */
		if (s->match[id] >= 0)
			s->retired[s->nretired++] = (unsigned)s->match[id];
		s->match[id] = -2;
	}
	hash_remove(st, id);
	store_instance_free(&st->inst[id]);
	st->free_ids[st->nfree++] = id;
	return 0;
}

size_t store_instances(const struct store *st)
{
	return st->ninst - st->nfree;
}

/* ---- the series an instance feeds ---- */

static const char *instance_dim(const struct instance *in, const char *dim)
{
	size_t i;

	if (strcasecmp(dim, "instance") == 0)
		return in->name;
	if (strcasecmp(dim, "deployment") == 0)
		return in->deployment[0] ? in->deployment : NULL;
	if (strcasecmp(dim, "endpoint") == 0)
		return in->endpoint[0] ? in->endpoint : NULL;
	for (i = 0; i < in->nlabels; i++)
		if (strcasecmp(in->keys[i], dim) == 0)
			return in->values[i];
	return NULL;
}

static bool series_matches(const struct series *s, const struct instance *in)
{
	const struct cond_filter *f;
	const char *v;
	unsigned i, j;
	bool found;

	/* an instance that does not say its deployment or endpoint is not excluded */
	if (s->deployment[0] && in->deployment[0] && strcmp(s->deployment, in->deployment) != 0)
		return false;
	if (s->endpoint[0] && in->endpoint[0] && strcmp(s->endpoint, in->endpoint) != 0)
		return false;
	for (i = 0; i < s->nfilters; i++) {
		f = &s->filters[i];
		v = instance_dim(in, f->dim);
		found = false;
		for (j = 0; v && j < f->nvalues && !found; j++)
			found = strcmp(cond_filter_value(f, j), "*") == 0 ||
				strcasecmp(cond_filter_value(f, j), v) == 0;
		if (found == f->negate)
			return false;
	}
	return true;
}

/* Whether an open grain holds samples of local index k. */
static bool series_local_busy(const struct series *s, unsigned k)
{
	int64_t i;

	for (i = 0; i < s->nopen_max; i++)
		if (s->open[i].g != NONE && k < s->open[i].cap && s->open[i].cnt[k])
			return true;
	return false;
}

/* A local index for a newly matching instance: a forgotten instance's once its samples are closed. */
static int32_t series_local_new(struct series *s)
{
	unsigned i, k;

	for (i = 0; i < s->nretired && i < RETIRED_SCAN; i++) {
		k = s->retired[i];
		if (!series_local_busy(s, k)) {
			s->retired[i] = s->retired[--s->nretired];
			return (int32_t)k;
		}
	}
	return (int32_t)s->nlocal++;
}

int store_instance_local(struct store *st, struct series *s, int id)
{
	size_t n, i;
	int32_t *m;

	if ((size_t)id >= s->nmatch) {
		n = st->cap_inst > (size_t)id ? st->cap_inst : (size_t)id + 1;
		m = realloc(s->match, n * sizeof(*m));
		if (!m)
			return -1;
		for (i = s->nmatch; i < n; i++)
			m[i] = -2;
		s->match = m;
		s->nmatch = n;
	}
	if (s->match[id] != -2)
		return s->match[id];
	if (!series_matches(s, &st->inst[id])) {
		s->match[id] = -1;
		return -1;
	}
	s->match[id] = series_local_new(s);
	return s->match[id];
}
