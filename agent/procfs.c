/* procfs: parsers for /proc and cgroup files, taking a buffer so they are tested on recorded text */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

#define NSEC_PER_SEC_U	1000000000ULL

/* A cursor over [p, end): the buffers are not NUL-terminated. */
struct pf_cur {
	const char *p;
	const char *end;
};

static void pf_blanks(struct pf_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool pf_digit(const struct pf_cur *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* A decimal number of at least one digit that fits in 64 bits. */
static int pf_u64(struct pf_cur *c, uint64_t *v)
{
	uint64_t n = 0;

	if (!pf_digit(c))
		return -EINVAL;
	while (pf_digit(c)) {
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(*c->p - '0'), &n))
			return -EINVAL;
		c->p++;
	}
	*v = n;
	return 0;
}

static bool pf_word(struct pf_cur *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* Accepts the end of the buffer or one newline ending it; nothing else may follow. */
static int pf_end(struct pf_cur *c)
{
	if (c->p < c->end && *c->p == '\n')
		c->p++;
	return c->p == c->end ? 0 : -EINVAL;
}

/* Sets line to the next line (without its newline); false at the end of the buffer. */
static bool pf_line(struct pf_cur *c, struct pf_cur *line, bool *terminated)
{
	const char *nl;

	if (c->p >= c->end)
		return false;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	line->p = c->p;
	line->end = nl ? nl : c->end;
	*terminated = nl != NULL;
	c->p = nl ? nl + 1 : c->end;
	return true;
}

/* ticks of 1/hz s to ns, exactly, refusing what does not fit in 64 bits */
static int pf_ticks_ns(uint64_t ticks, long hz, uint64_t *ns)
{
	uint64_t h = (uint64_t)hz, whole, frac;

	if (__builtin_mul_overflow(ticks / h, NSEC_PER_SEC_U, &whole))
		return -EINVAL;
	frac = (ticks % h) * NSEC_PER_SEC_U / h;	/* < hz * 1e9: fits for hz < 1.8e10 */
	return __builtin_add_overflow(whole, frac, ns) ? -EINVAL : 0;
}

enum { ST_USER, ST_NICE, ST_SYSTEM, ST_IDLE, ST_IOWAIT, ST_IRQ, ST_SOFTIRQ, ST_STEAL, ST_MIN,
       ST_MAX = 10 };

static int pf_stat_line(struct pf_cur *l, long hz, struct procfs_cpu *cpu, uint32_t ncpu)
{
	uint64_t n, f[ST_MAX], busy = 0;
	struct procfs_cpu *e;
	int i, nf = 0;

	if (pf_u64(l, &n) < 0 || n >= ncpu || n >= PROCFS_CPU_LIMIT)
		return -EINVAL;
	e = &cpu[n];
	if (e->online)
		return -EINVAL;	/* a CPU twice */
	while (l->p < l->end) {
		if (*l->p != ' ' && *l->p != '\t')
			return -EINVAL;
		pf_blanks(l);
		if (l->p == l->end)
			break;
		if (pf_u64(l, nf < ST_MAX ? &f[nf] : &n) < 0)
			return -EINVAL;
		nf++;
	}
	if (nf < ST_MIN)
		return -EINVAL;
	for (i = 0; i < ST_MIN; i++) {
		if (i == ST_IDLE || i == ST_IOWAIT)
			continue;
		if (__builtin_add_overflow(busy, f[i], &busy))
			return -EINVAL;
	}
	if (pf_ticks_ns(busy, hz, &e->busy_ns) < 0 ||
	    __builtin_add_overflow(f[ST_IDLE], f[ST_IOWAIT], &n) ||
	    pf_ticks_ns(n, hz, &e->idle_ns) < 0 ||
	    pf_ticks_ns(f[ST_STEAL], hz, &e->steal_ns) < 0)
		return -EINVAL;
	e->online = true;
	return 0;
}

int procfs_parse_stat(const char *buf, size_t len, long hz, struct procfs_cpu *cpu, uint32_t ncpu)
{
	struct pf_cur c = { buf, buf + len }, l;
	bool term;
	int n = 0;

	if (!buf || hz <= 0 || hz > 1000000)
		return -EINVAL;
	memset(cpu, 0, ncpu * sizeof(*cpu));
	while (pf_line(&c, &l, &term)) {
		if (!pf_word(&l, "cpu"))
			continue;
		if (l.p < l.end && (*l.p == ' ' || *l.p == '\t'))
			continue;	/* the all-CPU line */
		/* a line cut short by a truncated read could parse as smaller numbers */
		if (!term || pf_stat_line(&l, hz, cpu, ncpu) < 0)
			return -EINVAL;
		n++;
	}
	return n > 0 ? n : -EINVAL;
}

/* Finds the line starting with key; leaves v just after the key. */
static bool pf_find(const char *buf, size_t len, const char *key, struct pf_cur *v)
{
	struct pf_cur c = { buf, buf + len };
	bool term;

	while (pf_line(&c, v, &term))
		if (pf_word(v, key))
			return true;
	return false;
}

static int pf_meminfo_kb(const char *buf, size_t len, const char *key, uint64_t *bytes)
{
	struct pf_cur v;
	uint64_t kb;

	if (!pf_find(buf, len, key, &v))
		return -EINVAL;
	pf_blanks(&v);
	if (pf_u64(&v, &kb) < 0)
		return -EINVAL;
	pf_blanks(&v);
	if (!pf_word(&v, "kB") || v.p != v.end)
		return -EINVAL;
	return __builtin_mul_overflow(kb, 1024, bytes) ? -EINVAL : 0;
}

int procfs_parse_meminfo(const char *buf, size_t len, uint64_t *total, uint64_t *avail)
{
	if (!buf || pf_meminfo_kb(buf, len, "MemTotal:", total) < 0 ||
	    pf_meminfo_kb(buf, len, "MemAvailable:", avail) < 0 || *total == 0)
		return -EINVAL;
	return 0;
}

int procfs_parse_cpu_stat(const char *buf, size_t len, uint64_t *usage_ns)
{
	struct pf_cur v;
	uint64_t us;

	if (!buf || !pf_find(buf, len, "usage_usec ", &v))
		return -EINVAL;
	if (pf_u64(&v, &us) < 0 || v.p != v.end || __builtin_mul_overflow(us, 1000, usage_ns))
		return -EINVAL;
	return 0;
}

int procfs_parse_cpu_max(const char *buf, size_t len, double *cpus)
{
	struct pf_cur c = { buf, buf + len };
	uint64_t quota = 0, period;
	bool max;

	if (!buf)
		return -EINVAL;
	max = pf_word(&c, "max");
	if (!max && pf_u64(&c, &quota) < 0)
		return -EINVAL;
	if (!pf_word(&c, " ") || pf_u64(&c, &period) < 0 || pf_end(&c) < 0)
		return -EINVAL;
	if (period == 0 || (!max && quota == 0))
		return -EINVAL;
	*cpus = max ? 0.0 : (double)quota / (double)period;
	return 0;
}

int procfs_parse_u64(const char *buf, size_t len, uint64_t *v)
{
	struct pf_cur c = { buf, buf + len };

	if (!buf || pf_u64(&c, v) < 0 || pf_end(&c) < 0)
		return -EINVAL;
	return 0;
}

int procfs_parse_cpulist(const char *buf, size_t len, uint32_t *count, int32_t *highest)
{
	struct pf_cur c = { buf, buf + len };
	uint64_t a, b;
	int64_t top = -1;
	uint32_t n = 0;

	if (!buf)
		return -EINVAL;
	if (pf_end(&c) == 0)
		goto done;	/* empty list */
	for (;;) {
		if (pf_u64(&c, &a) < 0)
			return -EINVAL;
		b = a;
		if (pf_word(&c, "-") && pf_u64(&c, &b) < 0)
			return -EINVAL;
		if (b < a || b >= PROCFS_CPU_LIMIT || (int64_t)a <= top)
			return -EINVAL;
		n += (uint32_t)(b - a + 1);
		top = (int64_t)b;
		if (!pf_word(&c, ","))
			break;
	}
	if (pf_end(&c) < 0)
		return -EINVAL;
done:
	*count = n;
	*highest = (int32_t)top;
	return 0;
}

/* Copies a mountinfo field, undoing the kernel's \ooo escapes. */
static int pf_unescape(const struct pf_cur *f, char *out, size_t size)
{
	const char *p = f->p;
	size_t o = 0;
	int d;

	while (p < f->end) {
		char ch = *p++;

		if (ch == '\\' && f->end - p >= 3) {
			for (d = 0; d < 3; d++)
				if (p[d] < '0' || p[d] > '7')
					return -EINVAL;
			ch = (char)(((p[0] - '0') << 6) | ((p[1] - '0') << 3) | (p[2] - '0'));
			p += 3;
		} else if (ch == '\\') {
			return -EINVAL;
		}
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* The next space-separated field of a line; false when there is none. */
static bool pf_field(struct pf_cur *l, struct pf_cur *f)
{
	while (l->p < l->end && *l->p == ' ')
		l->p++;
	if (l->p == l->end)
		return false;
	f->p = l->p;
	while (l->p < l->end && *l->p != ' ')
		l->p++;
	f->end = l->p;
	return true;
}

int procfs_parse_cgroup2_mount(const char *buf, size_t len, char *path, size_t size)
{
	struct pf_cur c = { buf, buf + len }, l, f, mnt;
	bool term;
	int i;

	if (!buf)
		return -EINVAL;
	while (pf_line(&c, &l, &term)) {
		for (i = 0; i < 5; i++)
			if (!pf_field(&l, &f))
				return -EINVAL;
		mnt = f;	/* the fifth field: the mount point */
		/* optional fields up to the "-" separator, then the file system type */
		do {
			if (!pf_field(&l, &f))
				return -EINVAL;
		} while (f.end - f.p != 1 || *f.p != '-');
		if (!pf_field(&l, &f))
			return -EINVAL;
		if (f.end - f.p == 7 && memcmp(f.p, "cgroup2", 7) == 0)
			return pf_unescape(&mnt, path, size);
	}
	return -ENOENT;
}

long procfs_read(int fd, char **buf, size_t *cap, size_t max)
{
	size_t ncap;
	ssize_t n;
	char *nb;

	if (!*buf) {
		*cap = 4096 < max ? 4096 : max;
		*buf = malloc(*cap);
		if (!*buf)
			return -ENOMEM;
	}
	for (;;) {
		do
			n = pread(fd, *buf, *cap - 1, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if ((size_t)n < *cap - 1)
			break;
		/* it filled the buffer: maybe there is more */
		if (*cap >= max)
			return -EFBIG;
		ncap = *cap * 2 < max ? *cap * 2 : max;
		nb = realloc(*buf, ncap);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
	(*buf)[n] = '\0';
	return (long)n;
}
