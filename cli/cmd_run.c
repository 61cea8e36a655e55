/*
 * cmd_run.c - `gpuproof-cli run [options] -- CMD [ARGS...]`: run a test command and write a
 * schema-v1 receipt of what really ran (../shared/spec/cli.md, receipt-v1.md).
 *
 *   1. git state (lib/gitstate.h) and code fingerprint (lib/fingerprint.h) before the command;
 *   2. the command in its own process group, output streamed live, SIGINT/SIGTERM/SIGHUP/SIGQUIT
 *      forwarded to the group; the CLI is a child subreaper, so every process the tests start
 *      stays in its tree, and a sampler thread records which GPUs that tree used (lib/nvml.h);
 *   3. git state and fingerprint again: HEAD moved or code changed -> no receipt, exit 2;
 *   4. the JUnit report (lib/junit.h): pytest gets `--junitxml=TMP -o junit_family=xunit1`
 *      appended and its node ids rebuilt; other runners name their report with --junit;
 *      a missing, stale or empty report -> no receipt, exit 2;
 *   5. the receipt, signed (cli_sign_doc) unless --unsigned, written (cli_write_receipt) even
 *      when tests failed, optionally submitted; exit with the command's status.
 */
#include "cli.h"

#include "error.h"
#include "fingerprint.h"
#include "gitstate.h"
#include "junit.h"
#include "nvml.h"
#include "receipt.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gpuproof-cli run [options] -- CMD [ARGS...]\n\n"
            "Runs the test command (output streamed live), collects every test's node id, outcome "
            "and\nduration, records the GPUs and which of them the command's processes used, "
            "fingerprints\nthe code, signs and writes the receipt even when tests fail. Exits with "
            "the command's\nstatus (128+N when a signal N killed it); 2 with no receipt when the "
            "report is missing\nor empty, the code changed during the run, or there is no usable "
            "key or signer.\n\n"
            "pytest (CMD is pytest, py.test or python[3] -m pytest) gets\n"
            "`--junitxml=TMP -o junit_family=xunit1` appended and its node ids rebuilt; any other "
            "runner\nmust write a JUnit report and name it with --junit (ctest --output-junit, "
            "go-junit-report,\ncargo-nextest).\n\n"
            "  --out FILE        the receipt file (default gpu-proof.json)\n"
            "  --junit PATH      the JUnit report the command writes (required for non-pytest)\n"
            "  --paths LIST      fingerprinted paths, comma-separated (default src,tests)\n"
            "  --mode MODE       local (default) or ci-gpu\n"
            "  --repo DIR        the repository (default: the current directory)\n"
            "  --key PATH        signing key (else GPUPROOF_KEY, git config user.signingKey, "
            "~/.ssh/id_*)\n"
            "  --signer LOGIN    GitHub login (else GPUPROOF_SIGNER, git config gpuproof.signer, "
            "origin owner)\n"
            "  --format FMT      signature format: raw (default, the plugin's) or sshsig\n"
            "  --unsigned        write the receipt without a signature (\"signature\": null); "
            "for trying\n"
            "                    things out: verifiers and servers treat it as unsigned\n"
            "  --submit          send the receipt to the server afterwards\n"
            "  --server URL      the server for --submit (else GPUPROOF_SERVER, git config "
            "gpuproof.server)\n\n"
            "GPUs come from NVML (libnvidia-ml.so.1, or the file named by GPUPROOF_NVML_LIB); "
            "without it\ngpu_info is null and gpus is empty.\n");
}

typedef struct run_opts {
    const char *out, *junit, *paths, *mode, *repo, *key, *signer, *format, *server;
    bool submit, unsigned_;
} run_opts;

/* ---- the test command ---------------------------------------------------------------------- */

static bool is_python(const char *base)
{
    if (strncmp(base, "python", 6)) return false;
    for (const char *p = base + 6; *p; p++)
        if ((*p < '0' || *p > '9') && *p != '.') return false;
    return true;
}

/* 1: `pytest ...`, 2: `python -m pytest ...`, 0: something else. */
static int pytest_form(char **argv, int argc)
{
    char *copy = strdup(argv[0]);
    const char *base = copy ? basename(copy) : "";
    int form = 0;
    if (!strcmp(base, "pytest") || !strcmp(base, "py.test") || !strncmp(base, "pytest-3", 8))
        form = 1;
    else if (is_python(base) && argc >= 2 &&
             ((argc >= 3 && !strcmp(argv[1], "-m") && !strcmp(argv[2], "pytest")) ||
              !strcmp(argv[1], "-mpytest")))
        form = 2;
    free(copy);
    return form;
}

/*
 * Runs argv with stdin from /dev/null and stdout+stderr captured (at most cap-1 bytes kept), for
 * at most timeout_s seconds. 0 when it exited 0.
 */
static int capture(char *out, size_t cap, char *const argv[], int timeout_s)
{
    posix_spawn_file_actions_t fa;
    int fds[2], status = 0, rc = -1;
    size_t len = 0;
    pid_t pid;
    time_t deadline = time(NULL) + timeout_s;

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) < 0) return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int left = (int)(deadline - time(NULL));
        char tmp[1024];
        ssize_t n;
        if (left <= 0 || poll(&p, 1, left * 1000) == 0) {
            kill(pid, SIGKILL);
            break;
        }
        n = read(fds[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (len + 1 < cap) {
            size_t take = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
            memcpy(out + len, tmp, take);
            len += take;
            out[len] = '\0';
        }
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) rc = 0;
    return rc;
}

/* The interpreter of a pytest script from its "#!" line: "/usr/bin/python3", or "python3" for
 * "#!/usr/bin/env python3" (looked up in PATH when run). NULL when there is none. */
static char *script_interpreter(const char *cmd)
{
    char *path = NULL, line[512], *s, *word;
    FILE *f = NULL;
    if (strchr(cmd, '/')) {
        path = strdup(cmd);
    } else {
        const char *pathenv = getenv("PATH");
        char *dirs = strdup(pathenv ? pathenv : "/usr/bin:/bin"), *save = NULL;
        for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d;
             d = strtok_r(NULL, ":", &save)) {
            char *cand = NULL;
            if (asprintf(&cand, "%s/%s", *d ? d : ".", cmd) < 0) break;
            if (access(cand, X_OK) == 0) {
                path = cand;
                break;
            }
            free(cand);
        }
        free(dirs);
    }
    if (!path || !(f = fopen(path, "r"))) {
        free(path);
        return NULL;
    }
    free(path);
    if (!fgets(line, sizeof(line), f) || strncmp(line, "#!", 2)) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    s = line + 2;
    s += strspn(s, " \t");
    word = s;
    s += strcspn(s, " \t\r\n");
    if (*s) *s++ = '\0';
    if (*word != '/') return NULL;
    if (!strcmp(word, "/usr/bin/env") || !strcmp(word, "/bin/env")) {
        s += strspn(s, " \t");
        word = s;
        word[strcspn(word, " \t\r\n")] = '\0';
        if (!*word || *word == '-') return NULL;
    }
    return strdup(word);
}

/* environment.python_version and pytest_version, asked from the interpreter that runs pytest. */
static void pytest_versions(json_t *env, char **argv, int form)
{
    char out[4096], *interp = NULL, *nl;
    char *snippet = "import platform, pytest; print(platform.python_version()); "
                    "print(pytest.__version__)";
    if (form == 2)
        interp = strdup(argv[0]);
    else
        interp = script_interpreter(argv[0]);
    if (interp) {
        char *a[] = {interp, "-c", snippet, NULL};
        if (capture(out, sizeof(out), a, 30) == 0 && (nl = strchr(out, '\n'))) {
            char *second = nl + 1;
            *nl = '\0';
            second[strcspn(second, "\r\n")] = '\0';
            if (*out && strlen(out) < 32)
                json_object_set_new(env, "python_version", json_string(out));
            if (*second && strlen(second) < 32)
                json_object_set_new(env, "pytest_version", json_string(second));
            free(interp);
            return;
        }
        free(interp);
    }
    /* fall back to `pytest --version`: "pytest 7.2.1" */
    {
        char *a[] = {argv[0], "--version", NULL};
        char ver[32];
        const char *p;
        if (form == 1 && capture(out, sizeof(out), a, 30) == 0 && (p = strstr(out, "pytest ")) &&
            sscanf(p + 7, "%31[0-9A-Za-z.+-]", ver) == 1)
            json_object_set_new(env, "pytest_version", json_string(ver));
    }
}

static volatile sig_atomic_t child_pgid;
static volatile sig_atomic_t got_signal;

static void forward(int sig)
{
    got_signal = sig;
    if (child_pgid > 0) kill(-(pid_t)child_pgid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/*
 * Runs argv in its own process group (given the terminal when we have it), forwarding signals,
 * sampling GPUs. Returns the wait status in *status; CLI_ERROR when it could not be started.
 */
static int run_command(int *status, char **argv, gp_gpus *gpus)
{
    struct sigaction sa, old[4], ign, old_ttou;
    int errpipe[2], err = 0, rc = CLI_OK;
    bool tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
    pid_t pid;
    ssize_t n;

    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        cli_errorf("pipe: %s", strerror(errno));
        return CLI_ERROR;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    child_pgid = 0;
    got_signal = 0;
    for (size_t i = 0; i < 4; i++)
        sigaction(forwarded[i], &sa, &old[i]);
    sigaction(SIGTTOU, &ign, &old_ttou);

    pid = fork();
    if (pid < 0) {
        cli_errorf("fork: %s", strerror(errno));
        rc = CLI_ERROR;
        goto restore;
    }
    if (pid == 0) {
        setpgid(0, 0);
        if (tty) tcsetpgrp(STDIN_FILENO, getpid());
        for (size_t i = 0; i < 4; i++)
            sigaction(forwarded[i], &old[i], NULL);
        sigaction(SIGTTOU, &old_ttou, NULL);
        close(errpipe[0]);
        execvp(argv[0], argv);
        err = errno;
        (void)!write(errpipe[1], &err, sizeof(err));
        _exit(127);
    }
    setpgid(pid, pid);
    child_pgid = pid;
    if (tty) tcsetpgrp(STDIN_FILENO, pid);
    close(errpipe[1]);
    do
        n = read(errpipe[0], &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(err)) {
        while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
        }
        cli_errorf("cannot run '%s': %s", argv[0], strerror(err));
        rc = CLI_ERROR;
        goto restore;
    }
    if (gpus && gp_gpus_sample_start(gpus, getpid(), 100) < 0)
        cli_warnf("GPU use is not recorded: %s", gp_error_last());
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            cli_errorf("waitpid: %s", strerror(errno));
            rc = CLI_ERROR;
            break;
        }
    }
    gp_gpus_sample_stop(gpus);
restore:
    if (tty) tcsetpgrp(STDIN_FILENO, getpgrp());
    child_pgid = 0;
    for (size_t i = 0; i < 4; i++)
        sigaction(forwarded[i], &old[i], NULL);
    sigaction(SIGTTOU, &old_ttou, NULL);
    /* orphans of the test command were re-parented to us (subreaper): reap those that ended */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    return rc;
}

/* ---- the receipt ----------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *build_receipt(const run_opts *o, const gp_gitstate *git, const gp_fingerprint *fp,
                             char **paths, size_t npaths, const char *signer, time_t started,
                             time_t ended, const gp_junit_report *rep, json_t *env)
{
    char t0[21], t1[21];
    json_t *r = NULL, *jpaths = json_array(), *node_ids = json_array(), *tests = json_array();
    if (!jpaths || !node_ids || !tests) goto fail;
    for (size_t i = 0; i < npaths; i++)
        if (json_array_append_new(jpaths, json_string(paths[i])) < 0) goto fail;
    for (size_t i = 0; i < rep->ncases; i++) {
        const gp_junit_case *c = &rep->cases[i];
        json_t *t = json_pack("{s:s, s:s, s:f, s:[]}", "node_id", c->node_id, "outcome",
                              gp_outcome_name(c->outcome), "duration_s", c->duration_s, "checks");
        if (!t || json_array_append_new(tests, t) < 0 ||
            json_array_append_new(node_ids, json_string(c->node_id)) < 0)
            goto fail;
    }
    gp_time_format(t0, started);
    gp_time_format(t1, ended);
    r = json_pack("{s:s, s:s, s:{s:o, s:o, s:o, s:o, s:b}, s:{s:s, s:O, s:I, s:s},"
                  " s:{s:s, s:s, s:O}, s:O, s:O}",
                  "schema_version", "1", "mode", o->mode, "repo", "remote_url",
                  str_or_null(git->remote_url), "github_username", str_or_null(signer),
                  "commit_sha", str_or_null(git->commit), "branch", str_or_null(git->branch),
                  "dirty", git->dirty, "fingerprint", "algorithm", "sha256", "included_paths",
                  jpaths, "file_count", (json_int_t)fp->file_count, "digest", fp->digest, "session",
                  "started_at", t0, "ended_at", t1, "node_ids", node_ids, "tests", tests,
                  "environment", env);
fail:
    json_decref(jpaths);
    json_decref(node_ids);
    json_decref(tests);
    return r;
}

/* ---- the command ------------------------------------------------------------------------------
 */

/* Identity of a file, to tell a report this run wrote from one left by an earlier run. */
typedef struct file_id {
    bool exists;
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
} file_id;

static file_id file_identity(const char *path)
{
    struct stat st;
    file_id f = {0};
    if (stat(path, &st) == 0) {
        f.exists = true;
        f.dev = st.st_dev;
        f.ino = st.st_ino;
        f.mtime = st.st_mtim;
        f.size = st.st_size;
    }
    return f;
}

static bool same_file(const file_id *a, const file_id *b)
{
    return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->size == b->size;
}

static char *resolve_signer(const run_opts *o, const gp_gitstate *git, bool *from_origin)
{
    char *s = cli_setting(o->signer, "GPUPROOF_SIGNER", "gpuproof.signer", o->repo);
    char name[256], *slash;
    *from_origin = false;
    if (s) return s;
    if (git->remote_url && gp_github_repo_from_url(name, sizeof(name), git->remote_url) == 0) {
        if ((slash = strchr(name, '/'))) *slash = '\0';
        *from_origin = true;
        s = strdup(name);
    }
    gp_error_clear();
    return s;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"junit", required_argument, NULL, 'j'},
                                         {"paths", required_argument, NULL, 'p'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"repo", required_argument, NULL, 'r'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"signer", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"server", required_argument, NULL, 'S'},
                                         {"submit", no_argument, NULL, 'u'},
                                         {"unsigned", no_argument, NULL, 'U'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    run_opts o = {.out = "gpu-proof.json", .paths = "src,tests", .mode = "local", .repo = "."};
    gp_gitstate *before = NULL, *after = NULL;
    gp_fingerprint fp_before, fp_after;
    gp_junit_report *rep = NULL;
    gp_gpus *gpus = NULL;
    json_t *env = NULL, *receipt = NULL;
    char **paths = NULL, **cmd = NULL, *signer = NULL, *server = NULL, *tmpdir = NULL,
         *report = NULL, *junit_arg = NULL;
    int npaths = 0, c, rc = CLI_ERROR, form, cmdc, status = 0, error;
    bool signer_from_origin = false;
    time_t started, ended;
    file_id report_before = {0};

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.out = optarg;
            break;
        case 'j':
            o.junit = optarg;
            break;
        case 'p':
            o.paths = optarg;
            break;
        case 'm':
            o.mode = optarg;
            break;
        case 'r':
            o.repo = optarg;
            break;
        case 'k':
            o.key = optarg;
            break;
        case 's':
            o.signer = optarg;
            break;
        case 'f':
            o.format = optarg;
            break;
        case 'S':
            o.server = optarg;
            break;
        case 'u':
            o.submit = true;
            break;
        case 'U':
            o.unsigned_ = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_ERROR;
        }
    }
    cmdc = argc - optind;
    if (cmdc <= 0) {
        cli_errorf("no test command: gpuproof-cli run [options] -- CMD [ARGS...]");
        return CLI_ERROR;
    }
    if (strcmp(o.mode, "local") && strcmp(o.mode, "ci-gpu")) {
        cli_errorf("--mode must be local or ci-gpu, not '%s'", o.mode);
        return CLI_ERROR;
    }
    if (!*o.out) {
        cli_errorf("--out needs a file name");
        return CLI_ERROR;
    }
    if ((npaths = cli_split_paths(&paths, o.paths)) <= 0) {
        cli_errorf("--paths '%s' is not a comma-separated list of paths", o.paths);
        npaths = 0;
        goto done;
    }
    form = pytest_form(argv + optind, cmdc);
    if (!form && !o.junit) {
        cli_errorf("'%s' is not pytest: pass --junit PATH, the JUnit report the command writes "
                   "(ctest --output-junit, go-junit-report, cargo-nextest)",
                   argv[optind]);
        goto done;
    }

    /* the state the tests start from */
    if (gp_gitstate_read(&before, o.repo) < 0) {
        cli_errorf("%s", gp_error_last());
        goto done;
    }
    if (gp_fingerprint_workdir(&fp_before, o.repo, (const char *const *)paths, (size_t)npaths) <
        0) {
        cli_errorf("cannot fingerprint %s: %s", o.paths, gp_error_last());
        goto done;
    }
    signer = resolve_signer(&o, before, &signer_from_origin);
    if (signer && !gp_login_valid(signer)) {
        cli_errorf("signer '%s' is not a valid GitHub login", signer);
        goto done;
    }
    if (!signer && !o.unsigned_) {
        cli_errorf("no signer: pass --signer LOGIN (your GitHub login), or set GPUPROOF_SIGNER or "
                   "`git config gpuproof.signer LOGIN`");
        goto done;
    }
    if (signer_from_origin && !o.unsigned_)
        cli_warnf("signing as '%s', the owner of the origin remote; if that is an organisation it "
                  "publishes no keys and the receipt will not verify: set --signer or "
                  "`git config gpuproof.signer LOGIN`",
                  signer);
    if (o.submit && !(server = cli_server(o.server, false))) goto done;

    /* the command line: pytest reports into a private directory */
    if (!(cmd = calloc((size_t)cmdc + 4, sizeof(*cmd)))) goto oom;
    memcpy(cmd, argv + optind, (size_t)cmdc * sizeof(*cmd));
    if (o.junit) {
        if (!(report = strdup(o.junit))) goto oom;
        report_before = file_identity(report);
    } else {
        const char *t = getenv("TMPDIR");
        if (asprintf(&tmpdir, "%s/gpuproof-run-XXXXXX", t && *t ? t : "/tmp") < 0) goto oom;
        if (!mkdtemp(tmpdir)) {
            cli_errorf("cannot create a temporary directory %s: %s", tmpdir, strerror(errno));
            free(tmpdir);
            tmpdir = NULL;
            goto done;
        }
        if (asprintf(&report, "%s/junit.xml", tmpdir) < 0 ||
            asprintf(&junit_arg, "--junitxml=%s", report) < 0)
            goto oom;
        cmd[cmdc] = junit_arg;
        cmd[cmdc + 1] = "-o";
        cmd[cmdc + 2] = "junit_family=xunit1";
    }

    /* what the receipt says about the machine */
    if (!(env = json_object())) goto oom;
    if (form) pytest_versions(env, argv + optind, form);
    json_object_set_new(env, "platform", json_string("linux"));
    json_object_set_new(env, "tool",
                        json_pack("{s:s, s:s}", "name", "gpuproof-cli", "version", GP_VERSION));
    error = gp_gpus_open(&gpus, getenv("GPUPROOF_NVML_LIB"));
    if (error < 0 && error != GP_ENOTFOUND) cli_warnf("GPUs not recorded: %s", gp_error_last());

    /* the run */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        cli_warnf("cannot become a subreaper: %s", strerror(errno));
    fflush(NULL);
    started = time(NULL);
    if (run_command(&status, cmd, gpus) != CLI_OK) goto done;
    ended = time(NULL);
    if (WIFSIGNALED(status)) {
        cli_errorf("the test command was killed by signal %d (%s): no receipt written",
                   WTERMSIG(status), strsignal(WTERMSIG(status)));
        rc = 128 + WTERMSIG(status);
        goto done;
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : CLI_ERROR;
    if (got_signal)
        cli_warnf("the run was interrupted (signal %d); the receipt records the tests the report "
                  "holds",
                  (int)got_signal);

    /* the code must be what it was when the tests started */
    if (gp_gitstate_read(&after, o.repo) < 0 ||
        gp_fingerprint_workdir(&fp_after, o.repo, (const char *const *)paths, (size_t)npaths) < 0) {
        cli_errorf("after the run: %s; no receipt written", gp_error_last());
        rc = CLI_ERROR;
        goto done;
    }
    if ((before->commit == NULL) != (after->commit == NULL) ||
        (before->commit && strcmp(before->commit, after->commit))) {
        cli_errorf("HEAD moved while the tests ran (%.12s -> %.12s): the tests did not run on one "
                   "commit; no receipt written",
                   before->commit ? before->commit : "(none)",
                   after->commit ? after->commit : "(none)");
        rc = CLI_ERROR;
        goto done;
    }
    if (strcmp(fp_before.digest, fp_after.digest) || fp_before.file_count != fp_after.file_count) {
        cli_errorf("tracked files under %s changed while the tests ran: the code tested is not the "
                   "code fingerprinted; no receipt written",
                   o.paths);
        rc = CLI_ERROR;
        goto done;
    }

    /* the tests */
    if (o.junit) {
        file_id now = file_identity(report);
        if (!now.exists) {
            cli_errorf("the command wrote no JUnit report at %s; no receipt written", report);
            rc = CLI_ERROR;
            goto done;
        }
        if (same_file(&report_before, &now)) {
            cli_errorf("the JUnit report %s was not written by this run (unchanged since before "
                       "it); no receipt written",
                       report);
            rc = CLI_ERROR;
            goto done;
        }
    }
    {
        gp_junit_opts jo = {form ? GP_JUNIT_PYTEST : GP_JUNIT_GENERIC, NULL, 0, 0};
        error = gp_junit_parse_file(&rep, report, &jo);
        if (error == GP_ENOTFOUND && !o.junit)
            cli_errorf("pytest wrote no JUnit report (is the junitxml plugin disabled?); no "
                       "receipt written");
        else if (error < 0)
            cli_errorf("%s; no receipt written", gp_error_last());
        if (error < 0) {
            rc = CLI_ERROR;
            goto done;
        }
    }
    if (rep->ncases == 0) {
        cli_errorf("the report holds no tests; no receipt written (an empty run proves nothing)");
        rc = CLI_ERROR;
        goto done;
    }

    {
        json_t *arr = gp_gpus_to_json(gpus, true), *info = gp_gpus_info_json(gpus);
        if (!arr || !info) {
            json_decref(arr);
            json_decref(info);
            goto oom;
        }
        json_object_set_new(env, "gpu_info", info);
        json_object_set_new(env, "gpus", arr);
    }
    if (!(receipt = build_receipt(&o, before, &fp_before, paths, (size_t)npaths, signer, started,
                                  ended, rep, env)))
        goto oom;
    if (o.unsigned_) {
        json_object_set_new(receipt, "signature", json_null());
    } else {
        cli_sign_opts so = {o.key, signer, o.format, o.repo};
        if (cli_sign_doc(receipt, &so) != CLI_OK) {
            cli_errorf("no receipt written");
            rc = CLI_ERROR;
            goto done;
        }
    }
    if (cli_write_receipt(o.out, receipt) != CLI_OK) {
        rc = CLI_ERROR;
        goto done;
    }
    {
        size_t used = 0;
        for (size_t i = 0; i < gp_gpus_count(gpus); i++)
            used += gp_gpus_device(gpus, i)->used_by_tests == GP_TRI_TRUE;
        fprintf(stderr,
                "gpuproof-cli: %zu passed, %zu failed, %zu skipped; %zu GPU%s, %zu used by the "
                "tests; %s receipt written to %s\n",
                rep->passed, rep->failed, rep->skipped, gp_gpus_count(gpus),
                gp_gpus_count(gpus) == 1 ? "" : "s", used, o.unsigned_ ? "unsigned" : "signed",
                o.out);
    }
    if (o.submit) {
        int s = cli_submit_file(server, o.out, false);
        if (rc == 0) rc = s;
    }
    goto done;
oom:
    cli_errorf("out of memory");
    rc = CLI_ERROR;
done:
    if (tmpdir) {
        if (report) unlink(report);
        rmdir(tmpdir);
    }
    json_decref(receipt);
    json_decref(env);
    gp_gpus_free(gpus);
    gp_junit_free(rep);
    gp_gitstate_free(before);
    gp_gitstate_free(after);
    cli_strv_free(paths, (size_t)npaths);
    free(cmd);
    free(signer);
    free(server);
    free(tmpdir);
    free(report);
    free(junit_arg);
    return rc;
}
