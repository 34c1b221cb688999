/* notify: webhooks on scale actions in Azure autoscale's payload (1.0), retried from the loop */
#ifndef ASCALE_NOTIFY_H
#define ASCALE_NOTIFY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#define NOTIFY_URL_MAX		2048		/* bytes, NUL included */
#define NOTIFY_BODY_MAX		(64 * 1024)	/* a larger payload is refused */
#define NOTIFY_ORIGIN_MAX	320		/* scheme://host[:port] */

struct notify;
struct conf_ctx;

/* One scale action, as Azure autoscale describes it (docs: "Webhook notifications"). */
struct notify_event {
	const char *operation;		/* "Scale Out", "Scale In"; NULL: from the capacities */
	int64_t time_ns;		/* real time of the action */
	const char *setting;		/* context.name */
	const char *setting_id;		/* context.id; NULL: the setting's name */
	const char *details;		/* NULL: a sentence made from the names and capacities */
	const char *resource_name;	/* the deployment */
	const char *resource_type;
	const char *resource_id;
	const char *subscription;	/* NULL: "" */
	const char *resource_group;	/* NULL: "" */
	const char *portal_link;	/* NULL: left out */
	const char *region;		/* context.resourceRegion; NULL: left out */
	unsigned old_capacity, new_capacity;
	const json_t *properties;	/* an object (our decision record), copied; NULL: {} */
};

/* How deliveries are made; notify_policy_defaults() gives the documented defaults. */
struct notify_policy {
	char ca_file[PATH_MAX];		/* "": the system's CA store */
	bool insecure;			/* no TLS verification (notify_new warns) */
	int64_t timeout_ns;		/* one attempt */
	unsigned attempts;		/* per delivery, first try included */
	int64_t retry_delay_ns;		/* first backoff; doubles, with jitter, up to retry_max */
	int64_t retry_max_ns;
	unsigned queue_max;		/* deliveries held, in flight included */
	unsigned in_flight_max;		/* requests at once (one per URL at a time) */
};

struct notify_stats {
	uint64_t sent;		/* deliveries answered 2xx */
	uint64_t retried;	/* attempts repeated after a connection error, timeout, 408, 429 or 5xx */
	uint64_t failed;	/* deliveries given up: refused, or out of attempts */
	uint64_t dropped;	/* deliveries refused because the queue was full */
	unsigned pending;	/* deliveries held, in flight included */
	unsigned in_flight;
};

/*
 * The webhook body: {version "1.0", status "Activated", operation, context
 * {...}, properties} with capacities as strings, as Azure sends them.
 * Returns a new object, or NULL (errno EINVAL: no operation given and equal
 * capacities, or properties not an object; ENOMEM).
 */
json_t *notify_payload(const struct notify_event *ev);

void notify_policy_defaults(struct notify_policy *p);
/*
 * The [coordinator] keys notify_attempts, notify_timeout, notify_retry_delay,
 * notify_retry_max, notify_queue, notify_ca_file and notify_insecure: 0,
 * -ENOENT (not one of them) or -EINVAL (reported).
 */
int notify_policy_key(struct notify_policy *p, struct conf_ctx *c, const char *key, const char *value);

/*
 * Whether url is a webhook address we can post to (http:// or https://, a
 * host, no space or control character, at most NOTIFY_URL_MAX - 1 bytes).
 * When not, why says what is wrong; it never repeats the URL, which may hold
 * a secret.
 */
bool notify_url_ok(const char *url, char *why, size_t len);
/*
 * Reads the one URL of file path (blank lines and '#' comments aside) into
 * url and checks it: for URLs longer than a configuration line, or kept
 * out of the configuration.  Returns 0, or -errno with why set.
 */
int notify_url_read(const char *path, char *url, size_t size, char *why, size_t len);
/* scheme://host[:port] of url, for messages: never the user, path or query. */
const char *notify_origin(const char *url, char *buf, size_t len);

/*
 * Binds a sender to the loop e with policy p (NULL: the defaults). Returns
 * 0, -EINVAL (a policy value out of range), -errno of ca_file (logged) or
 * -ENOMEM.
 */
int notify_new(sd_event *e, const struct notify_policy *p, struct notify **out);
/*
 * Queues payload for url and returns at once; the request starts from the
 * loop.  Deliveries to one URL are made in the order posted.  Returns 0,
 * -EINVAL (bad URL, payload not an object), -EMSGSIZE (payload larger than
 * NOTIFY_BODY_MAX), -ENOBUFS (queue full: dropped, counted, logged) or -ENOMEM.
 * Failures later on are logged once per delivery and counted; they never
 * reach the caller.
 */
int notify_post(struct notify *n, const char *url, const json_t *payload);
const struct notify_stats *notify_stats(const struct notify *n);
/* Drops whatever is pending, requests in flight included, without waiting. */
void notify_free(struct notify *n);

#endif
