/* pingpong: round trips of one byte between two processes, on one CPU or free: a switch-heavy load */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0, start, end;
	int cpu = argc > 2 ? atoi(argv[2]) : 0;	/* -1: not pinned */
	int ab[2], ba[2];
	unsigned long trips = 0;
	cpu_set_t set;
	pid_t child;
	char c = 0;

	if (seconds <= 0 || seconds > 60 || pipe(ab) < 0 || pipe(ba) < 0)
		return 2;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* both on one CPU: every message is a switch */
	if (cpu >= 0 && sched_setaffinity(0, sizeof(set), &set) < 0)
		return 2;
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		while (read(ab[0], &c, 1) == 1 && c)
			if (write(ba[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	start = now();
	end = start + seconds;
	c = 1;
	for (;;) {
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return 1;
		trips++;
		if ((trips & 1023) == 0 && now() >= end)
			break;
	}
	end = now();
	c = 0;
	if (write(ab[1], &c, 1) != 1)
		kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* two switches a round trip */
	printf("pingpong_trips_per_s %.0f\n", trips / (end - start));
	return 0;
}
