/*
 * fingerprint.c - the plugin's code fingerprint with libgit2 (see fingerprint.h).
 *
 *   digest = sha256hex(json.dumps({"files": {path: sha256hex(content)}}, sort_keys=True,
 *                                 separators=(",", ":")))
 *
 * over the files `git ls-files <paths...>` lists when run at the top of the work tree (names
 * relative to the repository root, receipt-v1.md), wherever inside the repository repo_dir
 * points. Paths select plain names the way a pathspec without magic does: an index path matches
 * when it equals a given path or lies under it ("src" matches "src" and "src/a.py", not
 * "srcx.py"); "." or "" match everything.
 *
 * Working tree: the index's stage-0 entries (one per path), each file opened through symlinks as
 * Python's open() does; what is missing or is not a regular file (a submodule) is left out.
 * Commit: the blobs of the commit's tree (regular and executable files; symlinks resolved inside
 * the tree to the blob they name; submodules left out), so that a clean tree gives the same digest.
 *
 * The JSON is never built: its bytes are streamed into SHA-256 in sorted order (code point order
 * of the paths = byte order of their UTF-8), with Python's ensure_ascii escaping of the names.
 * Files are hashed with large reads into one reusable buffer, on several threads for large sets.
 *
 * libgit2: every call does git_libgit2_init() / git_libgit2_shutdown() (reference counted, so a
 * program that keeps its own init for its lifetime pays for setup only once).
 */
#include "fingerprint.h"
#include "buf.h"
#include "canonical.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20) /* bytes per read() */
#define MAX_THREADS 8
#define FILES_PER_THREAD 32 /* fewer files than this per thread: do not start another */
#define MAX_SYMLINK_HOPS 16

typedef struct fp_file {
    char *name; /* as it appears in the JSON (relative to the repository top) */
    size_t name_len;
    char *fs_path; /* working tree: absolute path to read; NULL for tree entries */
    unsigned char md[GP_SHA256_LEN];
    bool present;
} fp_file;

typedef struct fp_set {
    fp_file *files;
    size_t n, cap;
} fp_set;

static void set_free(fp_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].name);
        free(s->files[i].fs_path);
    }
    free(s->files);
}

static int set_add(fp_set *s, const char *name, size_t name_len, fp_file **out)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        fp_file *f = realloc(s->files, cap * sizeof(*f));
        if (!f) return gp_error_setf(GP_ERROR, "out of memory");
        s->files = f;
        s->cap = cap;
    }
    fp_file *f = &s->files[s->n];
    memset(f, 0, sizeof(*f));
    if (!(f->name = malloc(name_len + 1))) return gp_error_setf(GP_ERROR, "out of memory");
    memcpy(f->name, name, name_len);
    f->name[name_len] = '\0';
    f->name_len = name_len;
    s->n++;
    *out = f;
    return 0;
}

static int git_fail(int code, const char *what)
{
    const git_error *e = git_error_last();
    return gp_error_setf(code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

/* ---- path selection --------------------------------------------------------------------- */

typedef struct fp_specs {
    char **spec; /* a path without trailing '/'; "" matches everything */
    size_t n;
} fp_specs;

static void specs_free(fp_specs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->spec[i]);
    free(s->spec);
}

static int specs_init(fp_specs *s, const char *const *paths, size_t npaths)
{
    memset(s, 0, sizeof(*s));
    if (npaths == 0) return gp_error_setf(GP_EINVALID, "no paths to fingerprint (e.g. src,tests)");
    if (!(s->spec = calloc(npaths, sizeof(*s->spec))))
        return gp_error_setf(GP_ERROR, "out of memory");
    for (size_t i = 0; i < npaths; i++) {
        const char *p = paths[i] ? paths[i] : "";
        while (p[0] == '.' && p[1] == '/') {
            p += 2;
            while (*p == '/')
                p++;
        }
        size_t len = strlen(p);
        while (len > 0 && p[len - 1] == '/')
            len--;
        if (len == 1 && p[0] == '.') len = 0;
        if (p[0] == '/' || strstr(p, "//"))
            return gp_error_setf(
                GP_EINVALID, "fingerprint path \"%.100s\" must be relative, with single '/'", p);
        for (const char *c = p; c < p + len;) {
            const char *e = memchr(c, '/', (size_t)(p + len - c));
            size_t seg = e ? (size_t)(e - c) : (size_t)(p + len - c);
            if ((seg == 2 && c[0] == '.' && c[1] == '.') || (seg == 1 && c[0] == '.'))
                return gp_error_setf(GP_EINVALID,
                                     "fingerprint path \"%.100s\" must not hold '.' or '..'", p);
            c += seg + 1;
        }
        if (!(s->spec[i] = malloc(len + 1))) return gp_error_setf(GP_ERROR, "out of memory");
        memcpy(s->spec[i], p, len);
        s->spec[i][len] = '\0';
        s->n++;
    }
    return 0;
}

/* Whether a file path is selected. */
static bool specs_match(const fp_specs *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t n = strlen(s->spec[i]);
        if (n == 0 || (strncmp(path, s->spec[i], n) == 0 && (path[n] == '\0' || path[n] == '/')))
            return true;
    }
    return false;
}

/* Whether a directory (no trailing '/') may hold selected files. */
static bool specs_enter(const fp_specs *s, const char *dir, size_t dlen)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t n = strlen(s->spec[i]);
        if (n == 0) return true;
        if (n <= dlen && strncmp(dir, s->spec[i], n) == 0 && (dir[n] == '\0' || dir[n] == '/'))
            return true;
        if (n > dlen && strncmp(s->spec[i], dir, dlen) == 0 && s->spec[i][dlen] == '/') return true;
    }
    return false;
}

/* ---- hashing files ---------------------------------------------------------------------- */

typedef struct fp_work {
    fp_set *set;
    atomic_size_t next;
    atomic_int error;  /* first error code (0 = none) */
    char message[512]; /* its message */
    pthread_mutex_t lock;
} fp_work;

static void work_fail(fp_work *w, int code, const char *msg)
{
    pthread_mutex_lock(&w->lock);
    if (atomic_load(&w->error) == 0) {
        snprintf(w->message, sizeof(w->message), "%s", msg);
        atomic_store(&w->error, code);
    }
    pthread_mutex_unlock(&w->lock);
}

/* Hashes one file of the working tree; leaves it not present when missing or not a regular file. */
static int hash_file(fp_file *f, unsigned char *buf, char *msg, size_t msglen)
{
    int fd = open(f->fs_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    gp_sha256_ctx *ctx = NULL;
    struct stat st;
    int error = 0;
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return 0;
        snprintf(msg, msglen, "cannot open %s: %s", f->fs_path, strerror(errno));
        return GP_ERROR;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) goto done; /* a directory (submodule) etc. */
#ifdef POSIX_FADV_SEQUENTIAL
    if (st.st_size > READ_CHUNK) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    if (!(ctx = gp_sha256_begin((size_t)st.st_size))) {
        snprintf(msg, msglen, "out of memory (SHA-256)");
        error = GP_ERROR;
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(msg, msglen, "cannot read %s: %s", f->fs_path, strerror(errno));
            error = GP_ERROR;
            goto done;
        }
        if (n == 0) break;
        gp_sha256_update(ctx, buf, (size_t)n);
    }
    gp_sha256_end(ctx, f->md);
    ctx = NULL;
    f->present = true;
done:
    gp_sha256_free(ctx);
    close(fd);
    return error;
}

static void *hash_worker(void *arg)
{
    fp_work *w = arg;
    unsigned char *buf = malloc(READ_CHUNK);
    char msg[512];
    if (!buf) {
        work_fail(w, GP_ERROR, "out of memory");
        goto done;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->set->n || atomic_load(&w->error) != 0) break;
        int rc = hash_file(&w->set->files[i], buf, msg, sizeof(msg));
        if (rc < 0) {
            work_fail(w, rc, msg);
            break;
        }
    }
done:
    free(buf);
    return NULL;
}

static int hash_all(fp_set *set)
{
    fp_work w;
    pthread_t threads[MAX_THREADS];
    size_t started = 0;
    size_t nthreads = set->n / FILES_PER_THREAD; /* 0 or 1: this thread alone */
    if (nthreads > 1) { /* only then is the CPU count worth its look into /sys */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus < 1) cpus = 1;
        if (nthreads > (size_t)cpus) nthreads = (size_t)cpus;
        if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    }
    atomic_init(&w.next, 0);
    atomic_init(&w.error, 0);
    w.set = set;
    w.message[0] = '\0';
    pthread_mutex_init(&w.lock, NULL);
    for (size_t i = 1; i < nthreads; i++) {
        if (pthread_create(&threads[started], NULL, hash_worker, &w) != 0) break;
        started++;
    }
    hash_worker(&w); /* this thread works too */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&w.lock);
    int error = atomic_load(&w.error);
    return error ? gp_error_setf(error, "%s", w.message) : 0;
}

/* ---- the JSON, streamed into SHA-256 ---------------------------------------------------- */

static int cmp_file(const void *a, const void *b)
{
    const fp_file *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Sorts, drops absent and repeated names, streams the JSON into SHA-256. */
static int finish(gp_fingerprint *out, fp_set *set)
{
    gp_sha256_ctx *ctx = gp_sha256_begin(set->n * 100 + 12); /* about the JSON's size */
    gp_buf b = GP_BUF_INIT(0);
    unsigned char md[GP_SHA256_LEN];
    size_t count = 0;
    int error = 0;
    if (!ctx) {
        error = gp_error_setf(GP_ERROR, "out of memory (SHA-256)");
        goto done;
    }
    if (set->n) qsort(set->files, set->n, sizeof(*set->files), cmp_file);
    gp_sha256_update(ctx, "{\"files\":{", 10);
    for (size_t i = 0; i < set->n; i++) {
        fp_file *f = &set->files[i];
        char hexd[GP_SHA256_HEX_LEN + 1];
        if (!f->present ||
            (i > 0 && cmp_file(f, &set->files[i - 1]) == 0 && set->files[i - 1].present))
            continue;
        gp_buf_reset(&b);
        if ((count && (error = gp_buf_putc(&b, ',')) < 0) ||
            (error = gp_json_escape_string(&b, f->name, f->name_len)) < 0 ||
            (error = gp_buf_add(&b, ":\"", 2)) < 0) {
            if (error == GP_EINVALID)
                gp_error_setf(error, "file name \"%.*s\" is not UTF-8",
                              (int)(f->name_len > 200 ? 200 : f->name_len), f->name);
            goto done;
        }
        gp_hex(hexd, f->md, sizeof(f->md));
        if ((error = gp_buf_add(&b, hexd, GP_SHA256_HEX_LEN)) < 0 ||
            (error = gp_buf_putc(&b, '"')) < 0)
            goto done;
        gp_sha256_update(ctx, b.ptr, b.len);
        count++;
    }
    gp_sha256_update(ctx, "}}", 2);
    gp_sha256_end(ctx, md);
    ctx = NULL;
    gp_hex(out->digest, md, sizeof(md));
    out->file_count = count;
done:
    gp_buf_free(&b);
    gp_sha256_free(ctx);
    return error;
}

/* ---- working tree ----------------------------------------------------------------------- */

/* Opens the repository containing dir (NULL = "."), searching upwards as git does. */
static int open_repo(git_repository **repo, const char *dir)
{
    int rc = git_repository_open_ext(repo, dir ? dir : ".", 0, NULL);
    if (rc < 0) return git_fail(rc == GIT_ENOTFOUND ? GP_ENOTFOUND : GP_ERROR, dir ? dir : ".");
    return 0;
}

/* The working tree's fingerprint; `where` names the repository in messages. */
static int workdir_fp(gp_fingerprint *out, git_repository *repo, const char *where,
                      const char *const *paths, size_t npaths)
{
    git_index *index = NULL;
    fp_specs specs = {0};
    fp_set set = {0};
    const char *workdir;
    int error;

    if (!(workdir = git_repository_workdir(repo))) {
        error = gp_error_setf(GP_EINVALID, "%s is a bare repository: use a commit's fingerprint",
                              where);
        goto done;
    }
    if ((error = specs_init(&specs, paths, npaths)) < 0) goto done;
    if (git_repository_index(&index, repo) < 0) {
        error = git_fail(GP_ERROR, "cannot read the git index");
        goto done;
    }
    size_t n = git_index_entrycount(index), wlen = strlen(workdir);
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *e = git_index_get_byindex(index, i);
        fp_file *f;
        if (!e || !specs_match(&specs, e->path)) continue;
        if (set.n && strcmp(set.files[set.n - 1].name, e->path) == 0) continue;
        if ((e->mode & 0170000) == 0160000) continue; /* a submodule is a directory, never a file */
        size_t plen = strlen(e->path);
        if ((error = set_add(&set, e->path, plen, &f)) < 0) goto done;
        if (!(f->fs_path = malloc(wlen + plen + 1))) {
            error = gp_error_setf(GP_ERROR, "out of memory");
            goto done;
        }
        memcpy(f->fs_path, workdir, wlen);
        memcpy(f->fs_path + wlen, e->path, plen + 1);
    }
    if ((error = hash_all(&set)) < 0 || (error = finish(out, &set)) < 0) goto done;
    error = 0;
done:
    set_free(&set);
    specs_free(&specs);
    git_index_free(index);
    return error;
}

int gp_fingerprint_workdir(gp_fingerprint *out, const char *repo_dir, const char *const *paths,
                           size_t npaths)
{
    git_repository *repo = NULL;
    int error;

    git_libgit2_init();
    if ((error = open_repo(&repo, repo_dir)) == 0)
        error = workdir_fp(out, repo, repo_dir ? repo_dir : ".", paths, npaths);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}

int gp_fingerprint_workdir_repo(gp_fingerprint *out, git_repository *repo, const char *const *paths,
                                size_t npaths)
{
    return workdir_fp(out, repo, git_repository_path(repo), paths, npaths);
}

/* ---- commit tree ------------------------------------------------------------------------ */

typedef struct tree_walk {
    git_repository *repo;
    git_tree *root;
    fp_specs *specs;
    fp_set *set;
    gp_buf path;
    int error;
} tree_walk;

static int hash_blob(unsigned char md[GP_SHA256_LEN], git_repository *repo, const git_oid *id)
{
    git_blob *blob = NULL;
    if (git_blob_lookup(&blob, repo, id) < 0)
        return git_fail(GP_ERROR, "cannot read a blob of the commit");
    gp_sha256(md, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
    git_blob_free(blob);
    return 0;
}

/* Resolves a symlink at `path` whose target is `target` to the blob it names inside the tree.
 * 0 with *found false when it points outside the tree, to nothing, or to a directory. */
static int resolve_link(tree_walk *w, const char *path, git_oid *blob_id, bool *found)
{
    char cur[PATH_MAX], next[PATH_MAX];
    git_tree_entry *te = NULL;
    int error = 0;
    *found = false;
    snprintf(cur, sizeof(cur), "%s", path);
    for (int hop = 0; hop < MAX_SYMLINK_HOPS; hop++) {
        const git_tree_entry *e = NULL;
        git_blob *link = NULL;
        if (git_tree_entry_bypath(&te, w->root, cur) < 0) return 0;
        e = te;
        git_filemode_t mode = git_tree_entry_filemode(e);
        if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
            git_oid_cpy(blob_id, git_tree_entry_id(e));
            *found = true;
            goto done;
        }
        if (mode != GIT_FILEMODE_LINK) goto done;
        if (git_blob_lookup(&link, w->repo, git_tree_entry_id(e)) < 0) {
            error = git_fail(GP_ERROR, "cannot read a symlink of the commit");
            goto done;
        }
        size_t tlen = (size_t)git_blob_rawsize(link);
        const char *target = git_blob_rawcontent(link);
        const char *slash = strrchr(cur, '/');
        size_t dlen = slash ? (size_t)(slash - cur) : 0;
        if (tlen == 0 || target[0] == '/' || dlen + 1 + tlen >= sizeof(next) ||
            memchr(target, '\0', tlen)) {
            git_blob_free(link);
            goto done;
        }
        /* normalise dirname(cur) + "/" + target, refusing to climb above the top */
        char joined[2 * PATH_MAX];
        snprintf(joined, sizeof(joined), "%.*s%s%.*s", (int)dlen, cur, dlen ? "/" : "", (int)tlen,
                 target);
        git_blob_free(link);
        size_t o = 0;
        bool outside = false;
        for (char *save = NULL, *seg = strtok_r(joined, "/", &save); seg;
             seg = strtok_r(NULL, "/", &save)) {
            if (strcmp(seg, ".") == 0) continue;
            if (strcmp(seg, "..") == 0) {
                if (o == 0) {
                    outside = true;
                    break;
                }
                while (o > 0 && next[o - 1] != '/')
                    o--;
                if (o > 0) o--;
                continue;
            }
            size_t sl = strlen(seg);
            if (o + 1 + sl + 1 > sizeof(next)) {
                outside = true;
                break;
            }
            if (o) next[o++] = '/';
            memcpy(next + o, seg, sl);
            o += sl;
        }
        next[o] = '\0';
        if (outside || o == 0) goto done;
        memcpy(cur, next, o + 1);
        git_tree_entry_free(te);
        te = NULL;
    }
done:
    git_tree_entry_free(te);
    return error;
}

static int walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
    tree_walk *w = payload;
    const char *name = git_tree_entry_name(entry);
    git_filemode_t mode = git_tree_entry_filemode(entry);
    gp_buf_reset(&w->path);
    if (gp_buf_puts(&w->path, root) < 0 || gp_buf_puts(&w->path, name) < 0) {
        w->error = GP_ERROR;
        return -1;
    }
    if (mode == GIT_FILEMODE_TREE) return specs_enter(w->specs, w->path.ptr, w->path.len) ? 0 : 1;
    if (mode == GIT_FILEMODE_COMMIT || !specs_match(w->specs, w->path.ptr)) return 0;
    git_oid id;
    bool found = true;
    if (mode == GIT_FILEMODE_LINK) {
        if ((w->error = resolve_link(w, w->path.ptr, &id, &found)) < 0) return -1;
        if (!found) return 0;
    } else {
        git_oid_cpy(&id, git_tree_entry_id(entry));
    }
    fp_file *f;
    if ((w->error = set_add(w->set, w->path.ptr, w->path.len, &f)) < 0) return -1;
    if ((w->error = hash_blob(f->md, w->repo, &id)) < 0) return -1;
    f->present = true;
    return 0;
}

/* GP_EINVALID unless commit is 4 to 40 hex digits. */
static int commit_id_check(const char *commit)
{
    size_t clen = commit ? strlen(commit) : 0;
    if (clen < 4 || clen > GIT_OID_HEXSZ || !gp_is_hex(commit, clen))
        return gp_error_setf(GP_EINVALID, "commit \"%.80s\" is not 4 to 40 hex digits",
                             commit ? commit : "");
    return 0;
}

/* The fingerprint of a commit's tree; `where` names the repository in messages. */
static int commit_fp(gp_fingerprint *out, git_repository *repo, const char *where,
                     const char *commit, const char *const *paths, size_t npaths)
{
    git_commit *c = NULL;
    git_tree *tree = NULL;
    fp_specs specs = {0};
    fp_set set = {0};
    tree_walk w = {0};
    git_oid oid;
    int error, rc;

    gp_buf_init(&w.path, 0);
    if ((error = commit_id_check(commit)) < 0) goto done;
    size_t clen = strlen(commit);
    if (git_oid_fromstrn(&oid, commit, clen) < 0) {
        error = git_fail(GP_EINVALID, "bad commit id");
        goto done;
    }
    if ((rc = git_commit_lookup_prefix(&c, repo, &oid, clen)) < 0) {
        if (rc == GIT_EAMBIGUOUS)
            error = gp_error_setf(GP_EINVALID, "commit %s is ambiguous: give more digits", commit);
        else if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC)
            error = gp_error_setf(GP_ENOTFOUND, "commit %s is not in %s", commit, where);
        else
            error = git_fail(GP_ERROR, "cannot read the commit");
        goto done;
    }
    if (git_commit_tree(&tree, c) < 0) {
        error = git_fail(GP_ERROR, "cannot read the commit's tree");
        goto done;
    }
    if ((error = specs_init(&specs, paths, npaths)) < 0) goto done;
    w.repo = repo;
    w.root = tree;
    w.specs = &specs;
    w.set = &set;
    if ((rc = git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &w)) < 0) {
        error = w.error < 0 ? w.error : git_fail(GP_ERROR, "cannot walk the commit's tree");
        goto done;
    }
    error = finish(out, &set);
done:
    set_free(&set);
    specs_free(&specs);
    gp_buf_free(&w.path);
    git_tree_free(tree);
    git_commit_free(c);
    return error;
}

int gp_fingerprint_commit(gp_fingerprint *out, const char *repo_dir, const char *commit,
                          const char *const *paths, size_t npaths)
{
    git_repository *repo = NULL;
    int error;

    git_libgit2_init();
    if ((error = commit_id_check(commit)) == 0 && (error = open_repo(&repo, repo_dir)) == 0)
        error = commit_fp(out, repo, repo_dir ? repo_dir : ".", commit, paths, npaths);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}

int gp_fingerprint_commit_repo(gp_fingerprint *out, git_repository *repo, const char *commit,
                               const char *const *paths, size_t npaths)
{
    return commit_fp(out, repo, git_repository_path(repo), commit, paths, npaths);
}
