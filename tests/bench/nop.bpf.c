/* nop.bpf: an empty sched_switch program, the baseline the agent's hook is measured against */
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int nop_switch(__u64 *ctx)
{
	(void)ctx;
	return 0;
}
