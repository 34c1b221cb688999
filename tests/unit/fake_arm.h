/* fake_arm: an azureml backend pointed at tests/servers/fake_arm.py, for the backend tests */
#ifndef ASCALE_TEST_FAKE_ARM_H
#define ASCALE_TEST_FAKE_ARM_H

#include "backend_loop.h"
#include "test_server.h"

/*
 * Setting web's azureml backend for ep1/blue in workspace ws1 of 0000-sub/rg1
 * on the fake, retrying after 50 ms, with these request and operation
 * timeouts: seven keys on the next lines, no token yet, not started.
 */
static inline struct backend *fake_arm_azureml(const char *request_timeout, const char *operation_timeout)
{
	struct backend *b;
	char arm[64];

	assert_int_equal(backend_new("azureml", "web", "ep1", "blue", &b), 0);
	snprintf(arm, sizeof(arm), "http://127.0.0.1:%d/", server_port);
	key(b, "subscription", "0000-sub");
	key(b, "resource_group", "rg1");
	key(b, "workspace", "ws1");
	key(b, "arm", arm);
	key(b, "retry_delay", "50ms");
	key(b, "request_timeout", request_timeout);
	key(b, "operation_timeout", operation_timeout);
	return b;
}

/* The bearer token the fake expects from now on. */
static inline void fake_arm_token(const char *token)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
	server_post("/_fake/token", body);
}

/* The fake as new: nothing logged, no fault queued, token the one expected, every deployment at capacity. */
static inline void fake_arm_reset(const char *token, unsigned capacity)
{
	char body[64];

	server_post("/_fake/reset", "{}");
	fake_arm_token(token);
	snprintf(body, sizeof(body), "{\"capacity\":%u}", capacity);
	server_post("/_fake/capacity", body);
}

#endif
