/*
 * test_agent.c - the ssh-agent client (lib/agent.c) and raw signatures through it (lib/rawsign.c).
 *
 * Starts a real `ssh-agent -D -a SOCK`, adds passphrase-protected keys with `ssh-add` (the
 * passphrase fed through an SSH_ASKPASS script, as a desktop would), then lists the identities,
 * signs through the agent and verifies with gp_sig_verify against the .pub lines: Ed25519 and
 * ECDSA P-256 give the plugin's raw signatures; P-384 and RSA keys in the agent are refused with
 * advice. Also: a dead socket, no SSH_AUTH_SOCK, a key the agent does not hold, and a fake agent
 * that sends an oversized or garbage reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_sh.h"

#include "agent.h"
#include "buf.h"
#include "error.h"
#include "rawsign.h"
#include "sig.h"
#include "sshkey.h"
#include "sshpriv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256], sock[300];
static pid_t agent_pid = -1;

static const struct {
    const char *name, *type;
    int bits;
    bool usable;
} keys[] = {
    {"ed", "ed25519", 0, true},
    {"p256", "ecdsa", 256, true},
    {"p384", "ecdsa", 384, false},
    {"rsa", "rsa", 2048, false},
};

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gp-agent-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(sock, sizeof(sock), "%s/agent.sock", tmpdir);
    agent_pid = fork();
    if (agent_pid < 0) return -1;
    if (agent_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++) usleep(50000);
    if (access(sock, F_OK) != 0) return -1;

    /* an askpass script that prints the passphrase */
    if (sh("printf '#!/bin/sh\\necho \"s3cret pass\"\\n' > '%s/askpass' && chmod 700 '%s/askpass'", tmpdir, tmpdir) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char bits[32] = "";
        if (keys[i].bits) snprintf(bits, sizeof(bits), "-b %d", keys[i].bits);
        if (sh("ssh-keygen -q -t %s %s -N 's3cret pass' -C agent-test -f '%s/%s' </dev/null >/dev/null", keys[i].type,
               bits, tmpdir, keys[i].name) != 0)
            return -1;
        if (sh("SSH_AUTH_SOCK='%s' SSH_ASKPASS='%s/askpass' SSH_ASKPASS_REQUIRE=force DISPLAY=:0 "
               "setsid -w ssh-add '%s/%s' </dev/null >/dev/null 2>&1",
               sock, tmpdir, tmpdir, keys[i].name) != 0) {
            fprintf(stderr, "ssh-add %s failed\n", keys[i].name);
            return -1;
        }
    }
    /* a key the agent does not hold */
    if (sh("ssh-keygen -q -t ed25519 -N '' -f '%s/other' </dev/null >/dev/null", tmpdir) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (agent_pid > 0) {
        kill(agent_pid, SIGTERM);
        waitpid(agent_pid, NULL, 0);
    }
    sh("rm -rf '%s'", tmpdir);
    return 0;
}

static gp_keylist *pubfile(const char *name)
{
    char path[512];
    char *text = NULL;
    size_t n;
    gp_keylist *kl = NULL;
    snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, name);
    assert_int_equal(gp_read_file(&text, &n, path, 1 << 16), 0);
    assert_int_equal(gp_keylist_parse(&kl, text, n), 0);
    assert_int_equal(kl->n, 1);
    free(text);
    return kl;
}

static void test_list_and_sign(void **state)
{
    (void)state;
    gp_agent *a = NULL;
    gp_keylist *held = NULL;
    char **comments = NULL;
    assert_int_equal(gp_agent_open(&a, sock, 5000), 0);
    assert_int_equal(gp_agent_list(&held, &comments, a), 0);
    assert_int_equal(held->n, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < held->n; i++) assert_string_equal(comments[i], "agent-test");

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        gp_keylist *kl = pubfile(keys[i].name);
        const gp_pubkey *inagent = NULL;
        for (size_t j = 0; j < held->n; j++)
            if (gp_pubkey_equal(&held->keys[j], &kl->keys[0])) inagent = &held->keys[j];
        assert_non_null(inagent);

        /* the encrypted file itself is refused, its public key is readable and the same */
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, keys[i].name);
        gp_privkey *k = NULL;
        assert_int_equal(gp_privkey_load(&k, path), GP_EUNSUPPORTED);
        gp_pubkey pk;
        bool enc = false;
        assert_int_equal(gp_privkey_file_pubkey(&pk, &enc, path), 0);
        assert_true(enc);
        assert_true(gp_pubkey_equal(&pk, inagent));
        gp_pubkey_clear(&pk);

        const char *msg = "{\"a\":\"signed through the agent\"}";
        gp_rawsigner s = {.agent = a, .agent_key = inagent};
        unsigned char *sig = NULL;
        size_t siglen = 0;
        const char *alg = NULL;
        int rc = gp_rawsign(&sig, &siglen, &alg, &s, (const unsigned char *)msg, strlen(msg));
        if (!keys[i].usable) {
            assert_int_equal(rc, GP_EUNSUPPORTED);
            assert_non_null(strstr(gp_error_last(), "--format sshsig"));
            assert_false(gp_rawsign_agent_usable(inagent->type, NULL));
        } else {
            if (rc != 0) fail_msg("%s: %s", keys[i].name, gp_error_last());
            const gp_pubkey *used = NULL;
            rc = gp_sig_verify(&used, kl, alg, sig, siglen, (const unsigned char *)msg, strlen(msg));
            if (rc != 0) fail_msg("%s: agent signature does not verify: %s", keys[i].name, gp_error_last());
            assert_int_equal(gp_sig_verify(&used, kl, alg, sig, siglen, (const unsigned char *)msg, 5), GP_EBADSIG);
            free(sig);
        }
        gp_keylist_free(kl);
    }
    /* the raw SSH blob of an RSA signature is still available (for SSHSIG later) */
    gp_keylist *rsa = pubfile("rsa");
    unsigned char *blob = NULL;
    size_t bloblen = 0;
    assert_int_equal(gp_agent_sign(&blob, &bloblen, a, &rsa->keys[0], (const unsigned char *)"x", 1,
                                   GP_AGENT_RSA_SHA2_256),
                     0);
    assert_true(bloblen > 12 && !memcmp(blob + 4, "rsa-sha2-256", 12));
    free(blob);
    gp_keylist_free(rsa);

    /* a key the agent does not hold */
    gp_keylist *other = pubfile("other");
    gp_rawsigner s = {.agent = a, .agent_key = &other->keys[0]};
    unsigned char *sig = NULL;
    size_t siglen;
    const char *alg;
    assert_int_equal(gp_rawsign(&sig, &siglen, &alg, &s, (const unsigned char *)"x", 1), GP_ENOTFOUND);
    assert_null(sig);
    gp_keylist_free(other);

    for (size_t i = 0; comments[i]; i++) free(comments[i]);
    free(comments);
    gp_keylist_free(held);
    gp_agent_close(a);
}

static void test_no_agent(void **state)
{
    (void)state;
    gp_agent *a = NULL;
    char path[512];
    char *saved = getenv("SSH_AUTH_SOCK") ? strdup(getenv("SSH_AUTH_SOCK")) : NULL;
    unsetenv("SSH_AUTH_SOCK");
    assert_int_equal(gp_agent_open(&a, NULL, 0), GP_ENOTFOUND);
    snprintf(path, sizeof(path), "%s/nothing.sock", tmpdir);
    assert_int_equal(gp_agent_open(&a, path, 0), GP_ENOTFOUND);
    setenv("SSH_AUTH_SOCK", sock, 1);
    assert_int_equal(gp_agent_open(&a, NULL, 0), 0);
    gp_agent_close(a);
    if (saved) setenv("SSH_AUTH_SOCK", saved, 1);
    else unsetenv("SSH_AUTH_SOCK");
    free(saved);
    gp_agent_close(NULL);
}

/* A fake agent that answers every request with a fixed reply (or nothing). */
static int fake_fd = -1;
static const unsigned char *fake_reply;
static size_t fake_reply_len;

static void *fake_agent(void *arg)
{
    (void)arg;
    int c = accept(fake_fd, NULL, NULL);
    if (c < 0) return NULL;
    unsigned char req[4096];
    ssize_t r = recv(c, req, sizeof(req), 0);
    (void)r;
    if (fake_reply) {
        ssize_t w = send(c, fake_reply, fake_reply_len, MSG_NOSIGNAL);
        (void)w;
    }
    usleep(700000); /* hold the connection open past the client's timeout */
    close(c);
    return NULL;
}

static int run_fake(const unsigned char *reply, size_t len)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char path[512];
    pthread_t th;
    gp_agent *a = NULL;
    gp_keylist *l = NULL;
    int rc;
    snprintf(path, sizeof(path), "%s/fake.sock", tmpdir);
    unlink(path);
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fake_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fake_fd >= 0);
    assert_int_equal(bind(fake_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fake_fd, 1), 0);
    fake_reply = reply;
    fake_reply_len = len;
    pthread_create(&th, NULL, fake_agent, NULL);
    assert_int_equal(gp_agent_open(&a, path, 300), 0);
    rc = gp_agent_list(&l, NULL, a);
    gp_keylist_free(l);
    gp_agent_close(a);
    pthread_join(th, NULL);
    close(fake_fd);
    return rc;
}

static void test_hostile_agent(void **state)
{
    (void)state;
    static const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff, 12};
    static const unsigned char garbage[] = {0, 0, 0, 5, 12, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char truncated[] = {0, 0, 0, 9, 12, 0, 0, 0, 1, 0, 0, 0, 200};
    static const unsigned char failure[] = {0, 0, 0, 1, 5};
    static const unsigned char short_reply[] = {0, 0, 0, 40, 12, 0};
    assert_int_equal(run_fake(huge, sizeof(huge)), GP_EUNAVAILABLE);
    assert_int_equal(run_fake(garbage, sizeof(garbage)), GP_EUNAVAILABLE);
    assert_int_equal(run_fake(truncated, sizeof(truncated)), GP_EUNAVAILABLE);
    assert_int_equal(run_fake(failure, sizeof(failure)), GP_EUNAVAILABLE);
    assert_int_equal(run_fake(short_reply, sizeof(short_reply)), GP_EUNAVAILABLE); /* times out */
    assert_int_equal(run_fake(NULL, 0), GP_EUNAVAILABLE);                          /* silent agent */
}

int main(void)
{
    if (system("command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1 && "
               "command -v setsid >/dev/null 2>&1") != 0) {
        fprintf(stderr, "ssh-agent/ssh-add/setsid not installed: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_sign),
        cmocka_unit_test(test_no_agent),
        cmocka_unit_test(test_hostile_agent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
