/* vmlinux_min: the few kernel types cpu.bpf.c reads, relocated by CO-RE at load time */
#ifndef ASCALE_VMLINUX_MIN_H
#define ASCALE_VMLINUX_MIN_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef signed short __s16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

typedef __u8 u8;
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
typedef int pid_t;

enum {
	false = 0,
	true = 1,
};

/*
 * Only the fields used below.  CO-RE matches them by name in the running
 * kernel's BTF, so their order and the absent members do not matter.
 */
struct kernfs_node {
	u64 id;
} __attribute__((preserve_access_index));

struct cgroup;

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent;
} __attribute__((preserve_access_index));

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

struct task_struct {
	pid_t pid;
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

#endif
