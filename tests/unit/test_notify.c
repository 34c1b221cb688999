/* test_notify: webhook payloads and deliveries on sd-event against tests/servers/webhook_sink.py */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "conf.h"
#include "notify.h"
#include "test_server.h"
#include "testutil.h"
#include "timeutil.h"

#define SECRET "SECRET-5f2c"

static sd_event *event;

/* ---- the sink ---- */

/* One call to the sink's control API: a POST with a body, else a GET; the JSON answer. */
static json_t *sink_control(const char *path, const char *body)
{
	json_t *root = server_control(body ? "POST" : "GET", path, body);

	assert_non_null(root);
	return root;
}

static void sink_faults(const char *json)
{
	json_decref(sink_control("/_sink/faults", json));
}

/* The POSTs the sink took since its reset, which must be count. */
static json_t *sink_posts(size_t count)
{
	json_t *posts = sink_control("/_sink/posts", NULL);

	assert_int_equal(json_array_size(posts), count);
	return posts;
}

/* The bodies' properties.seq of every POST to path (query aside), in the order received. */
static size_t sink_seqs(const json_t *posts, const char *path, int *seq, size_t max)
{
	const json_t *p;
	size_t i, n = 0;

	json_array_foreach(posts, i, p) {
		const char *got = json_string_value(json_object_get(p, "path"));
		json_t *props = json_object_get(json_object_get(p, "json"), "properties");

		if (strcmp(got, path) != 0 || n == max)
			continue;
		seq[n++] = (int)json_integer_value(json_object_get(props, "seq"));
	}
	return n;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

static void url_of(char *buf, size_t size, const char *path)
{
	snprintf(buf, size, "http://127.0.0.1:%d%s", server_port, path);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	(void)state;
	log_init("test_notify", 1);	/* debug lines too: they must not hold a secret either */
	if (server_start("webhook_sink.py", "--lifetime", "120", NULL) < 0)
		return -1;
	return sd_event_new(&event) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sd_event_unref(event);
	server_stop();
	return 0;
}

static int test_setup(void **state)
{
	(void)state;
	json_decref(sink_control("/_sink/reset", "{}"));
	testutil_log_catch();
	return 0;
}

/* A sender with quick retries, so that tests do not wait for the real backoff. */
static struct notify *sender(unsigned attempts, unsigned queue_max, unsigned in_flight_max)
{
	struct notify_policy p;
	struct notify *n = NULL;

	notify_policy_defaults(&p);
	p.attempts = attempts;
	p.queue_max = queue_max;
	p.in_flight_max = in_flight_max;
	p.retry_delay_ns = 10 * NSEC_PER_MSEC;
	p.retry_max_ns = 40 * NSEC_PER_MSEC;
	p.timeout_ns = 5 * NSEC_PER_SEC;
	assert_int_equal(notify_new(event, &p, &n), 0);
	return n;
}

/* Runs the loop until nothing is pending; bounded, never a timing assertion. */
static void run_idle(struct notify *n, int64_t limit_ns)
{
	int64_t end = time_mono_ns() + limit_ns;

	while (notify_stats(n)->pending && time_mono_ns() < end)
		assert_true(sd_event_run(event, 100000) >= 0);
	assert_int_equal(notify_stats(n)->pending, 0);
	assert_int_equal(notify_stats(n)->in_flight, 0);
}

/*
 * Posts p to path on the sink through n, with nothing pending, after queueing
 * faults there (JSON, or NULL); runs the loop until nothing is pending.
 */
static void deliver(struct notify *n, const json_t *p, const char *faults, const char *path)
{
	char url[256];

	if (faults)
		sink_faults(faults);
	url_of(url, sizeof(url), path);
	assert_int_equal(notify_post(n, url, p), 0);
	/* queued: nothing started from inside notify_post */
	assert_int_equal(notify_stats(n)->pending, 1);
	assert_int_equal(notify_stats(n)->in_flight, 0);
	run_idle(n, 20 * NSEC_PER_SEC);
}

static void expect_stats(struct notify *n, uint64_t sent, uint64_t retried, uint64_t failed)
{
	assert_int_equal(notify_stats(n)->sent, sent);
	assert_int_equal(notify_stats(n)->retried, retried);
	assert_int_equal(notify_stats(n)->failed, failed);
}

static json_t *payload_seq(const char *setting, int seq)
{
	struct notify_event ev = {
		.time_ns = 1700000000 * NSEC_PER_SEC, .setting = setting, .resource_name = "blue",
		.resource_type = "kubernetes/deployments", .resource_id = "/apis/apps/v1/namespaces/ml/deployments/blue",
		.old_capacity = 1, .new_capacity = 2,
	};
	json_t *props = json_pack("{s:i}", "seq", seq), *p;

	ev.properties = props;
	p = notify_payload(&ev);
	json_decref(props);
	assert_non_null(p);
	return p;
}

/* ---- the payload ---- */

static const char *ctx_str(const json_t *p, const char *key)
{
	const json_t *v = json_object_get(json_object_get(p, "context"), key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void test_payload_shape(void **state)
{
	json_t *props = json_pack("{s:s, s:i, s:i, s:[]}", "setting", "web", "before", 1, "after", 3, "rules");
	struct notify_event ev = {
		.time_ns = 1687417307892000000LL,	/* 2023-06-22T07:01:47.892Z */
		.setting = "web",
		.setting_id = "ascale/web",
		.resource_name = "blue",
		.resource_type = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
		.resource_id = "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/"
			       "workspaces/w/onlineEndpoints/e/deployments/blue",
		.subscription = "s1",
		.resource_group = "rg1",
		.old_capacity = 1,
		.new_capacity = 3,
		.properties = props,
	};
	const json_t *ctx;
	json_t *p;

	(void)state;
	p = notify_payload(&ev);
	assert_non_null(p);
	assert_int_equal(json_object_size(p), 5);
	assert_string_equal(json_string_value(json_object_get(p, "version")), "1.0");
	assert_string_equal(json_string_value(json_object_get(p, "status")), "Activated");
	assert_string_equal(json_string_value(json_object_get(p, "operation")), "Scale Out");
	ctx = json_object_get(p, "context");
	assert_true(json_is_object(ctx));
	assert_string_equal(ctx_str(p, "timestamp"), "2023-06-22T07:01:47.892Z");
	assert_string_equal(ctx_str(p, "id"), "ascale/web");
	assert_string_equal(ctx_str(p, "name"), "web");
	assert_string_equal(ctx_str(p, "details"),
			    "Autoscale setting 'web': scale operation for resource 'blue' from capacity '1' to capacity '3'");
	assert_string_equal(ctx_str(p, "subscriptionId"), "s1");
	assert_string_equal(ctx_str(p, "resourceGroupName"), "rg1");
	assert_string_equal(ctx_str(p, "resourceName"), "blue");
	assert_string_equal(ctx_str(p, "resourceType"), ev.resource_type);
	assert_string_equal(ctx_str(p, "resourceId"), ev.resource_id);
	/* strings, as in Azure's payload */
	assert_string_equal(ctx_str(p, "oldCapacity"), "1");
	assert_string_equal(ctx_str(p, "newCapacity"), "3");
	/* not known: left out rather than made up */
	assert_null(json_object_get(ctx, "portalLink"));
	assert_null(json_object_get(ctx, "resourceRegion"));
	assert_int_equal(json_object_size(ctx), 11);
	assert_true(json_equal(json_object_get(p, "properties"), props));
	json_decref(p);

	/* scale in; what the caller knows is passed through; id falls back to the name */
	ev.old_capacity = 4;
	ev.new_capacity = 2;
	ev.setting_id = NULL;
	ev.details = "scaled in by rule cpu-low";
	ev.portal_link = "https://portal.azure.com/#resource/x";
	ev.region = "West Europe";
	ev.subscription = NULL;
	ev.resource_group = NULL;
	ev.properties = NULL;
	p = notify_payload(&ev);
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "operation")), "Scale In");
	assert_string_equal(ctx_str(p, "id"), "web");
	assert_string_equal(ctx_str(p, "details"), "scaled in by rule cpu-low");
	assert_string_equal(ctx_str(p, "portalLink"), "https://portal.azure.com/#resource/x");
	assert_string_equal(ctx_str(p, "resourceRegion"), "West Europe");
	assert_string_equal(ctx_str(p, "subscriptionId"), "");
	assert_string_equal(ctx_str(p, "resourceGroupName"), "");
	assert_string_equal(ctx_str(p, "oldCapacity"), "4");
	assert_string_equal(ctx_str(p, "newCapacity"), "2");
	assert_true(json_is_object(json_object_get(p, "properties")));
	assert_int_equal(json_object_size(json_object_get(p, "properties")), 0);
	json_decref(p);

	/* an explicit operation wins; no change and no operation is no scale action */
	ev.operation = "Scale Out";
	p = notify_payload(&ev);
	assert_string_equal(json_string_value(json_object_get(p, "operation")), "Scale Out");
	json_decref(p);
	ev.operation = NULL;
	ev.new_capacity = ev.old_capacity;
	errno = 0;
	assert_null(notify_payload(&ev));
	assert_int_equal(errno, EINVAL);
	ev.new_capacity = 5;
	ev.properties = json_object_get(props, "rules");	/* an array */
	errno = 0;
	assert_null(notify_payload(&ev));
	assert_int_equal(errno, EINVAL);
	json_decref(props);
}

/* ---- deliveries ---- */

static void test_delivered(void **state)
{
	struct notify *n = sender(5, 16, 4);
	json_t *p = payload_seq("web", 7), *posts, *post;
	const char *ctype;

	(void)state;
	deliver(n, p, NULL, "/hooks/ops?team=ml");
	expect_stats(n, 1, 0, 0);

	posts = sink_posts(1);
	post = json_array_get(posts, 0);
	assert_string_equal(json_string_value(json_object_get(post, "path")), "/hooks/ops?team=ml");
	ctype = json_string_value(json_object_get(json_object_get(post, "headers"), "Content-Type"));
	assert_non_null(ctype);
	assert_string_equal(ctype, "application/json");
	/* the very payload, field for field */
	assert_true(json_equal(json_object_get(post, "json"), p));
	json_decref(posts);
	json_decref(p);
	notify_free(n);
}

static void test_retried_then_sent(void **state)
{
	struct notify *n = sender(5, 16, 4);
	json_t *p = payload_seq("web", 1), *posts;
	const json_t *post;
	size_t i;

	(void)state;
	/* a dropped connection first (on a fresh connection, which curl does not re-send by itself) */
	deliver(n, p, "{\"next\": [\"drop\", 500, {\"status\": 429, \"retry_after\": 1}]}", "/hook");
	expect_stats(n, 1, 3, 0);

	posts = sink_posts(4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(posts, 0), "answer")), "drop");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(posts, 1), "answer")), 500);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(posts, 2), "answer")), 429);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(posts, 3), "answer")), 200);
	json_array_foreach(posts, i, post)
		assert_true(json_equal(json_object_get(post, "json"), p));
	/* retries are no failure: nothing above debug */
	assert_null(strstr(logbuf, "failed"));
	assert_non_null(strstr(logbuf, "HTTP 429, retrying in 1000 ms"));
	json_decref(posts);
	json_decref(p);
	notify_free(n);
}

static void test_404_not_retried(void **state)
{
	struct notify *n = sender(5, 16, 4);
	json_t *p = payload_seq("web", 1);

	(void)state;
	deliver(n, p, "{\"next\": [404]}", "/gone");
	expect_stats(n, 0, 0, 1);
	json_decref(sink_posts(1));
	assert_non_null(strstr(logbuf, "for autoscale web failed: HTTP 404 (not retried)"));
	json_decref(p);
	notify_free(n);
}

static void test_attempts_exhausted(void **state)
{
	struct notify *n = sender(3, 16, 4);
	json_t *p = payload_seq("web", 1);
	char url[256];

	(void)state;
	deliver(n, p, "{\"next\": [500, 503, 502, 500]}", "/busy");
	expect_stats(n, 0, 2, 1);
	json_decref(sink_posts(3));
	assert_non_null(strstr(logbuf, "failed: HTTP 502 after 3 attempts"));

	/* nobody listening: connection errors are retried, then given up too */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", closed_port());
	assert_int_equal(notify_post(n, url, p), 0);
	run_idle(n, 10 * NSEC_PER_SEC);
	assert_int_equal(notify_stats(n)->retried, 4);
	assert_int_equal(notify_stats(n)->failed, 2);
	assert_int_equal(count(logbuf, "after 3 attempts"), 2);
	json_decref(p);
	notify_free(n);
}

static void test_queue_bound(void **state)
{
	struct notify *n = sender(5, 3, 4);
	json_t *p = payload_seq("web", 1);
	char url[256];
	int i;

	(void)state;
	url_of(url, sizeof(url), "/hook");
	for (i = 0; i < 3; i++)
		assert_int_equal(notify_post(n, url, p), 0);
	assert_int_equal(notify_post(n, url, p), -ENOBUFS);
	assert_int_equal(notify_post(n, url, p), -ENOBUFS);
	assert_int_equal(notify_stats(n)->dropped, 2);
	assert_int_equal(notify_stats(n)->pending, 3);
	/* logged, but once for the burst */
	assert_non_null(strstr(logbuf, "queue full (3 pending)"));
	assert_int_equal(count(logbuf, "queue full"), 1);
	run_idle(n, 10 * NSEC_PER_SEC);
	assert_int_equal(notify_stats(n)->sent, 3);
	json_decref(sink_posts(3));
	/* room again */
	assert_int_equal(notify_post(n, url, p), 0);
	run_idle(n, 10 * NSEC_PER_SEC);
	assert_int_equal(notify_stats(n)->sent, 4);
	json_decref(p);
	notify_free(n);
}

static void test_order_per_url(void **state)
{
	struct notify *n = sender(5, 64, 4);
	char url_a[256], url_b[256];
	int seq[32], i;
	json_t *p, *posts;
	size_t k;

	(void)state;
	/* the first delivery to /a is retried: the later ones to /a must wait for it */
	sink_faults("{\"path\": \"/a\", \"next\": [500, \"slow:0.3\"]}");
	url_of(url_a, sizeof(url_a), "/a");
	url_of(url_b, sizeof(url_b), "/b");
	for (i = 0; i < 8; i++) {
		p = payload_seq("web", i);
		assert_int_equal(notify_post(n, url_a, p), 0);
		assert_int_equal(notify_post(n, url_b, p), 0);
		json_decref(p);
	}
	run_idle(n, 20 * NSEC_PER_SEC);
	assert_int_equal(notify_stats(n)->sent, 16);
	assert_int_equal(notify_stats(n)->retried, 1);
	posts = sink_control("/_sink/posts", NULL);
	assert_int_equal(sink_seqs(posts, "/a", seq, 32), 9);
	assert_int_equal(seq[0], 0);
	for (k = 1; k < 9; k++)
		assert_int_equal(seq[k], (int)k - 1);
	assert_int_equal(sink_seqs(posts, "/b", seq, 32), 8);
	for (k = 0; k < 8; k++)
		assert_int_equal(seq[k], (int)k);
	json_decref(posts);
	notify_free(n);
}

static void test_secret_never_logged(void **state)
{
	struct notify *n = sender(2, 1, 4);
	json_t *p = payload_seq("web", 1);
	char url[512], origin[NOTIFY_ORIGIN_MAX], why[256];

	(void)state;
	snprintf(url, sizeof(url), "http://hookuser:pw-" SECRET "@127.0.0.1:%d/hooks/" SECRET "/x?sig=" SECRET
		 "&sv=1", server_port);
	/*
	 * a dropped connection twice, refused at once, and the queue full (the
	 * drops come first: on a reused connection curl would re-send by itself)
	 */
	sink_faults("{\"next\": [\"drop\", \"drop\", 404]}");
	assert_int_equal(notify_post(n, url, p), 0);
	run_idle(n, 10 * NSEC_PER_SEC);
	assert_int_equal(notify_post(n, url, p), 0);
	assert_int_equal(notify_post(n, url, p), -ENOBUFS);
	run_idle(n, 10 * NSEC_PER_SEC);
	assert_int_equal(notify_stats(n)->failed, 2);
	assert_int_equal(notify_stats(n)->dropped, 1);
	notify_free(n);

	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", server_port);
	assert_non_null(strstr(logbuf, origin));
	assert_non_null(strstr(logbuf, "HTTP 404"));
	assert_non_null(strstr(logbuf, "after 2 attempts"));
	assert_non_null(strstr(logbuf, "queue full"));
	assert_null(strstr(logbuf, SECRET));
	assert_null(strstr(logbuf, "hookuser"));
	assert_null(strstr(logbuf, "/hooks/"));

	/* what messages show of a URL */
	snprintf(why, sizeof(why), "http://127.0.0.1:%d", server_port);
	assert_string_equal(notify_origin(url, origin, sizeof(origin)), why);
	assert_string_equal(notify_origin("https://u:p@hooks.example.com/T/B/" SECRET, origin, sizeof(origin)),
			    "https://hooks.example.com");
	assert_string_equal(notify_origin("https://[::1]:8443/x?k=" SECRET, origin, sizeof(origin)),
			    "https://[::1]:8443");
	assert_null(strstr(notify_origin("nonsense " SECRET, origin, sizeof(origin)), SECRET));
	/* nor does a refusal repeat the URL */
	assert_false(notify_url_ok("ftp://u:" SECRET "@host/", why, sizeof(why)));
	assert_null(strstr(why, SECRET));
	assert_false(notify_url_ok("https://host/" SECRET " x", why, sizeof(why)));
	assert_null(strstr(why, SECRET));
	json_decref(p);
}

static void test_free_drops_pending(void **state)
{
	struct notify *n = sender(5, 16, 4);
	json_t *p = payload_seq("web", 1);
	int64_t end = time_mono_ns() + 10 * NSEC_PER_SEC;
	char url[256];

	(void)state;
	sink_faults("{\"next\": [\"slow:5\"]}");
	url_of(url, sizeof(url), "/slow");
	assert_int_equal(notify_post(n, url, p), 0);
	assert_int_equal(notify_post(n, url, p), 0);
	while (!notify_stats(n)->in_flight && time_mono_ns() < end)
		assert_true(sd_event_run(event, 100000) >= 0);
	assert_int_equal(notify_stats(n)->in_flight, 1);
	assert_int_equal(notify_stats(n)->pending, 2);
	/* one in flight, one waiting behind it: both dropped, no callback later */
	notify_free(n);
	assert_non_null(strstr(logbuf, "2 webhook deliveries dropped unsent"));
	assert_true(sd_event_run(event, 1000) >= 0);
	json_decref(p);
}

static void test_bad_input(void **state)
{
	struct notify_policy pol;
	struct notify *n = sender(5, 16, 4), *m = NULL;
	json_t *p = payload_seq("web", 1), *big;
	char url[256], *filler;

	(void)state;
	url_of(url, sizeof(url), "/hook");
	assert_int_equal(notify_post(n, "ftp://127.0.0.1/", p), -EINVAL);
	assert_int_equal(notify_post(n, NULL, p), -EINVAL);
	big = json_array();
	assert_int_equal(notify_post(n, url, big), -EINVAL);
	json_decref(big);
	filler = calloc(1, NOTIFY_BODY_MAX + 1);
	memset(filler, 'x', NOTIFY_BODY_MAX);
	big = json_pack("{s:s}", "filler", filler);
	assert_int_equal(notify_post(n, url, big), -EMSGSIZE);
	json_decref(big);
	free(filler);
	assert_int_equal(notify_stats(n)->pending, 0);
	notify_free(n);

	notify_policy_defaults(&pol);
	pol.attempts = 0;
	assert_int_equal(notify_new(event, &pol, &m), -EINVAL);
	notify_policy_defaults(&pol);
	snprintf(pol.ca_file, sizeof(pol.ca_file), "/nonexistent/ca.pem");
	assert_int_equal(notify_new(event, &pol, &m), -ENOENT);
	assert_non_null(strstr(logbuf, "/nonexistent/ca.pem"));
	notify_policy_defaults(&pol);
	pol.insecure = true;
	assert_int_equal(notify_new(event, &pol, &m), 0);
	assert_non_null(strstr(logbuf, "NOT verified"));
	notify_free(m);
	assert_int_equal(notify_new(event, NULL, &m), 0);
	notify_free(m);
	notify_free(NULL);
	json_decref(p);
}

/* ---- addresses and configuration ---- */

static void test_url_ok(void **state)
{
	static const char *const good[] = {
		"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
		"https://prod-00.westeurope.logic.azure.com:443/workflows/0123/triggers/manual/paths/invoke"
		"?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc",
		"http://127.0.0.1:8080/hook",
		"https://[::1]:8443/h",
		"https://user:pass@example.com/",
		"https://example.com",
		NULL
	};
	static const char *const bad[] = {
		"", "ftp://example.com/", "example.com/hook", "HTTPS://example.com/", "https://", "http:///path",
		"https://?q=1", "https://exa mple.com/", "https://example.com/a\r\nX-Injected: 1",
		"https://example.com/\x01", "https://ex\xc3\xa4mple.com/", "https://example.com:99999/",
		"file:///etc/passwd", "javascript:alert(1)", NULL
	};
	char why[128], *longurl;
	int i;

	(void)state;
	for (i = 0; good[i]; i++) {
		why[0] = '\0';
		if (!notify_url_ok(good[i], why, sizeof(why)))
			fail_msg("%s refused: %s", good[i], why);
	}
	for (i = 0; bad[i]; i++) {
		why[0] = '\0';
		if (notify_url_ok(bad[i], why, sizeof(why)))
			fail_msg("bad URL #%d accepted", i);
		assert_true(why[0] != '\0');
	}
	assert_false(notify_url_ok(NULL, why, sizeof(why)));
	assert_false(notify_url_ok("ftp://x/", NULL, 0));
	assert_false(notify_url_ok("ftp://x/", why, sizeof(why)));
	assert_non_null(strstr(why, "http:// or https://"));
	longurl = malloc(NOTIFY_URL_MAX + 1);
	memcpy(longurl, "https://example.com/", 20);
	memset(longurl + 20, 'a', NOTIFY_URL_MAX - 20);
	longurl[NOTIFY_URL_MAX] = '\0';
	assert_false(notify_url_ok(longurl, why, sizeof(why)));
	assert_non_null(strstr(why, "longer than"));
	longurl[NOTIFY_URL_MAX - 1] = '\0';
	assert_true(notify_url_ok(longurl, why, sizeof(why)));
	free(longurl);
}

static void test_url_read(void **state)
{
	char dir[] = "/tmp/test_notify.XXXXXX", path[128], url[NOTIFY_URL_MAX], why[128], text[1024];
	char longurl[400];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hook.url", dir);
	/* longer than a configuration line may be */
	snprintf(longurl, sizeof(longurl), "https://prod-00.westeurope.logic.azure.com:443/workflows/%0100d/"
		 "triggers/manual/paths/invoke?api-version=2016-10-01&sp=%%2Ftriggers%%2Fmanual%%2Frun&sv=1.0&sig=%064d",
		 0, 0);
	snprintf(text, sizeof(text), "# ops channel\n\n  %s  \r\n", longurl);
	testutil_write_text(path, text);
	assert_int_equal(notify_url_read(path, url, sizeof(url), why, sizeof(why)), 0);
	assert_string_equal(url, longurl);
	assert_int_equal(notify_url_read(path, url, 64, why, sizeof(why)), -ENAMETOOLONG);

	testutil_write_text(path, "https://a.example.com/1\nhttps://b.example.com/2\n");
	assert_int_equal(notify_url_read(path, url, sizeof(url), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "one URL"));
	testutil_write_text(path, "# nothing\n\n");
	assert_int_equal(notify_url_read(path, url, sizeof(url), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no URL"));
	testutil_write_text(path, "ftp://x.example.com/" SECRET "\n");
	assert_int_equal(notify_url_read(path, url, sizeof(url), why, sizeof(why)), -EINVAL);
	assert_null(strstr(why, SECRET));
	unlink(path);
	assert_int_equal(notify_url_read(path, url, sizeof(url), why, sizeof(why)), -ENOENT);
	rmdir(dir);
}

static void test_policy_keys(void **state)
{
	struct conf_ctx c = { .path = "test.conf", .line = 7 };
	struct notify_policy p;

	(void)state;
	notify_policy_defaults(&p);
	assert_int_equal(p.attempts, 5);
	assert_int_equal(p.queue_max, 256);
	assert_int_equal(p.in_flight_max, 4);
	assert_int_equal(p.retry_delay_ns, NSEC_PER_SEC);
	assert_int_equal(p.retry_max_ns, 60 * NSEC_PER_SEC);
	assert_int_equal(notify_policy_key(&p, &c, "notify_attempts", "3"), 0);
	assert_int_equal(notify_policy_key(&p, &c, "notify_timeout", "2s"), 0);
	assert_int_equal(notify_policy_key(&p, &c, "notify_retry_delay", "250ms"), 0);
	assert_int_equal(notify_policy_key(&p, &c, "notify_retry_max", "5m"), 0);
	assert_int_equal(notify_policy_key(&p, &c, "notify_queue", "1000"), 0);
	assert_int_equal(notify_policy_key(&p, &c, "notify_ca_file", "/etc/ssl/ca.pem"), 0);
	assert_int_equal(notify_policy_key(&p, &c, "notify_insecure", "yes"), 0);
	assert_int_equal(p.attempts, 3);
	assert_int_equal(p.timeout_ns, 2 * NSEC_PER_SEC);
	assert_int_equal(p.retry_delay_ns, 250 * NSEC_PER_MSEC);
	assert_int_equal(p.retry_max_ns, 300 * NSEC_PER_SEC);
	assert_int_equal(p.queue_max, 1000);
	assert_string_equal(p.ca_file, "/etc/ssl/ca.pem");
	assert_true(p.insecure);
	logbuf[0] = '\0';
	assert_int_equal(notify_policy_key(&p, &c, "notify_attempts", "0"), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:7:"));
	assert_int_equal(notify_policy_key(&p, &c, "notify_queue", "many"), -EINVAL);
	assert_int_equal(notify_policy_key(&p, &c, "notify_timeout", "-1s"), -EINVAL);
	assert_int_equal(notify_policy_key(&p, &c, "notify", "https://example.com/"), -ENOENT);
	assert_int_equal(p.attempts, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_shape),
		cmocka_unit_test_setup(test_delivered, test_setup),
		cmocka_unit_test_setup(test_retried_then_sent, test_setup),
		cmocka_unit_test_setup(test_404_not_retried, test_setup),
		cmocka_unit_test_setup(test_attempts_exhausted, test_setup),
		cmocka_unit_test_setup(test_queue_bound, test_setup),
		cmocka_unit_test_setup(test_order_per_url, test_setup),
		cmocka_unit_test_setup(test_secret_never_logged, test_setup),
		cmocka_unit_test_setup(test_free_drops_pending, test_setup),
		cmocka_unit_test_setup(test_bad_input, test_setup),
		cmocka_unit_test(test_url_ok),
		cmocka_unit_test_setup(test_url_read, test_setup),
		cmocka_unit_test_setup(test_policy_keys, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
