/*
 * cmd_sign.c - `gpuproof-cli sign`: (re-)signs a receipt in place, and the signing that `run`
 * shares (cli_sign_doc, cli_write_receipt in cli.h).
 *
 * Signer login (cli.md): --signer, GPUPROOF_SIGNER, git config gpuproof.signer, else the owner in
 * the origin remote (with a warning: an organisation publishes no keys).
 * Key (cli.md): --key, GPUPROOF_KEY, git config user.signingKey, ~/.ssh/id_ed25519, id_ecdsa,
 * id_rsa. A key named explicitly (the first three) must work; the default files are tried in turn.
 * A file that is passphrase-protected (or a .pub whose private half is missing or protected) is
 * used through ssh-agent when the agent holds the same public key; with no usable file at all, the
 * first key in the agent that can make the plugin's raw signature is used. What is signed is
 * gp_json_canonical(receipt without "signature"); the block written is
 *   {"algorithm", "backend": "ssh-local" | "ssh-agent", "signer", "key_fingerprint", "value"}
 * and the signature is verified with the public key before it is written.
 */
#include "cli.h"

#include "agent.h"
#include "buf.h"
#include "canonical.h"
#include "error.h"
#include "rawsign.h"
#include "sig.h"
#include "sshkey.h"
#include "sshpriv.h"
#include "sshsig.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECEIPT_MAX (16u << 20)

/* ---- writing ------------------------------------------------------------------------------- */

int cli_write_receipt(const char *path, const json_t *receipt)
{
    gp_json *g = NULL;
    char *text = NULL, *tmp = NULL, *dirc = NULL;
    size_t len = 0;
    int fd = -1, rc = CLI_ERROR;

    if (gp_json_from_jansson(&g, receipt) < 0 || gp_json_dump_indent(&text, &len, g, 2) < 0) {
        cli_errorf("cannot write %s: %s", path, gp_error_last());
        goto done;
    }
    if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
        tmp = NULL;
        goto oom;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        cli_errorf("cannot create a file beside %s: %s", path, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }
    (void)fchmod(fd, 0644);
    for (size_t off = 0; off < len + 1;) {
        const char *p = off < len ? text + off : "\n";
        size_t n = off < len ? len - off : 1;
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            cli_errorf("cannot write %s: %s", tmp, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        cli_errorf("cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        cli_errorf("cannot replace %s: %s", path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    if ((dirc = strdup(path))) { /* make the rename durable */
        int dfd = open(dirname(dirc), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    rc = CLI_OK;
    goto done;
oom:
    cli_errorf("out of memory");
done:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(dirc);
    free(text);
    gp_json_free(g);
    return rc;
}

/* ---- the signer login ----------------------------------------------------------------------- */

static char *find_signer(const cli_sign_opts *o, const json_t *receipt)
{
    char *s = cli_setting(o->signer, "GPUPROOF_SIGNER", "gpuproof.signer", o->repo_dir);
    if (s) {
        if (!gp_login_valid(s)) {
            cli_errorf("signer '%s' is not a valid GitHub login", s);
            free(s);
            return NULL;
        }
        return s;
    }
    s = cli_origin_owner(o->repo_dir);
    if (!s) {
        /* the receipt's own remote, when signing a receipt outside its repository */
        const char *url = json_string_value(json_object_get(json_object_get(receipt, "repo"), "remote_url"));
        char name[256], *slash;
        if (url && gp_github_repo_from_url(name, sizeof(name), url) == 0) {
            if ((slash = strchr(name, '/'))) *slash = '\0';
            s = strdup(name);
        }
        gp_error_clear();
    }
    if (!s || !gp_login_valid(s)) {
        cli_errorf("no signer: pass --signer LOGIN (your GitHub login), or set GPUPROOF_SIGNER or "
                   "`git config gpuproof.signer LOGIN`");
        free(s);
        return NULL;
    }
    cli_warnf("signing as '%s', the owner of the origin remote; if that is an organisation it publishes no "
              "keys and the receipt will not verify: set --signer or `git config gpuproof.signer LOGIN`",
              s);
    return s;
}

/* ---- the key ------------------------------------------------------------------------------ */

typedef struct keychoice {
    gp_privkey *key;       /* a key file ... */
    gp_agent *agent;       /* ... or an agent key */
    gp_keylist *agent_keys;
    const gp_pubkey *agent_key;
    char *path;            /* what was chosen, for messages */
    bool sshsig;           /* --format sshsig: every agent key type can sign */
} keychoice;

static void keychoice_clear(keychoice *k)
{
    gp_privkey_free(k->key);
    gp_keylist_free(k->agent_keys);
    gp_agent_close(k->agent);
    free(k->path);
    memset(k, 0, sizeof(*k));
}

/* Opens the agent and lists its keys once. 0, or a negative code (no agent). */
static int agent_keys(keychoice *k)
{
    int error;
    if (k->agent) return 0;
    if ((error = gp_agent_open(&k->agent, NULL, 0)) < 0) return error;
    if ((error = gp_agent_list(&k->agent_keys, NULL, k->agent)) < 0) {
        gp_agent_close(k->agent);
        k->agent = NULL;
    }
    return error;
}

/* Uses the agent's copy of `pub`. CLI_OK, or CLI_ERROR with `why` printed as the reason. */
static int use_agent_for(keychoice *k, const gp_pubkey *pub, const char *path, const char *why)
{
    const char *not_usable;
    if (agent_keys(k) == 0) {
        for (size_t i = 0; i < k->agent_keys->n; i++) {
            if (!gp_pubkey_equal(&k->agent_keys->keys[i], pub)) continue;
            if (!k->sshsig && !gp_rawsign_agent_usable(pub->type, &not_usable)) {
                cli_errorf("%s: %s", path, not_usable);
                return CLI_ERROR;
            }
            k->agent_key = &k->agent_keys->keys[i];
            return CLI_OK;
        }
    }
    cli_errorf("%s", why);
    return CLI_ERROR;
}

static char *expand_home(const char *p)
{
    const char *home = getenv("HOME");
    char *out;
    if (p[0] == '~' && p[1] == '/' && home) {
        if ((out = malloc(strlen(home) + strlen(p)))) sprintf(out, "%s%s", home, p + 1);
        return out;
    }
    return strdup(p);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/*
 * Loads the key named by `spec` (a private key file, a .pub file, or git's "key::ssh-... AAAA"
 * literal). CLI_OK; GP_ENOTFOUND-like CLI_NOTSO when nothing is at that path (quietly, so the
 * defaults can move on); CLI_ERROR with a message for a key that exists but cannot be used.
 */
static int load_spec(keychoice *k, const char *spec)
{
    char *path = NULL, *priv = NULL, *pubtext = NULL;
    size_t publen;
    gp_pubkey pub;
    bool encrypted = false;
    int error, rc = CLI_ERROR;
    char why[1024];

    memset(&pub, 0, sizeof(pub));
    if (!strncmp(spec, "key::", 5) || !strncmp(spec, "ssh-", 4) || !strncmp(spec, "ecdsa-", 6)) {
        const char *line = !strncmp(spec, "key::", 5) ? spec + 5 : spec;
        if (gp_pubkey_parse_line(&pub, line, strlen(line)) < 0) {
            cli_errorf("the signing key '%.40s...' is not a public key line: %s", line, gp_error_last());
            goto done;
        }
        snprintf(why, sizeof(why), "the signing key %s is given as a public key, but ssh-agent does not hold it: "
                                   "add it with `ssh-add PATH`",
                 pub.fingerprint);
        k->path = strdup(pub.fingerprint);
        rc = use_agent_for(k, &pub, pub.fingerprint, why);
        goto done;
    }
    if (!(path = expand_home(spec))) goto done;
    k->path = strdup(path);
    if (has_suffix(path, ".pub")) {
        priv = strndup(path, strlen(path) - 4);
        if (gp_read_file(&pubtext, &publen, path, 64 * 1024) < 0) {
            rc = CLI_NOTSO;
            goto done;
        }
        if (gp_pubkey_parse_line(&pub, pubtext, strcspn(pubtext, "\r\n")) < 0) {
            cli_errorf("%s is not an SSH public key: %s", path, gp_error_last());
            goto done;
        }
        error = gp_privkey_load(&k->key, priv);
        if (error == 0 && gp_pubkey_equal(&k->key->pub, &pub)) {
            rc = CLI_OK;
            goto done;
        }
        gp_privkey_free(k->key);
        k->key = NULL;
        if (error == GP_EUNSUPPORTED)
            snprintf(why, sizeof(why), "%s", gp_error_last());
        else
            snprintf(why, sizeof(why), "no usable private key beside %s, and ssh-agent does not hold it: add it "
                                       "with `ssh-add %s`",
                     path, priv);
        rc = use_agent_for(k, &pub, path, why);
        goto done;
    }
    error = gp_privkey_load(&k->key, path);
    if (error == 0) {
        rc = CLI_OK;
        goto done;
    }
    if (error == GP_ENOTFOUND) {
        rc = CLI_NOTSO;
        goto done;
    }
    if (error == GP_EUNSUPPORTED && gp_privkey_file_pubkey(&pub, &encrypted, path) == 0 && encrypted) {
        snprintf(why, sizeof(why), "%s", "");
        snprintf(why, sizeof(why), "key is passphrase-protected: add it to ssh-agent with `ssh-add %s` and try again",
                 path);
        rc = use_agent_for(k, &pub, path, why);
        goto done;
    }
    cli_errorf("cannot use the key %s: %s", path, gp_error_last());
done:
    gp_pubkey_clear(&pub);
    free(pubtext);
    free(priv);
    free(path);
    return rc;
}

static int find_key(keychoice *k, const cli_sign_opts *o)
{
    bool sshsig = k->sshsig;
    static const char *defaults[] = {"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"};
    char *spec = NULL;
    const char *from = NULL;
    int rc;

    if (o->key && *o->key) spec = strdup(o->key), from = "--key";
    else if (getenv("GPUPROOF_KEY") && *getenv("GPUPROOF_KEY")) spec = strdup(getenv("GPUPROOF_KEY")), from = "GPUPROOF_KEY";
    else if ((spec = cli_setting(NULL, NULL, "user.signingKey", o->repo_dir))) {
        from = "git config user.signingKey";
        char *fmt = cli_setting(NULL, NULL, "gpg.format", o->repo_dir);
        bool ssh = fmt && !strcmp(fmt, "ssh");
        free(fmt);
        if (!ssh && strncmp(spec, "key::", 5) && strncmp(spec, "ssh-", 4) && !strchr(spec, '/')) {
            free(spec); /* a GPG key id: not ours */
            spec = NULL;
        }
    }
    if (spec) {
        rc = load_spec(k, spec);
        if (rc == CLI_NOTSO) cli_errorf("the signing key %s (from %s) does not exist", spec, from);
        free(spec);
        return rc == CLI_OK ? CLI_OK : CLI_ERROR;
    }
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        rc = load_spec(k, defaults[i]);
        if (rc == CLI_OK) return CLI_OK;
        keychoice_clear(k);
        k->sshsig = sshsig;
        if (rc == CLI_ERROR) cli_warnf("skipping %s", defaults[i]);
    }
    /* no usable file: any key of the agent that can make the plugin's signature */
    if (agent_keys(k) == 0) {
        const char *why = NULL;
        for (int pass = 0; pass < 2 && !k->agent_key; pass++)
            for (size_t i = 0; i < k->agent_keys->n && !k->agent_key; i++) {
                gp_keytype t = k->agent_keys->keys[i].type;
                if ((pass == 0 && t == GP_KEY_ED25519) || (pass == 1 && (k->sshsig || gp_rawsign_agent_usable(t, NULL))))
                    k->agent_key = &k->agent_keys->keys[i];
                else if (!why)
                    gp_rawsign_agent_usable(t, &why);
            }
        if (k->agent_key) {
            k->path = strdup("ssh-agent");
            return CLI_OK;
        }
        if (why) {
            cli_errorf("no usable signing key: the keys in ssh-agent cannot make the plugin's signature (%s)", why);
            return CLI_ERROR;
        }
    }
    cli_errorf("no signing key: pass --key PATH, set GPUPROOF_KEY or `git config user.signingKey PATH`, create one "
               "with `ssh-keygen -t ed25519`, or add one to ssh-agent");
    return CLI_ERROR;
}

/* ---- signing -------------------------------------------------------------------------------- */

int cli_sign_doc(json_t *receipt, const cli_sign_opts *o)
{
    keychoice k;
    char *signer = NULL, *canon = NULL, *b64 = NULL;
    size_t canon_len = 0, siglen = 0;
    unsigned char *sig = NULL;
    const char *alg = NULL;
    const gp_pubkey *pub;
    gp_json *g = NULL;
    int rc = CLI_ERROR;

    memset(&k, 0, sizeof(k));
    if (!json_is_object(receipt)) {
        cli_errorf("a receipt is a JSON object");
        return CLI_ERROR;
    }
    if (o->format && strcmp(o->format, "raw") != 0 && strcmp(o->format, "sshsig") != 0) {
        cli_errorf("--format must be raw or sshsig, not '%s'", o->format);
        return CLI_ERROR;
    }
    k.sshsig = o->format && !strcmp(o->format, "sshsig");
    if (!(signer = find_signer(o, receipt))) goto done;
    if (find_key(&k, o) != CLI_OK) goto done;
    pub = k.key ? &k.key->pub : k.agent_key;

    /* the signed bytes leave "signature" out; the receipt keeps its old one until the new one is made */
    if (gp_json_from_jansson(&g, receipt) < 0 || gp_json_canonical(&canon, &canon_len, g, "signature") < 0) {
        cli_errorf("cannot canonicalize the receipt: %s", gp_error_last());
        goto done;
    }
    if (k.sshsig) {
        /* SSHSIG (receipt-v1.md extension): the gp_sshsig_sign_* functions verify before returning */
        int error = k.key ? gp_sshsig_sign_key(&sig, &siglen, k.key, GP_SSHSIG_NAMESPACE, (const unsigned char *)canon,
                                               canon_len)
                          : gp_sshsig_sign_agent(&sig, &siglen, k.agent, k.agent_key, GP_SSHSIG_NAMESPACE,
                                                 (const unsigned char *)canon, canon_len);
        if (error < 0) {
            cli_errorf("cannot sign with %s: %s", k.path ? k.path : pub->fingerprint, gp_error_last());
            goto done;
        }
        if (gp_base64_encode(&b64, sig, siglen) < 0) {
            cli_errorf("out of memory");
            goto done;
        }
        json_object_set_new(receipt, "signature",
                            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "algorithm", "sshsig", "backend", "sshsig",
                                      "signer", signer, "key_fingerprint", pub->fingerprint, "namespace",
                                      GP_SSHSIG_NAMESPACE, "value", b64));
        fprintf(stderr, "gpuproof-cli: signed (SSHSIG) as %s with %s key %s (%s)\n", signer,
                gp_keytype_name(pub->type), pub->fingerprint, k.key ? k.path : "through ssh-agent");
        rc = CLI_OK;
        goto done;
    }
    {
        gp_rawsigner s = {.key = k.key, .agent = k.agent, .agent_key = k.agent_key};
        if (gp_rawsign(&sig, &siglen, &alg, &s, (const unsigned char *)canon, canon_len) < 0) {
            cli_errorf("cannot sign with %s: %s", k.path ? k.path : pub->fingerprint, gp_error_last());
            goto done;
        }
    }
    {
        /* never write a signature that does not verify with the key it names */
        gp_keylist one = {(gp_pubkey *)pub, 1};
        const gp_pubkey *used;
        if (gp_sig_verify(&used, &one, alg, sig, siglen, (const unsigned char *)canon, canon_len) != 0) {
            cli_errorf("the signature made with %s does not verify: %s", pub->fingerprint, gp_error_last());
            goto done;
        }
    }
    if (gp_base64_encode(&b64, sig, siglen) < 0) {
        cli_errorf("out of memory");
        goto done;
    }
    json_object_set_new(receipt, "signature",
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "algorithm", alg, "backend",
                                  k.key ? "ssh-local" : "ssh-agent", "signer", signer, "key_fingerprint",
                                  pub->fingerprint, "value", b64));
    fprintf(stderr, "gpuproof-cli: signed as %s with %s key %s (%s)\n", signer, gp_keytype_name(pub->type),
            pub->fingerprint, k.key ? k.path : "through ssh-agent");
    rc = CLI_OK;
done:
    free(b64);
    free(sig);
    free(canon);
    gp_json_free(g);
    free(signer);
    keychoice_clear(&k);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-cli sign [--key PATH] [--signer LOGIN] [--format raw|sshsig] [--repo DIR] RECEIPT\n\n"
               "Signs (or re-signs) a receipt file in place with the plugin's raw signature.\n"
               "  --key PATH       OpenSSH private key (or its .pub, to sign through ssh-agent); default:\n"
               "                   GPUPROOF_KEY, git config user.signingKey, ~/.ssh/id_ed25519, id_ecdsa, id_rsa,\n"
               "                   then a key held by ssh-agent (SSH_AUTH_SOCK)\n"
               "  --signer LOGIN   GitHub login whose published keys verify it; default: GPUPROOF_SIGNER,\n"
               "                   git config gpuproof.signer, the owner of the origin remote\n"
               "  --format F       raw: the plugin's raw signature (default); sshsig: an SSHSIG as\n"
               "                   `ssh-keygen -Y sign -n gpu-proof` makes (any agent key, incl. FIDO)\n"
               "  --repo DIR       repository for git config and the origin remote (default .)\n"
               "exit status: 0 signed, 2 error\n");
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},  {"signer", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'}, {"repo", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    cli_sign_opts o = {NULL, NULL, "raw", NULL};
    char *text = NULL, *canon1 = NULL, *canon2 = NULL;
    size_t len = 0, l1 = 0, l2 = 0;
    gp_json *g = NULL, *g2 = NULL;
    json_t *doc = NULL;
    int c, rc = CLI_ERROR;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': o.key = optarg; break;
        case 's': o.signer = optarg; break;
        case 'f': o.format = optarg; break;
        case 'R': o.repo_dir = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_ERROR;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return CLI_ERROR;
    }
    const char *path = argv[optind];
    if (cli_read_file(&text, &len, path, RECEIPT_MAX) != CLI_OK) goto done;
    if (gp_json_parse(&g, text, len) < 0) {
        cli_errorf("%s is not a valid receipt: %s", path, gp_error_last());
        goto done;
    }
    if (gp_json_typeof(g) != GP_JSON_OBJECT) {
        cli_errorf("%s is not a receipt: it is not a JSON object", path);
        goto done;
    }
    /* re-sign only what jansson holds exactly (integers past 64 bits do not survive) */
    if (!(doc = gp_json_to_jansson(g)) || gp_json_from_jansson(&g2, doc) < 0 ||
        gp_json_canonical(&canon1, &l1, g, "signature") < 0 || gp_json_canonical(&canon2, &l2, g2, "signature") < 0) {
        cli_errorf("cannot read %s: %s", path, gp_error_last());
        goto done;
    }
    if (l1 != l2 || memcmp(canon1, canon2, l1) != 0) {
        cli_errorf("%s holds numbers that cannot be re-signed exactly (integers beyond 64 bits)", path);
        goto done;
    }
    if ((rc = cli_sign_doc(doc, &o)) != CLI_OK) goto done;
    rc = cli_write_receipt(path, doc);
    if (rc == CLI_OK) fprintf(stderr, "gpuproof-cli: wrote %s\n", path);
done:
    json_decref(doc);
    gp_json_free(g);
    gp_json_free(g2);
    free(canon1);
    free(canon2);
    free(text);
    return rc;
}
