// SPDX-License-Identifier: MIT
/*
 * The program's signal mask, minus the signals the shim lives on.
 *
 * On hardware an ETRACK IPI reaches a thread in enclave mode whatever its
 * signal mask, and ENCLU and enclave exceptions raise no signal at all.  Here
 * the IPI is a real-time signal (the kick), ENCLU traps with SIGILL (or
 * SIGSEGV), and enclave exceptions arrive as SIGSEGV, SIGBUS, SIGFPE or
 * SIGTRAP.  A thread that blocked them - worker threads that block every
 * signal are common - would be killed by the kernel at its first ENCLU, and
 * would never answer a kick, which hangs the reclaimer.  So the kernel's mask
 * never holds these "reserved" signals: each thread's wish for them is kept
 * here and shown back wherever the program reads its mask, and a reserved
 * signal that reaches a thread which wished it blocked is treated as Linux
 * treats a blocked one (exec.c asks shim_sig_blocked_for_app()).
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

typedef int sigtimedwait_t(const sigset_t *, siginfo_t *, const struct timespec *);
typedef int execve_t(const char *, char *const[], char *const[]);
typedef int execv_t(const char *, char *const[]);
typedef int fexecve_t(int, char *const[], char *const[]);
typedef int execveat_t(int, const char *, char *const[], char *const[], int);
typedef int spawn_t(pid_t *, const char *, const posix_spawn_file_actions_t *,
		    const posix_spawnattr_t *, char *const[], char *const[]);

/* libc's functions behind ours. */
static sigtimedwait_t *real_sigtimedwait;
static execve_t *real_execve, *real_execvpe;
static execv_t *real_execv, *real_execvp;
static fexecve_t *real_fexecve;
static execveat_t *real_execveat;
static spawn_t *real_posix_spawn, *real_posix_spawnp;
static int (*real_system)(const char *);
static FILE *(*real_popen)(const char *, const char *);

#define RESOLVE(name) (real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name))
/* On first use, if shim_sigmask_resolve() has not run yet. */
#define REAL(name)             \
	do {                   \
		if (!real_##name) \
			RESOLVE(name); \
	} while (0)

/**
 * shim_sigmask_resolve() - find libc's functions behind the interposers here
 *
 * At load: a child of vfork that execs must not have to look them up (the
 * loader's lookup takes locks and may allocate, in memory it shares).
 */
void shim_sigmask_resolve(void)
{
	RESOLVE(sigtimedwait);
	RESOLVE(execve);
	RESOLVE(execvpe);
	RESOLVE(execv);
	RESOLVE(execvp);
	RESOLVE(fexecve);
	RESOLVE(execveat);
	RESOLVE(posix_spawn);
	RESOLVE(posix_spawnp);
	RESOLVE(system);
	RESOLVE(popen);
}

static const int fixed_reserved[] = { SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP };
#define NR_RESERVED (sizeof(fixed_reserved) / sizeof(fixed_reserved[0]) + 1)

/* The program's wish, per thread: bit i for reserved signal i. */
static __thread unsigned int wished;
/* Sent by someone (not a fault) while wished blocked: pending until unblocked. */
static __thread _Atomic unsigned int held;
static __thread siginfo_t held_info[NR_RESERVED];

/*
 * A child of vfork runs on its parent's memory, this thread's TLS included,
 * but has a mask of its own in the kernel.  So there the kernel's mask is
 * the child's whole mask: its first mask call moves the wish it inherited
 * into it (vfork_moved: the pid of the child that did), and nothing here
 * changes the parent's wish or takes the parent's held signals.  own_pid is
 * the process whose memory this is (set at load and by the fork handler).
 */
static pid_t own_pid;
static __thread pid_t vfork_moved;

static int reserved_sig(unsigned int i)
{
	return i < NR_RESERVED - 1 ? fixed_reserved[i] : shim.kick_sig;
}

/* The index of @sig among the reserved signals, or -1. */
static int reserved_index(int sig)
{
	for (unsigned int i = 0; i < NR_RESERVED; i++)
		if (reserved_sig(i) == sig)
			return (int)i;
	return -1;
}

static unsigned int reserved_bits(const sigset_t *set)
{
	unsigned int b = 0;

	for (unsigned int i = 0; i < NR_RESERVED; i++)
		if (sigismember(set, reserved_sig(i)) == 1)
			b |= 1U << i;
	return b;
}

static void reserved_strip(sigset_t *set)
{
	for (unsigned int i = 0; i < NR_RESERVED; i++)
		sigdelset(set, reserved_sig(i));
}

/* The pid of this child of vfork, or 0 in the process that owns the memory. */
static pid_t vfork_child(void)
{
	pid_t pid = (pid_t)syscall(SYS_getpid);

	return own_pid && pid != own_pid ? pid : 0;
}

/* The wish of the parent's thread, in a child of vfork: into its kernel mask, once. */
static void vfork_take(pid_t pid)
{
	sigset_t k;

	if (vfork_moved == pid)
		return;
	sigemptyset(&k);
	for (unsigned int i = 0; i < NR_RESERVED; i++)
		if (wished & 1U << i)
			sigaddset(&k, reserved_sig(i));
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &k, NULL, _NSIG / 8);
	vfork_moved = pid;
}

/* Deliver what was held for signals the program no longer blocks. */
static void release_held(void)
{
	unsigned int now = atomic_load(&held) & ~wished;

	for (unsigned int i = 0; now; i++) {
		if (!(now & 1U << i))
			continue;
		now &= ~(1U << i);
		atomic_fetch_and(&held, ~(1U << i));
		syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), reserved_sig(i),
			&held_info[i]);
	}
}

/**
 * shim_sigmask_init() - take the reserved signals out of the kernel's mask
 *
 * A mask survives exec: the program may start with some of them blocked.
 * Its wish is kept (it reads them back blocked, and a signal sent meanwhile
 * waits), the kernel's mask lets them through.  Call once the handlers are
 * in place (a pending one is delivered at once, to be held).
 */
void shim_sigmask_init(void)
{
	sigset_t cur, open;

	own_pid = (pid_t)syscall(SYS_getpid);
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, _NSIG / 8))
		return;
	wished = reserved_bits(&cur);
	if (!wished)
		return;
	sigemptyset(&open);
	for (unsigned int i = 0; i < NR_RESERVED; i++)
		sigaddset(&open, reserved_sig(i));
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &open, NULL, _NSIG / 8);
}

/**
 * shim_sigmask_adopt() - the kernel's mask @kmask of this thread, which may
 * hold reserved signals blocked past the shim (a thread libc started with
 * a mask of its own: pthread_attr_setsigmask_np(), SIGEV_THREAD timers)
 * @kmask: the mask just read; the reserved signals are taken out of it
 *
 * They become the program's wish, and the caller restores @kmask.
 * Async-signal-safe.
 */
void shim_sigmask_adopt(sigset_t *kmask)
{
	unsigned int b = reserved_bits(kmask);

	if (!b || vfork_child())
		return;
	wished |= b;
	reserved_strip(kmask);
}

/* The same for a thread that reads its mask for this alone (async-signal-safe). */
void shim_sigmask_reopen(void)
{
	sigset_t cur;

	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, _NSIG / 8) ||
	    !reserved_bits(&cur))
		return;
	shim_sigmask_adopt(&cur);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &cur, NULL, _NSIG / 8);
}

/* The program's wish for this thread, as a handler's frame keeps it. */
unsigned int shim_sigmask_wish(void)
{
	return wished;
}

/**
 * shim_sigmask_frame_return() - a program's handler returns
 * @wish: the wish when the signal came (shim_sigmask_wish())
 * @mask: the mask rt_sigreturn will install (the frame's uc_sigmask)
 *
 * As on Linux, the return restores the mask: the wish of before (whatever
 * the handler's sigprocmask calls did), plus the reserved signals the
 * handler put in @mask, which leave it for the wish.  Signal context.
 */
void shim_sigmask_frame_return(unsigned int wish, sigset_t *mask)
{
	pid_t child = vfork_child();

	if (child) {
		/* The kernel's mask is the child's: the wish of before goes into it. */
		if (vfork_moved != child) {
			for (unsigned int i = 0; i < NR_RESERVED; i++)
				if (wish & 1U << i)
					sigaddset(mask, reserved_sig(i));
			vfork_moved = child;
		}
		return;
	}
	wished = wish | reserved_bits(mask);
	reserved_strip(mask);
	if (atomic_load(&held) & ~wished)
		release_held();
}

/* In a child of fork: the mask is inherited, pending signals are not. */
void shim_sigmask_after_fork(void)
{
	own_pid = (pid_t)syscall(SYS_getpid);
	vfork_moved = 0;
	atomic_store(&held, 0);
}

/*
 * rt_sigprocmask as the program sees it.  Return 0 or -errno.  Before the
 * shim can run enclaves (kick_sig still 0) it is the plain system call.
 */
static int mask_op(int how, const sigset_t *set, sigset_t *old)
{
	unsigned int before = wished, after = wished;
	sigset_t kset, kold;
	pid_t child = shim.kick_sig ? vfork_child() : 0;

	if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK)
		return -EINVAL;
	if (child) {
		vfork_take(child);
		return syscall(SYS_rt_sigprocmask, how, set, old, _NSIG / 8) ? -errno : 0;
	}
	vfork_moved = 0; /* a child's, from before: its pid may come again */
	if (set) {
		kset = *set;
		if (shim.kick_sig) {
			unsigned int b = reserved_bits(set);

			after = how == SIG_BLOCK ? before | b : how == SIG_UNBLOCK ? before & ~b : b;
			reserved_strip(&kset);
		}
	}
	if (syscall(SYS_rt_sigprocmask, how, set ? &kset : NULL, &kold, _NSIG / 8))
		return -errno;
	wished = after;
	if (old) {
		*old = kold;
		for (unsigned int i = 0; i < NR_RESERVED; i++)
			if (before & 1U << i)
				sigaddset(old, reserved_sig(i));
	}
	if (atomic_load(&held))
		release_held();
	return 0;
}

/**
 * shim_sig_blocked_for_app() - did the program block this reserved signal?
 * @sig: a signal about to go to the program's disposition
 * @si: its siginfo
 *
 * Signal context.  A signal the program wished blocked is, as on Linux, fatal
 * when a fault raised it (the kernel forces it with its default action) and
 * pending otherwise: it is held here and sent again when the program
 * unblocks it.
 *
 * Return: 0 when it goes to the program now, 1 when it was held, 2 when the
 * default action must be taken.
 */
int shim_sig_blocked_for_app(int sig, const siginfo_t *si)
{
	int i = reserved_index(sig);
	pid_t child;

	if (i < 0 || !(wished & 1U << i))
		return 0;
	/* A child of vfork: its kernel mask let it through, or the wish is its. */
	child = vfork_child();
	if (child && vfork_moved == child)
		return 0;
	if (si->si_code > 0)
		return 2;
	if (child)
		return 0; /* not covered: no place of its own to hold it */
	held_info[i] = *si;
	atomic_fetch_or(&held, 1U << i);
	return 1;
}

SHIM_API int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = mask_op(how, set, old);

	if (r) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* What is pending: the kernel's, and what the shim holds for this thread. */
SHIM_API int sigpending(sigset_t *set)
{
	unsigned int h = vfork_child() ? 0 : atomic_load(&held);

	if (syscall(SYS_rt_sigpending, set, _NSIG / 8))
		return -1;
	for (unsigned int i = 0; h && i < NR_RESERVED; i++)
		if (h & 1U << i)
			sigaddset(set, reserved_sig(i));
	return 0;
}

/*
 * sigwait and friends: a signal of @set held here is taken at once (the
 * kernel never saw it pending); else libc's wait, where a new one is
 * dequeued by the kernel itself.  0 when none is held.
 */
static int take_held(const sigset_t *set, siginfo_t *info, bool libc)
{
	unsigned int h = atomic_load(&held);

	if (h && vfork_child())
		return 0; /* the parent's */

	for (unsigned int i = 0; h && i < NR_RESERVED; i++) {
		if (!(h & 1U << i) || sigismember(set, reserved_sig(i)) != 1)
			continue;
		atomic_fetch_and(&held, ~(1U << i));
		if (info) {
			*info = held_info[i];
			/* As libc reports raise()'s tgkill (the system call does not). */
			if (libc && info->si_code == SI_TKILL)
				info->si_code = SI_USER;
		}
		return reserved_sig(i);
	}
	return 0;
}

/**
 * shim_sigtimedwait_sys() - rt_sigtimedwait(2) as syscall() makes it
 * @set: the signals to wait for
 * @info: their siginfo, or NULL
 * @ts: the timeout, or NULL
 *
 * A signal held here is taken first, as by sigtimedwait().
 * Return: the signal, or -1 with errno.
 */
int shim_sigtimedwait_sys(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	int sig = take_held(set, info, false);

	if (sig)
		return sig;
	return (int)syscall(SYS_rt_sigtimedwait, set, info, ts, _NSIG / 8);
}

SHIM_API int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	int sig = take_held(set, info, true);

	REAL(sigtimedwait);
	if (sig)
		return sig;
	if (!real_sigtimedwait)
		return (int)syscall(SYS_rt_sigtimedwait, set, info, ts, _NSIG / 8);
	return real_sigtimedwait(set, info, ts);
}

SHIM_API int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return sigtimedwait(set, info, NULL);
}

SHIM_API int sigwait(const sigset_t *set, int *sig)
{
	int r;

	do
		r = sigtimedwait(set, NULL, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

SHIM_API int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return -mask_op(how, set, old);
}

/* The BSD and System V spellings: glibc implements them without sigprocmask(). */
static int old_style(int how, int mask)
{
	sigset_t set, old;

	sigemptyset(&set);
	for (int sig = 1; sig <= 32 && sig < _NSIG; sig++)
		if (mask & (int)(1U << (sig - 1)))
			sigaddset(&set, sig);
	if (mask_op(how, &set, &old))
		return -1;
	mask = 0;
	for (int sig = 1; sig <= 32 && sig < _NSIG; sig++)
		if (sigismember(&old, sig) == 1)
			mask |= (int)(1U << (sig - 1));
	return mask;
}

SHIM_API int sigblock(int mask)
{
	return old_style(SIG_BLOCK, mask);
}

SHIM_API int sigsetmask(int mask)
{
	return old_style(SIG_SETMASK, mask);
}

SHIM_API int siggetmask(void)
{
	return old_style(SIG_BLOCK, 0);
}

static int one_signal(int how, int sig, sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigaddset(&set, sig))
		return -1;
	if (mask_op(how, &set, old))
		return -1;
	return 0;
}

SHIM_API int sighold(int sig)
{
	return one_signal(SIG_BLOCK, sig, NULL);
}

SHIM_API int sigrelse(int sig)
{
	return one_signal(SIG_UNBLOCK, sig, NULL);
}

/*
 * glibc's sigset() reaches neither sigaction() nor sigprocmask() through
 * their public names; this one does, so the program's handler is recorded
 * like any other.
 */
SHIM_API sighandler_t sigset(int sig, sighandler_t disp)
{
	struct sigaction sa, oa;
	sigset_t old;

	if (disp == SIG_HOLD) {
		if (sigaction(sig, NULL, &oa) || one_signal(SIG_BLOCK, sig, &old))
			return SIG_ERR;
	} else {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = disp;
		sigemptyset(&sa.sa_mask);
		if (sigaction(sig, &sa, &oa) || one_signal(SIG_UNBLOCK, sig, &old))
			return SIG_ERR;
	}
	return sigismember(&old, sig) == 1 ? SIG_HOLD : oa.sa_handler;
}

/*
 * exec: the new program inherits the kernel's mask, which never holds the
 * reserved signals.  The program's wish for them goes into it for the exec
 * alone (nothing traps in between), and comes out again if the exec fails.
 */
static bool exec_mask(sigset_t *saved)
{
	pid_t child;
	sigset_t k;

	if (!wished || !shim.kick_sig)
		return false;
	child = vfork_child();
	if (child) {
		/* Its kernel mask is its own: the wish stays there. */
		vfork_take(child);
		return false;
	}
	sigemptyset(&k);
	for (unsigned int i = 0; i < NR_RESERVED; i++)
		if (wished & 1U << i)
			sigaddset(&k, reserved_sig(i));
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &k, saved, _NSIG / 8))
		return false;
	/* What is held here is pending in the kernel now: it survives the exec too. */
	for (unsigned int i = 0; i < NR_RESERVED; i++) {
		if (!(atomic_load(&held) & 1U << i))
			continue;
		atomic_fetch_and(&held, ~(1U << i));
		syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), reserved_sig(i),
			&held_info[i]);
	}
	return true;
}

static void exec_unmask(bool masked, const sigset_t *saved)
{
	int e = errno;

	if (masked)
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, saved, NULL, _NSIG / 8);
	errno = e;
}


/*
 * Around the exec of libc's @call: -1 with ENOSYS when libc has none.  With
 * fork sharing, ksgxd first leaves this process, which the exec may end.
 */
#define EXEC_MASKED(name, call)                    \
	do {                                       \
		sigset_t saved;                    \
		bool m;                            \
		int r;                             \
		if (!real_##name) {                \
			errno = ENOSYS;            \
			return -1;                 \
		}                                  \
		shim_real_before_exec();           \
		m = exec_mask(&saved);             \
		r = call;                          \
		exec_unmask(m, &saved);            \
		return r;                          \
	} while (0)


SHIM_API int execve(const char *path, char *const argv[], char *const envp[])
{
	REAL(execve);
	EXEC_MASKED(execve, real_execve(path, argv, envp));
}

SHIM_API int execv(const char *path, char *const argv[])
{
	REAL(execv);
	EXEC_MASKED(execv, real_execv(path, argv));
}

SHIM_API int execvp(const char *file, char *const argv[])
{
	REAL(execvp);
	EXEC_MASKED(execvp, real_execvp(file, argv));
}

SHIM_API int execvpe(const char *file, char *const argv[], char *const envp[])
{
	REAL(execvpe);
	EXEC_MASKED(execvpe, real_execvpe(file, argv, envp));
}

SHIM_API int fexecve(int fd, char *const argv[], char *const envp[])
{
	REAL(fexecve);
	EXEC_MASKED(fexecve, real_fexecve(fd, argv, envp));
}

SHIM_API int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		      int flags)
{
	REAL(execveat);
	EXEC_MASKED(execveat, real_execveat(dirfd, path, argv, envp, flags));
}

/* Without a mask of its own in @attr, the child starts with the parent's. */
static bool spawn_inherits(const posix_spawnattr_t *attr)
{
	short flags = 0;

	return !attr || posix_spawnattr_getflags(attr, &flags) || !(flags & POSIX_SPAWN_SETSIGMASK);
}

/* libc's posix_spawn or posix_spawnp, @real, with the exec's mask. */
static int spawn_masked(spawn_t *real, pid_t *pid, const char *path,
			const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
			char *const argv[], char *const envp[])
{
	sigset_t saved;
	bool m;
	int r;

	if (!real)
		return ENOSYS;
	m = spawn_inherits(attr) && exec_mask(&saved);
	r = real(pid, path, fa, attr, argv, envp);
	exec_unmask(m, &saved);
	return r;
}

SHIM_API int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	REAL(posix_spawn);
	return spawn_masked(real_posix_spawn, pid, path, fa, attr, argv, envp);
}

SHIM_API int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	REAL(posix_spawnp);
	return spawn_masked(real_posix_spawnp, pid, file, fa, attr, argv, envp);
}

/*
 * popen(): libc spawns the shell itself, past posix_spawn() above, with the
 * kernel's mask: the wish goes into it for the call (the parent waits until
 * the shell has exec'd).
 */
SHIM_API FILE *popen(const char *cmd, const char *mode)
{
	sigset_t saved;
	FILE *f;
	bool m;

	REAL(popen);
	if (!real_popen) {
		errno = ENOSYS;
		return NULL;
	}
	m = exec_mask(&saved);
	f = real_popen(cmd, mode);
	exec_unmask(m, &saved);
	return f;
}

/*
 * system(): libc's spawns the shell with the kernel's mask and then waits
 * for it, too long to keep the wish in the kernel's mask.  With a wish, the
 * same steps here, with the program's mask (the wish included) given to
 * the shell through posix_spawn's attribute.  SIGINT and SIGQUIT are
 * ignored while any system() runs, SIGCHLD blocked in the caller.
 */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_users;
static struct sigaction system_intr, system_quit;

struct system_call {
	pid_t pid;
	sigset_t omask;
};

/* The end of a system() call, also when the caller is cancelled in the wait. */
static void system_end(void *arg)
{
	struct system_call *c = arg;
	int st;

	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_lock(&system_lock);
	if (--system_users == 0) {
		sigaction(SIGINT, &system_intr, NULL);
		sigaction(SIGQUIT, &system_quit, NULL);
	}
	pthread_mutex_unlock(&system_lock);
	sigprocmask(SIG_SETMASK, &c->omask, NULL);
}

static int system_masked(const char *cmd)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	struct system_call c = { .pid = -1 };
	posix_spawnattr_t attr;
	sigset_t chld, dfl;
	int status = -1, r;
	pid_t pid;

	sigemptyset(&ign.sa_mask);
	pthread_mutex_lock(&system_lock);
	if (system_users++ == 0) {
		sigaction(SIGINT, &ign, &system_intr);
		sigaction(SIGQUIT, &ign, &system_quit);
	}
	sigemptyset(&dfl);
	if (system_intr.sa_handler != SIG_IGN)
		sigaddset(&dfl, SIGINT);
	if (system_quit.sa_handler != SIG_IGN)
		sigaddset(&dfl, SIGQUIT);
	pthread_mutex_unlock(&system_lock);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &c.omask);
	r = posix_spawnattr_init(&attr);
	if (!r) {
		posix_spawnattr_setsigmask(&attr, &c.omask);
		posix_spawnattr_setsigdefault(&attr, &dfl);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		r = real_posix_spawn(&pid, "/bin/sh", NULL, &attr,
				     (char *const[]){ (char *)"sh", (char *)"-c", (char *)"--",
						      (char *)cmd, NULL }, environ);
		posix_spawnattr_destroy(&attr);
	}
	if (r) {
		status = 127 << 8;
	} else {
		pthread_cleanup_push(system_end, &c);
		c.pid = pid;
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				status = -1;
				break;
			}
		}
		c.pid = -1;
		pthread_cleanup_pop(0);
	}
	system_end(&c);
	if (r)
		errno = r;
	return status;
}

SHIM_API int system(const char *cmd)
{
	REAL(system);
	REAL(posix_spawn);
	if (!wished || !shim.kick_sig || !real_posix_spawn || vfork_child())
		return real_system ? real_system(cmd) : -1;
	if (!cmd)
		return system_masked("exit 0") == 0;
	return system_masked(cmd);
}

/* The list forms, as libc builds them: an argv on the stack, then the vector form. */
#define ARGV_FROM_LIST(arg0, argv)                                    \
	size_t n_ = 1;                                                \
	va_list ap_;                                                  \
	va_start(ap_, arg0);                                          \
	while (va_arg(ap_, const char *))                             \
		n_++;                                                 \
	va_end(ap_);                                                  \
	char *argv[n_ + 1];                                           \
	argv[0] = (char *)(arg0);                                     \
	va_start(ap_, arg0);                                          \
	for (size_t i_ = 1; i_ <= n_; i_++)                           \
		argv[i_] = va_arg(ap_, char *)

SHIM_API int execl(const char *path, const char *arg, ...)
{
	ARGV_FROM_LIST(arg, argv);
	va_end(ap_);
	return execv(path, argv);
}

SHIM_API int execlp(const char *file, const char *arg, ...)
{
	ARGV_FROM_LIST(arg, argv);
	va_end(ap_);
	return execvp(file, argv);
}

SHIM_API int execle(const char *path, const char *arg, ...)
{
	ARGV_FROM_LIST(arg, argv);
	char *const *envp = va_arg(ap_, char *const *);

	va_end(ap_);
	return execve(path, argv, envp);
}
