/*
 * ledger_client.h - the client side of the receipt ledger (cli/cmd_ledger.c,
 * ../shared/spec/ledger.md): what `submit` calls to check that its receipt is in the log.
 *
 * Trust: the server's verifier key is pinned per server in the state file
 * ($XDG_STATE_HOME/gpuproof/ledger-state.json, else ~/.local/state/gpuproof/ledger-state.json).
 * The first time a server is seen its key is fetched from /api/ledger/key and remembered, with a
 * loud warning (trust on first use). Every checkpoint verified is checked for consistency with
 * the last one remembered for that server, and then remembered in its place.
 */
#ifndef GP_LEDGER_CLIENT_H
#define GP_LEDGER_CLIENT_H

#include <stddef.h>

/*
 * Checks that the ledger of `server` (base URL) holds the entry whose canonical JSON bytes are
 * `entry_json_canonical` (as the receipt summary's ledger.entry / GET /api/ledger/entries/I give
 * them) at leaf `index`, and that the entry names `receipt_id`: fetches the latest checkpoint,
 * verifies its signature with the pinned key, verifies it is consistent with the checkpoint last
 * seen, fetches the inclusion proof of `index` in that tree and verifies it against the
 * checkpoint's root. If the checkpoint does not include `index` yet (checkpoints are batched),
 * it waits a few seconds for a newer one.
 *
 * Returns 0 when included (msg: "included at index I of tree size N, checkpoint signed by
 * ORIGIN"), 1 when a check failed (bad signature, inconsistent checkpoints, proof does not
 * verify, entry names another receipt), 2 when it could not check (network, server error, state
 * file). msg (always NUL-terminated, may be truncated) says which. Prints only the
 * trust-on-first-use warning (stderr).
 */
int cli_ledger_check_inclusion(const char *server, const char *receipt_id, long index,
                               const char *entry_json_canonical, char *msg, size_t msglen);

/*
 * The ledger verifier key to trust for `server`, as `ledger verify` pins it: key_flag when given,
 * else the key remembered for the server in the state file (state_path NULL = the default one),
 * else the server's /api/ledger/key trusted on first use (warned), which is then remembered
 * together with a checkpoint it verified. *vkey (caller frees) is the verifier key string,
 * *source one of "--key", "state file", "first use" (static). Returns 0, or 1 / 2 with msg set
 * as cli_ledger_check_inclusion does.
 */
int cli_ledger_pinned_key(const char *server, const char *state_path, const char *key_flag,
                          char **vkey, const char **source, char *msg, size_t msglen);

#endif
