/* test_agent_conf: the [agent] section, and FILE:LINE errors from the shared INI reader */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_conf.h"
#include "log.h"
#include "testutil.h"
#include "timeutil.h"

/* Writes text to a temporary file and loads it; returns agent_conf_load's result. */
static int load(const char *text, struct agent_conf *c, char *path, size_t len)
{
	FILE *f;
	int fd, r;

	snprintf(path, len, "/tmp/test_agent_conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	logbuf[0] = '\0';
	agent_conf_defaults(c);
	r = agent_conf_load(path, c);
	unlink(path);
	return r;
}

static void test_defaults(void **state)
{
	struct agent_conf c;

	(void)state;
	agent_conf_defaults(&c);
	assert_int_equal(c.sample_interval_ns, 100 * NSEC_PER_MSEC);
	assert_int_equal(c.ring_seconds_ns, 600 * NSEC_PER_SEC);
	assert_string_equal(c.ring_path, "/run/ascale/asagent.ring");
	assert_int_equal(c.source, AGENT_SOURCE_AUTO);
	assert_string_equal(c.cgroup, "");
	assert_true(strlen(c.instance) > 0);
	assert_int_equal(agent_conf_slots(&c), 6000);
}

static void test_all_keys(void **state)
{
	struct agent_conf c;
	char path[64];

	(void)state;
	assert_int_equal(load("# comment\n"
			      "[agent]\n"
			      "sample_interval = 250ms   ; inline comment\n"
			      "ring_path = /tmp/x.ring\n"
			      "ring_seconds = 2m\n"
			      "ring_group = root\n"
			      "source = procfs\n"
			      "ebpf_attach = raw_tp\n"
			      "cgroup = /sys/fs/cgroup/model.slice\n"
			      "instance = vm-001\n"
			      "deployment = blue\n"
			      "endpoint = my-endpoint\n", &c, path, sizeof(path)), 0);
	assert_int_equal(c.sample_interval_ns, 250 * NSEC_PER_MSEC);
	assert_string_equal(c.ring_path, "/tmp/x.ring");
	assert_int_equal(c.ring_seconds_ns, 120 * NSEC_PER_SEC);
	assert_string_equal(c.ring_group, "root");
	assert_int_equal(c.source, AGENT_SOURCE_PROCFS);
	assert_int_equal(c.attach, AGENT_ATTACH_RAW_TP);
	assert_string_equal(c.cgroup, "/sys/fs/cgroup/model.slice");
	assert_string_equal(c.instance, "vm-001");
	assert_string_equal(c.deployment, "blue");
	assert_string_equal(c.endpoint, "my-endpoint");
	assert_int_equal(agent_conf_slots(&c), 480);
	/* a bare number is seconds */
	assert_int_equal(load("[agent]\nring_seconds = 30\nsample_interval = 1\n",
			      &c, path, sizeof(path)), 0);
	assert_int_equal(c.ring_seconds_ns, 30 * NSEC_PER_SEC);
	assert_int_equal(c.sample_interval_ns, NSEC_PER_SEC);
}

/* Each bad file: the error names the file, the line and what was expected. */
static void test_errors(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *expect;
	} cases[] = {
		{ "[agent]\nfoo = 1\n", 2, "unknown key 'foo'" },
		{ "[agent]\n\nsample_interval = fast\n", 3, "expected a duration" },
		{ "[agent]\nsample_interval = 1ms\n", 2, "expected a duration from 10ms to 1m" },
		{ "[agent]\nsource = bpf\n", 2, "expected auto, ebpf or procfs" },
		{ "[agent]\nebpf_attach = kprobe\n", 2, "expected auto, tp_btf or raw_tp" },
		{ "[agent]\nring_path = relative/path\n", 2, "expected an absolute path" },
		{ "[agnet]\nsource = auto\n", 2, "unknown section [agnet]" },
		{ "source = auto\n", 1, "unknown section []" },
		{ "[agent]\njust words\n", 2, "expected 'key = value'" },
		{ "[agent\nsource = auto\n", 1, "expected ']'" },
		{ "[agent]\ninstance = a\tb\n", 2, "expected printable" },
		{ "[agent]\nring_seconds = -5\n", 2, "expected a duration" },
		{ "[agent]\ncoordinator = c1:7070\n", 2, "coordinator needs key_file" },
		{ "[agent]\nkey_file = /k\n\ncoordinator = c1\n", 4, "expected host:port" },
		{ "[agent]\ncoordinator = c1:0\n", 2, "port 1..65535" },
		{ "[agent]\ncoordinator = c1:70x\n", 2, "expected host:port" },
		{ "[agent]\ncoordinator = ::1:7070\n", 2, "expected host:port or [IPv6]:port" },
		{ "[agent]\ncoordinator = a:1 a:1\n", 2, "'a:1' is listed twice" },
		{ "[agent]\ncoordinator = a:1 b:1 c:1 d:1 e:1\ncoordinator = f:1 g:1 h:1 i:1\n", 3,
		  "more than 8 coordinators" },
		{ "[agent]\nsample_interval = 2s\nreport_interval = 1s\n", 3,
		  "report_interval (1s) is shorter than sample_interval (2s)" },
		{ "[agent]\nreport_interval = 61s\n", 2, "expected a duration from 10ms to 1m" },
		{ "[agent]\nkey_file = key\n", 2, "expected an absolute path" },
	};
	struct agent_conf c;
	char path[64], want[128];
	size_t i;

	(void)state;
	testutil_log_catch();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load(cases[i].text, &c, path, sizeof(path)), -EINVAL);
		snprintf(want, sizeof(want), "%s:%d: ", path, cases[i].line);
		if (!strstr(logbuf, want) || !strstr(logbuf, cases[i].expect))
			fail_msg("case %zu: wanted '%s...%s', got '%s'", i, want, cases[i].expect, logbuf);
	}
	log_set_sink(NULL, NULL);
}

static void test_stream_keys(void **state)
{
	struct agent_conf c, d;
	char path[64], host[AGENT_ADDR_MAX], port[8];

	(void)state;
	agent_conf_defaults(&c);
	assert_int_equal(c.report_interval_ns, NSEC_PER_SEC);
	assert_int_equal(c.ncoord, 0);
	assert_int_equal(load("[agent]\ncoordinator = c1:7070 10.0.0.2:7071\n"
			      "coordinator = [fd00::1]:7072\nreport_interval = 2s\n"
			      "key_file = /etc/ascale/agent.key\n", &c, path, sizeof(path)), 0);
	assert_int_equal(c.ncoord, 3);
	assert_string_equal(c.coordinators[0], "c1:7070");
	assert_string_equal(c.coordinators[1], "10.0.0.2:7071");
	assert_string_equal(c.coordinators[2], "[fd00::1]:7072");
	assert_int_equal(c.report_interval_ns, 2 * NSEC_PER_SEC);
	assert_string_equal(c.key_file, "/etc/ascale/agent.key");
	assert_int_equal(agent_conf_split_addr(c.coordinators[2], host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "fd00::1");
	assert_string_equal(port, "7072");
	assert_int_equal(agent_conf_split_addr("h:", host, sizeof(host), port, sizeof(port)), -EINVAL);
	assert_int_equal(agent_conf_split_addr(":1", host, sizeof(host), port, sizeof(port)), -EINVAL);
	assert_int_equal(agent_conf_split_addr("[::1]", host, sizeof(host), port, sizeof(port)), -EINVAL);
	/* the default report interval follows a longer sample interval */
	assert_int_equal(load("[agent]\nsample_interval = 5s\n", &d, path, sizeof(path)), 0);
	assert_int_equal(d.report_interval_ns, 5 * NSEC_PER_SEC);
	/* what restarts the stream on reload */
	d = c;
	assert_false(agent_conf_stream_changed(&c, &d));
	snprintf(d.coordinators[1], AGENT_ADDR_MAX, "10.0.0.3:7071");
	assert_true(agent_conf_stream_changed(&c, &d));
	d = c;
	d.ring_seconds_ns++;
	assert_false(agent_conf_stream_changed(&c, &d));
	d.report_interval_ns = NSEC_PER_SEC;
	assert_true(agent_conf_stream_changed(&c, &d));
}

/* Every error in a file is reported, and nothing of a bad file is applied. */
static void test_all_errors_reported(void **state)
{
	struct agent_conf c;
	char path[64], want[128];

	(void)state;
	testutil_log_catch();
	assert_int_equal(load("[agent]\nsource = procfs\nfoo = 1\nbar = 2\n", &c, path, sizeof(path)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:3: ", path);
	assert_non_null(strstr(logbuf, want));
	snprintf(want, sizeof(want), "%s:4: ", path);
	assert_non_null(strstr(logbuf, want));
	assert_int_equal(c.source, AGENT_SOURCE_AUTO);
	log_set_sink(NULL, NULL);
}

static void test_long_line(void **state)
{
	struct agent_conf c;
	char text[600], path[64], want[128];

	(void)state;
	snprintf(text, sizeof(text), "[agent]\ninstance = %0300d\nsource = procfs\n", 7);
	testutil_log_catch();
	assert_int_equal(load(text, &c, path, sizeof(path)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: line longer than", path);
	assert_non_null(strstr(logbuf, want));
	log_set_sink(NULL, NULL);
}

static void test_missing_file(void **state)
{
	struct agent_conf c;

	(void)state;
	testutil_log_catch();
	agent_conf_defaults(&c);
	assert_int_equal(agent_conf_load("/nonexistent/asagent.conf", &c), -ENOENT);
	assert_non_null(strstr(logbuf, "/nonexistent/asagent.conf"));
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stream_keys),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
