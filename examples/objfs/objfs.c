// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * objfs: mounts an HTTP object store (examples/objfs/objstore.py) through
 * FUSE, on the libfuse low-level API, with libbpfuse's caches: lookups,
 * attributes and xattrs are answered from BPF maps (by the kernel itself
 * where it has the FUSE BPF hook) for cache_timeout, default the kernel
 * timeout, which bounds how stale a change made on the store by others
 * may be.
 *
 *   objfs [-f] [-d] [-o timeout=SECONDS,...] http://HOST[:PORT][/PREFIX] MOUNTPOINT
 *
 * The store names objects by path, so the node table keeps each node's
 * parent and name, and a request's path is built by walking up it. Node
 * ids come from a 64-bit counter and are never reused; a node lives while
 * the kernel holds lookups on it or named children hang below it. Each
 * worker thread keeps one keep-alive connection to the store.
 *
 * Where libbpfuse plugs in (docs/ADOPTING.md), each in one place:
 *   of_entry()        answers every lookup (and the create and mkdir replies)
 *   of_attr()         answers every getattr (and the setattr replies)
 *   of_getxattr()     answers every getxattr
 *   of_setattr(), of_upload() (flush, fsync, release), of_create(),
 *   of_mkdir(), of_remove() (unlink, rmdir), of_rename(): each changes the
 *   store in one place, invalidates, then replies; while a writer's buffer
 *   is open its size is the node's, and its attributes are not cached;
 *   of_node_forget() ends a node's lookups, the kernel's own included.
 *
 * What it does not do:
 *  - no locking across clients: the last upload wins. Changes made on the
 *    store by others show within the timeout (or cache_timeout, if longer:
 *    the maps keep answers that long): the kernel keeps entries,
 *    missing names and attributes that long, and reads file data again at
 *    each open. The store's ETAG is not used.
 *  - whole-object uploads, as s3fs does: a file open for writing is held
 *    whole in memory and uploaded with PUT at close, fsync and release.
 *    Data written to a file unlinked while open goes nowhere; fstat() of
 *    such a file fails with ESTALE.
 *  - no modes, owners or explicit times: chmod, chown and utimes fail with
 *    EPERM. Size changes and setting times to "now" (touch) rewrite the
 *    object, which the store stamps. The store decides a new object's
 *    mode; every object belongs to the daemon's uid and gid.
 *  - no symlinks, hard links, special files or xattr changes (ENOTSUP);
 *    rename flags (RENAME_NOREPLACE, RENAME_EXCHANGE) are EINVAL. Listings
 *    have no "." or "..", and the store leaves out names holding a tab or
 *    a newline.
 */
#include "config.h"

#define FUSE_USE_VERSION 312

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bpfuse.h"

#define OF_BUCKETS    (1 << 16) /* node table: fixed, ample for an example */
#define OF_HEAD_MAX   8192 /* bytes of a response's status and headers */
#define OF_IO_TIMEOUT 30 /* seconds the store may take to answer */
#define OF_WRITER     1 /* fi->fh of a file handle that may write */

/* Drop what a change made stale (maps/bpfuse_rules.h). */
#define of_changed(fs, cause, ...)                                 \
	bpfuse_cache_invalidate((fs)->cache, BPFUSE_CAUSE_##cause, \
				&(struct bpfuse_change){ __VA_ARGS__ })

/* A file open for writing: the whole object, uploaded at close. */
struct of_buf {
	char *data;
	size_t size;
	size_t cap;
	bool dirty; /* changed since the last upload */
	unsigned int writers; /* open handles that may write */
};

struct of_node {
	struct of_node *ino_next; /* fs->by_ino chain */
	struct of_node *name_next; /* fs->by_name chain, while named */
	struct of_node *parent; /* NULL: the root, or no name any more */
	char *name;
	uint64_t ino;
	uint64_t nlookup; /* the kernel's references */
	uint32_t cached; /* libbpfuse's handle: lookups the kernel may answer */
	uint64_t nchild; /* named children: each pins its parent */
	mode_t type; /* S_IFREG or S_IFDIR, for the node's life */
	pthread_mutex_t lock; /* taken before fs->lock, never after */
	struct of_buf *buf; /* protected by lock */
};

struct of_fs {
	char *url;
	char *mountpoint;
	char *host; /* for the Host header */
	char *prefix; /* the mount's root in the store, no slash around */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	double timeout;
	double cache_timeout; /* how long the cache keeps an answer; NAN: timeout */
	uid_t uid;
	gid_t gid;
	struct bpfuse *cache; /* NULL: every answer from the store */
	pthread_mutex_t lock; /* the node table: every node field but buf */
	struct of_node *root;
	struct of_node **by_ino; /* protected by lock */
	struct of_node **by_name; /* protected by lock */
	uint64_t next_ino; /* protected by lock */
};

/* A request about the object INO, or NAME below INO. */
struct of_req {
	const char *method;
	const char *ep; /* endpoint: stat, list, data, ... */
	fuse_ino_t ino;
	const char *name;
	fuse_ino_t to_ino; /* rename: TO_NAME below TO_INO */
	const char *to_name;
	const char *header; /* one more header line, "\r\n" included */
	const void *body;
	size_t len;
};

struct of_resp {
	int status;
	char *body; /* NUL-terminated */
	size_t len;
};

/* A directory listing, fetched once per opendir. */
struct of_dirent {
	const char *name; /* points into of_dir.body */
	struct stat st;
};

struct of_dir {
	char *body;
	size_t n;
	struct of_dirent *ents;
	struct bpfuse_miss miss; /* started before the listing was asked for */
};

static pthread_key_t of_conn_key; /* this thread's connection: fd + 1 */

static struct of_fs *of_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void of_conn_free(void *fd)
{
	close((intptr_t)fd - 1);
}

static int of_conn_get(void)
{
	return (intptr_t)pthread_getspecific(of_conn_key) - 1;
}

static void of_conn_set(int fd)
{
	int old = of_conn_get();

	if (old >= 0)
		close(old);
	pthread_setspecific(of_conn_key, (void *)(intptr_t)(fd + 1));
}

/* ---- the node table ------------------------------------------------------ */

static uint64_t of_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	return x ^ (x >> 33);
}

static size_t of_name_bucket(uint64_t parent, const char *name)
{
	uint64_t h = of_mix(parent);

	while (*name)
		h = (h ^ (unsigned char)*name++) * 0x100000001b3ULL;
	return of_mix(h) % OF_BUCKETS;
}

/* From here to of_path_locked(), fs->lock is held. */

static struct of_node *of_node_find(struct of_fs *fs, uint64_t ino)
{
	struct of_node *n = fs->by_ino[of_mix(ino) % OF_BUCKETS];

	while (n && n->ino != ino)
		n = n->ino_next;
	return n;
}

static struct of_node *of_child_find(struct of_fs *fs, struct of_node *parent, const char *name)
{
	struct of_node *n = fs->by_name[of_name_bucket(parent->ino, name)];

	while (n && (n->parent != parent || strcmp(n->name, name)))
		n = n->name_next;
	return n;
}

static void of_name_link(struct of_fs *fs, struct of_node *n, struct of_node *parent, char *name)
{
	size_t b = of_name_bucket(parent->ino, name);

	n->parent = parent;
	n->name = name;
	n->name_next = fs->by_name[b];
	fs->by_name[b] = n;
	parent->nchild++;
}

/* N leaves its parent's names; the caller drops the parent. */
static void of_name_unlink(struct of_fs *fs, struct of_node *n)
{
	struct of_node **pp = &fs->by_name[of_name_bucket(n->parent->ino, n->name)];

	while (*pp != n)
		pp = &(*pp)->name_next;
	*pp = n->name_next;
	n->parent->nchild--;
	n->parent = NULL;
	free(n->name);
	n->name = NULL;
}

/* A node named NAME below PARENT, or the root if PARENT is NULL. */
static struct of_node *of_node_new(struct of_fs *fs, struct of_node *parent, const char *name,
				   mode_t mode)
{
	struct of_node *n = calloc(1, sizeof(*n));
	char *s = parent ? strdup(name) : NULL;
	size_t b;

	if (!n || (parent && !s)) {
		free(n);
		free(s);
		return NULL;
	}
	n->ino = fs->next_ino++;
	n->cached = bpfuse_node_create(fs->cache, n->ino);
	n->type = mode & S_IFMT;
	pthread_mutex_init(&n->lock, NULL);
	b = of_mix(n->ino) % OF_BUCKETS;
	n->ino_next = fs->by_ino[b];
	fs->by_ino[b] = n;
	if (parent)
		of_name_link(fs, n, parent, s);
	return n;
}

/* Frees N if nothing refers to it any more, then its parent likewise. */
static void of_node_drop(struct of_fs *fs, struct of_node *n)
{
	struct of_node **pp, *parent;

	while (n && n != fs->root && !n->nlookup && !n->nchild) {
		parent = n->parent;
		if (parent)
			of_name_unlink(fs, n);
		for (pp = &fs->by_ino[of_mix(n->ino) % OF_BUCKETS]; *pp != n;)
			pp = &(*pp)->ino_next;
		*pp = n->ino_next;
		pthread_mutex_destroy(&n->lock);
		free(n);
		n = parent;
	}
}

/* N loses its name: reachable by node id only, until the kernel forgets it. */
static void of_node_unname(struct of_fs *fs, struct of_node *n)
{
	struct of_node *parent = n->parent;

	if (!parent)
		return;
	of_name_unlink(fs, n);
	of_node_drop(fs, n);
	of_node_drop(fs, parent);
}

static char *of_prepend(char *end, const char *name)
{
	size_t len = strlen(name);

	end -= len;
	memcpy(end, name, len);
	*--end = '/';
	return end;
}

/*
 * N's path in the store, NAME appended if set: "prefix/dir/name". -ESTALE
 * once N or a directory above it has lost its name.
 */
static int of_path_locked(struct of_fs *fs, struct of_node *n, const char *name, char **out)
{
	size_t len = strlen(fs->prefix);
	struct of_node *p;
	char *path, *end;

	for (p = n; p != fs->root; p = p->parent) {
		if (!p->parent)
			return -ESTALE;
		len += 1 + strlen(p->name);
	}
	len += name ? 1 + strlen(name) : 0;
	path = malloc(len + 1);
	if (!path)
		return -ENOMEM;
	end = path + len;
	*end = '\0';
	if (name)
		end = of_prepend(end, name);
	for (p = n; p != fs->root; p = p->parent)
		end = of_prepend(end, p->name);
	memcpy(path, fs->prefix, strlen(fs->prefix));
	/* without a prefix, no leading slash */
	if (!*fs->prefix && len)
		memmove(path, path + 1, len);
	*out = path;
	return 0;
}

static int of_path(struct of_fs *fs, fuse_ino_t ino, const char *name, char **out)
{
	struct of_node *n;
	int ret;

	pthread_mutex_lock(&fs->lock);
	n = of_node_find(fs, ino);
	ret = n ? of_path_locked(fs, n, name, out) : -ESTALE;
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

/* The node behind INO: it lives while the kernel holds INO, as in any request. */
static struct of_node *of_node_get(struct of_fs *fs, fuse_ino_t ino)
{
	struct of_node *n;

	pthread_mutex_lock(&fs->lock);
	n = of_node_find(fs, ino);
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* NAME's node id below PARENT if the table knows it, else 0; no lookup taken. */
static fuse_ino_t of_node_peek(struct of_fs *fs, fuse_ino_t parent, const char *name)
{
	struct of_node *p, *n;

	pthread_mutex_lock(&fs->lock);
	p = of_node_find(fs, parent);
	n = p ? of_child_find(fs, p, name) : NULL;
	pthread_mutex_unlock(&fs->lock);
	return n ? n->ino : 0;
}

/*
 * The kernel learns NAME below PARENT as an object of MODE: one more lookup
 * on its node. A name whose object changed type on the store gets a new
 * node: one node id must not change type in the kernel. PARENT outlives the
 * call, since the kernel holds it for the request.
 */
static int of_node_ref(struct of_fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
		       fuse_ino_t *ino, uint32_t *cached)
{
	struct of_node *p, *n = NULL;
	int ret = -ESTALE;

	pthread_mutex_lock(&fs->lock);
	p = of_node_find(fs, parent);
	if (!p)
		goto out;
	n = of_child_find(fs, p, name);
	if (n && n->type != (mode & S_IFMT)) {
		of_node_unname(fs, n);
		n = NULL;
	}
	if (!n)
		n = of_node_new(fs, p, name, mode);
	ret = -ENOMEM;
	if (!n)
		goto out;
	n->nlookup++;
	*ino = n->ino;
	*cached = n->cached;
	ret = 0;
out:
	pthread_mutex_unlock(&fs->lock);
	bpfuse_node_sync(fs->cache); /* a new node's handle, for the kernel */
	return ret;
}

static void of_node_forget(struct of_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	bool gone = false;
	struct of_node *n;

	pthread_mutex_lock(&fs->lock);
	n = of_node_find(fs, ino);
	/* with the lookups the kernel took on its own */
	if (n && bpfuse_node_forget(fs->cache, &n->cached, &n->nlookup, nlookup))
		fuse_log(FUSE_LOG_ERR, "objfs: node %llu forgotten more than looked up\n",
			 (unsigned long long)ino);
	if (n) {
		gone = !n->nlookup;
		of_node_drop(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
	bpfuse_node_sync(fs->cache);
	/* node ids are never reused: dropping its attributes late is safe */
	if (gone)
		of_changed(fs, FORGET, .node = ino);
}

/*
 * NAME below PARENT is gone from the store (TO_NAME NULL), or now TO_NAME
 * below TO_PARENT: the node, and every node below it, follows.
 */
static void of_node_move(struct of_fs *fs, fuse_ino_t parent, const char *name,
			 fuse_ino_t to_parent, const char *to_name)
{
	struct of_node *p, *tp = NULL, *n, *victim;
	char *s = to_name ? strdup(to_name) : NULL;

	pthread_mutex_lock(&fs->lock);
	p = of_node_find(fs, parent);
	n = p ? of_child_find(fs, p, name) : NULL;
	if (to_name)
		tp = of_node_find(fs, to_parent);
	victim = tp ? of_child_find(fs, tp, to_name) : NULL;
	if (victim && victim != n)
		of_node_unname(fs, victim);
	if (n && (!s || !tp)) {
		/* without a new name, the node keeps its id only: always correct */
		of_node_unname(fs, n);
	} else if (n && n != victim) {
		of_name_unlink(fs, n);
		of_name_link(fs, n, tp, s);
		s = NULL;
		of_node_drop(fs, p);
	}
	pthread_mutex_unlock(&fs->lock);
	free(s);
}

/* ---- the store's HTTP client ---------------------------------------------- */

static int of_connect(struct of_fs *fs)
{
	struct timeval tv = { .tv_sec = OF_IO_TIMEOUT };
	int one = 1, fd, ret;

	fd = socket(fs->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	/* SO_SNDTIMEO bounds connect() too */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&fs->addr, fs->addrlen) == -1) {
		ret = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int of_send(int fd, struct iovec *iov, int cnt)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = cnt };
	ssize_t n;

	while (msg.msg_iovlen) {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno != EINTR)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		for (; n >= 0 && msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len;
		     msg.msg_iovlen--)
			n -= (msg.msg_iov++)->iov_len;
		if (n > 0) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

/* Bytes read, or -EPIPE at the end of the stream, or a negative errno. */
static ssize_t of_recv(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	return n ? n : -EPIPE;
}

/* One response; -EPIPE if the store closed the connection before it. */
static int of_read_resp(int fd, struct of_resp *r, bool *keep)
{
	char head[OF_HEAD_MAX], *end = NULL, *line, *save;
	size_t have = 0, got;
	ssize_t n;

	while (!end) {
		n = have < sizeof(head) ? of_recv(fd, head + have, sizeof(head) - have) : -EPROTO;
		if (n < 0)
			return n == -EPIPE && have ? -EPROTO : n;
		have += n;
		end = memmem(head, have, "\r\n\r\n", 4);
	}
	*end = '\0';
	if (sscanf(head, "HTTP/1.%*d %d", &r->status) != 1)
		return -EPROTO;
	r->len = 0;
	for (line = strtok_r(head, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		if (!strncasecmp(line, "content-length:", 15))
			r->len = strtoull(line + 15, NULL, 10);
		else if (!strncasecmp(line, "connection:", 11) && strcasestr(line, "close"))
			*keep = false;
	}
	r->body = malloc(r->len + 1);
	if (!r->body)
		return -ENOMEM;
	/* what came with the headers */
	got = have - (end + 4 - head);
	got = got < r->len ? got : r->len;
	memcpy(r->body, end + 4, got);
	for (; got < r->len; got += n) {
		n = of_recv(fd, r->body + got, r->len - got);
		if (n < 0) {
			free(r->body);
			r->body = NULL;
			return n == -EPIPE ? -EPROTO : n;
		}
	}
	r->body[r->len] = '\0';
	return 0;
}

/* The path of NAME below INO, percent-encoded; '/' kept unless in a query. */
static int of_quote(struct of_fs *fs, fuse_ino_t ino, const char *name, bool query, char **out)
{
	static const char hex[] = "0123456789ABCDEF";
	char *path, *p, *s;
	int ret;

	ret = of_path(fs, ino, name, &path);
	if (ret)
		return ret;
	p = *out = malloc(3 * strlen(path) + 1);
	for (s = path; p && *s; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~", *s) || (*s == '/' && !query)) {
			*p++ = *s;
		} else {
			*p++ = '%';
			*p++ = hex[(unsigned char)*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	if (p)
		*p = '\0';
	free(path);
	return p ? 0 : -ENOMEM;
}

/*
 * One request on this thread's keep-alive connection. A reused connection
 * the store has closed is reopened once; a fresh one is not retried.
 * Returns 0 and the response, whatever its status, or a negative errno.
 */
static int of_http(struct of_fs *fs, const struct of_req *q, struct of_resp *r)
{
	char *path = NULL, *to = NULL, *head = NULL;
	struct iovec iov[2];
	bool fresh, keep;
	int ret, fd, tries;

	r->body = NULL;
	ret = of_quote(fs, q->ino, q->name, false, &path);
	if (!ret && q->to_name)
		ret = of_quote(fs, q->to_ino, q->to_name, true, &to);
	if (ret)
		goto out;
	ret = -ENOMEM;
	if (asprintf(&head, "%s /%s/%s%s%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n%s\r\n",
		     q->method, q->ep, path, to ? "?to=" : "", to ? to : "", fs->host, q->len,
		     q->header ? q->header : "") < 0) {
		head = NULL;
		goto out;
	}
	for (tries = 0;; tries++) {
		fd = of_conn_get();
		fresh = fd < 0;
		if (fresh) {
			ret = fd = of_connect(fs);
			if (fd < 0)
				break;
			of_conn_set(fd);
		}
		iov[0] = (struct iovec){ .iov_base = head, .iov_len = strlen(head) };
		iov[1] = (struct iovec){ .iov_base = (void *)q->body, .iov_len = q->len };
		keep = true;
		ret = of_send(fd, iov, 2);
		if (!ret)
			ret = of_read_resp(fd, r, &keep);
		if (ret || !keep)
			of_conn_set(-1);
		if (!ret || fresh || tries || (ret != -EPIPE && ret != -ECONNRESET))
			break;
	}
out:
	free(head);
	free(to);
	free(path);
	return ret;
}

/* A failed response's errno: the store names it in the body, else the status. */
static int of_status_err(const struct of_resp *r)
{
	size_t len = strcspn(r->body, "\n");
	const char *name;
	int err;

	for (err = 1; err < 256; err++) {
		name = strerrorname_np(err);
		if (name && len == strlen(name) && !strncmp(r->body, name, len))
			return -err;
	}
	return r->status == 404 ? -ENOENT : r->status == 400 ? -EINVAL : -EIO;
}

/* A request that must succeed (2xx); R, if set, receives the response. */
static int of_call(struct of_fs *fs, const struct of_req *q, struct of_resp *r)
{
	struct of_resp tmp, *resp = r ? r : &tmp;
	int ret;

	ret = of_http(fs, q, resp);
	if (!ret && (resp->status < 200 || resp->status > 299))
		ret = of_status_err(resp);
	if (ret || !r) {
		free(resp->body);
		resp->body = NULL;
	}
	return ret;
}

static struct timespec of_ts(long long ns)
{
	long long sec = ns / 1000000000 - (ns % 1000000000 < 0);

	return (struct timespec){ .tv_sec = sec, .tv_nsec = ns - sec * 1000000000 };
}

/* "MODE SIZE MTIME_NS CTIME_NS NLINK ETAG" */
static int of_parse_attr(struct of_fs *fs, const char *s, struct stat *st)
{
	unsigned long long size, nlink;
	long long mtime_ns, ctime_ns;
	unsigned int mode;

	if (sscanf(s, "%o %llu %lld %lld %llu", &mode, &size, &mtime_ns, &ctime_ns, &nlink) != 5 ||
	    (!S_ISREG(mode) && !S_ISDIR(mode)))
		return -EPROTO;
	*st = (struct stat){ .st_mode = mode,
			     .st_size = size,
			     .st_nlink = nlink,
			     .st_uid = fs->uid,
			     .st_gid = fs->gid,
			     .st_blksize = 4096,
			     .st_blocks = (size + 511) / 512,
			     .st_mtim = of_ts(mtime_ns),
			     .st_atim = of_ts(mtime_ns),
			     .st_ctim = of_ts(ctime_ns) };
	return 0;
}

static int of_stat(struct of_fs *fs, fuse_ino_t ino, const char *name, struct stat *st)
{
	struct of_req q = { .method = "GET", .ep = "stat", .ino = ino, .name = name };
	struct of_resp r;
	int ret;

	ret = of_call(fs, &q, &r);
	if (!ret)
		ret = of_parse_attr(fs, r.body, st);
	free(r.body);
	return ret;
}

/* Cuts *S at the next newline; returns the line. */
static char *of_line(char **s)
{
	char *line = *s, *end = line + strcspn(line, "\n");

	*s = *end ? end + 1 : end;
	*end = '\0';
	return line;
}

/* ---- file data ------------------------------------------------------------ */

static int of_buf_resize(struct of_buf *b, size_t size)
{
	size_t cap = b->cap * 2 > size ? b->cap * 2 : size;
	char *data;

	if (size > b->cap) {
		data = realloc(b->data, cap);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap;
	}
	if (size > b->size)
		memset(b->data + b->size, 0, size - b->size);
	b->size = size;
	return 0;
}

static int of_load(struct of_fs *fs, fuse_ino_t ino, struct of_buf *b)
{
	struct of_req q = { .method = "GET", .ep = "data", .ino = ino };
	struct of_resp r;
	int ret;

	ret = of_call(fs, &q, &r);
	if (ret)
		return ret;
	free(b->data);
	*b = (struct of_buf){ .data = r.body, .size = r.len, .cap = r.len, .writers = b->writers };
	return 0;
}

static int of_put(struct of_fs *fs, fuse_ino_t ino, struct of_buf *b)
{
	struct of_req q = {
		.method = "PUT", .ep = "data", .ino = ino, .body = b->data, .len = b->size
	};
	int ret;

	ret = of_call(fs, &q, NULL);
	if (!ret)
		b->dirty = false;
	return ret;
}

/*
 * Uploads NODE's buffer if it changed. A node that lost its name (unlinked
 * while open) has nowhere to go: its data is dropped. node->lock held.
 */
static int of_upload(struct of_fs *fs, fuse_ino_t ino, struct of_node *node)
{
	int ret;

	if (!node->buf || !node->buf->dirty)
		return 0;
	ret = of_put(fs, ino, node->buf);
	if (!ret)
		of_changed(fs, WRITE, .node = ino);
	if (ret == -ESTALE)
		node->buf->dirty = false;
	return ret == -ESTALE ? 0 : ret;
}

/*
 * A writer opens NODE: the buffer holds the whole object, downloaded unless
 * the object is new (FRESH) or truncated (TRUNC). Writers share it.
 */
static int of_buf_open(struct of_fs *fs, fuse_ino_t ino, struct of_node *node, bool fresh,
		       bool trunc)
{
	struct of_buf *b;
	int ret = 0;

	pthread_mutex_lock(&node->lock);
	b = node->buf;
	if (!b) {
		b = calloc(1, sizeof(*b));
		ret = !b ? -ENOMEM : fresh || trunc ? 0 : of_load(fs, ino, b);
		if (ret)
			free(b);
		else
			node->buf = b;
	}
	if (!ret && trunc) {
		b->size = 0;
		b->dirty = true;
	}
	if (!ret)
		b->writers++;
	pthread_mutex_unlock(&node->lock);
	/* the buffer decides the size from now on */
	if (!ret)
		of_changed(fs, WRITE, .node = ino);
	return ret;
}

/*
 * A size change or a touch rewrites the object (SIZE -1: as it is): the
 * store has no partial writes and stamps every upload. With a writer open,
 * its buffer takes the change, and the upload at close carries it.
 */
static int of_rewrite(struct of_fs *fs, fuse_ino_t ino, struct of_node *node, off_t size)
{
	struct of_buf tmp = { 0 }, *b;
	int ret = 0;

	pthread_mutex_lock(&node->lock);
	b = node->buf ? node->buf : &tmp;
	if (b == &tmp && size)
		ret = of_load(fs, ino, b);
	if (!ret && size >= 0)
		ret = of_buf_resize(b, size);
	if (!ret)
		b->dirty = true;
	if (!ret && b == &tmp)
		ret = of_put(fs, ino, b);
	pthread_mutex_unlock(&node->lock);
	free(tmp.data);
	return ret;
}

/* ---- the answers the cache keeps ----------------------------------------- */

/* Cache a node's attributes, unless an open writer's buffer decides its size. */
static void of_cache_attr(struct of_fs *fs, const struct bpfuse_miss *m, fuse_ino_t ino,
			  const struct stat *st)
{
	struct of_node *node = of_node_get(fs, ino);

	if (!node)
		return;
	pthread_mutex_lock(&node->lock);
	if (!node->buf)
		bpfuse_attr_fill(fs->cache, m, ino, st);
	pthread_mutex_unlock(&node->lock);
}

/* A lookup the cache answered: the kernel's reference on a node still here. */
static bool of_node_ref_id(struct of_fs *fs, fuse_ino_t ino)
{
	struct of_node *n;

	pthread_mutex_lock(&fs->lock);
	n = of_node_find(fs, ino);
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/*
 * Answers a lookup: where a name becomes a node. A name the store does not
 * have is a negative entry, which the kernel keeps for the timeout too.
 */
static int of_entry(struct of_fs *fs, fuse_ino_t parent, const char *name,
		    struct fuse_entry_param *e)
{
	struct bpfuse_entry c;
	struct bpfuse_miss m;
	int ret;

	*e = (struct fuse_entry_param){ .attr_timeout = fs->timeout, .entry_timeout = fs->timeout };
	if (!bpfuse_entry_find(fs->cache, parent, name, &c, &e->attr, &m) &&
	    (!c.nodeid || of_node_ref_id(fs, c.nodeid))) {
		e->ino = c.nodeid;
		return 0;
	}
	c = (struct bpfuse_entry){ .node = BPFUSE_NODE_NONE };
	ret = of_stat(fs, parent, name, &e->attr);
	if (!ret)
		ret = of_node_ref(fs, parent, name, e->attr.st_mode, &e->ino, &c.node);
	e->attr.st_ino = e->ino;
	if (!ret)
		of_cache_attr(fs, &m, e->ino, &e->attr);
	if (!ret || ret == -ENOENT) {
		c.nodeid = e->ino;
		bpfuse_entry_fill(fs->cache, &m, parent, name, &c, NULL);
	}
	return ret == -ENOENT ? 0 : ret;
}

/*
 * Answers a getattr. An object that changed type on the store is stale for
 * this node; an open writer's buffer has the size the kernel must see.
 */
static int of_attr(struct of_fs *fs, fuse_ino_t ino, struct stat *st)
{
	struct of_node *node = of_node_get(fs, ino);
	struct bpfuse_miss m;
	int ret;

	if (!node || node->buf)
		bpfuse_miss_start(fs->cache, &m);
	else if (!bpfuse_attr_find(fs->cache, ino, st, &m))
		return 0;
	ret = node ? of_stat(fs, ino, NULL, st) : -ESTALE;
	if (!ret && (st->st_mode & S_IFMT) != node->type)
		ret = -ESTALE;
	if (ret)
		return ret;
	st->st_ino = ino;
	of_cache_attr(fs, &m, ino, st);
	pthread_mutex_lock(&node->lock);
	if (node->buf) {
		st->st_size = node->buf->size;
		st->st_blocks = (node->buf->size + 511) / 512;
	}
	pthread_mutex_unlock(&node->lock);
	return 0;
}

static int of_unhex(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0';
}

/*
 * Answers a getxattr: NAME's value in *VALUE (malloc'd) and its size, or a
 * negative errno. The store keeps user.* only, so other names (the kernel
 * asks for security.capability before every write) are answered here.
 */
static ssize_t of_xattr_get(struct of_fs *fs, fuse_ino_t ino, const char *name, char **value)
{
	struct of_req q = { .method = "GET", .ep = "xattr", .ino = ino };
	char *s, *line, *hex;
	struct of_resp r;
	ssize_t ret;
	size_t i, len;

	if (strncmp(name, "user.", 5))
		return -ENODATA;
	ret = of_call(fs, &q, &r);
	if (ret)
		return ret;
	ret = -ENODATA;
	for (s = r.body; *s;) {
		line = of_line(&s);
		hex = strchr(line, '\t');
		if (!hex || (size_t)(hex - line) != strlen(name) || strncmp(line, name, hex - line))
			continue;
		len = strlen(++hex) / 2;
		*value = malloc(len + 1);
		ret = *value ? (ssize_t)len : -ENOMEM;
		for (i = 0; *value && i < len; i++)
			(*value)[i] = of_unhex(hex[2 * i]) << 4 | of_unhex(hex[2 * i + 1]);
		break;
	}
	free(r.body);
	return ret;
}

/* ---- the handlers ---------------------------------------------------------- */

static void of_init(void *data, struct fuse_conn_info *conn)
{
	/* every write must reach the buffer uploaded at close: no writeback cache */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* open(O_TRUNC) then starts from an empty buffer instead of a download */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* a listing costs one request either way: always hand out attributes */
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
}

static void of_reply_entry(fuse_req_t req, int ret, struct fuse_entry_param *e)
{
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, e);
}

static void of_reply_attr(fuse_req_t req, int ret, struct stat *st)
{
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, st, of_fs(req)->timeout);
}

static void of_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	of_reply_entry(req, of_entry(of_fs(req), parent, name, &e), &e);
}

static void of_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	of_node_forget(of_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void of_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		of_node_forget(of_fs(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void of_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	of_reply_attr(req, of_attr(of_fs(req), ino, &st), &st);
}

/*
 * Only what the store can keep: a new size, and "now" as the time, both by
 * rewriting the object. Modes, owners and explicit times would be lost:
 * EPERM rather than a silent success.
 */
static void of_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct of_fs *fs = of_fs(req);
	struct of_node *node = of_node_get(fs, ino);
	bool size = valid & FUSE_SET_ATTR_SIZE;
	bool now = valid & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW);
	struct stat st;
	int ret = -EPERM;

	if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		goto out;
	if ((valid & FUSE_SET_ATTR_ATIME && !(valid & FUSE_SET_ATTR_ATIME_NOW)) ||
	    (valid & FUSE_SET_ATTR_MTIME && !(valid & FUSE_SET_ATTR_MTIME_NOW)))
		goto out;
	ret = -ESTALE;
	if (!node)
		goto out;
	if (size || now) {
		/* a directory has no bytes to rewrite */
		ret = S_ISDIR(node->type) ? -EPERM
					  : of_rewrite(fs, ino, node, size ? attr->st_size : -1);
		if (ret)
			goto out;
		of_changed(fs, SETATTR, .node = ino);
	}
	ret = of_attr(fs, ino, &st);
out:
	of_reply_attr(req, ret, &st);
}

static void of_dir_free(struct of_dir *d)
{
	if (d) {
		free(d->ents);
		free(d->body);
		free(d);
	}
}

/* One request lists the whole directory: the handle keeps it for readdir. */
static void of_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct of_fs *fs = of_fs(req);
	struct of_req q = { .method = "GET", .ep = "list", .ino = ino };
	struct of_dir *d = calloc(1, sizeof(*d));
	struct of_resp r;
	char *s, *line, *tab;
	size_t n = 1;
	int ret;

	if (d)
		bpfuse_miss_start(fs->cache, &d->miss);
	ret = d ? of_call(fs, &q, &r) : -ENOMEM;
	if (ret)
		goto out;
	d->body = r.body;
	for (s = d->body; *s; s++)
		n += *s == '\n';
	ret = -ENOMEM;
	d->ents = calloc(n, sizeof(*d->ents));
	if (!d->ents)
		goto out;
	for (s = d->body, ret = 0; !ret && *s; d->n++) {
		line = of_line(&s);
		tab = strchr(line, '\t');
		ret = tab ? of_parse_attr(fs, tab + 1, &d->ents[d->n].st) : -EPROTO;
		if (tab)
			*tab = '\0';
		d->ents[d->n].name = line;
	}
	if (ret)
		goto out;
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
	return;
out:
	of_dir_free(d);
	fuse_reply_err(req, -ret);
}

/*
 * Entry I has offset I + 1; no "." or "..". With PLUS the kernel takes a
 * lookup on every entry it receives, so only entries that fit are counted.
 */
static void of_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi, bool plus)
{
	struct of_fs *fs = of_fs(req);
	struct of_dir *d = (struct of_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size), *p = buf;
	size_t rem = size, n;
	int ret = buf ? 0 : -ENOMEM;
	off_t i;

	for (i = off; !ret && (size_t)i < d->n; i++) {
		struct fuse_entry_param e = { .attr = d->ents[i].st,
					      .attr_timeout = fs->timeout,
					      .entry_timeout = fs->timeout };
		const char *name = d->ents[i].name;
		struct bpfuse_entry c = { .node = BPFUSE_NODE_NONE };

		if (!plus) {
			e.attr.st_ino = of_node_peek(fs, ino, name);
			n = fuse_add_direntry(req, p, rem, name, &e.attr, i + 1);
		} else if (fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0) > rem) {
			break;
		} else {
			ret = of_node_ref(fs, ino, name, e.attr.st_mode, &e.ino, &c.node);
			e.attr.st_ino = e.ino;
			c.nodeid = e.ino;
			if (!ret) {
				/* a listing fills the cache as lookups would */
				of_cache_attr(fs, &d->miss, e.ino, &e.attr);
				bpfuse_entry_fill(fs->cache, &d->miss, ino, name, &c, NULL);
			}
			n = ret ? 0 : fuse_add_direntry_plus(req, p, rem, name, &e, i + 1);
		}
		if (n > rem)
			break;
		p += n;
		rem -= n;
	}
	if (ret && p == buf)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, p - buf);
	free(buf);
}

static void of_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	of_do_readdir(req, ino, size, off, fi, false);
}

static void of_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	of_do_readdir(req, ino, size, off, fi, true);
}

static void of_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	of_dir_free((struct of_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Readers read ranges from the store; writers load the whole object. */
static void of_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct of_fs *fs = of_fs(req);
	struct of_node *node = of_node_get(fs, ino);
	int ret = node ? 0 : -ESTALE;

	fi->fh = 0;
	if (!ret && (fi->flags & O_ACCMODE) != O_RDONLY) {
		ret = of_buf_open(fs, ino, node, false, fi->flags & O_TRUNC);
		fi->fh = OF_WRITER;
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_open(req, fi);
}

static void of_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct of_fs *fs = of_fs(req);
	struct of_node *node = of_node_get(fs, ino);
	char range[64];
	struct of_req q = { .method = "GET", .ep = "data", .ino = ino, .header = range };
	struct of_resp r;
	size_t n;
	int ret;

	if (!node) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	pthread_mutex_lock(&node->lock);
	if (node->buf) {
		/* while a writer has it open, the buffer is the file */
		n = (size_t)off < node->buf->size ? node->buf->size - off : 0;
		fuse_reply_buf(req, n ? node->buf->data + off : NULL, n < size ? n : size);
		pthread_mutex_unlock(&node->lock);
		return;
	}
	pthread_mutex_unlock(&node->lock);
	snprintf(range, sizeof(range), "Range: bytes=%lld-%lld\r\n", (long long)off,
		 (long long)(off + size - 1));
	ret = of_http(fs, &q, &r);
	if (!ret && r.status == 206)
		fuse_reply_buf(req, r.body, r.len < size ? r.len : size);
	else if (!ret && r.status == 416) /* at or past the end */
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_err(req, ret ? -ret : -of_status_err(&r));
	free(r.body);
}

static void of_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct of_node *node = of_node_get(of_fs(req), ino);
	struct of_buf *b;
	int ret;

	if (!node || fi->fh != OF_WRITER) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&node->lock);
	b = node->buf;
	ret = off + size > b->size ? of_buf_resize(b, off + size) : 0;
	if (!ret) {
		memcpy(b->data + off, data, size);
		b->dirty = true;
	}
	pthread_mutex_unlock(&node->lock);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

/* close() and fsync() upload: their callers learn whether the store has it. */
static void of_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct of_node *node = of_node_get(of_fs(req), ino);
	int ret = 0;

	if (node && fi->fh == OF_WRITER) {
		pthread_mutex_lock(&node->lock);
		ret = of_upload(of_fs(req), ino, node);
		pthread_mutex_unlock(&node->lock);
	}
	fuse_reply_err(req, -ret);
}

static void of_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	of_flush(req, ino, fi);
}

static void of_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct of_node *node = of_node_get(of_fs(req), ino);
	int ret;

	if (node && fi->fh == OF_WRITER) {
		pthread_mutex_lock(&node->lock);
		/* what a shared writable mapping changed after the last close */
		ret = of_upload(of_fs(req), ino, node);
		if (ret)
			fuse_log(FUSE_LOG_ERR, "objfs: failed to upload node %llu: %s\n",
				 (unsigned long long)ino, strerror(-ret));
		if (!--node->buf->writers) {
			free(node->buf->data);
			free(node->buf);
			node->buf = NULL;
		}
		pthread_mutex_unlock(&node->lock);
	}
	fuse_reply_err(req, 0);
}

/*
 * Creates the object empty, unless the name appeared on the store behind
 * the kernel's back: that one is opened (O_EXCL: EEXIST). MODE is the
 * store's to decide.
 */
static void of_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct of_fs *fs = of_fs(req);
	struct of_req q = { .method = "PUT",
			    .ep = "data",
			    .ino = parent,
			    .name = name,
			    .header = "If-None-Match: *\r\n" };
	struct fuse_entry_param e = { 0 };
	bool fresh = true;
	int ret;

	ret = of_call(fs, &q, NULL);
	if (ret == -EEXIST && !(fi->flags & O_EXCL)) {
		fresh = false;
		ret = 0;
	}
	if (!ret)
		of_changed(fs, CREATE, .parent = parent, .name = name);
	if (!ret)
		ret = of_entry(fs, parent, name, &e);
	if (!ret && !e.ino)
		ret = -ENOENT;
	fi->fh = 0;
	if (!ret && (fi->flags & O_ACCMODE) != O_RDONLY) {
		ret = of_buf_open(fs, e.ino, of_node_get(fs, e.ino), fresh, fi->flags & O_TRUNC);
		fi->fh = OF_WRITER;
		if (ret)
			of_node_forget(fs, e.ino, 1);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_create(req, &e, fi);
}

static void of_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct of_fs *fs = of_fs(req);
	struct of_req q = { .method = "POST", .ep = "mkdir", .ino = parent, .name = name };
	struct fuse_entry_param e;
	int ret;

	ret = of_call(fs, &q, NULL);
	if (!ret)
		of_changed(fs, CREATE, .parent = parent, .name = name);
	if (!ret)
		ret = of_entry(fs, parent, name, &e);
	of_reply_entry(req, ret ? ret : e.ino ? 0 : -ENOENT, &e);
}

/* unlink and rmdir alike: the store removes either kind of object. */
static void of_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct of_fs *fs = of_fs(req);
	struct of_req q = { .method = "DELETE", .ep = "data", .ino = parent, .name = name };
	int ret;

	ret = of_call(fs, &q, NULL);
	if (!ret)
		of_changed(fs, UNLINK, .parent = parent, .name = name,
			   .victim = of_node_peek(fs, parent, name));
	if (!ret)
		of_node_move(fs, parent, name, 0, NULL);
	fuse_reply_err(req, -ret);
}

static void of_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct of_fs *fs = of_fs(req);
	struct of_req q = { .method = "POST",
			    .ep = "rename",
			    .ino = parent,
			    .name = name,
			    .to_ino = newparent,
			    .to_name = newname };
	int ret;

	/* RENAME_NOREPLACE and RENAME_EXCHANGE would need the store's help */
	ret = flags ? -EINVAL : of_call(fs, &q, NULL);
	if (!ret)
		of_changed(fs, RENAME, .node = of_node_peek(fs, parent, name), .parent = parent,
			   .name = name, .newparent = newparent, .newname = newname,
			   .victim = of_node_peek(fs, newparent, newname));
	if (!ret)
		of_node_move(fs, parent, name, newparent, newname);
	fuse_reply_err(req, -ret);
}

static void of_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct of_fs *fs = of_fs(req);
	char *value = NULL, hit[BPFUSE_XATTR_VALUE_MAX];
	struct bpfuse_miss m;
	ssize_t len;

	len = bpfuse_xattr_find(fs->cache, ino, name, hit, size < sizeof(hit) ? size : sizeof(hit),
				&m);
	if (len == -ENOENT) {
		len = of_xattr_get(fs, ino, name, &value);
		bpfuse_xattr_fill(fs->cache, &m, ino, name, value, len);
	}
	if (len < 0)
		fuse_reply_err(req, -len);
	else if (!size)
		fuse_reply_xattr(req, len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value ? value : hit, len);
	free(value);
}

static void of_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct of_req q = { .method = "GET", .ep = "xattr", .ino = ino };
	struct of_resp r;
	char *s, *line, *out;
	size_t len;
	int ret;

	ret = of_call(of_fs(req), &q, &r);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* "NAME\tHEX\n" lines become "NAME\0", in place */
	for (s = out = r.body; *s;) {
		line = of_line(&s);
		len = strcspn(line, "\t");
		memmove(out, line, len);
		out[len] = '\0';
		out += len + 1;
	}
	len = out - r.body;
	if (!size)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, r.body, len);
	free(r.body);
}

static void of_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, ENOTSUP);
}

static void of_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, ENOTSUP);
}

/* The store reports no capacity: a 1 TiB volume, nearly empty. */
static void of_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096,
			      .f_frsize = 4096,
			      .f_blocks = 1UL << 28,
			      .f_bfree = 1UL << 28,
			      .f_bavail = 1UL << 28,
			      .f_files = 1UL << 24,
			      .f_ffree = 1UL << 24,
			      .f_favail = 1UL << 24,
			      .f_namemax = 255 };

	fuse_reply_statfs(req, &sv);
}

/* clang-format off */
static const struct fuse_lowlevel_ops of_oper = {
	.init		= of_init,
	.lookup		= of_lookup,
	.forget		= of_forget,
	.forget_multi	= of_forget_multi,
	.getattr	= of_getattr,
	.setattr	= of_setattr,
	.opendir	= of_opendir,
	.readdir	= of_readdir,
	.readdirplus	= of_readdirplus,
	.releasedir	= of_releasedir,
	.open		= of_open,
	.read		= of_read,
	.write		= of_write,
	.flush		= of_flush,
	.fsync		= of_fsync,
	.release	= of_release,
	.create		= of_create,
	.mkdir		= of_mkdir,
	.unlink		= of_remove,
	.rmdir		= of_remove,
	.rename		= of_rename,
	.getxattr	= of_getxattr,
	.listxattr	= of_listxattr,
	.setxattr	= of_setxattr,
	.removexattr	= of_removexattr,
	.statfs		= of_statfs,
};
/* clang-format on */

/* ---- setup ----------------------------------------------------------------- */

static const struct fuse_opt of_opts[] = {
	{ "timeout=%lf", offsetof(struct of_fs, timeout), 0 },
	{ "cache_timeout=%lf", offsetof(struct of_fs, cache_timeout), 0 },
	FUSE_OPT_END,
};

/* The arguments that are not options: the store's URL, then the mount point. */
static int of_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct of_fs *fs = data;
	char **to = !fs->url ? &fs->url : !fs->mountpoint ? &fs->mountpoint : NULL;

	if (key != FUSE_OPT_KEY_NONOPT || !to)
		return 1;
	*to = strdup(arg);
	return *to ? 0 : -1;
}

/* libfuse's own messages ("fuse: unknown option ...") speak as objfs too. */
static void of_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	if (strncmp(msg, "fuse: ", 6))
		fputs(msg, stderr);
	else
		fprintf(stderr, "objfs: %s", msg + 6);
	free(msg);
}

static void of_help(const char *prog)
{
	printf("usage: %s [options] http://HOST[:PORT][/PREFIX] MOUNTPOINT\n\n"
	       "objfs options:\n"
	       "    -o timeout=SECONDS     entry and attribute timeout (default: 1)\n"
	       "    -o cache_timeout=SECONDS  how long libbpfuse's maps keep an answer\n"
	       "                           (default: timeout; 0: no maps)\n\n",
	       prog);
}

/* http://HOST[:PORT][/PREFIX], resolved once; PREFIX loses its slashes around. */
static int of_parse_url(struct of_fs *fs)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	const char *rest = fs->url + 7, *port = "80";
	char *host = NULL, *name, *end;
	size_t len;
	int err;

	if (strncmp(fs->url, "http://", 7))
		goto bad;
	len = strcspn(rest, "/");
	fs->host = strndup(rest, len);
	fs->prefix = strdup(rest + len + strspn(rest + len, "/"));
	host = fs->host ? strdup(fs->host) : NULL;
	if (!fs->prefix || !host) {
		fprintf(stderr, "objfs: out of memory\n");
		free(host);
		return -ENOMEM;
	}
	for (len = strlen(fs->prefix); len && fs->prefix[len - 1] == '/';)
		fs->prefix[--len] = '\0';
	name = host;
	if (*host == '[') { /* [IPv6]:PORT */
		end = strchr(++name, ']');
		if (!end || (end[1] && end[1] != ':'))
			goto bad;
		*end++ = '\0';
	} else {
		end = host + strcspn(host, ":");
	}
	if (*end == ':') {
		*end = '\0';
		port = end + 1;
	}
	if (!*name || !*port || port[strspn(port, "0123456789")])
		goto bad;
	err = getaddrinfo(name, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "objfs: failed to resolve %s: %s\n", name, gai_strerror(err));
		free(host);
		return -EINVAL;
	}
	memcpy(&fs->addr, ai->ai_addr, ai->ai_addrlen);
	fs->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	free(host);
	return 0;
bad:
	fprintf(stderr,
		"objfs: failed to parse store URL %s: expected http://HOST[:PORT][/PREFIX]\n",
		fs->url);
	free(host);
	return -EINVAL;
}

static void of_fs_destroy(struct of_fs *fs)
{
	struct of_node *n, *next;
	size_t i;

	for (i = 0; fs->by_ino && i < OF_BUCKETS; i++)
		for (n = fs->by_ino[i]; n; n = next) {
			next = n->ino_next;
			free(n->name);
			free(n);
		}
	free(fs->by_ino);
	free(fs->by_name);
	free(fs->prefix);
	free(fs->host);
	free(fs->url);
	free(fs->mountpoint);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct of_fs fs = { .timeout = 1.0, .cache_timeout = NAN, .next_ino = FUSE_ROOT_ID };
	struct fuse_cmdline_opts opts = { 0 };
	struct bpfuse_opts co = { .sz = sizeof(co) };
	struct fuse_loop_config *config;
	struct fuse_session *se;
	char mnt[PATH_MAX];
	struct stat st;
	int ret = 1, err;

	fuse_set_log_func(of_log);
	if (fuse_opt_parse(&args, &fs, of_opts, of_opt_proc) || fuse_parse_cmdline(&args, &opts))
		goto out;
	if (opts.show_help) {
		of_help(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("objfs (libfuse %s)\n", fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (!fs.url || !fs.mountpoint) {
		fprintf(stderr,
			"objfs: usage: %s [options] http://HOST[:PORT][/PREFIX] MOUNTPOINT "
			"(see --help)\n",
			argv[0]);
		goto out;
	}
	if (fs.timeout < 0 || fs.cache_timeout < 0) {
		fprintf(stderr, "objfs: invalid timeout %g: must be 0 or more seconds\n",
			fs.timeout < 0 ? fs.timeout : fs.cache_timeout);
		goto out;
	}
	if (of_parse_url(&fs))
		goto out;
	err = 0;
	if (!realpath(fs.mountpoint, mnt) || stat(mnt, &st))
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	if (err) {
		fprintf(stderr, "objfs: failed to use mount point %s: %s\n", fs.mountpoint,
			strerror(err));
		goto out;
	}
	fs.uid = getuid();
	fs.gid = getgid();
	pthread_mutex_init(&fs.lock, NULL);
	fs.by_ino = calloc(OF_BUCKETS, sizeof(*fs.by_ino));
	fs.by_name = calloc(OF_BUCKETS, sizeof(*fs.by_name));
	if (!fs.by_ino || !fs.by_name || pthread_key_create(&of_conn_key, of_conn_free) ||
	    !(fs.root = of_node_new(&fs, NULL, NULL, S_IFDIR))) {
		fprintf(stderr, "objfs: out of memory\n");
		goto out;
	}
	/* a store that cannot answer is an error now, not at the first ls */
	err = of_stat(&fs, FUSE_ROOT_ID, NULL, &st);
	of_conn_set(-1);
	if (err) {
		fprintf(stderr, "objfs: failed to reach store %s: %s\n", fs.url, strerror(-err));
		goto out;
	}
	if (fuse_opt_add_arg(&args, "-odefault_permissions,fsname=objfs,subtype=objfs"))
		goto out;
	se = fuse_session_new(&args, &of_oper, sizeof(of_oper), &fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, mnt))
		goto out_signals;
	/* the store is not watched: its changes show within the timeouts */
	co.entry_timeout_ns = co.attr_timeout_ns = co.negative_timeout_ns = fs.timeout * 1e9;
	co.lifetime_ns = (isnan(fs.cache_timeout) ? fs.timeout : fs.cache_timeout) * 1e9;
	co.no_cache = !co.lifetime_ns; /* 0 would be "until invalidated" */
	err = bpfuse_mount_open(mnt, &co, &fs.cache);
	if (err)
		fuse_log(FUSE_LOG_WARNING, "objfs: no cache (%s)\n", strerror(-err));
	if (!err)
		err = bpfuse_mount_attach(fs.cache, fuse_session_fd(se));
	/* said either way: until then the maps' mode reads stock */
	if (!err)
		fuse_log(FUSE_LOG_INFO, "objfs: ext mode: the kernel answers cache hits\n");
	else
		fuse_log(FUSE_LOG_INFO, "objfs: stock mode (%s)\n", strerror(-err));
	fuse_daemonize(opts.foreground);
	bpfuse_mount_set_pid(fs.cache, getpid());
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(config, opts.max_threads);
		ret = fuse_session_loop_mt(se, config);
		fuse_loop_cfg_destroy(config);
	}
	ret = ret ? 1 : 0;
	fuse_session_unmount(se);
	bpfuse_mount_close(fs.cache);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	of_fs_destroy(&fs);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
