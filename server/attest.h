/*
 * attest.h - in-toto attestations of verified receipts (attest.c): an in-toto Statement v1
 * with the test-result predicate, in a DSSE envelope signed with the ledger key.
 */
#ifndef GP_ATTEST_H
#define GP_ATTEST_H

#include "server.h"

struct srv_resp;

/* The DSSE envelope (compact JSON, caller frees) attesting receipt `id` (64 hex, any case).
 * GP_ENOTFOUND for an unknown, malformed, pending or rejected receipt; GP_ERROR otherwise. */
int srv_attestation(srv *s, const char *id, char **out);

/* GET /api/receipts/{id}/attestation: 200 with the envelope, 404 (problem details) otherwise. */
void attest_route(srv *s, const char *id, struct srv_resp *r);

#endif
