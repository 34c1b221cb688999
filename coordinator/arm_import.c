/* arm_import: Azure autoscaleSettings JSON (ARM or az output) into the engine's model */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm_import_int.h"
#include "log.h"
#include "timeutil.h"

#define IMPORT_SETTINGS_MAX	1000
#define IMPORT_PROFILES_MAX	(2 * PROFILES_MAX)	/* ours and their auto-created pairs */

/* An Azure name as one of ours: other characters become '-'. */
void arm_import_name_clean(const char *in, char *out, size_t len)
{
	size_t i, n = 0;

	for (i = 0; in[i] && n + 1 < len && n + 1 < SETTING_NAME_MAX - 4; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (isalnum(ch) || strchr("_.", ch))
			out[n++] = (char)ch;
		else if (n && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (!n)
		snprintf(out, len, "unnamed");
}

/* Makes name unique among the first n names (stride apart), appending -2, -3... */
void arm_import_name_unique(char *name, size_t len, const char *base, const char *reserved,
			     const char *names, size_t stride, size_t n)
{
	unsigned k;
	size_t i;
	bool taken;

	for (k = 1; k < 1000; k++) {
		if (k == 1)
			snprintf(name, len, "%s", base);
		else
			snprintf(name, len, "%.*s-%u", SETTING_NAME_MAX - 6, base, k);
		taken = reserved && strcmp(name, reserved) == 0;
		for (i = 0; !taken && i < n; i++)
			taken = strcmp(names + i * stride, name) == 0;
		if (!taken)
			return;
	}
}

/* Copies one /key/value of an ARM id; false when too long or missing. */
static bool id_part(const char *uri, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *end;
	size_t n;

	snprintf(pat, sizeof(pat), "/%s/", key);
	p = strcasestr(uri, pat);
	if (!p)
		return false;
	p += strlen(pat);
	end = strchr(p, '/');
	n = end ? (size_t)(end - p) : strlen(p);
	if (!n || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static int parse_target(struct imp *im, const char *uri, const char *path, struct setting *s,
			char *endpoint_uri, size_t len)
{
	char b[80], sub[ARM_ID_MAX], rg[ARM_ID_MAX], ws[ARM_ID_MAX];
	const char *p, *last;
	size_t n;

	endpoint_uri[0] = '\0';
	if (strlen(uri) >= len)
		return arm_json_fail(&im->js, path, "expected a resource id of at most %zu characters", len - 1);
	p = strcasestr(uri, "/onlineEndpoints/");
	if (p && id_part(uri, "onlineEndpoints", s->endpoint, sizeof(s->endpoint)) &&
	    id_part(p, "deployments", s->deployment, sizeof(s->deployment))) {
		n = (size_t)(p - uri) + strlen("/onlineEndpoints/") + strlen(s->endpoint);
		memcpy(endpoint_uri, uri, n);
		endpoint_uri[n] = '\0';
		if (!im->have_target && id_part(uri, "subscriptions", sub, sizeof(sub)) &&
		    id_part(uri, "resourceGroups", rg, sizeof(rg)) &&
		    id_part(uri, "workspaces", ws, sizeof(ws))) {
			snprintf(im->t->subscription, sizeof(im->t->subscription), "%s", sub);
			snprintf(im->t->resource_group, sizeof(im->t->resource_group), "%s", rg);
			snprintf(im->t->workspace, sizeof(im->t->workspace), "%s", ws);
			im->have_target = true;
		}
	} else {
		/* another kind of resource: its last name is the deployment */
		s->endpoint[0] = '\0';
		for (n = strlen(uri); n && uri[n - 1] == '/'; n--)
			;
		for (last = uri + n; last > uri && last[-1] != '/'; last--)
			;
		if ((size_t)(uri + n - last) >= sizeof(s->deployment))
			goto bad;
		memcpy(s->deployment, last, (size_t)(uri + n - last));
		s->deployment[uri + n - last] = '\0';
	}
	if (!setting_name_ok(s->deployment) || (s->endpoint[0] && !setting_name_ok(s->endpoint)))
		goto bad;
	return 0;
bad:
	return arm_json_fail(&im->js, path, "expected .../onlineEndpoints/ENDPOINT/deployments/DEPLOYMENT with names of letters, digits, '_', '.' or '-', not '%s'",
		    arm_json_shown(uri, b, sizeof(b)));
}

static int parse_tags(struct imp *im, const json_t *tags, const char *parent, struct setting *s)
{
	static const char *const backends[] = { "azureml", "kubernetes", "http", "exec", "sim", NULL };
	char path[ARM_JSON_PATH_MAX], b[80];
	const char *key, *v, *name;
	json_t *jv;
	int64_t ns;
	int k;

	json_object_foreach((json_t *)tags, key, jv) {
		if (strncmp(key, ARM_TAG_PREFIX, strlen(ARM_TAG_PREFIX)) != 0)
			continue;	/* the user's own tags are not ours to keep */
		snprintf(path, sizeof(path), "%s%stags.%s", parent, parent[0] ? "." : "", key);
		if (!json_is_string(jv))
			return arm_json_fail(&im->js, path, "expected a string, not %s", arm_json_type_name(jv));
		v = json_string_value(jv);
		name = key + strlen(ARM_TAG_PREFIX);
		if (strcmp(name, "endpoint") == 0) {
			if (*v && !setting_name_ok(v))
				return arm_json_fail(&im->js, path, "expected a name of letters, digits, '_', '.' or '-', not '%s'",
					    arm_json_shown(v, b, sizeof(b)));
			snprintf(s->endpoint, sizeof(s->endpoint), "%s", v);
		} else if (strcmp(name, "backend") == 0) {
			for (k = 0; backends[k] && strcmp(v, backends[k]) != 0; k++)
				;
			if (!backends[k])
				return arm_json_fail(&im->js, path, "expected azureml, kubernetes, http, exec or sim, not '%s'",
					    arm_json_shown(v, b, sizeof(b)));
			snprintf(s->backend, sizeof(s->backend), "%s", v);
		} else if (strcmp(name, "evaluate_every") == 0 ||
			   strcmp(name, "coordinator.evaluate_every") == 0) {
			if (duration_parse(v, NSEC_PER_SEC, &ns) < 0 || ns < NSEC_PER_SEC ||
			    ns > 3600 * NSEC_PER_SEC)
				return arm_json_fail(&im->js, path, "expected a duration from 1s to 1h, not '%s'",
					    arm_json_shown(v, b, sizeof(b)));
			if (name[0] == 'e') {
				s->evaluate_every_ns = ns;
			} else {
				if (im->coord_seen && im->conf->evaluate_every_ns != ns)
					return arm_json_fail(&im->js, path, "expected the same value in every setting");
				im->conf->evaluate_every_ns = ns;
				im->coord_seen = true;
			}
		} else if (strncmp(name, "rule:", 5) != 0) {
			log_warn("%s: %s%s: unknown ascale tag, ignored", im->js.src, im->js.where, path);
		}
	}
	return 0;
}

static struct setting *setting_add(struct imp *im, const char *azure_name)
{
	struct engine_conf *conf = im->conf;
	char base[SETTING_NAME_MAX];
	struct setting *s;
	size_t cap;

	if (conf->nsettings == im->cap) {
		cap = im->cap ? im->cap * 2 : 2;
		s = realloc(conf->settings, cap * sizeof(*s));
		if (!s)
			return NULL;
		conf->settings = s;
		im->cap = cap;
	}
	s = &conf->settings[conf->nsettings];
	memset(s, 0, sizeof(*s));
	arm_import_name_clean(azure_name, base, sizeof(base));
	arm_import_name_unique(s->name, sizeof(s->name), base, NULL, conf->settings[0].name,
			       sizeof(*s), conf->nsettings);
	conf->nsettings++;
	s->enabled = true;
	s->declared = true;
	snprintf(s->backend, sizeof(s->backend), "sim");
	return s;
}

static int import_resource(struct imp *im, const json_t *res)
{
	char props_path[16], path[ARM_JSON_PATH_MAX], endpoint_uri[1024], b[80];
	const char *type, *name, *uri, *location, *mode;
	json_t *props, *tags, *profiles, *jp, *pred, *notes, *en;
	struct az_profile *az = NULL;
	struct setting *s;
	size_t i, n;
	int r = -EINVAL;

	if (!json_is_object(res))
		return arm_json_fail(&im->js, "", "expected an autoscale setting object, not %s", arm_json_type_name(res));
	if (arm_json_string(&im->js, res, "", "type", false, &type) < 0)
		return -EINVAL;
	if (type && strcasecmp(type, ARM_TYPE) != 0)
		return arm_json_fail(&im->js, "type", "expected " ARM_TYPE ", not '%s'", arm_json_shown(type, b, sizeof(b)));
	if (arm_json_get(&im->js, res, "", "properties", JSON_OBJECT, false, &props) < 0)
		return -EINVAL;
	/* az monitor autoscale show writes the properties flat */
	snprintf(props_path, sizeof(props_path), "%s", props ? "properties" : "");
	if (!props)
		props = (json_t *)res;
	if (arm_json_string(&im->js, props, props_path, "name", false, &name) < 0 ||
	    (!name && arm_json_string(&im->js, res, "", "name", true, &name) < 0))
		return -EINVAL;
	if (arm_json_get(&im->js, props, props_path, "enabled", JSON_TRUE, false, &en) < 0 ||
	    arm_json_string(&im->js, props, props_path, "targetResourceUri", true, &uri) < 0 ||
	    arm_json_string(&im->js, res, "", "location", false, &location) < 0 ||
	    arm_json_get(&im->js, res, "", "tags", JSON_OBJECT, false, &tags) < 0 ||
	    arm_json_get(&im->js, props, props_path, "predictiveAutoscalePolicy", JSON_OBJECT, false, &pred) < 0 ||
	    arm_json_get(&im->js, props, props_path, "notifications", JSON_ARRAY, false, &notes) < 0 ||
	    arm_json_get(&im->js, props, props_path, "profiles", JSON_ARRAY, true, &profiles) < 0)
		return -EINVAL;
	if (pred) {
		arm_json_path_join(path, props_path, "predictiveAutoscalePolicy");
		if (arm_json_string(&im->js, pred, path, "scaleMode", false, &mode) < 0)
			return -EINVAL;
		if (mode && strcasecmp(mode, "Enabled") == 0)
			return arm_json_fail(&im->js, path, "predictive autoscale is not supported: expected scaleMode Disabled or ForecastOnly");
	}
	if (json_array_size(notes) && !im->warned_notify) {
		log_warn("%s: notifications (email, webhooks) are not imported", im->js.src);
		im->warned_notify = true;
	}
	if (location && !im->have_location) {
		snprintf(im->t->location, sizeof(im->t->location), "%s", location);
		im->have_location = true;
	}
	s = setting_add(im, name);
	if (!s)
		return -ENOMEM;
	s->enabled = !en || json_is_true(en);
	arm_json_path_join(path, props_path, "targetResourceUri");
	if (parse_target(im, uri, path, s, endpoint_uri, sizeof(endpoint_uri)) < 0 ||
	    parse_tags(im, tags, "", s) < 0)
		return -EINVAL;
	n = json_array_size(profiles);
	arm_json_path_join(path, props_path, "profiles");
	if (!n || n > IMPORT_PROFILES_MAX)
		return arm_json_fail(&im->js, path, "expected 1 to %d profiles, not %zu", IMPORT_PROFILES_MAX, n);
	az = calloc(n, sizeof(*az));
	if (!az)
		return -ENOMEM;
	json_array_foreach(profiles, i, jp) {
		arm_json_path_index(path, props_path, "profiles", i);
		if (arm_import_profile_parse(im, jp, path, &az[i], uri, endpoint_uri[0] ? endpoint_uri : NULL) < 0)
			goto out;
	}
	r = arm_import_profile_build(im, s, az, n, tags, props_path, "");
out:
	free(az);
	return r;
}

int arm_import(const json_t *root, const char *src, struct engine_conf **out,
	       struct arm_target *t)
{
	struct arm_target local;
	struct imp im = { .js = { .src = src }, .t = t ? t : &local };
	json_t *list = NULL, *res;
	const char *type;
	size_t i, n = 0;
	int r = 0;

	*out = NULL;
	arm_target_default(im.t);
	im.conf = calloc(1, sizeof(*im.conf));
	if (!im.conf)
		return -ENOMEM;
	im.conf->evaluate_every_ns = 10 * NSEC_PER_SEC;
	if (json_is_array(root))
		list = (json_t *)root;
	else if (json_is_object(root) && json_is_array(arm_json_member(root, "resources")) &&
		 !arm_json_member(root, "properties") && !arm_json_member(root, "profiles"))
		list = arm_json_member(root, "resources");
	if (!list) {
		r = import_resource(&im, root);
		n = 1;
	}
	json_array_foreach(list, i, res) {
		snprintf(im.js.where, sizeof(im.js.where), "%s[%zu].", list == root ? "" : "resources", i);
		if (list != root) {
			type = json_string_value(arm_json_member(res, "type"));
			if (!type || strcasecmp(type, ARM_TYPE) != 0)
				continue;	/* a template's other resources */
		}
		if (++n > IMPORT_SETTINGS_MAX) {
			r = arm_json_fail(&im.js, "", "expected at most %d autoscale settings", IMPORT_SETTINGS_MAX);
			break;
		}
		r = import_resource(&im, res);
		if (r < 0)
			break;
	}
	if (!r && !n) {
		im.js.where[0] = '\0';
		r = arm_json_fail(&im.js, list == root ? "[]" : "resources",
			 "expected at least one " ARM_TYPE " resource");
	}
	if (r < 0) {
		if (r == -ENOMEM)
			log_err("%s: out of memory", src);
		setting_conf_free(im.conf);
		return r;
	}
	*out = im.conf;
	return 0;
}
