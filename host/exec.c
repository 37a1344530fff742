// SPDX-License-Identifier: MIT
/*
 * Enclave execution.  Enclave code runs natively; ENCLU traps (SIGSEGV on
 * CPUs where the silicon has SGX hidden, SIGILL elsewhere: the bytes at RIP
 * decide, never the signal number) and the CPU model's ENCLU cores perform
 * it on the saved context.  Any other signal that interrupts a thread in
 * enclave mode is an AEX first (sgx_aex()), after which the fault is
 * resolved through the driver, reported through the vDSO's run structure,
 * or handed to the program's own handler with the state a real AEX leaves.
 *
 * Each thread that meets an enclave gets a slot: its logical processor and
 * its sigaltstack, in one reserved area so that the signal entry can find
 * the slot from RSP alone (entry.S).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim.h"
#include "stub.h"
#include "softsgx/cpu.h"
#include "softsgx/uapi/sgx.h"

#define ALT_SIZE (STUB_AREA_OFF - SLOT_STACK_OFF)
#define AUTODISARM (1U << 31) /* SS_AUTODISARM, linux/signal.h */
#define KERNEL_MINSIGSTKSZ 2048UL /* what sigaltstack() checks on x86 */
#define EFLAGS_TF 0x100UL
#define NR_SLOTS 512

struct fast_frame;

struct slot {
	uint64_t host_fsgs[2];      /* first: entry.S installs these */
	_Atomic int used;
	pid_t tid;
	struct sgx_lp lp;
	_Atomic uint64_t exit_seq;  /* bumped at every AEX and EEXIT */
	_Atomic bool inside;        /* mirrors lp.in_enclave for kickers */
	struct shim_file *f;        /* the enclave it is inside (or was last) */
	/* Odd while the CPU model runs a leaf or an AEX for this thread. */
	_Atomic uint64_t in_leaf;
	struct fast_frame *fast;    /* the vDSO's last trap-free EENTER */
	/* SOFTSGX_TEST_STUB_STEP: where the next landing in a stub falls. */
	bool step_in;
	unsigned int step_count, step_target, step_busy;
	uint64_t *step_lock;        /* a bucket lock the test holds for this thread */
	bool mask_open;             /* the kernel's mask was looked at (fast EENTER) */
};

int softsgx_have_fsgsbase;
unsigned long softsgx_slots_base, softsgx_slots_span;
/*
 * The program's own alternate signal stack, per thread, once the thread has
 * a slot: the kernel's then is the slot's (the signal entry finds the slot
 * from RSP), and this one is what sigaltstack() reports and where handlers
 * with SA_ONSTACK that the shim delivers run (shim_sigaltstack()).
 */
static __thread stack_t app_ss __attribute__((tls_model("initial-exec"))) = {
	.ss_flags = SS_DISABLE
};

/* Initial-exec: the shim is loaded at start (LD_PRELOAD), and every entry reads it. */
static __thread struct slot *my_slot __attribute__((tls_model("initial-exec")));
static pthread_key_t slot_key;
/* One past the highest slot ever claimed: a fork looks at no other. */
static _Atomic int slots_hwm;

/* The program's own dispositions, served back by sigaction(). */
static struct sigaction app_act[_NSIG];
static bool ours[_NSIG]; /* our entry is installed for this signal */

void softsgx_signal(int sig, siginfo_t *si, ucontext_t *uc, struct slot *s, uint64_t *fsgs);

static unsigned int slot_index(const struct slot *s)
{
	return (unsigned int)(((uintptr_t)s - softsgx_slots_base) / SLOT_SIZE);
}

static void slot_free(void *p)
{
	struct slot *s = p;
	/* The thread is leaving: its own stack back, for the rest of its exit. */
	syscall(SYS_sigaltstack, &app_ss, NULL);
	if (my_slot == s)
		my_slot = NULL;
	shim_stub_clear_ds(slot_index(s));
	shim_stub_clear_tid(s->tid, s);
	atomic_store(&s->used, 0);
}

static struct slot *slot_at(int i)
{
	return (struct slot *)(softsgx_slots_base + (unsigned long)i * SLOT_SIZE);
}

static struct stub_frame *frame_of(struct slot *s)
{
	return (struct stub_frame *)((char *)s + STUB_AREA_OFF);
}

static uint8_t *xsave_of(struct slot *s)
{
	return (uint8_t *)s + STUB_XSAVE_OFF;
}

/*
 * The software bytes of a kernel signal frame's XSAVE image (struct
 * _fpx_sw_bytes at 464, which XSAVE never writes, and the end marker), so
 * that the slot's image passes for one: with the handler's code and with
 * rt_sigreturn.
 */
static void stamp_xsave(struct slot *s)
{
	uint8_t *x = xsave_of(s);
	uint32_t m1 = 0x46505853U, m2 = 0x46505845U, size = shim_xsave_size, ext = size + 4;
	uint64_t features = softsgx_stub_rfbm;

	memcpy(x + 464, &m1, 4);
	memcpy(x + 468, &ext, 4);
	memcpy(x + 472, &features, 8);
	memcpy(x + 480, &size, 4);
	memcpy(x + size, &m2, 4);
}

/*
 * A slot claimed by a new thread (or kept by a forked child's one) starts
 * with nothing of its last thread's: that one may have died, or stayed in
 * the parent, in the middle of a leaf.
 */
static void stub_slot_init(struct slot *s)
{
	struct stub_frame *f = frame_of(s);

	atomic_store(&f->busy, 0);
	atomic_store(&f->deferred_set, 0);
	f->step = 0;
	f->mask_set = 0;
	s->mask_open = false;
	s->step_in = false;
	s->step_count = s->step_target = s->step_busy = 0;
	s->step_lock = NULL;
	if (!shim_stub_enabled())
		return;
	f->common = (uint64_t)(uintptr_t)softsgx_stub_common;
	stamp_xsave(s);
}

/* The calling thread's slot, claimed on first use.  Async-signal-safe. */
static struct slot *slot_get(void)
{
	struct slot *s = my_slot;

	if (s)
		return s;
	for (int i = 0; i < NR_SLOTS; i++) {
		int z = 0;

		s = slot_at(i);
		if (!atomic_compare_exchange_strong(&s->used, &z, 1))
			continue;
		for (int hw = atomic_load(&slots_hwm);
		     hw <= i && !atomic_compare_exchange_weak(&slots_hwm, &hw, i + 1);)
			;
		s->tid = (pid_t)syscall(SYS_gettid);
		sgx_lp_init(&s->lp);
		s->inside = false;
		s->f = NULL;
		softsgx_get_fsgs(s->host_fsgs);
		stack_t ss = { .ss_sp = (char *)s + SLOT_STACK_OFF, .ss_size = ALT_SIZE }, prev;
		/*
		 * The program's own (when it set one before), kept for
		 * sigaltstack().  On it (a trap's handler), the change fails
		 * with EPERM; the caller then makes sigreturn install ours.
		 */
		if (!syscall(SYS_sigaltstack, NULL, &prev) && !(prev.ss_flags & SS_DISABLE) &&
		    (uint64_t)(uintptr_t)prev.ss_sp - softsgx_slots_base >= softsgx_slots_span) {
			app_ss = prev;
			app_ss.ss_flags &= ~SS_ONSTACK;
		}
		syscall(SYS_sigaltstack, &ss, NULL);
		stub_slot_init(s);
		my_slot = s;
		pthread_setspecific(slot_key, s);
		shim_stub_set_tid(s->tid, s);
		shim_stub_set_ds((unsigned int)i, s);
		return s;
	}
	return NULL;
}

/*
 * sigaltstack() for the program (preload.c, and syscall(SYS_sigaltstack)):
 * the kernel's own answer until the thread has a slot; from then on the
 * program's stack is only recorded, with the kernel's checks, since the
 * kernel's must stay the slot's.  0, or -1 with errno.
 */
static bool on_app_stack(uint64_t sp)
{
	return !(app_ss.ss_flags & SS_DISABLE) &&
	       sp - (uint64_t)(uintptr_t)app_ss.ss_sp < app_ss.ss_size;
}

int shim_sigaltstack(const stack_t *ss, stack_t *old)
{
	bool on = on_app_stack((uint64_t)(uintptr_t)__builtin_frame_address(0));
	int mode = ss ? (int)((unsigned int)ss->ss_flags & ~AUTODISARM) : 0;
	stack_t cur = app_ss;

	if (!my_slot)
		return (int)syscall(SYS_sigaltstack, ss, old);
	if (ss) {
		if (on) {
			errno = EPERM;
			return -1;
		}
		if (mode != 0 && mode != SS_DISABLE) {
			errno = EINVAL;
			return -1;
		}
		if (mode != SS_DISABLE && ss->ss_size < KERNEL_MINSIGSTKSZ) {
			errno = ENOMEM;
			return -1;
		}
	}
	if (old) {
		*old = cur;
		if (on)
			old->ss_flags = SS_ONSTACK | (int)((unsigned int)cur.ss_flags & AUTODISARM);
		if (cur.ss_flags & SS_DISABLE)
			*old = (stack_t){ .ss_flags = SS_DISABLE };
	}
	if (ss)
		app_ss = mode == SS_DISABLE ? (stack_t){ .ss_flags = SS_DISABLE } : *ss;
	return 0;
}

/* ---- register views ---- */

static void regs_from_uc(struct sgx_regs *r, const ucontext_t *uc, const uint64_t *fsgs)
{
	const greg_t *g = uc->uc_mcontext.gregs;

	r->rax = g[REG_RAX]; r->rcx = g[REG_RCX]; r->rdx = g[REG_RDX]; r->rbx = g[REG_RBX];
	r->rsp = g[REG_RSP]; r->rbp = g[REG_RBP]; r->rsi = g[REG_RSI]; r->rdi = g[REG_RDI];
	r->r8 = g[REG_R8]; r->r9 = g[REG_R9]; r->r10 = g[REG_R10]; r->r11 = g[REG_R11];
	r->r12 = g[REG_R12]; r->r13 = g[REG_R13]; r->r14 = g[REG_R14]; r->r15 = g[REG_R15];
	r->rflags = g[REG_EFL]; r->rip = g[REG_RIP];
	r->fsbase = fsgs[0];
	r->gsbase = fsgs[1];
}

static void regs_to_uc(const struct sgx_regs *r, ucontext_t *uc, uint64_t *fsgs)
{
	greg_t *g = uc->uc_mcontext.gregs;

	g[REG_RAX] = r->rax; g[REG_RCX] = r->rcx; g[REG_RDX] = r->rdx; g[REG_RBX] = r->rbx;
	g[REG_RSP] = r->rsp; g[REG_RBP] = r->rbp; g[REG_RSI] = r->rsi; g[REG_RDI] = r->rdi;
	g[REG_R8] = r->r8; g[REG_R9] = r->r9; g[REG_R10] = r->r10; g[REG_R11] = r->r11;
	g[REG_R12] = r->r12; g[REG_R13] = r->r13; g[REG_R14] = r->r14; g[REG_R15] = r->r15;
	g[REG_EFL] = r->rflags; g[REG_RIP] = r->rip;
	fsgs[0] = r->fsbase;
	fsgs[1] = r->gsbase;
}

/*
 * The kernel's description of a signal frame's XSAVE image, in the legacy
 * area's software bytes (struct _fpx_sw_bytes at 464): the size of the
 * state and the size of the whole area with its end marker.  A frame
 * without it holds only the 512-byte FXSAVE image.
 */
static void fp_sizes(const uint8_t *fp, uint32_t *xstate_size, uint32_t *extended_size)
{
	uint32_t magic;

	*xstate_size = *extended_size = 512;
	memcpy(&magic, fp + 464, 4);
	if (magic != 0x46505853U) /* FP_XSTATE_MAGIC1 */
		return;
	memcpy(extended_size, fp + 464 + 4, 4);
	memcpy(xstate_size, fp + 464 + 16, 4);
}

/* The XSAVE image of the signal frame. */
static void xstate_of(ucontext_t *uc, struct sgx_xstate *xs)
{
	uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
	uint32_t ext;

	xs->buf = fp;
	xs->size = 512;
	if (fp)
		fp_sizes(fp, &xs->size, &ext);
}

/* ---- the CPU model's view of the page tables ---- */

/* The enclave file mapped at @la, or NULL. */
static struct shim_file *encl_file_at(uint64_t la)
{
	struct shim_map m;

	return shim_map_lookup(la, &m) && m.f->kind == SHIM_ENCL ? m.f : NULL;
}

static int translate(void *ctx, uint64_t la, bool write, uint64_t *pa)
{
	struct shim_map m;
	struct sgx_epc_page *epc;

	(void)ctx;
	if (!shim_map_lookup(la, &m) || m.f->kind != SHIM_ENCL)
		return -1;
	if (write ? !(m.vm_flags & VM_WRITE) : !(m.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)))
		return -1;
	epc = shim_pte(m.f, la);
	if (!epc)
		return -1;
	*pa = (uint64_t)(uintptr_t)sgx_get_epc_virt_addr(epc);
	return 0;
}

static const struct sgx_mmu shim_mmu = { .translate = translate, .ctx = NULL };

/*
 * A leaf reads the page tables (translate) and then the EPCM, which on
 * hardware is one instruction: a TLB shootdown cannot fall in between.
 * So a zap waits for every leaf that may have translated before it.
 */
static void leaf_begin(struct slot *s)
{
	atomic_fetch_add(&s->in_leaf, 1);
	atomic_thread_fence(memory_order_seq_cst);
}

static void leaf_end(struct slot *s)
{
	atomic_fetch_add_explicit(&s->in_leaf, 1, memory_order_release);
}

/*
 * Slots at or above slots_hwm were never claimed: the walks below stop
 * there.  Each slot is on pages of its own, so a walk over all NR_SLOTS
 * costs a TLB miss per slot: a quarter of ksgxd's time went to this one
 * before (perf, ELDU reloads in a 1 MiB EPC).  A thread that claims a slot
 * after the walk read the mark can only translate after the zap: it
 * raised the mark before its first leaf_begin(), and both sides are
 * sequentially consistent.
 */
static int slots_used_end(void)
{
	int hw = atomic_load(&slots_hwm);

	return hw < NR_SLOTS ? hw : NR_SLOTS;
}

void shim_wait_leaves(void)
{
	int end;

	atomic_thread_fence(memory_order_seq_cst);
	end = slots_used_end();
	for (int i = 0; i < end; i++) {
		struct slot *s = slot_at(i);
		uint64_t v;

		if (s == my_slot || !atomic_load_explicit(&s->used, memory_order_relaxed))
			continue;
		v = atomic_load(&s->in_leaf);
		if (!(v & 1))
			continue;
		while (atomic_load(&s->in_leaf) == v)
			sched_yield();
	}
}

/* ---- kicks (the ETRACK IPI) ---- */

/* @s left the enclave (AEX or EEXIT): what a kicker waits for. */
static void lp_exited(struct slot *s)
{
	/* A kicker that sees either has seen the exit (the add is a full barrier). */
	atomic_store_explicit(&s->inside, false, memory_order_release);
	atomic_fetch_add(&s->exit_seq, 1);
}

void shim_kick_threads(struct sgx_encl *encl)
{
	uint64_t seq[NR_SLOTS];
	pid_t pid = getpid();
	int end = slots_used_end();

	(void)encl;
	for (int i = 0; i < end; i++) {
		struct slot *s = slot_at(i);

		seq[i] = 0;
		if (!atomic_load(&s->used) || !atomic_load(&s->inside))
			continue;
		seq[i] = atomic_load(&s->exit_seq) | 1ULL << 63;
		syscall(SYS_tgkill, pid, s->tid, shim.kick_sig);
	}
	for (int i = 0; i < end; i++) {
		struct slot *s = slot_at(i);

		if (!seq[i])
			continue;
		while (atomic_load(&s->inside) &&
		       atomic_load(&s->exit_seq) == (seq[i] & ~(1ULL << 63)))
			sched_yield();
	}
}

/* ---- delivering to the program ---- */

static bool debug; /* SOFTSGX_DEBUG=1, read at load */
static uint64_t user_cs, user_ss; /* for IRETQ and rt_sigreturn frames */

/* SOFTSGX_DEBUG=1: one line per signal the shim hands on (async-signal-safe). */
static void debug_line(const char *what, int sig, uint64_t a, uint64_t b, uint64_t c)
{
	char buf[160], *p = buf;
	const uint64_t v[4] = { (uint64_t)sig, a, b, c };

	if (!debug)
		return;
	p += snprintf(p, 24, "softsgx: %s", what);
	for (int i = 0; i < 4; i++) {
		*p++ = ' ';
		*p++ = '0';
		*p++ = 'x';
		for (int sh = 60; sh >= 0; sh -= 4) {
			unsigned int d = (unsigned int)(v[i] >> sh) & 15;

			if (d || sh == 0 || p[-1] != 'x')
				*p++ = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		}
	}
	*p++ = '\n';
	(void)!write(2, buf, (size_t)(p - buf));
}

/*
 * Deliver to the program's handler as the kernel would: a frame of the
 * kernel's layout (return address, ucontext, siginfo, extended state) pushed
 * on the interrupted stack below its red zone, the handler entered from our
 * sigreturn with its mask in force, and rt_sigreturn on that frame when it
 * returns (softsgx_app_restorer).  Calling the handler from here instead
 * would leave our frames on the alternate stack while it runs; a handler
 * that enters an enclave (an SDK's exception handling does) would then have
 * them overwritten by the next signal from enclave mode.
 */
struct app_frame {
	uint64_t pretcode;
	ucontext_t uc;
	siginfo_t info;
	unsigned int wish;
};
extern char softsgx_app_restorer[];

static void push_app_frame(int sig, siginfo_t *si, ucontext_t *uc, uint64_t handler,
			   const sigset_t *mask, bool onstack)
{
	greg_t *g = uc->uc_mcontext.gregs;
	const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
	uint32_t fpsize = 512, xsize;
	uint64_t sp = (uint64_t)g[REG_RSP] - 128, here = (uint64_t)(uintptr_t)&fpsize;
	struct app_frame *f;
	uint8_t *nfp = NULL;

	/*
	 * SA_ONSTACK: the top of the program's alternate stack, unless the
	 * thread is on it already (as the kernel decides; a handler for a
	 * stack overflow needs it).  Without a slot the kernel's alternate
	 * stack is the program's, and this code may be running on it.
	 */
	if (onstack && !(app_ss.ss_flags & SS_DISABLE) && app_ss.ss_size &&
	    !on_app_stack((uint64_t)g[REG_RSP]))
		sp = ((uint64_t)(uintptr_t)app_ss.ss_sp + app_ss.ss_size) & ~15ULL;
	/* Running on that stack (the interrupted one, or the program's): go below ourselves. */
	if (here < sp && sp - here < (1UL << 20))
		sp = (here - 4096) & ~15ULL;

	if (fp) {
		fp_sizes(fp, &xsize, &fpsize);
		sp = (sp - fpsize) & ~63ULL;
		nfp = (uint8_t *)(uintptr_t)sp;
		memcpy(nfp, fp, fpsize);
	}
	sp = ((sp - sizeof(*f)) & ~15ULL) - 8;
	f = (struct app_frame *)(uintptr_t)sp;
	f->pretcode = (uint64_t)(uintptr_t)softsgx_app_restorer;
	f->uc = *uc;
	f->uc.uc_mcontext.fpregs = (fpregset_t)nfp;
	/* The program's wish its return restores (softsgx_app_return()). */
	f->wish = shim_sigmask_wish();
	f->info = *si;
	uc->uc_sigmask = *mask;
	g[REG_RSP] = (greg_t)sp;
	g[REG_RIP] = (greg_t)handler;
	g[REG_RDI] = sig;
	g[REG_RSI] = (greg_t)(uintptr_t)&f->info;
	g[REG_RDX] = (greg_t)(uintptr_t)&f->uc;
	g[REG_RAX] = 0;
}

/*
 * A program's handler returned (entry.S, on the frame's context): the mask
 * its return restores, its reserved signals kept as the wish, not in the
 * kernel's mask.
 */
void softsgx_app_return(ucontext_t *uc)
{
	struct app_frame *f = (struct app_frame *)((char *)uc - offsetof(struct app_frame, uc));

	shim_sigmask_frame_return(f->wish, &uc->uc_sigmask);
}

static void app_deliver(int sig, siginfo_t *si, ucontext_t *uc)
{
	struct sigaction *a = &app_act[sig];
	uint64_t handler;
	sigset_t mask;
	bool onstack;
	int blocked;

	debug_line("deliver", sig, (uint64_t)uc->uc_mcontext.gregs[REG_RIP],
		   (uint64_t)uc->uc_mcontext.gregs[REG_TRAPNO], (uint64_t)(uintptr_t)si->si_addr);

	blocked = shim_sig_blocked_for_app(sig, si);
	/*
	 * Linux forces a fault's signal: ignored, it takes the default action
	 * as a blocked one does (returning would run into the fault again).
	 */
	if (!blocked && a->sa_handler == SIG_IGN && si->si_code > 0 &&
	    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP))
		blocked = 2;
	if (blocked == 1 || (a->sa_handler == SIG_IGN && blocked == 0))
		return;
	if (a->sa_handler == SIG_DFL || blocked == 2) {
		/* Die (or stop, or ignore) as the default action says. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		if (sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT)
			return;
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, _NSIG / 8);
		ours[sig] = false;
		sigdelset(&uc->uc_sigmask, sig);
		syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig, si);
		return;
	}
	mask = uc->uc_sigmask;
	for (int i = 1; i < _NSIG; i++)
		if (sigismember(&a->sa_mask, i))
			sigaddset(&mask, i);
	if (!(a->sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	/*
	 * The handler may enter an enclave (an SDK's exception handling does):
	 * the signals ENCLU traps with must stay open, or the kernel kills the
	 * process at the first trap.  On hardware nothing traps there.
	 */
	sigdelset(&mask, SIGILL);
	sigdelset(&mask, SIGSEGV);
	sigdelset(&mask, SIGBUS);
	sigdelset(&mask, SIGFPE);
	sigdelset(&mask, SIGTRAP);
	sigdelset(&mask, shim.kick_sig);
	handler = (uint64_t)(uintptr_t)a->sa_sigaction;
	onstack = a->sa_flags & SA_ONSTACK;
	if (a->sa_flags & SA_RESETHAND) {
		memset(a, 0, sizeof(*a));
		a->sa_handler = SIG_DFL;
	}
	push_app_frame(sig, si, uc, handler, &mask, onstack);
}

/*
 * An exception the enclave cannot be resumed from, after the AEX: the
 * vDSO's fixup when the AEP is ours (no signal, as Linux does for every
 * vector but #DB and #BP), else the program's signal.
 */
static void report(int sig, siginfo_t *si, ucontext_t *uc, int vector, uint32_t err,
		   uint64_t addr)
{
	greg_t *g = uc->uc_mcontext.gregs;

	debug_line("report", vector, err, addr, (uint64_t)g[REG_RIP]);
	if ((uint64_t)g[REG_RIP] == (uint64_t)(uintptr_t)softsgx_vdso_enclu && vector != 1 &&
	    vector != 3) {
		g[REG_RIP] = (greg_t)(uintptr_t)softsgx_vdso_exception;
		g[REG_RDI] = vector;
		g[REG_RSI] = err;
		g[REG_RDX] = (greg_t)addr;
		return;
	}
	if (vector == 14 && sig == SIGSEGV) {
		si->si_addr = (void *)(uintptr_t)addr;
		g[REG_ERR] = err;
	}
	/* The driver's SIGBUS: the kernel's is BUS_ADRERR at the page. */
	if (vector == 14 && sig == SIGBUS) {
		si->si_signo = SIGBUS;
		si->si_code = BUS_ADRERR;
		si->si_addr = (void *)(uintptr_t)addr;
	}
	g[REG_TRAPNO] = vector;
	app_deliver(sig, si, uc);
}

/*
 * Are the bytes at RIP an ENCLU?  Enclave code is read through the CPU
 * model's own mapping of the window: the program's mapping of that page
 * may be gone by now (the reclaimer zaps at any time), and touching it
 * here would fault inside this handler.
 */
static bool is_enclu(const ucontext_t *uc, int sig, int si_code)
{
	const greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = (uint64_t)g[REG_RIP];
	const uint8_t *ip = (const uint8_t *)(uintptr_t)rip;
	struct shim_map m;

	if (sig != SIGSEGV && sig != SIGILL)
		return false;
	/* kill(SIGILL) at an ENCLU is a signal, not the instruction trapping. */
	if (si_code <= 0)
		return false;
	/* Page faults: only EENTER/ERESUME's, which carry the SGX bit. */
	if (sig == SIGSEGV && g[REG_TRAPNO] == 14 && !(g[REG_ERR] & X86_PF_SGX))
		return false;
	if (shim_map_lookup(rip, &m)) {
		if (m.f->kind != SHIM_ENCL || !m.f->window || rip < m.f->base ||
		    rip + 3 > m.f->base + m.f->size)
			return false;
		ip = m.f->window + (rip - m.f->base);
	}
	return ip[0] == 0x0f && ip[1] == 0x01 && ip[2] == 0xd7;
}

static int signo_of_vector(int v)
{
	switch (v) {
	case 0: case 16: case 19: return SIGFPE;
	case 1: case 3: return SIGTRAP;
	case 6: return SIGILL;
	case 17: return SIGBUS;
	default: return SIGSEGV;
	}
}

/*
 * AEX of @s for an event; @uc then holds the state the host sees.  The
 * exit is published before anything can wait on a driver lock.
 */
static void do_aex(struct slot *s, ucontext_t *uc, uint64_t *fsgs, const struct sgx_exception *ex,
		   uint64_t *host_addr)
{
	struct sgx_regs r;
	struct sgx_xstate xs;

	regs_from_uc(&r, uc, fsgs);
	xstate_of(uc, &xs);
	/* Enclave mode runs enclave code: anything else is a shim bug. */
	if (s->f && (r.rip < s->f->base || r.rip - s->f->base >= s->f->size)) {
		shim_log("softsgx: internal error: an AEX outside the enclave's code\n");
		if (shim.test_tail_signal)
			abort();
	}
	leaf_begin(s);
	sgx_aex(shim.cpu, &s->lp, &r, &xs, ex, host_addr);
	leaf_end(s);
	regs_to_uc(&r, uc, fsgs);
	lp_exited(s);
}

static void enclu(siginfo_t *si, ucontext_t *uc, uint64_t *fsgs, struct slot *s);

/* An exception (vector/err/addr) while @s was inside: AEX, then resolve. */
static void enclave_exception(siginfo_t *si, ucontext_t *uc, uint64_t *fsgs,
			      struct slot *s, int vector, uint32_t err, uint64_t addr, bool native)
{
	struct sgx_exception ex = {
		.reported = true, .vector = (uint8_t)vector,
		.type = SGX_EXITINFO_HW_EXCEPTION, .addr = addr, .errcd = err,
	};
	uint64_t host_addr = 0;
	bool sigbus = false;
	int code;

	if (vector == 3)
		ex.type = SGX_EXITINFO_SW_EXCEPTION;
	do_aex(s, uc, fsgs, &ex, &host_addr);
	if (vector != 14) {
		report(signo_of_vector(vector), si, uc, vector, err, 0);
		return;
	}
	if (err & X86_PF_SGX) {
		/* The EPCM said no: nothing the driver can do about it. */
		report(SIGSEGV, si, uc, 14, err, host_addr);
		return;
	}
	code = shim_encl_fault(addr, err & X86_PF_WRITE, err, native, &sigbus);
	if (!code) {
		/*
		 * Back to the AEP, whose ENCLU resumes the enclave: when it is
		 * one, run it now instead of returning to trap on it.  The
		 * same instruction with the same registers, one trap less.
		 */
		if (is_enclu(uc, SIGILL, ILL_ILLOPN) && uc->uc_mcontext.gregs[REG_RAX] == ERESUME)
			enclu(si, uc, fsgs, s);
		return;
	}
	report(sigbus ? SIGBUS : SIGSEGV, si, uc, 14, (uint32_t)code, host_addr);
}

/* The vDSO's trap-free EENTER (entry.S); offsets are fixed there. */
struct fast_frame {
	uint64_t rax, rcx, target, fs, gs;
	uint64_t rdx, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15, rbx, rbp, rsp;
	uint64_t held;	/* room for the signals that waited, to unblock them */
	struct slot *slot;
	uint64_t leaf;	/* EENTER or ERESUME */
	uint64_t iret[5]; /* ERESUME's way out: RIP, CS, RFLAGS, RSP, SS */
	uint64_t pad;
	uint64_t jump;	/* the return slot entry.S jumps through */
};
_Static_assert(sizeof(struct fast_frame) == 232, "entry.S FRAME");
_Static_assert(offsetof(struct fast_frame, slot) == 160, "entry.S F_SLOT");
_Static_assert(offsetof(struct fast_frame, leaf) == 168, "entry.S F_LEAF");
_Static_assert(offsetof(struct fast_frame, iret) == 176, "entry.S F_IRET");
extern char softsgx_fast_tail[], softsgx_fast_tail_end[];

static void fast_to_regs(const struct fast_frame *f, struct sgx_regs *r)
{
	r->rdx = f->rdx; r->rsi = f->rsi; r->rdi = f->rdi; r->r8 = f->r8; r->r9 = f->r9;
	r->r10 = f->r10; r->r11 = f->r11; r->r12 = f->r12; r->r13 = f->r13; r->r14 = f->r14;
	r->r15 = f->r15; r->rbx = f->rbx; r->rbp = f->rbp; r->rsp = f->rsp;
}

/* Let in the signals that waited while the slot was busy (the fast EENTER failed). */
static void let_in_held(struct slot *s)
{
	uint64_t held = atomic_exchange(&frame_of(s)->deferred_set, 0);

	if (held)
		syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &held, NULL, 8);
}

/*
 * EENTER or ERESUME from the vDSO without a trap.  Return 1 with the entry
 * state in @f (ERESUME's extended state in the slot's XSAVE image) and the
 * slot busy (asynchronous signals wait; entry.S restores the image,
 * installs FS/GS, clears the byte, lets them in and jumps), or 0 to let the
 * ENCLU trap do it (a fault, no slot), having changed nothing.
 */
int softsgx_fast_enter(struct fast_frame *f)
{
	struct slot *s = shim.ready ? slot_get() : NULL;
	bool resume = f->leaf == ERESUME;
	struct sgx_xstate xs = { 0 };
	struct stub_frame *sf;
	struct sgx_regs r;
	uint64_t fsgs[2];
	int ret;

	/*
	 * Not from our alternate stack: frames live there would be under the
	 * next signal from enclave mode (which starts at its top again).  The
	 * ENCLU then traps: its signals must be open.
	 */
	if (!s || s->lp.in_enclave || shim.test_stub_step || (resume && !shim_stub_enabled()) ||
	    (uint64_t)(uintptr_t)&r - (uint64_t)(uintptr_t)s < SLOT_SIZE) {
		shim_sigmask_reopen();
		return 0;
	}
	/*
	 * A thread libc started with a mask of its own may block the signals
	 * ENCLU traps with: looked at once, at its first entry; the shim's
	 * interposers keep them open from then on.
	 */
	if (!s->mask_open) {
		shim_sigmask_reopen();
		s->mask_open = true;
	}
	sf = frame_of(s);
	/*
	 * Outside a busy stretch any bit there is stale (stub_defer() sets
	 * them).  Both words are this thread's and its signal handlers' alone:
	 * program order is all they need.
	 */
	atomic_store_explicit(&sf->deferred_set, 0, memory_order_relaxed);
	atomic_store_explicit(&sf->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	memset(&r, 0, sizeof(r));
	fast_to_regs(f, &r);
	r.rax = f->leaf;
	r.rcx = (uint64_t)(uintptr_t)softsgx_vdso_enclu;
	r.rip = (uint64_t)(uintptr_t)softsgx_vdso_enclu;
	r.rflags = 0x202;
	softsgx_get_fsgs(fsgs);
	r.fsbase = fsgs[0];
	r.gsbase = fsgs[1];
	if (resume) {
		/*
		 * The thread's extended state, of which ERESUME replaces the
		 * enclave's XFRM with the SSA's, and entry.S restores.  The
		 * vector registers C used here were the caller's to lose: they
		 * do not survive a call.
		 */
		uint64_t rfbm = softsgx_stub_rfbm;

		__asm__ volatile("xsaveopt64 (%0)"
				 :
				 : "r"(xsave_of(s)), "a"((uint32_t)rfbm),
				   "d"((uint32_t)(rfbm >> 32))
				 : "memory");
		xs.buf = xsave_of(s);
		xs.size = shim_xsave_size;
	}
	/* Ordered before the leaf by leaf_begin()'s fence. */
	atomic_store_explicit(&s->inside, true, memory_order_relaxed);
	leaf_begin(s);
	ret = sgx_enclu(shim.cpu, &s->lp, &shim_mmu, &r, resume ? &xs : NULL);
	leaf_end(s);
	if (ret) {
		atomic_store(&s->inside, false);
		atomic_signal_fence(memory_order_seq_cst);
		atomic_store_explicit(&sf->busy, 0, memory_order_relaxed);
		let_in_held(s);
		return 0;
	}
	s->f = encl_file_at(s->lp.tcs_la);
	if (resume) {
		/* Every register of the resumed code is the SSA's. */
		f->rdx = r.rdx; f->rsi = r.rsi; f->rdi = r.rdi; f->r8 = r.r8; f->r9 = r.r9;
		f->r10 = r.r10; f->r11 = r.r11; f->r12 = r.r12; f->r13 = r.r13;
		f->r14 = r.r14; f->r15 = r.r15; f->rbx = r.rbx; f->rbp = r.rbp; f->rsp = r.rsp;
		f->iret[0] = r.rip;
		f->iret[1] = user_cs;
		f->iret[2] = r.rflags;
		f->iret[3] = r.rsp;
		f->iret[4] = user_ss;
		stamp_xsave(s);
		atomic_fetch_add_explicit(&shim_stub_stats.eresume, 1, memory_order_relaxed);
	}
	f->rax = r.rax;
	f->rcx = r.rcx;
	f->target = r.rip;
	f->fs = r.fsbase;
	f->gs = r.gsbase;
	f->slot = s;
	s->fast = f;
	/* Test hook: a kick while the slot is busy waits, and lands in the tail. */
	if (shim.test_tail_signal)
		syscall(SYS_tgkill, getpid(), s->tid, shim.kick_sig);
	return 1;
}

/* A signal between the fast entry's unmasking and its jump: take the entry state. */
static void fast_tail_fixup(struct slot *s, ucontext_t *uc, uint64_t *fsgs)
{
	const struct fast_frame *f = s->fast;
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP], held, mask;
	struct sgx_regs r;

	if (!f || rip < (uint64_t)(uintptr_t)softsgx_fast_tail ||
	    rip > (uint64_t)(uintptr_t)softsgx_fast_tail_end)
		return;
	fast_to_regs(f, &r);
	r.rax = f->rax;
	r.rcx = f->rcx;
	r.rip = f->target;
	r.rflags = f->leaf == ERESUME ? f->iret[2] : (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	r.fsbase = f->fs;
	r.gsbase = f->gs;
	regs_to_uc(&r, uc, fsgs);
	/* The tail's unblocking of the signals that waited is skipped: do it here. */
	held = atomic_exchange(&frame_of(s)->deferred_set, 0);
	memcpy(&mask, &uc->uc_sigmask, sizeof(mask));
	mask &= ~held;
	memcpy(&uc->uc_sigmask, &mask, sizeof(mask));
}

static bool page_mapped(uint64_t la)
{
	struct shim_file *f = encl_file_at(la);

	return f && shim_pte(f, la);
}

/* After a leaf succeeded: what the rest of the shim learns from it. */
static void leaf_done(struct slot *s, uint64_t leaf, uint64_t target, uint64_t rax,
		      bool was_inside)
{
	/* An accepted page: mapped now, not at a fault of its own. */
	if (was_inside && (leaf == EACCEPT || leaf == EACCEPTCOPY) && !rax)
		shim_encl_map_accepted(target);
	if (s->lp.in_enclave && !was_inside)
		s->f = encl_file_at(s->lp.tcs_la);
	else if (!s->lp.in_enclave && was_inside)
		lp_exited(s);
}

/* ENCLU at RIP: perform the leaf in RAX on the saved context. */
static void enclu(siginfo_t *si, ucontext_t *uc, uint64_t *fsgs, struct slot *s)
{
	struct sgx_regs r;
	struct sgx_xstate xs;
	bool was_inside = s->lp.in_enclave;
	const struct sgx_fault *flt;
	struct sgx_fault fault;
	uint64_t leaf, target;
	int ret;

	for (int tries = 0;; tries++) {
		regs_from_uc(&r, uc, fsgs);
		xstate_of(uc, &xs);
		leaf = r.rax;
		target = r.rcx;
		/*
		 * Visible to kickers before the LP can be inside: the kick then
		 * waits in the signal mask and lands right after the entry.
		 */
		if (!was_inside)
			atomic_store(&s->inside, true);
		leaf_begin(s);
		ret = sgx_enclu(shim.cpu, &s->lp, &shim_mmu, &r, &xs);
		leaf_end(s);
		if (!was_inside && !s->lp.in_enclave)
			atomic_store(&s->inside, false);
		if (!ret) {
			regs_to_uc(&r, uc, fsgs);
			leaf_done(s, leaf, target, r.rax, was_inside);
			/* SOFTSGX_TEST_STUB_STEP: single-step the enclave from its entry. */
			if (shim.test_stub_step && !was_inside && s->lp.in_enclave)
				uc->uc_mcontext.gregs[REG_EFL] |= (greg_t)EFLAGS_TF;
			return;
		}
		flt = sgx_last_fault();
		fault = *flt;
		debug_line("leaf-fault", (int)r.rax, (uint64_t)fault.vector, fault.errcd, fault.addr);
		/*
		 * The EPCM refused a page whose mapping is gone by now (the
		 * reclaimer zaps before EBLOCK): hardware would have found no
		 * PTE first, so it is a not-present fault the driver resolves.
		 */
		if (fault.vector == 14 && (fault.errcd & X86_PF_SGX) && !page_mapped(fault.addr))
			fault.errcd &= ~(X86_PF_SGX | X86_PF_PROT);
		flt = &fault;
		if (was_inside) {
			/* The leaf faulted inside the enclave: an exception there. */
			enclave_exception(si, uc, fsgs, s, flt->vector ? flt->vector : 13,
					  flt->vector == 14 ? flt->errcd : 0, flt->addr, false);
			/*
			 * Resolved and resumed in this signal (the AEP's ERESUME
			 * ran here), back on this very ENCLU: perform it now
			 * rather than return to trap on it again, as an EACCEPT
			 * that EAUGs its page does.  Bounded, so that a fault
			 * the driver keeps retrying returns to the program now
			 * and then, where pending signals are delivered.
			 */
			if (tries < 8 && s->lp.in_enclave && is_enclu(uc, SIGILL, ILL_ILLOPN))
				continue;
			return;
		}
		/* EENTER/ERESUME faulted: a #PF on the TCS or an SSA page may resolve. */
		if (flt->vector == 14) {
			bool sigbus;
			int code;

			if (flt->errcd & X86_PF_SGX) {
				report(SIGSEGV, si, uc, 14, flt->errcd, flt->addr & ~4095ULL);
				return;
			}
			code = shim_encl_fault(flt->addr, flt->errcd & X86_PF_WRITE, flt->errcd,
					       false, &sigbus);
			debug_line("entry-fault", code, flt->addr, tries, sigbus);
			if (!code && tries < 8)
				continue;
			if (!code)
				return; /* the ENCLU runs again: as the kernel's "retry" */
			report(sigbus ? SIGBUS : SIGSEGV, si, uc, 14, (uint32_t)code,
			       flt->addr & ~4095ULL);
			return;
		}
		if (ret == SGX_FAULT_UD) {
			report(SIGILL, si, uc, 6, 0, 0);
			return;
		}
		report(SIGSEGV, si, uc, flt->vector ? flt->vector : 13,
		       flt->vector == 14 ? flt->errcd : 0, flt->vector == 14 ? flt->addr : 0);
		return;
	}
}

/* ---- trap-free ENCLU: the C side of the stubs (enclu_stub.S) ---- */

_Static_assert(STUB_UC_OFF + sizeof(ucontext_t) <= SLOT_SIZE, "the rt_sigreturn frame fits");
_Static_assert(STUB_XSAVE_OFF + STUB_XSAVE_MAX <= STUB_UC_OFF, "the XSAVE image fits");

uint64_t softsgx_stub_leaf(struct slot *s);
uint64_t softsgx_stub_sigframe(struct slot *s);

/* The way out through IRETQ: the final state's RIP, RFLAGS and RSP. */
static void set_iret(struct stub_frame *f)
{
	f->iret[0] = f->r.rip;
	f->iret[1] = user_cs;
	f->iret[2] = f->r.rflags;
	f->iret[3] = f->r.rsp;
	f->iret[4] = user_ss;
}

/*
 * The pages from the mov to the ENCLU are still there for native execution:
 * hardware would fetch them, the stub does not.  When the reclaimer or a
 * permission change took one away, the ENCLU is fetched for real instead.
 */
static bool site_code_mapped(const struct stub_site_info *site)
{
	struct shim_map m;

	for (uint64_t a = site->enclu & ~4095ULL; a <= site->enclu + 2; a += 4096) {
		if (!shim_map_lookup(a, &m) || m.f != site->f || !(m.vm_flags & VM_EXEC) ||
		    !shim_pte(site->f, a))
			return false;
	}
	return true;
}

/* The current kernel mask, less the signals the stub held back. */
static uint64_t stub_base_mask(uint64_t held)
{
	uint64_t cur = 0;

	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, 8);
	return cur & ~held;
}

/*
 * @uc as the kernel would have built it for the frame's state (flags,
 * segments, the slot's alternate stack and XSAVE image) with mask @mask:
 * good for rt_sigreturn, and for a program's handler to return through.
 */
static void stub_uc(struct slot *s, ucontext_t *uc, uint64_t *fsgs, uint64_t mask)
{
	memset(uc, 0, sizeof(*uc));
	uc->uc_flags = 0x1 | 0x2 | 0x4; /* UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS */
	uc->uc_stack.ss_sp = (char *)s + SLOT_STACK_OFF;
	uc->uc_stack.ss_size = ALT_SIZE;
	regs_to_uc(&frame_of(s)->r, uc, fsgs);
	uc->uc_mcontext.gregs[REG_CSGSFS] = (greg_t)(user_cs | user_ss << 48);
	uc->uc_mcontext.fpregs = (fpregset_t)xsave_of(s);
	memcpy(&uc->uc_sigmask, &mask, sizeof(mask));
}

/* The rt_sigreturn frame for the final state, in the slot (see stub.h). */
static ucontext_t *stub_frame_uc(struct slot *s, uint64_t mask)
{
	ucontext_t *uc = (ucontext_t *)((char *)s + STUB_UC_OFF);
	uint64_t fsgs[2];

	stub_uc(s, uc, fsgs, mask);
	return uc;
}

/*
 * The leaf of a stub's site on the frame's registers, by the same cores
 * and with the same bookkeeping as the trap.  Runs on the slot's stack with
 * host FS/GS and every asynchronous signal waiting.  Return 0 to leave
 * through the tail (IRETQ) with the frame's final state, or an
 * rt_sigreturn frame when the signal mask must change with it.
 */
uint64_t softsgx_stub_leaf(struct slot *s)
{
	struct stub_frame *f = frame_of(s);
	struct stub_site_info site;
	struct sgx_regs r;
	int ret = -1;

	f->mask_set = 0;
	if (!shim_stub_site(f->site, &site)) {
		/* Cannot happen: a stub names its own site. */
		shim_log("softsgx: internal error: a stub without its site\n");
		abort();
	}
	f->r.rip = site.enclu;
	f->r.rax = site.leaf;
	r = f->r;
	/*
	 * Test hook: every vector register and opmask the stub saved is
	 * changed here, as C code on another path or a newer libc might.
	 */
	if (shim.test_stub_clobber)
		softsgx_stub_vclobber();
	if (s->lp.in_enclave && site_code_mapped(&site)) {
		if (shim.test_tail_signal)
			syscall(SYS_tgkill, getpid(), s->tid, shim.kick_sig);
		/* Leaves inside an enclave leave the extended state alone. */
		leaf_begin(s);
		ret = sgx_enclu(shim.cpu, &s->lp, &shim_mmu, &r, NULL);
		leaf_end(s);
	}
	if (!ret) {
		leaf_done(s, site.leaf, f->r.rcx, r.rax, true);
		f->r = r;
		atomic_fetch_add_explicit(&shim_stub_stats.fast, 1, memory_order_relaxed);
	} else if (s->lp.in_enclave && site_code_mapped(&site)) {
		/*
		 * A fault, or anything else the trap has more to do for: the
		 * trap's own code on a context built like the trap's.
		 */
		ucontext_t uc;
		siginfo_t si;
		uint64_t fsgs[2], mask = stub_base_mask(atomic_load(&f->deferred_set));

		softsgx_stub_vimage(s); /* the context's extended state, for an AEX */
		stub_uc(s, &uc, fsgs, mask);
		uc.uc_mcontext.gregs[REG_TRAPNO] = 6;
		memset(&si, 0, sizeof(si));
		si.si_signo = SIGILL;
		si.si_code = ILL_ILLOPN;
		si.si_addr = (void *)(uintptr_t)site.enclu;
		enclu(&si, &uc, fsgs, s);
		regs_from_uc(&f->r, &uc, fsgs);
		stamp_xsave(s);
		if (memcmp(&uc.uc_sigmask, &mask, sizeof(mask))) {
			memcpy(&f->mask, &uc.uc_sigmask, sizeof(f->mask));
			f->mask_set = 1;
		}
		atomic_fetch_add_explicit(&shim_stub_stats.slow, 1, memory_order_relaxed);
	}
	/* Otherwise the final state is the entry state at the ENCLU: it traps. */
	set_iret(f);
	if (f->mask_set)
		return softsgx_stub_sigframe(s);
	return 0;
}

/* Leave with the signals that waited let in: rt_sigreturn on the final state. */
uint64_t softsgx_stub_sigframe(struct slot *s)
{
	struct stub_frame *f = frame_of(s);
	uint64_t held = atomic_exchange(&f->deferred_set, 0);
	/*
	 * A mask the slow path chose (a handler of the program's, entered with
	 * its sa_mask) is kept as it is: a signal that waited and is blocked
	 * there waits on, as it would have behind the trap's handler.
	 */
	uint64_t mask = f->mask_set ? f->mask : stub_base_mask(held);

	/* A signal at the rt_sigreturn takes this mask too (stub_forward()). */
	f->mask = mask;
	f->mask_set = 1;
	return (uint64_t)(uintptr_t)stub_frame_uc(s, mask);
}

/*
 * A signal in the stub's tail: the leaf is done, the thread is as good as
 * at the final state, which the frame holds.  The signals that waited are
 * let in when this one's handler returns.
 */
static bool stub_forward(struct slot *s, ucontext_t *uc, uint64_t *fsgs)
{
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP], held, mask;
	struct stub_frame *f;

	if (!((rip >= (uint64_t)(uintptr_t)softsgx_stub_tail &&
	       rip < (uint64_t)(uintptr_t)softsgx_stub_tail_end) ||
	      (rip >= (uint64_t)(uintptr_t)softsgx_stub_sr &&
	       rip <= (uint64_t)(uintptr_t)softsgx_stub_sr_end)))
		return false;
	f = frame_of(s);
	regs_to_uc(&f->r, uc, fsgs);
	held = atomic_exchange(&f->deferred_set, 0);
	memcpy(&mask, &uc->uc_sigmask, sizeof(mask));
	mask = f->mask_set ? f->mask : mask & ~held;
	memcpy(&uc->uc_sigmask, &mask, sizeof(mask));
	atomic_fetch_add_explicit(&shim_stub_stats.forward, 1, memory_order_relaxed);
	return true;
}

/*
 * SOFTSGX_TEST_STUB_STEP=1: a signal at every instruction of the stubs, in
 * turn.  Enclave code runs single-stepped from EENTER (the trap's; the
 * vDSO's trap-free EENTER is off), invisibly; in a stub, the step_target'th
 * step of this thread is treated as the kick signal landing there (the
 * caller handles it as one), and the next stub lands one instruction
 * later.  The C side is not stepped: its first step stands for a kick that
 * waits there, and the tail is stepped again (F_STEP).  Return true when
 * the step is consumed here.
 */
static bool stub_defer(int sig, siginfo_t *si, ucontext_t *uc, struct slot *s);

/* The value the test leaves in a bucket it holds: odd, as a stub's own. */
#define STEP_LOCK 0x57e9001ULL

/*
 * The test lets go of the bucket it held as a holder does, with a store:
 * the stub that found it held wrote its own value there with its xchg.
 */
static void step_unlock(struct slot *s)
{
	if (s->step_lock)
		__atomic_store_n(s->step_lock, 0, __ATOMIC_RELEASE);
	s->step_lock = NULL;
}

static bool stub_step(struct slot *s, siginfo_t *si, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = (uint64_t)g[REG_RIP];
	struct stub_frame *f = frame_of(s);
	bool busy = atomic_load(&f->busy), land;

	/*
	 * SOFTSGX_TEST_STUB_STEP=2: whenever a stub is about to take its
	 * bucket, the bucket is held (as by another thread), so that the way
	 * to the trap is stepped through instead.
	 */
	if (shim.test_stub_step > 1 && !s->step_lock) {
		uint64_t *lock = shim_stub_test_lock(rip, (uint64_t)g[REG_RSP]);
		uint64_t free_ = 0;

		if (lock && __atomic_compare_exchange_n(lock, &free_, STEP_LOCK, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			s->step_lock = lock;
			atomic_fetch_add(&shim_stub_stats.contended, 1);
		}
	}
	if (!busy && !shim_stub_pc(rip) &&
	    !(rip >= (uint64_t)(uintptr_t)softsgx_stub_common &&
	      rip <= (uint64_t)(uintptr_t)softsgx_stub_busy) &&
	    !(rip >= (uint64_t)(uintptr_t)softsgx_stub_tail &&
	      rip <= (uint64_t)(uintptr_t)softsgx_stub_sr_end)) {
		/* Enclave code, stepped on; host code, not. */
		s->step_in = false;
		step_unlock(s);
		if (!s->lp.in_enclave)
			g[REG_EFL] &= ~(greg_t)EFLAGS_TF;
		return true;
	}
	if (!s->step_in) {
		s->step_in = true;
		s->step_count = 0;
	}
	if (busy) {
		/*
		 * The C side: one step stands for all of it, and every fourth
		 * stub that gets there finds a kick waiting, whatever the
		 * target (the sites' stubs differ in length before it).
		 */
		g[REG_EFL] &= ~(greg_t)EFLAGS_TF;
		s->step_count++;
		land = s->step_busy++ % 4 == 0;
		f->step = !land;
		if (land) {
			s->step_in = false;
			step_unlock(s);
			si->si_signo = shim.kick_sig;
			si->si_code = SI_TKILL;
			stub_defer(shim.kick_sig, si, uc, s);
		}
		return true;
	}
	land = s->step_count++ == s->step_target;
	if (land) {
		s->step_target++;
		s->step_in = false;
		step_unlock(s);
	}
	if (!land)
		return true;
	g[REG_EFL] &= ~(greg_t)EFLAGS_TF;
	si->si_signo = shim.kick_sig;
	si->si_code = SI_TKILL;
	return false;
}

static bool sync_signal(int sig, const siginfo_t *si)
{
	return si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
				   sig == SIGFPE || sig == SIGTRAP);
}

/*
 * A signal while a stub's C side runs: it waits, blocked in the mask the
 * thread returns to and queued again, until the stub leaves through
 * rt_sigreturn.  True when it was made to wait.
 */
static bool stub_defer(int sig, siginfo_t *si, ucontext_t *uc, struct slot *s)
{
	struct stub_frame *f = frame_of(s);

	if (sync_signal(sig, si))
		return false;
	atomic_fetch_or(&f->deferred_set, 1ULL << (sig - 1));
	sigaddset(&uc->uc_sigmask, sig);
	syscall(SYS_rt_tgsigqueueinfo, getpid(), s->tid, sig, si);
	atomic_fetch_add_explicit(&shim_stub_stats.deferred, 1, memory_order_relaxed);
	return true;
}

/*
 * ENCLU while the process has no driver (a forked child before its own
 * first open): no enclave can be entered here.  EENTER and ERESUME fault
 * as the CPU model would on a TCS with no page behind it (#GP when it is
 * misaligned), resolved as a fault on an inherited enclave range is (a
 * SIGBUS, which the vDSO reports as #PF); any other leaf needs enclave
 * mode (#UD).
 */
static void enclu_no_driver(siginfo_t *si, ucontext_t *uc)
{
	const greg_t *g = uc->uc_mcontext.gregs;
	uint64_t tcs = (uint64_t)g[REG_RBX];
	bool sigbus;
	int code;

	if (g[REG_RAX] != EENTER && g[REG_RAX] != ERESUME) {
		report(SIGILL, si, uc, 6, 0, 0);
		return;
	}
	if (tcs & 4095) {
		report(SIGSEGV, si, uc, 13, 0, 0);
		return;
	}
	code = shim_encl_fault(tcs, false, X86_PF_USER, false, &sigbus);
	report(sigbus ? SIGBUS : SIGSEGV, si, uc, 14, code ? (uint32_t)code : X86_PF_USER, tcs);
}

/*
 * A fault on an enclave range inherited across fork, or the single step
 * after a write there (which the write's page forgets): true when dealt with.
 */
static bool orphan_fault(int sig, siginfo_t *si, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	bool step;
	int r;

	if (sig == SIGTRAP && shim_orphan_write_done()) {
		g[REG_EFL] &= ~(greg_t)EFLAGS_TF;
		return true;
	}
	if (sig != SIGSEGV || si->si_code <= 0)
		return false;
	r = shim_orphan_fault((unsigned long)si->si_addr, (uint32_t)g[REG_ERR], &step);
	if (r < 0)
		return false;
	if (step)
		g[REG_EFL] |= (greg_t)EFLAGS_TF;
	if (r == SIGBUS) {
		si->si_signo = SIGBUS;
		si->si_code = BUS_ADRERR;
	}
	if (r)
		app_deliver(r, si, uc);
	return true;
}

/**
 * shim_exec_after_fork() - the threads of a forked child
 *
 * Only the thread that forked is left, outside enclave mode (fork is host
 * code): the other slots are free, and its own gets its new thread id and
 * a reset logical processor (the parent's platform is not used any more).
 */
void shim_exec_after_fork(void)
{
	shim_stub_after_fork();
	for (int i = 0; i < atomic_load(&slots_hwm); i++) {
		struct slot *s = slot_at(i);

		if (s == my_slot || !atomic_load(&s->used))
			continue;
		atomic_store(&s->inside, false);
		atomic_store(&s->in_leaf, 0);
		atomic_store(&s->used, 0);
	}
	if (my_slot) {
		my_slot->tid = (pid_t)syscall(SYS_gettid);
		sgx_lp_init(&my_slot->lp);
		atomic_store(&my_slot->inside, false);
		atomic_store(&my_slot->in_leaf, 0);
		my_slot->f = NULL;
		my_slot->fast = NULL;
		stub_slot_init(my_slot);
		shim_stub_set_tid(my_slot->tid, my_slot);
		shim_stub_set_ds(slot_index(my_slot), my_slot);
	}
}

extern char softsgx_user_copy_insn[], softsgx_user_copy_fault[];

/*
 * A fault of the host's user copy (usercopy.S): -EFAULT for the driver, as
 * the kernel's exception table makes it.  First, before anything else:
 * the driver may hold its locks there.
 */
static bool user_copy_fixup(int sig, const siginfo_t *si, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;

	if ((sig != SIGSEGV && sig != SIGBUS) || si->si_code <= 0 ||
	    (uint64_t)g[REG_RIP] != (uint64_t)(uintptr_t)softsgx_user_copy_insn)
		return false;
	g[REG_RIP] = (greg_t)(uintptr_t)softsgx_user_copy_fault;
	return true;
}

/*
 * The copy may fault only where the fault reaches user_copy_fixup(): the
 * shim's handlers in place, and SIGSEGV and SIGBUS open in this thread's
 * kernel mask (a fault there blocked would kill the process).  The driver's
 * ioctls run inside shim_block(), whose mask is exactly that: no system
 * call is needed to know.
 */
bool shim_user_copy_ok(void)
{
	return ours[SIGSEGV] && ours[SIGBUS] && shim_blocked_depth > 0;
}

void softsgx_signal(int sig, siginfo_t *si, ucontext_t *uc, struct slot *s, uint64_t *fsgs)
{
	uint64_t plain_fsgs[2];
	int saved_errno = errno;

	if (user_copy_fixup(sig, si, uc))
		return;

	if (!fsgs) {
		/* Not on a slot's stack: the thread is on host state. */
		softsgx_get_fsgs(plain_fsgs);
		fsgs = plain_fsgs;
		s = my_slot;
	}
	if (s && shim.test_stub_step && sig == SIGTRAP && si->si_code == TRAP_TRACE &&
	    shim_stub_enabled()) {
		if (stub_step(s, si, uc))
			goto out;
		sig = shim.kick_sig;
	}
	if (s && atomic_load(&frame_of(s)->busy)) {
		/* A stub's leaf or the vDSO's fast EENTER runs: the signal waits. */
		if (stub_defer(sig, si, uc, s))
			goto out;
		/*
		 * A fault of the shim's own code there (a CPUID under CPUID
		 * faulting, a host access the driver resolves): host state.
		 */
		s = NULL;
	} else if (s && shim_stub_enabled() && !stub_forward(s, uc, fsgs)) {
		shim_stub_rewind(uc, (unsigned long)s);
	}
	if (shim.ready && is_enclu(uc, sig, si->si_code)) {
		if (!s) {
			s = slot_get();
			/*
			 * sigreturn restores the alternate stack saved in the
			 * frame: make it the new one, or it is gone again.
			 */
			if (s) {
				uc->uc_stack.ss_sp = (char *)s + SLOT_STACK_OFF;
				uc->uc_stack.ss_size = ALT_SIZE;
				uc->uc_stack.ss_flags = 0;
			}
		}
		if (s) {
			enclu(si, uc, fsgs, s);
			goto out;
		}
	} else if (!shim.ready && shim.exec_ready && is_enclu(uc, sig, si->si_code)) {
		enclu_no_driver(si, uc);
		goto out;
	}
	if (s && s->lp.in_enclave) {
		const greg_t *g;

		fast_tail_fixup(s, uc, fsgs);
		g = uc->uc_mcontext.gregs;
		/* Kernel-made (si_code > 0) exception signals are synchronous. */
		bool sync = si->si_code > 0 &&
			    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
			     sig == SIGTRAP);

		if (sync) {
			int vector = (int)g[REG_TRAPNO];
			uint32_t err = (uint32_t)g[REG_ERR];

			if (sig == SIGBUS && si->si_code == BUS_ADRERR)
				vector = 14;
			enclave_exception(si, uc, fsgs, s, vector, err,
					  vector == 14 ? (uint64_t)(uintptr_t)si->si_addr : 0, true);
			goto out;
		}
		/* An interrupt: AEX, then the program's handler on host state. */
		do_aex(s, uc, fsgs, NULL, NULL);
		if (sig != shim.kick_sig)
			app_deliver(sig, si, uc);
		goto out;
	}
	if (orphan_fault(sig, si, uc))
		goto out;
	if ((sig == SIGSEGV || sig == SIGILL) && shim_cpuid_emulate(sig, uc))
		goto out;
	if (sig == SIGBUS && si->si_code == BUS_ADRERR && shim.ready) {
		/* Host code touching enclave memory: resolve it as the kernel would. */
		struct shim_map m;
		bool sigbus;

		if (shim_map_lookup((unsigned long)si->si_addr, &m) &&
		    shim_encl_fault((unsigned long)si->si_addr,
				    uc->uc_mcontext.gregs[REG_ERR] & X86_PF_WRITE,
				    (uint32_t)uc->uc_mcontext.gregs[REG_ERR], true, &sigbus) == 0)
			goto out;
	}
	if (sig == shim.kick_sig)
		goto out; /* a kick that found the thread already outside */
	app_deliver(sig, si, uc);
out:
	errno = saved_errno;
}

static int install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))softsgx_sigentry;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
	shim_async_mask(&sa.sa_mask);
	if (shim_real_sigaction(sig, &sa, NULL))
		return -errno;
	ours[sig] = true;
	return 0;
}

static void take_over(int sig);

/*
 * sigaction() as the program sees it: its own dispositions, our entry in
 * front of every handler once enclaves can run (a signal that lands in
 * enclave mode must AEX first).  Return 1 when the call is not ours.
 */
int shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	sigset_t o;

	if (!shim.exec_ready || sig <= 0 || sig >= _NSIG || sig == SIGKILL || sig == SIGSTOP)
		return 1;
	if (!ours[sig] && (!act || act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN))
		return 1;
	if (sig == shim.kick_sig) {
		errno = EINVAL;
		return -1;
	}
	shim_block(&o);
	take_over(sig);
	if (old)
		*old = app_act[sig];
	if (act)
		app_act[sig] = *act;
	shim_unblock(&o);
	return 0;
}

/* Record what the program had before we took a signal over. */
static void take_over(int sig)
{
	struct sigaction cur;

	if (ours[sig])
		return;
	if (!shim_real_sigaction(sig, NULL, &cur))
		app_act[sig] = cur;
	install(sig);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/*
 * The guard page below each slot's alternate stack.  MADV_GUARD_INSTALL
 * (Linux 6.13) marks it without splitting the mapping; as mprotect()ed
 * pages the 512 guards cut the slots into 1024 VMAs, which every fork
 * copies (about half of a millisecond per fork).  Kernels without it get
 * mprotect(), as does SOFTSGX_TEST_MPROTECT_GUARDS=1 (the test of that way).
 */
static void slot_guards(void)
{
	bool madv = !shim_env_on("SOFTSGX_TEST_MPROTECT_GUARDS");

	for (int i = 0; i < NR_SLOTS; i++) {
		char *guard = (char *)slot_at(i) + 0x1000;

		if (madv && !syscall(SYS_madvise, guard, 0x1000, MADV_GUARD_INSTALL))
			continue;
		madv = false;
		shim_sys_mprotect(guard, 0x1000, PROT_NONE);
	}
}

int shim_exec_init(void)
{
	long p;

	softsgx_have_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0; /* HWCAP2_FSGSBASE */
	__asm__("mov %%cs, %0" : "=r"(user_cs));
	__asm__("mov %%ss, %0" : "=r"(user_ss));
	p = shim_sys_mmap(NULL, NR_SLOTS * SLOT_SIZE + SLOT_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p < 0)
		return (int)p;
	/* Slots aligned to their size, so entry.S can mask RSP. */
	softsgx_slots_base = ((unsigned long)p + SLOT_SIZE - 1) & ~(SLOT_SIZE - 1);
	softsgx_slots_span = NR_SLOTS * SLOT_SIZE;
	slot_guards();
	pthread_key_create(&slot_key, slot_free);
	shim.kick_sig = SIGRTMAX - 1;
	shim.test_tail_signal = shim_env_on("SOFTSGX_TEST_TAIL_SIGNAL");
	shim.test_stub_clobber = shim_env_on("SOFTSGX_TEST_STUB_CLOBBER");
	{
		const char *v = getenv("SOFTSGX_TEST_STUB_STEP");

		shim.test_stub_step = v && v[0] >= '1' && v[0] <= '2' ? v[0] - '0' : 0;
	}
	debug = shim_env_on("SOFTSGX_DEBUG");
	take_over(SIGSEGV);
	take_over(SIGILL);
	take_over(SIGBUS);
	take_over(SIGFPE);
	take_over(SIGTRAP);
	take_over(shim.kick_sig);
	/* Signals the program already handles must AEX first too. */
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction cur;

		if (sig == SIGKILL || sig == SIGSTOP || ours[sig] ||
		    shim_real_sigaction(sig, NULL, &cur))
			continue;
		if (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN)
			take_over(sig);
	}
	shim.exec_ready = true;
	return 0;
}
