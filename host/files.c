// SPDX-License-Identifier: MIT
/*
 * The SGX device files of the process: /dev/sgx_enclave (a memfd that
 * becomes the enclave's window at ENCLAVE_CREATE), /dev/sgx_provision and
 * /dev/sgx_vepc, with the kernel's rules for ioctl, mmap, mprotect, munmap
 * and close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"
#include "stub.h"
#include "softsgx/cpu.h"
#include "softsgx/uapi/sgx.h"

static const struct {
	const char *path;
	enum shim_kind kind;
	unsigned int minor;
} devs[] = {
	{ "/dev/sgx_enclave", SHIM_ENCL, 125 },
	{ "/dev/sgx_provision", SHIM_PROVISION, 126 },
	{ "/dev/sgx_vepc", SHIM_VEPC, 124 },
};

/*
 * @path with "//", "/./" and "/../" resolved as the kernel's walk resolves
 * them under /dev (no symlinks there), into @out (which may be @path).
 * False when too long, relative, or ending in '/' (never a device node).
 */
bool shim_path_lexical(const char *path, char *out, size_t size)
{
	size_t n = 0;

	if (path[0] != '/' || path[strlen(path) - 1] == '/')
		return false;
	for (const char *p = path; *p;) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
		} else if (len && !(len == 1 && p[0] == '.')) {
			if (n + 1 + len >= size)
				return false;
			out[n++] = '/';
			memmove(out + n, p, len); /* never ahead of p: in place works */
			n += len;
		}
		p += len;
	}
	out[n] = 0;
	return true;
}

/**
 * shim_proc_pid_own() - is the pid at *@p (in a /proc path) this process's?
 * @p: at the digits after "/proc/"; moved past them
 *
 * Every open and stat of the program passes here: getpid() is called only
 * for a path that has a pid in it.
 * Return: true when there are digits and they are this process's pid.
 */
bool shim_proc_pid_own(const char **p)
{
	char *end;
	long pid;

	if (**p < '0' || **p > '9')
		return false;
	pid = strtol(*p, &end, 10);
	*p = end;
	return pid == getpid();
}

/*
 * /proc/self/fd/N (or /dev/fd/N, /proc/thread-self/fd/N, /proc/PID/fd/N of
 * this process) naming one of our device fds: on Linux the magic link opens
 * the device node again, a new file.
 */
static int fd_link_num(const char *buf)
{
	static const char *const dirs[] = { "/proc/self/fd/", "/dev/fd/", "/proc/thread-self/fd/" };
	const char *n = NULL, *p = buf + 6;
	char *end;
	long fd;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !n; i++)
		if (!strncmp(buf, dirs[i], strlen(dirs[i])))
			n = buf + strlen(dirs[i]);
	if (!n && !strncmp(buf, "/proc/", 6) && shim_proc_pid_own(&p) && !strncmp(p, "/fd/", 4))
		n = p + 4;
	if (!n || *n < '0' || *n > '9')
		return -1;
	fd = strtol(n, &end, 10);
	if (*end || fd < 0 || fd >= SHIM_MAX_FDS)
		return -1;
	return (int)fd;
}

static bool fd_link_kind(const char *buf, enum shim_kind *kind)
{
	int fd = fd_link_num(buf);
	struct shim_file *f = fd >= 0 ? shim_fd_record(fd) : NULL;

	if (!f)
		return false;
	*kind = f->kind;
	return true;
}

/*
 * The node a /proc/self/fd link of one of our device fds points to (its
 * readlink), or NULL when @path is no such link.
 */
const char *shim_dev_link_target(const char *path)
{
	enum shim_kind kind;
	char buf[64];

	if (!path || path[0] != '/' || !strstr(path, "fd/") ||
	    !shim_path_lexical(path, buf, sizeof(buf)) || !fd_link_kind(buf, &kind))
		return NULL;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		if (devs[i].kind == kind)
			return devs[i].path;
	return NULL;
}

/* Does @path name the /proc/self/fd link of one of the shim's own fds (none on Linux)? */
bool shim_is_internal_link(const char *path)
{
	char buf[64];
	int fd;

	if (!path || path[0] != '/' || !strstr(path, "fd/") ||
	    !shim_path_lexical(path, buf, sizeof(buf)))
		return false;
	fd = fd_link_num(buf);
	return fd >= 0 && shim_fd_internal(fd);
}

bool shim_is_dev_path(const char *path, enum shim_kind *kind)
{
	char buf[64];

	if (!path || !shim_path_lexical(path, buf, sizeof(buf)))
		return false;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		if (!strcmp(buf, devs[i].path)) {
			*kind = devs[i].kind;
			return true;
		}
	}
	return fd_link_kind(buf, kind);
}

/* What stat(2) says of the device nodes: misc character devices, 0600/0660. */
void shim_fake_stat(enum shim_kind kind, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		if (devs[i].kind == kind)
			st->st_rdev = makedev(10, devs[i].minor);
	st->st_mode = S_IFCHR | (kind == SHIM_ENCL ? 0666 : 0660);
	st->st_nlink = 1;
	st->st_dev = makedev(0, 5);
	st->st_ino = 1000 + kind;
	st->st_blksize = 4096;
}

/* The shim's own fds (window memfds): the program never opened them. */
static _Atomic uint64_t internal_fds[SHIM_MAX_FDS / 64];

static void fd_set_internal(int fd, bool on)
{
	if (fd < 0 || fd >= SHIM_MAX_FDS)
		return;
	if (on)
		atomic_fetch_or(&internal_fds[fd / 64], 1ULL << (fd % 64));
	else
		atomic_fetch_and(&internal_fds[fd / 64], ~(1ULL << (fd % 64)));
}

void shim_fd_hide(int fd)
{
	fd_set_internal(fd, true);
}

bool shim_fd_internal(int fd)
{
	if (fd < 0 || fd >= SHIM_MAX_FDS)
		return false;
	return fd == shim.uffd ||
	       (atomic_load(&internal_fds[fd / 64]) >> (fd % 64)) & 1;
}

struct shim_file *shim_fd_record(int fd)
{
	if (fd < 0 || fd >= SHIM_MAX_FDS || !shim.fdtab)
		return NULL;
	return atomic_load_explicit(&shim.fdtab[fd], memory_order_acquire);
}

struct shim_file *shim_file_of(int fd)
{
	struct shim_file *f = shim_fd_record(fd);

	return f && !f->opath ? f : NULL;
}

static void fd_set_file(int fd, struct shim_file *f)
{
	atomic_store_explicit(&shim.fdtab[fd], f, memory_order_release);
}

static int tables_init(void)
{
	if (shim.fdtab)
		return 0;
	long p = shim_sys_mmap(NULL, SHIM_MAX_FDS * sizeof(*shim.fdtab), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p < 0)
		return (int)p;
	shim.fdtab = (void *)p;
	return 0;
}

static struct shim_file *file_alloc(void)
{
	long p = shim_sys_mmap(NULL, sizeof(struct shim_file), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p < 0)
		return NULL;
	return (struct shim_file *)p;
}

/*
 * Drop nothing, just look (shim.lock held): is the file's last reference (fd
 * or mapping) gone?  Then it is marked dead and the caller must call
 * file_release() once it has let go of shim.lock.
 */
static bool file_last_ref(struct shim_file *f)
{
	if (f->dead || f->nfds)
		return false;
	/* The table itself, not f->nmaps: a split mapping is not counted there. */
	for (int i = 0; i < shim.nr_maps; i++)
		if (shim.maps[i].f == f)
			return false;
	f->dead = true;
	return true;
}

/* Forget @f here (shim.lock not held): its enclave is no longer this process's. */
static void file_forget(struct shim_file *f)
{
	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_file *c = f;

		if (atomic_compare_exchange_strong(&shim.files[i], &c, NULL))
			break;
	}
	shim_stub_release(f);
	f->rec = NULL;
	f->window = NULL;
	f->encl = NULL;
}

/*
 * Fork sharing: this process lets go of @f.  The file is forgotten here
 * first: the window and the record are the family's (the release's last
 * put, in any process, gives them back), and an entry left here would
 * outlive the enclave.  The last holder runs the release (share.c).
 * Without shim.lock, outside any read section.
 */
static void file_share_release(struct shim_file *f)
{
	struct shim_encl_rec *rec = f->rec;

	f->vepc = NULL; /* the record's now */
	file_forget(f);
	shim_rec_let_go(rec, shim.mm);
}

/*
 * The driver's release, without shim.lock: it frees its own memory through
 * munmap(), which is ours too and takes that lock.
 */
static void file_release(struct shim_file *f)
{
	/*
	 * A thread may still be in enclave mode in memory just unmapped (on
	 * Linux munmap's TLB shootdown would have made it exit): kick it out,
	 * so that no EREMOVE of the release finds the enclave active.
	 */
	if (f->encl && shim.exec_ready) {
		shim_wait_leaves(); /* an entry that translated the TCS before */
		shim_kick_threads(f->encl);
	}
	if (f->rec) {
		file_share_release(f);
		return;
	}
	/* The driver closes its backing store's fd through our close(). */
	if (f->encl && f->encl->backing_fd >= 0)
		fd_set_internal(f->encl->backing_fd, false);
	if (f->encl)
		sgx_release(f->encl);
	if (f->vepc)
		sgx_vepc_release(f->vepc);
	/*
	 * The window and its fd stay until the driver's release, which may
	 * run later on another thread (shim_encl_released()): until then
	 * EREMOVE scrubs pages through the window.
	 * f->pte stays: a handler may still look at it (all NULL now).
	 */
}

/* The driver's release of @encl is over: the window can go. */
void shim_encl_released(struct sgx_encl *encl)
{
	struct shim_file *f = NULL;

	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_file *c = atomic_load(&shim.files[i]);

		if (c && c->encl == encl) {
			f = c;
			atomic_store(&shim.files[i], NULL);
			break;
		}
	}
	if (shim_share) {
		/* The window is a slice of the store: given back, never unmapped. */
		shim_rec_released(encl);
		if (f)
			file_forget(f);
		return;
	}
	if (!f)
		return;
	shim_stub_release(f);
	if (f->window)
		shim_sys_munmap(f->window, f->size);
	if (f->wfd >= 0) {
		fd_set_internal(f->wfd, false);
		shim_sys_close(f->wfd);
	}
	f->encl = NULL;
}

/* A new window memfd, close-on-exec, above the standard streams. */
static int window_fd(void)
{
	int fd = memfd_create("sgx_enclave_window", MFD_CLOEXEC), nfd;

	if (fd < 0)
		return -errno;
	if (fd >= 3 && fd < SHIM_MAX_FDS)
		return fd;
	nfd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
	nfd = nfd < 0 ? -errno : nfd;
	shim_sys_close(fd);
	if (nfd >= SHIM_MAX_FDS) {
		shim_sys_close(nfd);
		nfd = -EMFILE;
	}
	return nfd;
}

int shim_dev_open(const char *path, int flags)
{
	enum shim_kind kind;
	struct shim_file *f;
	sigset_t old;
	int fd, err;

	if (!shim_is_dev_path(path, &kind))
		return -ENOENT;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	err = tables_init();
	/* O_PATH opens no file of the device: its driver is not needed. */
	if (!err && kind != SHIM_PROVISION && !(flags & O_PATH))
		err = shim_init();
	if (err)
		goto out;
	f = file_alloc();
	if (!f) {
		err = -ENOMEM;
		goto out;
	}
	f->kind = kind;
	f->accmode = flags & O_ACCMODE;
	f->wfd = -1;
	/*
	 * The program's fd is an empty, sealed memfd: whatever reaches the
	 * file behind it (fdopen and fread, a reopen of /proc/self/fd/N, an
	 * fd left open across exec) finds no byte of any enclave.  The
	 * enclave's window is a memfd of its own that only the shim holds.
	 */
	fd = memfd_create(kind == SHIM_ENCL ? "sgx_enclave" :
			  kind == SHIM_VEPC ? "sgx_vepc" : "sgx_provision",
			  MFD_ALLOW_SEALING | ((flags & O_CLOEXEC) ? MFD_CLOEXEC : 0));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (fd >= SHIM_MAX_FDS) {
		shim_sys_close(fd);
		err = -EMFILE;
		goto out;
	}
	syscall(SYS_fcntl, fd, F_ADD_SEALS,
		F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	if (flags & O_PATH) {
		/*
		 * The node, not the device: the kernel itself answers EBADF to
		 * I/O, ioctl and mmap on an O_PATH fd (of the memfd, at the
		 * number the memfd had); stat still shows the node.
		 */
		char link[40];
		int pfd;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		pfd = (int)syscall(SYS_openat, AT_FDCWD, link, O_PATH | (flags & O_CLOEXEC));
		if (pfd < 0 || syscall(SYS_dup3, pfd, fd, flags & O_CLOEXEC) < 0) {
			err = -errno;
			if (pfd >= 0)
				shim_sys_close(pfd);
			goto out_close;
		}
		shim_sys_close(pfd);
		f->opath = true;
		goto done;
	}
	/* The status flags of the open, as F_GETFL shows them on the device's file. */
	if (flags & (O_NONBLOCK | O_APPEND | O_ASYNC | O_NOATIME))
		syscall(SYS_fcntl, fd, F_SETFL, flags & (O_NONBLOCK | O_APPEND | O_ASYNC | O_NOATIME));
	if (kind == SHIM_ENCL) {
		/*
		 * The window is a file of its own: the program's fd (an empty
		 * memfd) never reaches the enclave's bytes, through stdio, a
		 * reopen of /proc/self/fd, an exec or a fork.
		 */
		if (shim_share) {
			/* The window is a slice of the shared store, taken at CREATE. */
			f->rec = shim_rec_new(NULL);
			if (!f->rec) {
				err = -ENOMEM;
				goto out_close;
			}
		} else {
			f->wfd = window_fd();
			if (f->wfd < 0) {
				err = f->wfd;
				goto out_close;
			}
			fd_set_internal(f->wfd, true);
		}
		f->encl = sgx_open(shim.drv, &err);
		if (!f->encl)
			goto out_close;
		if (f->rec) {
			f->rec->encl = f->encl;
			f->encl->host_priv = f->rec;
		}
		for (int i = 0; i < SHIM_MAX_FILES; i++) {
			struct shim_file *z = NULL;

			if (atomic_compare_exchange_strong(&shim.files[i], &z, f))
				break;
		}
	} else if (kind == SHIM_VEPC) {
		/* Fork sharing: a child that inherits the fd holds the vEPC too. */
		if (shim_share) {
			f->rec = shim_rec_new(NULL);
			if (!f->rec) {
				err = -ENOMEM;
				goto out_close;
			}
		}
		f->vepc = sgx_vepc_open(shim.drv, &err);
		if (!f->vepc)
			goto out_close;
		if (f->rec)
			f->rec->vepc = f->vepc;
	}
done:
	f->nfds = 1;
	fd_set_file(fd, f);
	err = fd;
	goto out;
out_close:
	shim_sys_close(fd);
	if (f->rec)
		shim_rec_free(f->rec);
	if (f->wfd >= 0) {
		fd_set_internal(f->wfd, false);
		shim_sys_close(f->wfd);
	}
	shim_sys_munmap(f, sizeof(*f));
out:
	pthread_mutex_unlock(&shim.lock);
	shim_unblock(&old);
	return err;
}

int shim_dup(int oldfd, int newfd)
{
	struct shim_file *f = shim_fd_record(oldfd);
	struct shim_file *prev = shim_fd_record(newfd);
	bool release = false;
	sigset_t old;

	if ((!f && !prev) || newfd < 0 || newfd >= SHIM_MAX_FDS || newfd == oldfd)
		return 0;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	if (prev) {
		fd_set_file(newfd, NULL);
		prev->nfds--;
		release = file_last_ref(prev);
	}
	if (f) {
		f->nfds++;
		fd_set_file(newfd, f);
	}
	pthread_mutex_unlock(&shim.lock);
	if (release)
		file_release(prev);
	shim_unblock(&old);
	return 0;
}

static int close_fd(void *arg)
{
	return shim_sys_close((int)(intptr_t)arg);
}

int shim_close(int fd, bool *handled)
{
	return shim_close_by(fd, handled, close_fd, (void *)(intptr_t)fd);
}

/*
 * shim_close_by() - close one of the program's fds, with @closer doing the
 * closing itself (fclose() closes inside libc): the record of the fd goes
 * under shim.lock, so no device open can be given the number in between.
 */
int shim_close_by(int fd, bool *handled, int (*closer)(void *), void *arg)
{
	struct shim_file *f = shim_fd_record(fd);
	bool release;
	sigset_t old;
	int r;

	/* Not the program's to close: on Linux that fd would not be open. */
	if (shim_fd_internal(fd)) {
		*handled = true;
		return -EBADF;
	}
	*handled = f != NULL;
	if (!f)
		return 0;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	fd_set_file(fd, NULL);
	r = closer(arg);
	f->nfds--;
	release = file_last_ref(f);
	pthread_mutex_unlock(&shim.lock);
	if (release)
		file_release(f);
	shim_unblock(&old);
	return r;
}

static int vm_prot(unsigned long vm)
{
	return ((vm & VM_READ) ? PROT_READ : 0) | ((vm & VM_WRITE) ? PROT_WRITE : 0) |
	       ((vm & VM_EXEC) ? PROT_EXEC : 0);
}

/*
 * Show @f's window over [start, start + len), a part of ELRANGE, with @prot
 * (shim.lock held): pages appear there as the driver maps them.
 */
static int window_overlay(struct shim_file *f, unsigned long start, unsigned long len, int prot)
{
	long p = shim_sys_mmap((void *)start, len, prot, MAP_SHARED | MAP_FIXED, f->wfd,
			       (off_t)(f->woff + (long long)(start - f->base)));

	if (p < 0)
		return (int)p;
	shim_nofork((void *)start, len);
	for (unsigned long a = start; a < start + len; a += 4096)
		atomic_store_explicit(&f->pte[(a - f->base) >> 12], NULL, memory_order_relaxed);
	return shim_uffd_register(start, len);
}

/* Overlay the window on the part of [start, end) inside @f's ELRANGE, if any. */
static int window_overlay_part(struct shim_file *f, unsigned long start, unsigned long end,
			       int prot)
{
	unsigned long s = start > f->base ? start : f->base;
	unsigned long e = end < f->base + f->size ? end : f->base + f->size;

	return s < e ? window_overlay(f, s, e - s, prot) : 0;
}

/*
 * An enclave mapping where no enclave page can show (before CREATE, or
 * outside ELRANGE): a shared mapping of an empty file, so that any access
 * is SIGBUS as on Linux (whose fault handler finds no page there).
 */
static int placeholder_fd = -1;

static long placeholder(void *addr, unsigned long len, int prot, int flags)
{
	if (placeholder_fd < 0) {
		placeholder_fd = memfd_create("sgx_enclave_hole", MFD_CLOEXEC);
		if (placeholder_fd < 0)
			return -errno;
		fd_set_internal(placeholder_fd, true);
	}
	long p = shim_sys_mmap(addr, len, prot,
			       MAP_SHARED | MAP_NORESERVE | (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)),
			       placeholder_fd, 0);

	if (p >= 0)
		shim_nofork((void *)p, len);
	return p;
}

/*
 * An enclave range of a forked child: private, anonymous, PROT_NONE until
 * shim_orphan_fault() fills a page with ones.
 */
static long abort_map(void *addr, unsigned long len, int flags)
{
	return shim_sys_mmap(addr, len, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				     (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)), -1, 0);
}

/*
 * After ENCLAVE_CREATE: the memfd becomes ELRANGE-sized, the CPU model gets
 * its own mapping of it, and mappings made before of the file that fall
 * inside ELRANGE (a reservation) move onto it.
 */
static int window_setup(struct shim_file *f)
{
	unsigned long n = f->encl->size >> 12;
	long p;

	f->base = f->encl->base;
	f->size = f->encl->size;
	p = shim_sys_mmap(NULL, n * sizeof(*f->pte) + n, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p < 0)
		return (int)p;
	f->pte = (struct sgx_epc_page *_Atomic *)p;
	f->young = (_Atomic uint8_t *)(p + (long)(n * sizeof(*f->pte)));
	if (f->rec) {
		/*
		 * Fork sharing: the window is a slice of the store every process
		 * has mapped, and "young" is the enclave's, whichever process
		 * mapped the page (the first test clears it, as an OR of the
		 * address spaces' bits would be).  The process that created the
		 * enclave takes them; another that holds the file takes them up
		 * later (window_catch_up()), once published.
		 */
		struct shim_encl_rec *r = f->rec;

		if (!atomic_load_explicit(&r->window_ready, memory_order_acquire)) {
			int e = sgx_mem_file_get("sgx_enclave_window", f->size, &r->window);

			if (e)
				return e;
			r->young = sgx_map(n);
			if (!r->young)
				return -ENOMEM;
			r->pages = n;
			atomic_store_explicit(&r->window_ready, true, memory_order_release);
		}
		f->young = r->young;
		f->wfd = sgx_mem_fd(r->window.fd);
		f->woff = r->window.off;
		f->window = r->window.addr;
	} else {
		p = shim_sys_mmap(NULL, f->size, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_NORESERVE, f->wfd, 0);
		if (p < 0)
			return (int)p;
		f->window = (uint8_t *)p;
		shim_nofork(f->window, f->size);
		/* The driver's backing store holds the enclave's evicted pages. */
		if (f->encl->backing)
			shim_nofork(f->encl->backing, f->encl->backing_size);
	}
	for (int i = 0; i < shim.nr_maps; i++) {
		struct shim_map *m = &shim.maps[i];
		int r = m->f == f ? window_overlay_part(f, m->start, m->end, vm_prot(m->vm_flags)) : 0;

		if (r)
			return r;
	}
	return sgx_cpu_set_window(shim.cpu, sgx_get_epc_virt_addr(f->encl->secs.epc_page),
				  f->window);
}

/*
 * Fork sharing: another process of the family created @f's enclave after
 * this one got the file (shim.lock held).  Take its window up now, before
 * this process maps or uses it.  Signal handlers cannot do it: a fault
 * through a mapping made before that, with no window here, stays SIGBUS
 * until this process next makes an ioctl or mmap of the file.
 */
static void window_catch_up(struct shim_file *f)
{
	if (f->rec && !f->window && f->encl &&
	    atomic_load_explicit(&f->rec->window_ready, memory_order_acquire) &&
	    window_setup(f))
		shim_log("softsgx: cannot set up the enclave window\n");
}

long shim_ioctl(struct shim_file *f, int fd, unsigned long cmd, unsigned long arg)
{
	sigset_t old;
	long r;

	/* The VFS answers these itself, for any file, before the driver. */
	if (cmd == FIOCLEX || cmd == FIONCLEX || cmd == FIONBIO || cmd == FIOASYNC)
		return syscall(SYS_ioctl, fd, cmd, arg) ? -errno : 0;
	if (f->kind == SHIM_PROVISION)
		return -ENOTTY;
	/* Its enclave lives in the parent's driver, out of this process's reach. */
	if (f->orphan)
		return -ENODEV;
	shim_block(&old);
	shim_share_reap();
	shim_ksgxd_adopt();
	if (f->rec && !f->window) {
		pthread_mutex_lock(&shim.lock);
		window_catch_up(f);
		pthread_mutex_unlock(&shim.lock);
	}
	if (f->kind == SHIM_VEPC) {
		r = sgx_vepc_ioctl(f->vepc, (unsigned int)cmd, arg);
		shim_unblock(&old);
		return r;
	}
	if (cmd == SGX_IOC_ENCLAVE_CREATE && !f->window) {
		struct sgx_enclave_create c;
		struct sgx_secs secs;

		/* The window must exist before the first EADD can run. */
		if (!shim_share && shim_host_ops.copy_from_user(&shim, &c, arg, sizeof(c)) == 0 &&
		    shim_host_ops.copy_from_user(&shim, &secs, c.src, sizeof(secs)) == 0 &&
		    secs.size && secs.size <= (1ULL << 40))
			if (syscall(SYS_ftruncate, f->wfd, (off_t)secs.size))
				goto plain;
		pthread_mutex_lock(&shim.lock);
		r = sgx_ioctl(f->encl, shim.mm, (unsigned int)cmd, arg);
		if (r == 0) {
			int e = window_setup(f);

			/* The driver's backing store is no fd of the program's either. */
			fd_set_internal(f->encl->backing_fd, true);

			if (e)
				shim_log("softsgx: cannot set up the enclave window\n");
		} else if (!shim_share) {
			(void)!syscall(SYS_ftruncate, f->wfd, 0); /* the shim's own fd: not through ours */
		}
		pthread_mutex_unlock(&shim.lock);
		shim_unblock(&old);
		return r;
	}
	/*
	 * Measured, and no thread can run its code yet: rewrite the ENCLUs
	 * now.  A failed EINIT leaves them rewritten (a page evicted since
	 * holds the jump in its sealed copy); the enclave may be retried.
	 */
	if (cmd == SGX_IOC_ENCLAVE_INIT && f->window)
		shim_stub_patch(f, 0, f->size >> 12, true);
plain:
	r = sgx_ioctl(f->encl, shim.mm, (unsigned int)cmd, arg);
	if (cmd == SGX_IOC_ENCLAVE_ADD_PAGES && f->window && shim_stub_enabled()) {
		struct sgx_enclave_add_pages ap;

		/* The pages just added are measured and still resident: their ENCLUs now. */
		if (shim_host_ops.copy_from_user(&shim, &ap, arg, sizeof(ap)) == 0 && ap.count)
			shim_stub_patch(f, ap.offset >> 12, (ap.offset + ap.count + 4095) >> 12,
					false);
	}
	shim_unblock(&old);
	return r;
}

/* At most this many files lose their last mapping in one call. */
#define MAX_RELEASE 64

/* @f into the set @fs of @n files (at most @max), unless there already: the new count. */
static int file_set_add(struct shim_file **fs, int n, int max, struct shim_file *f)
{
	int i = 0;

	while (i < n && fs[i] != f)
		i++;
	if (i == n && n < max)
		fs[n++] = f;
	return n;
}

/* The files with a mapping in [a, a + len), each once (shim.lock held). */
static int range_files(unsigned long a, unsigned long len, struct shim_file **fs)
{
	int n = 0;

	for (int i = 0; i < shim.nr_maps; i++)
		if (a < shim.maps[i].end && a + len > shim.maps[i].start)
			n = file_set_add(fs, n, MAX_RELEASE, shim.maps[i].f);
	return n;
}

/* No PTE of @fs in [a, a + len) any more. */
static void clear_ptes(struct shim_file **fs, int n, unsigned long a, unsigned long len)
{
	for (int i = 0; i < n; i++) {
		struct shim_file *f = fs[i];
		unsigned long s = a > f->base ? a : f->base;
		unsigned long e = a + len < f->base + f->size ? a + len : f->base + f->size;

		for (unsigned long p = s; f->pte && p < e; p += 4096)
			atomic_store_explicit(&f->pte[(p - f->base) >> 12], NULL,
					      memory_order_relaxed);
	}
}

/* Keep those of @fs that lost their last reference in @fs; return how many. */
static int last_refs(struct shim_file **fs, int n)
{
	int nrel = 0;

	for (int i = 0; i < n; i++)
		if (file_last_ref(fs[i]))
			fs[nrel++] = fs[i];
	return nrel;
}

/*
 * [a, a + len) is no mapping of ours any more (shim.lock held): forget its
 * PTEs and mappings; the files that lost their last reference go into @rel
 * for release_all() once the lock is dropped.  Return how many.
 */
static int forget(unsigned long a, unsigned long len, struct shim_file **rel)
{
	int n = range_files(a, len, rel);

	clear_ptes(rel, n, a, len);
	shim_map_remove(a, a + len);
	return last_refs(rel, n);
}

static void release_all(struct shim_file **rel, int n)
{
	for (int i = 0; i < n; i++)
		file_release(rel[i]);
}

static unsigned long prot_vm(int prot)
{
	return ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
	       ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

/*
 * Record the new mapping [start, end) of @f (shim.lock held), which replaced
 * whatever was there; the files that lost their last mapping by it go into
 * @rel.  Return how many, or -errno.
 */
static int map_replace(struct shim_file *f, unsigned long start, unsigned long end,
		       unsigned long vm, struct shim_file **rel)
{
	int n = range_files(start, end - start, rel), r;

	clear_ptes(rel, n, start, end - start);
	r = shim_map_add(start, end, vm, f);
	n = last_refs(rel, n);
	return r ? r : n;
}

void *shim_mmap(struct shim_file *f, void *addr, size_t len, int prot, int flags, off_t off)
{
	unsigned long start = (unsigned long)addr, end, vm = prot_vm(prot);
	bool shared = (flags & MAP_TYPE) == MAP_SHARED || (flags & MAP_TYPE) == MAP_SHARED_VALIDATE;
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	struct shim_file *rel[MAX_RELEASE];
	int nrel = 0;
	sigset_t old;
	long p;
	int r;

	/* mmap(2)'s own checks, before the file's. */
	if (!len || (off & 4095))
		return (void *)(long)-EINVAL;
	len = (len + 4095) & ~4095UL;
	if (!len)
		return (void *)(long)-ENOMEM;
	if (fixed && (start & 4095))
		return (void *)(long)-EINVAL;
	/* The one flag MAP_SHARED_VALIDATE checks: only DAX files have it. */
	if ((flags & MAP_TYPE) == MAP_SHARED_VALIDATE && (flags & MAP_SYNC))
		return (void *)(long)-EOPNOTSUPP;
	if (f->kind == SHIM_PROVISION)
		return (void *)(long)-ENODEV;
	/* A shared writable mapping needs a writable fd, any mapping a readable one. */
	if ((shared && (prot & PROT_WRITE) && f->accmode != O_RDWR) ||
	    ((shared || (flags & MAP_TYPE) == MAP_PRIVATE) && f->accmode == O_WRONLY))
		return (void *)(long)-EACCES;
	if (f->orphan)
		return (void *)(long)-ENODEV;
	end = start + len;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	if (f->kind == SHIM_VEPC) {
		r = sgx_vepc_mmap(f->vepc, shared);
		if (r) {
			p = r;
			goto out;
		}
		p = shim_sys_mmap(addr, len, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
					  (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)), -1, 0);
		if (p >= 0) {
			shim_nofork((void *)p, len); /* VM_DONTCOPY, as on Linux */
			nrel = map_replace(f, (unsigned long)p, (unsigned long)p + len, vm, rel);
		}
		goto out;
	}
	if (!shared) {
		p = -EINVAL;
		goto out;
	}
	/* At a fixed address the driver has its say before anything is replaced. */
	if (fixed) {
		r = sgx_mmap(f->encl, shim.mm, start, len, vm, true);
		if (r) {
			p = r;
			goto out;
		}
	}
	p = placeholder(addr, len, prot, flags);
	if (p < 0)
		goto out;
	start = (unsigned long)p;
	end = start + len;
	if (!fixed) {
		r = sgx_mmap(f->encl, shim.mm, start, len, vm, true);
		if (r) {
			shim_sys_munmap((void *)p, len);
			p = r;
			goto out;
		}
	}
	/* Enclave pages show only inside ELRANGE, once there is one. */
	window_catch_up(f);
	r = f->window ? window_overlay_part(f, start, end, prot) : 0;
	if (r) {
		shim_sys_munmap((void *)start, len);
		nrel = forget(start, len, rel);
		p = r;
		goto out;
	}
	nrel = map_replace(f, start, end, vm, rel);
out:
	pthread_mutex_unlock(&shim.lock);
	if (nrel > 0)
		release_all(rel, nrel);
	shim_unblock(&old);
	return (void *)p;
}

/* Does [a, a+len) touch a mapping of ours? */
static bool range_ours(unsigned long a, unsigned long len)
{
	for (int i = 0; i < shim.nr_maps; i++)
		if (a < shim.maps[i].end && a + len > shim.maps[i].start)
			return true;
	return false;
}

void shim_unmapped(void *addr, size_t len)
{
	unsigned long a = (unsigned long)addr;
	struct shim_file *rel[MAX_RELEASE];
	sigset_t old;
	int n = 0;

	len = (len + 4095) & ~4095UL;
	if (!__atomic_load_n(&shim.nr_maps, __ATOMIC_ACQUIRE))
		return;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	if (range_ours(a, len))
		n = forget(a, len, rel);
	pthread_mutex_unlock(&shim.lock);
	release_all(rel, n);
	shim_unblock(&old);
}

int shim_munmap(void *addr, size_t len, bool *handled)
{
	unsigned long a = (unsigned long)addr;
	struct shim_file *rel[MAX_RELEASE];
	sigset_t old;
	int r, n = 0;

	len = (len + 4095) & ~4095UL;
	*handled = false;
	if (!__atomic_load_n(&shim.nr_maps, __ATOMIC_ACQUIRE))
		return 0;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	if (!range_ours(a, len)) {
		pthread_mutex_unlock(&shim.lock);
		shim_unblock(&old);
		return 0;
	}
	*handled = true;
	r = shim_sys_munmap(addr, len);
	if (!r)
		n = forget(a, len, rel);
	pthread_mutex_unlock(&shim.lock);
	release_all(rel, n);
	shim_unblock(&old);
	return r;
}

/*
 * mprotect(2) of [a, a + len) (shim.lock held), where the abort ranges of a
 * forked child stay PROT_NONE whatever the protection: their pages are
 * filled on first read (shim_orphan_fault()) and must never show the zero
 * page before that.
 */
static int protect(unsigned long a, unsigned long len, int prot)
{
	unsigned long at = a, end = a + len;
	int r = 0;

	while (at < end && !r) {
		unsigned long next = end;
		bool abort_range = false;

		for (int i = 0; i < shim.nr_maps; i++) {
			const struct shim_map *m = &shim.maps[i];

			if (!m->f->orphan || m->end <= at || m->start >= end)
				continue;
			if (m->start <= at) {
				abort_range = true;
				next = m->end < end ? m->end : end;
				break;
			}
			next = m->start < next ? m->start : next;
		}
		r = shim_sys_mprotect((void *)at, next - at, abort_range ? PROT_NONE : prot);
		at = next;
	}
	return r;
}

int shim_mprotect(void *addr, size_t len, int prot, bool *handled)
{
	unsigned long a = (unsigned long)addr, vm = prot_vm(prot);
	sigset_t old;
	int r = 0;

	*handled = false;
	if (!__atomic_load_n(&shim.nr_maps, __ATOMIC_ACQUIRE))
		return 0;
	/* What mprotect(2) refuses before looking at any mapping: the kernel's. */
	if ((a & 4095) || !((len + 4095) & ~4095UL) ||
	    (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x8 /* PROT_SEM */ | PROT_GROWSDOWN |
		     PROT_GROWSUP)))
		return 0;
	len = (len + 4095) & ~4095UL;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	if (!range_ours(a, len))
		goto out;
	*handled = true;
	/* The kernel's sgx_vma_mprotect: every page must allow the new protection. */
	for (int i = 0; i < shim.nr_maps; i++) {
		struct shim_map *m = &shim.maps[i];
		unsigned long s = m->start > a ? m->start : a;
		unsigned long e = m->end < a + len ? m->end : a + len;

		if (s >= e)
			continue;
		/* A shared mapping of a read-only fd never becomes writable. */
		if ((prot & PROT_WRITE) && m->f->accmode != O_RDWR) {
			r = -EACCES;
			goto out;
		}
		if (!m->f->encl)
			continue;
		r = sgx_encl_may_map(m->f->encl, s, e, vm);
		if (r)
			goto out;
	}
	r = protect(a, len, prot);
	if (!r)
		shim_map_protect(a, a + len, vm);
out:
	pthread_mutex_unlock(&shim.lock);
	shim_unblock(&old);
	return r;
}

/*
 * mremap(2) of enclave memory, which Linux maps VM_DONTEXPAND|VM_PFNMAP:
 * growing it is EFAULT, DONTUNMAP EINVAL, shrinking unmaps the tail, and a
 * move gives the same mapping at the new place (inside ELRANGE pages show
 * there by address, outside none can).  *@handled false: not ours.
 */
long shim_mremap(void *old_addr, size_t old_len, size_t new_len, int flags, void *new_addr,
		 bool *handled)
{
	unsigned long a = (unsigned long)old_addr, na = (unsigned long)new_addr;
	struct shim_file *rel[MAX_RELEASE], *rel2[MAX_RELEASE];
	struct shim_map m;
	sigset_t old;
	long r = 0;
	int n = 0, n2 = 0;

	*handled = false;
	if (!__atomic_load_n(&shim.nr_maps, __ATOMIC_ACQUIRE))
		return 0;
	old_len = (old_len + 4095) & ~4095UL;
	new_len = (new_len + 4095) & ~4095UL;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	if (!range_ours(a, old_len ? old_len : 1))
		goto out;
	*handled = true;
	if ((a & 4095) || !new_len || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) ||
	    ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) || (flags & MREMAP_DONTUNMAP)) {
		r = -EINVAL;
		goto out;
	}
	if (!shim_map_lookup(a, &m) || a + old_len > m.end || new_len > old_len) {
		r = -EFAULT;
		goto out;
	}
	if (!(flags & MREMAP_FIXED) || na == a) {
		r = new_len < old_len ? shim_sys_munmap((void *)(a + new_len), old_len - new_len) : 0;
		if (!r) {
			n = forget(a + new_len, old_len - new_len, rel);
			r = (long)a;
		}
		goto out;
	}
	if ((na & 4095) || (na < a + old_len && a < na + new_len)) {
		r = -EINVAL;
		goto out;
	}
	r = m.f->orphan ? abort_map(new_addr, new_len, MAP_FIXED) :
			  placeholder(new_addr, new_len, vm_prot(m.vm_flags), MAP_FIXED);
	if (r >= 0 && m.f->window)
		r = window_overlay_part(m.f, na, na + new_len, vm_prot(m.vm_flags));
	if (r < 0) {
		shim_sys_munmap(new_addr, new_len);
		n = forget(na, new_len, rel);
		goto out;
	}
	n = map_replace(m.f, na, na + new_len, m.vm_flags, rel);
	if (n < 0)
		n = 0; /* the table is full: the mapping is there, unrecorded */
	shim_sys_munmap(old_addr, old_len);
	n2 = forget(a, old_len, rel2);
	r = (long)na;
out:
	pthread_mutex_unlock(&shim.lock);
	release_all(rel, n);
	release_all(rel2, n2);
	shim_unblock(&old);
	return r;
}

/**
 * shim_fd_evict() - make @fd free for the program (dup2/dup3 onto it)
 * @fd: the new fd number of a dup2 or dup3
 *
 * On Linux the shim's own fds do not exist, so the program may take their
 * numbers: one there moves to another number first.
 * Return: true if one moved (the caller closes @fd should its dup fail).
 */
bool shim_fd_evict(int fd)
{
	bool moved = false;
	sigset_t old;
	int nfd;

	if (!shim_fd_internal(fd))
		return false;
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	nfd = shim_fd_internal(fd) ? (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3) : -1;
	if (nfd >= SHIM_MAX_FDS) {
		shim_sys_close(nfd);
		nfd = -1;
	}
	if (nfd >= 0) {
		fd_set_internal(nfd, true);
		if (fd == shim.uffd)
			__atomic_store_n(&shim.uffd, nfd, __ATOMIC_RELEASE);
		if (fd == placeholder_fd)
			placeholder_fd = nfd;
		if (fd == sgx_mem_store_fd())
			sgx_mem_store_moved(nfd);
		for (int i = 0; i < SHIM_MAX_FILES; i++) {
			struct shim_file *f = atomic_load(&shim.files[i]);

			if (f && f->wfd == fd)
				f->wfd = nfd;
			if (f && f->encl && f->encl->backing_fd == fd)
				__atomic_store_n(&f->encl->backing_fd, nfd, __ATOMIC_RELEASE);
		}
		fd_set_internal(fd, false);
		moved = true;
	}
	pthread_mutex_unlock(&shim.lock);
	shim_unblock(&old);
	return moved;
}

/* @f was the parent's: nothing of its driver, window or fds is left here. */
static void orphan(struct shim_file *f)
{
	if (f->kind == SHIM_PROVISION || f->orphan)
		return;
	f->orphan = true;
	shim_keep_frozen(f->vepc);
	f->encl = NULL;
	f->vepc = NULL;
	f->window = NULL;
	f->pte = NULL;
	f->young = NULL;
	f->wfd = -1;
	/* base and size stay: ELRANGE still tells abort pages from SIGBUS. */
}

/**
 * shim_files_after_fork() - the device files and mappings of a forked child
 *
 * Runs in the fork's child handler, single-threaded; the parent held
 * shim.lock across the fork, so the tables are whole.  The parent's
 * enclave and vEPC mappings were MADV_DONTFORK: the child has holes there.
 * Each enclave range becomes an abort range (abort_map()), which reads as
 * all ones the way EPC does outside enclave mode; vEPC ranges stay holes
 * (VM_DONTCOPY on Linux).  A range that was already an abort range (the
 * parent was a forked child itself) came along with the fork.  Every file
 * becomes an orphan, and the shim's own fds are closed.
 */
void shim_files_after_fork(void)
{
	/* No device was ever open: nothing to do (a fork+exec pays nothing). */
	if (!shim.fdtab)
		return;
	if (shim_share)
		return; /* shim_files_share_child(), once the child has its address space */
	for (int i = 0; i < shim.nr_maps; i++) {
		struct shim_map *m = &shim.maps[i];

		if (m->f->orphan)
			continue;
		if (m->f->kind == SHIM_ENCL &&
		    abort_map((void *)m->start, m->end - m->start, MAP_FIXED_NOREPLACE) ==
			    (long)m->start)
			continue;
		shim_map_remove(m->start, m->end); /* moves the last entry to i */
		i--;
	}
	for (int i = 0; i < shim.nr_maps; i++)
		orphan(shim.maps[i].f);
	for (int fd = 0; fd < SHIM_MAX_FDS; fd++) {
		struct shim_file *f = atomic_load_explicit(&shim.fdtab[fd], memory_order_relaxed);

		if (f)
			orphan(f);
	}
	for (int i = 0; i < SHIM_MAX_FILES; i++)
		if (atomic_load_explicit(&shim.files[i], memory_order_relaxed))
			atomic_store(&shim.files[i], NULL);
	/* Windows, backing stores, the placeholder: /proc/self/fd shows none of them. */
	for (int w = 0; w < SHIM_MAX_FDS / 64; w++) {
		uint64_t bits = atomic_load_explicit(&internal_fds[w], memory_order_relaxed);

		if (bits)
			atomic_store(&internal_fds[w], 0);
		for (int b = 0; bits; b++, bits >>= 1)
			if (bits & 1)
				shim_sys_close(w * 64 + b);
	}
	placeholder_fd = -1;
}

/*
 * Every live file of this process that fork sharing counts (enclave and
 * vEPC files: their fds and mappings), each once, into @out (shim.lock held).
 */
static int counted_files(struct shim_file **out)
{
	int n = 0;

	for (int fd = 0; shim.fdtab && fd < SHIM_MAX_FDS; fd++) {
		struct shim_file *f = atomic_load_explicit(&shim.fdtab[fd], memory_order_relaxed);

		if (f && !f->dead && f->rec)
			n = file_set_add(out, n, SHIM_MAX_FILES, f);
	}
	for (int m = 0; m < shim.nr_maps; m++) {
		struct shim_file *f = shim.maps[m].f;

		if (!f->dead && f->rec)
			n = file_set_add(out, n, SHIM_MAX_FILES, f);
	}
	return n;
}

/*
 * The records the fork under way counted for its child (shim.lock held):
 * the records, not the files, which the parent may forget before a failed
 * fork returns.
 */
static struct shim_encl_rec *forking[SHIM_MAX_FILES];
static int nr_forking;

/**
 * shim_files_share_child() - fork sharing: the child's share of the enclaves
 *
 * Runs in the fork's child handler after shim_real_after_fork() gave the
 * child its userfaultfd and address space.  Each enclave mapping comes
 * back over the window at the same place (the parent's were
 * MADV_DONTFORK: a copy would lack the userfaultfd registration), with no
 * PTE yet, and the child's address space joins the enclave's mm list, as
 * the kernel's VMA copy does.  vEPC mappings are not inherited
 * (VM_DONTCOPY).  The parent counted the child's files before the fork.
 */
void shim_files_share_child(void)
{
	if (!shim.fdtab || !shim.ready)
		return;
	for (int i = 0; i < nr_forking; i++)
		shim_rec_hold(forking[i]);
	nr_forking = 0;
	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_file *f = atomic_load_explicit(&shim.files[i], memory_order_relaxed);

		if (f && !f->dead && f->pte)
			madvise((void *)f->pte, (f->size >> 12) * sizeof(*f->pte), MADV_DONTNEED);
	}
	for (int i = 0; i < shim.nr_maps; i++) {
		struct shim_map *m = &shim.maps[i];
		unsigned long len = m->end - m->start;
		int prot = vm_prot(m->vm_flags);

		if (m->f->kind != SHIM_ENCL) {
			shim_map_remove(m->start, m->end); /* moves the last entry to i */
			i--;
			continue;
		}
		if (placeholder((void *)m->start, len, prot, MAP_FIXED) != (long)m->start ||
		    (m->f->window && window_overlay_part(m->f, m->start, m->end, prot)))
			shim_die("softsgx: a forked child cannot map its enclaves\n");
		/*
		 * -ENOMEM: the OOM killer took the enclave.  Linux still copies
		 * the mapping, whose accesses then get SIGBUS: so here.
		 */
		if (m->f->encl && sgx_encl_mm_add(m->f->encl, shim.mm) &&
		    !encl_test_flag(m->f->encl, SGX_ENCL_NO_MEMORY))
			shim_die("softsgx: a forked child cannot join its enclaves\n");
	}
}


/**
 * shim_files_fork_prepare() - fork sharing: count the child's files
 *
 * Before the fork, under shim.lock: once the child exists, the parent may
 * close its own reference at once, and must not release what the child
 * holds.  shim_files_fork_failed() takes the counts back.
 */
void shim_files_fork_prepare(void)
{
	static struct shim_file *files[SHIM_MAX_FILES];

	nr_forking = 0;
	if (!shim_share || !shim.fdtab)
		return;
	nr_forking = counted_files(files);
	for (int i = 0; i < nr_forking; i++) {
		forking[i] = files[i]->rec;
		atomic_fetch_add(&forking[i]->procs, 1);
	}
}

/* fork() failed: no child holds what shim_files_fork_prepare() counted. */
void shim_files_fork_failed(void)
{
	struct shim_encl_rec *counted[SHIM_MAX_FILES];
	int n;
	sigset_t old;

	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	n = nr_forking;
	memcpy(counted, forking, (size_t)n * sizeof(*counted));
	nr_forking = 0;
	pthread_mutex_unlock(&shim.lock);
	/* The parent may have let go meanwhile: the child's count is then the last. */
	for (int i = 0; i < n; i++)
		shim_rec_drop(counted[i]);
	shim_unblock(&old);
}

/**
 * shim_files_exit() - fork sharing: let go of every file at exit
 *
 * The kernel drops an exiting process's files and mappings; here the
 * other processes of the family must see this one's references go.
 */
void shim_files_exit(void)
{
	struct shim_file *held[SHIM_MAX_FILES];
	int n = 0;
	sigset_t old;

	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	n = counted_files(held);
	for (int i = 0; i < n; i++)
		held[i]->dead = true;
	pthread_mutex_unlock(&shim.lock);
	for (int i = 0; i < n; i++)
		file_release(held[i]);
	shim_unblock(&old);
}

/*
 * The pages one instruction of this thread may write, made writable for
 * that instruction alone (a store that crosses a page boundary needs two).
 */
static __thread unsigned long drop_pages[2];
static __thread int nr_drop;

/*
 * Hardware turns a write to EPC outside enclave mode into nothing.  Here
 * the page is made writable for the one instruction (the caller single-
 * steps it: shim_orphan_write_done() puts the ones back and the page
 * read-only again).  An instruction fetch there is a SIGSEGV.  Neither the
 * fill nor the drop is atomic: another thread of the child may see a
 * written value for as long as that one instruction takes.
 * Async-signal-safe.
 */
int shim_orphan_fault(unsigned long addr, uint32_t err, bool *step)
{
	unsigned long page = addr & ~4095UL;
	bool write = err & X86_PF_WRITE, fetch = err & X86_PF_INSTR;
	struct shim_map m;

	*step = false;
	if (!shim_map_lookup(addr, &m) || !m.f->orphan || m.f->kind != SHIM_ENCL)
		return -1;
	/* The mapping's own protection first, as the kernel checks the VMA. */
	if (!(m.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) || (write && !(m.vm_flags & VM_WRITE)) ||
	    (fetch && !(m.vm_flags & VM_EXEC)))
		return SIGSEGV;
	/* Outside ELRANGE (or before ENCLAVE_CREATE) no page can appear. */
	if (addr < m.f->base || addr - m.f->base >= m.f->size)
		return SIGBUS;
	if (fetch || (write && nr_drop == (int)(sizeof(drop_pages) / sizeof(drop_pages[0]))))
		return SIGSEGV;
	if (shim_sys_mprotect((void *)page, 4096, PROT_READ | PROT_WRITE))
		return SIGSEGV;
	memset((void *)page, 0xff, 4096);
	if (write) {
		drop_pages[nr_drop++] = page;
		*step = true;
		return 0;
	}
	shim_sys_mprotect((void *)page, 4096, PROT_READ);
	return 0;
}

bool shim_orphan_write_done(void)
{
	if (!nr_drop)
		return false;
	for (int i = 0; i < nr_drop; i++) {
		memset((void *)drop_pages[i], 0xff, 4096);
		shim_sys_mprotect((void *)drop_pages[i], 4096, PROT_READ);
	}
	nr_drop = 0;
	return true;
}
