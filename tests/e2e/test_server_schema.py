#!/usr/bin/python3
"""Keeps schema/ true (issue 3): the OpenAPI 3.1 document names every route the server answers,
and nothing it does not; the documents the server returns match the OpenAPI component schemas;
the vectors' well-formed receipts match schema/receipt-v1.schema.json and malformed ones do not.

No jsonschema package here: a small validator for the subset of JSON Schema 2020-12 the two
documents use (type, const, enum, required, properties, items, anyOf, pattern, minLength,
maxLength, minimum, maximum, $ref); it refuses any keyword it does not know, so the schemas
cannot silently grow past what is checked.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors  # noqa: E402

gpserver.skip_unless_server()

SCHEMA_DIR = os.path.join(gpserver.SOURCE_DIR, "schema")
KNOWN = {"type", "const", "enum", "required", "properties", "items", "anyOf", "pattern", "minLength",
         "maxLength", "minimum", "maximum", "$ref", "description", "title", "$schema", "$id", "$defs",
         "contentEncoding"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


class Invalid(Exception):
    pass


def resolve(root, ref):
    if not ref.startswith("#/"):
        raise Invalid("external $ref " + ref)
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def validate(v, s, root, path="$"):
    unknown = set(s) - KNOWN
    if unknown:
        raise AssertionError("schema keyword(s) the test validator does not know: %s at %s" % (unknown, path))
    if "$ref" in s:
        validate(v, resolve(root, s["$ref"]), root, path)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(is_type(v, t) for t in types):
            raise Invalid("%s: %r is not of type %s" % (path, v, types))
    if "const" in s and v != s["const"]:
        raise Invalid("%s: %r is not %r" % (path, v, s["const"]))
    if "enum" in s and v not in s["enum"]:
        raise Invalid("%s: %r not in %r" % (path, v, s["enum"]))
    if "anyOf" in s:
        errs = []
        for alt in s["anyOf"]:
            try:
                validate(v, alt, root, path)
                break
            except Invalid as e:
                errs.append(str(e))
        else:
            raise Invalid("%s: no alternative matches: %s" % (path, "; ".join(errs)))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                raise Invalid("%s: required member %s is missing" % (path, k))
        for k, sub in s.get("properties", {}).items():
            if k in v:
                validate(v[k], sub, root, path + "." + k)
    if isinstance(v, list) and "items" in s:
        for i, e in enumerate(v):
            validate(e, s["items"], root, "%s[%d]" % (path, i))
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            raise Invalid("%s: %r does not match %s" % (path, v, s["pattern"]))
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 60):
            raise Invalid("%s: length of %r" % (path, v))
    if is_type(v, "number"):
        if v < s.get("minimum", float("-inf")) or v > s.get("maximum", float("inf")):
            raise Invalid("%s: %r out of range" % (path, v))


def match(template, path):
    esc = re.escape(template).replace(r"\{index\}", ".+") if template.startswith("/ledger/tile") else re.escape(template)
    rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", esc) + "$"
    return re.match(rx, path) is not None


class SchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SCHEMA_DIR, "openapi.json")) as f:
            cls.api = json.load(f)
        with open(os.path.join(SCHEMA_DIR, "receipt-v1.schema.json")) as f:
            cls.receipt_schema = json.load(f)
        cls.vec = Vectors()
        cls.tmp = tempfile.mkdtemp(prefix="gp-schema-")
        cls.keys = KeyServer().start()
        cls.srv = Server(cls.tmp, cls.keys.url, args=["--rate-limit", "0"]).start()
        for v in cls.vec.items:
            cls.srv.post_receipt(cls.vec.raw(v))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.keys.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_openapi_shape(self):
        self.assertTrue(self.api["openapi"].startswith("3.1"))
        for path, item in self.api["paths"].items():
            for method, op in item.items():
                self.assertIn(method, ("get", "post"), path)
                self.assertTrue(op.get("operationId"), path)
                self.assertTrue(op.get("responses"), path)
        for name, s in self.api["components"]["schemas"].items():
            self.walk_schema(s)

    def walk_schema(self, s):
        self.assertFalse(set(s) - KNOWN, s)
        for sub in list(s.get("properties", {}).values()) + s.get("anyOf", []) + ([s["items"]] if "items" in s else []):
            self.walk_schema(sub)

    def test_every_route_is_documented(self):
        rid = self.vec.by_name("alice-ed25519-0-clean")["receipt_id"]
        c1 = self.vec.manifest["commits"][0]
        # one request per route the server answers
        requests = [
            ("post", "/api/receipts"), ("get", "/api/receipts?limit=5"), ("get", "/api/receipts/" + rid), ("get", "/api/receipts/%s/raw" % rid), ("get", "/api/receipts/%s/attestation" % rid),
            ("get", "/api/commits/" + c1), ("get", "/api/repos"), ("get", "/api/repos/alice/gpukernels/commits"),
            ("get", "/api/signers/alice"), ("get", "/api/ledger/checkpoint"), ("get", "/api/ledger/key"),
            ("get", "/api/ledger/entries/0"), ("get", "/api/ledger/proof/inclusion?index=0&tree_size=1"),
            ("get", "/api/ledger/proof/consistency?first=1&second=2"), ("get", "/healthz"), ("get", "/metrics"),
            ("get", "/"), ("get", "/repos/alice/gpukernels"), ("get", "/commits/" + c1), ("get", "/receipts/" + rid),
            ("get", "/signers/alice"), ("get", "/badge/alice/gpukernels/%s.svg" % c1), ("get", "/lookup?q=alice"),
            ("get", "/ledger/checkpoint"), ("get", "/ledger/tile/0/000.p/1"), ("get", "/ledger/tile/entries/000.p/1"),
        ]
        paths = self.api["paths"]
        for method, url in requests:
            path = url.split("?")[0]
            if method == "get":
                st, h, body = self.srv.request("GET", url)
                self.assertNotIn(st, (404, 405, 500), url)
            templates = [t for t in paths if match(t, path) and method in paths[t]]
            self.assertTrue(templates, "%s %s is not in schema/openapi.json" % (method.upper(), path))
        # and every documented path is one of those
        for t, item in paths.items():
            for method in item:
                if t == "/static/{file}":
                    continue
                self.assertTrue(any(m == method and match(t, u.split("?")[0]) for m, u in requests),
                                "%s %s is documented but not exercised" % (method.upper(), t))
        # the route strings in the server's source are all documented
        src = ""
        for fn in ("http.c", "api.c", "ledger.c"):
            with open(os.path.join(gpserver.SOURCE_DIR, "server", fn)) as f:
                src += f.read()
        lits = set(re.findall(r'"(/api/[a-z/]*[a-z])/?"', src))
        lits |= {"/api/ledger/" + x for x in re.findall(r'strn?cmp\(sub, "([a-z/]+)"', src)}
        self.assertGreaterEqual(len(lits), 10, lits)
        for lit in lits:
            alt = lit[len("/api"):] if lit.startswith("/api/ledger/") else lit  # tlog-tiles live at /ledger/
            self.assertTrue(any(t.startswith(lit) or t.startswith(alt) for t in paths),
                            lit + " (in server/) is not documented")

    def test_documents_match_their_schemas(self):
        rid = self.vec.by_name("alice-dirty")["receipt_id"]
        c1, c2 = self.vec.manifest["commits"]
        cases = [("/api/receipts/" + rid, "Summary"), ("/api/commits/" + c1, "CommitDoc"),
                 ("/api/commits/" + c2 + "?repo=alice/gpukernels", "CommitDoc"), ("/api/repos", "ReposDoc"),
                 ("/api/repos/alice/gpukernels/commits?limit=1", "RepoCommitsDoc"), ("/api/signers/erin", "SignerDoc"),
                 ("/api/ledger/entries/1", "Entry"), ("/api/ledger/proof/inclusion?index=1&tree_size=5", "InclusionProof"),
                 ("/api/ledger/proof/consistency?first=2&second=5", "ConsistencyProof"),
                 ("/api/commits/xyz", "Problem"), ("/api/receipts/" + "0" * 64, "Problem")]
        schemas = self.api["components"]["schemas"]
        for url, name in cases:
            st, doc = self.srv.get_json(url)
            validate(doc, schemas[name], self.api, url)
        # and the validator can fail
        st, doc = self.srv.get_json("/api/receipts/" + rid)
        del doc["validates"]
        with self.assertRaises(Invalid):
            validate(doc, schemas["Summary"], self.api)

    def test_vectors_match_the_receipt_schema(self):
        checked = 0
        for v in self.vec.items:
            try:
                doc = json.loads(self.vec.raw(v))
            except ValueError:
                self.assertEqual(v["expect"], "bad_request")
                continue
            if v["expect"] in ("valid", "invalid_signature", "unsigned"):
                validate(doc, self.receipt_schema, self.receipt_schema, v["file"])
                checked += 1
            elif "schema-version" in v["file"] or "signer" in v["file"] or "sig-encoding" in v["file"]:
                with self.assertRaises(Invalid, msg=v["file"]):
                    validate(doc, self.receipt_schema, self.receipt_schema, v["file"])
        self.assertGreaterEqual(checked, 15)


if __name__ == "__main__":
    unittest.main(verbosity=2)
