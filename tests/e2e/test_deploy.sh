#!/bin/bash
# test_deploy.sh - the operator-facing files in deploy/ and docs/man/, checked with the real tools.
#
#   install   `cmake --install` of the build into a temporary DESTDIR lays out binaries, migrations,
#             web assets and man pages, and the installed server starts from there with the
#             systemd unit's own ExecStart arguments (paths moved into the temp dir), answers
#             /healthz and a page, makes its ledger key 0600 and stops cleanly on SIGTERM
#   systemd   `systemd-analyze verify` of the unit with ExecStart pointing at that installed
#             binary: no complaint at all (and a unit with a typo does draw one); its hardening
#             directives are there; `systemd-analyze security --offline` rates it <= 2.0
#   docker    the Dockerfile's structure (stages, non-root USER, HEALTHCHECK, VOLUME), every apt
#             package exists in bookworm, the runtime stage carries the package of every library
#             the server binary links directly; `docker build` only with GP_DOCKER_BUILD=1
#   nginx     structure and required directives; `nginx -t` with a throwaway certificate when
#             nginx is installed
#   actions   the two workflows parse (when PyYAML is there) and run the right commands
#   man       groff -ww finds nothing; every option `gpuproof-server --help` and each
#             `gpuproof-cli COMMAND --help` prints is described, and the server page describes
#             no option the server lacks
# A part whose tool is missing is skipped with a note; exit 77 only when nothing could be checked.
set -u
SRC=${GP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${GP_BUILD_DIR:-}
SERVER=${GP_SERVER_BIN:-}
CLI=${GP_CLI_BIN:-}
PY=${PYTHON:-/usr/bin/python3}
UNIT=$SRC/deploy/gpuproof-server.service

tmp=$(mktemp -d /tmp/gp-deploy-XXXXXX)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fails=0
checked=0
ok() { echo "ok   $*"; checked=$((checked + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
note() { echo "skip $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---- install into a DESTDIR and start the installed server -----------------------------------
root=$tmp/root
installed=
if [ -x "$SERVER" ] && [ -x "$CLI" ] && [ -n "$BUILD" ] && [ -f "$BUILD/cmake_install.cmake" ]; then
    if DESTDIR=$root cmake --install "$BUILD" --prefix /usr/local >"$tmp/install.log" 2>&1; then
        ok "cmake --install into DESTDIR"
        p=$root/usr/local
        missing=
        for f in bin/gpuproof-server bin/gpuproof-cli share/man/man1/gpuproof-server.1 \
                 share/man/man1/gpuproof-cli.1; do
            [ -e "$p/$f" ] || missing="$missing $f"
        done
        ls "$p"/share/gpuproof/migrations/*.sql >/dev/null 2>&1 || missing="$missing share/gpuproof/migrations/*.sql"
        [ -n "$(ls -A "$p/share/gpuproof/web" 2>/dev/null)" ] || missing="$missing share/gpuproof/web/"
        if [ -z "$missing" ]; then
            ok "install lays out binaries, migrations, web assets and man pages"
            installed=$p/bin/gpuproof-server
        else
            bad "install is missing:$missing"
        fi
    else
        bad "cmake --install failed: $(tail -3 "$tmp/install.log")"
    fi
else
    note "install: gpuproof-server / gpuproof-cli not built in GP_BUILD_DIR"
fi

if [ -n "$installed" ]; then
    # the unit's ExecStart arguments, with its paths moved into the temp dir
    args=$(sed -n 's/^ExecStart=[^ ]* //p' "$UNIT" |
           sed "s#--listen [^ ]*#--listen 127.0.0.1:0#; s#/var/lib/gpuproof#$tmp/state#g")
    mkdir -p "$tmp/state" "$tmp/keys"
    # shellcheck disable=SC2086
    "$installed" $args --web-dir "$p/share/gpuproof/web" --migrations-dir "$p/share/gpuproof/migrations" \
        --github-keys-url "file://$tmp/keys/{user}.keys" >"$tmp/server.out" 2>"$tmp/server.err" &
    server_pid=$!
    url=
    for _ in $(seq 1 100); do
        url=$(sed -n 's#^gpuproof-server listening on \(http://[^ ]*\)$#\1#p' "$tmp/server.out")
        [ -n "$url" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        bad "the installed server did not start with the unit's arguments ($args): $(tail -3 "$tmp/server.err")"
    else
        ok "the installed server starts with the unit's ExecStart arguments: $args"
        code=$(curl -s -o /dev/null -w '%{http_code}' "${url}healthz")
        [ "$code" = 200 ] && ok "GET /healthz is 200" || bad "GET /healthz is $code"
        code=$(curl -s -o "$tmp/page.html" -w '%{http_code}' "$url")
        [ "$code" = 200 ] && grep -qi "<html" "$tmp/page.html" && ok "the dashboard renders from the installed web assets" ||
            bad "GET / is $code"
        mode=$(stat -c %a "$tmp/state/ledger.key" 2>/dev/null)
        [ "$mode" = 600 ] && ok "ledger.key beside the database, mode 0600" || bad "ledger.key mode is '$mode'"
        kill -TERM "$server_pid"
        wait "$server_pid"
        rc=$?
        server_pid=
        [ "$rc" = 0 ] && ok "SIGTERM stops it cleanly (exit 0)" || bad "exit status $rc after SIGTERM"
    fi
fi

# ---- systemd ---------------------------------------------------------------------------------
unit_ok=1
for d in 'DynamicUser=yes' 'StateDirectory=gpuproof' 'ProtectSystem=strict' 'ProtectHome=yes' \
         'PrivateTmp=yes' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
         'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' \
         'MemoryDenyWriteExecute=yes' \
         'ExecStart=/usr/local/bin/gpuproof-server --listen 127.0.0.1:8080 --db /var/lib/gpuproof/gpuproof.db'; do
    grep -qxF "$d" "$UNIT" || { bad "the unit lacks '$d'"; unit_ok=0; }
done
[ "$unit_ok" = 1 ] && ok "the unit has its hardening directives and ExecStart"

if have systemd-analyze; then
    exe=${installed:-$SERVER}
    if [ ! -x "$exe" ]; then
        exe=/bin/true
        note "systemd: no server binary built; verifying with ExecStart=/bin/true"
    fi
    mkdir -p "$tmp/units"
    sed "s#^ExecStart=/usr/local/bin/gpuproof-server#ExecStart=$exe#" "$UNIT" >"$tmp/units/gpuproof-server.service"
    out=$(systemd-analyze verify --man=no "$tmp/units/gpuproof-server.service" 2>&1)
    rc=$?
    if [ "$rc" = 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: clean"; else bad "systemd-analyze verify ($rc): $out"; fi
    # the check can fail: a misspelt directive draws a complaint
    sed 's/^ProtectSystem=/ProtectSystm=/' "$tmp/units/gpuproof-server.service" >"$tmp/units/broken.service"
    out=$(systemd-analyze verify --man=no "$tmp/units/broken.service" 2>&1)
    [ -n "$out" ] && ok "systemd-analyze verify flags a misspelt directive" || bad "systemd-analyze verify missed a typo"
    if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
        score=$(systemd-analyze security --offline=yes --no-pager "$tmp/units/gpuproof-server.service" 2>/dev/null |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
        if [ -n "$score" ] && awk "BEGIN{exit !($score <= 2.0)}"; then
            ok "systemd-analyze security: exposure $score"
        else
            bad "systemd-analyze security exposure '$score' (want <= 2.0)"
        fi
    else
        note "systemd-analyze has no --offline security analysis"
    fi
else
    note "systemd: systemd-analyze not installed"
fi

# ---- Dockerfile ------------------------------------------------------------------------------
if "$PY" - "$SRC" "$SERVER" <<'PY'; then ok "Dockerfile: stages, user, health check, volume, packages"; else bad "Dockerfile checks"; fi
import os, re, shutil, subprocess, sys
src, server = sys.argv[1], sys.argv[2]
text = open(os.path.join(src, "deploy/Dockerfile")).read()
ins = []
for line in re.sub(r"\\\n", " ", text).splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        word, _, rest = line.partition(" ")
        ins.append((word.upper(), rest.strip()))
problems = []
known = {"FROM", "RUN", "COPY", "WORKDIR", "USER", "VOLUME", "EXPOSE", "ENV", "HEALTHCHECK", "ENTRYPOINT", "CMD",
         "ARG", "LABEL"}
problems += ["unknown instruction %s" % w for w, _ in ins if w not in known]
stages, cur = [], None
for w, rest in ins:
    if w == "FROM":
        m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
        cur = {"image": m.group(1), "name": m.group(2), "ins": []}
        stages.append(cur)
    elif cur is None:
        problems.append("%s before FROM" % w)
    else:
        cur["ins"].append((w, rest))
if len(stages) < 2:
    problems.append("not multi-stage")
names = {s["name"] for s in stages if s["name"]}
for s in stages:
    if s["image"] != "debian:bookworm-slim":
        problems.append("stage from %s, not debian:bookworm-slim" % s["image"])
    for w, rest in s["ins"]:
        m = re.search(r"--from=(\S+)", rest) if w == "COPY" else None
        if m and m.group(1) not in names:
            problems.append("COPY --from=%s names no stage" % m.group(1))
final = stages[-1]["ins"] if stages else []
users = [r for w, r in final if w == "USER"]
if not users or users[-1].split(":")[0] in ("root", "0"):
    problems.append("the runtime stage does not switch to a non-root USER")
if not any(w == "HEALTHCHECK" and "/healthz" in r for w, r in final):
    problems.append("no HEALTHCHECK on /healthz")
if not any(w == "VOLUME" and "/var/lib/gpuproof" in r for w, r in final):
    problems.append("no VOLUME /var/lib/gpuproof")
if not any(w == "ENTRYPOINT" and "gpuproof-server" in r for w, r in final):
    problems.append("no ENTRYPOINT gpuproof-server")

def packages(stage):
    pk = []
    for w, rest in stage["ins"]:
        if w == "RUN" and "apt-get install" in rest:
            seg = rest.split("apt-get install", 1)[1].split("&&")[0]
            pk += [t for t in seg.split() if not t.startswith("-")]
    return pk
build_pk, run_pk = packages(stages[0]), packages(stages[-1])
if any(p.endswith("-dev") for p in run_pk):
    problems.append("-dev packages in the runtime stage")
# the builder has the -dev package of every pkg-config module CMakeLists.txt asks for
cm = open(os.path.join(src, "CMakeLists.txt")).read()
mods = []
for m in re.finditer(r"pkg_check_modules\((.*?)\)", cm, re.S):
    mods += [t for t in m.group(1).split()[1:] if t not in ("REQUIRED", "IMPORTED_TARGET", "QUIET")]
if shutil.which("pkg-config") and shutil.which("dpkg"):
    for mod in mods:
        r = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True)
        if r.returncode != 0:
            continue
        pc = os.path.join(r.stdout.strip(), mod + ".pc")
        r = subprocess.run(["dpkg", "-S", pc], capture_output=True, text=True)
        pkg = r.stdout.split(":")[0].strip() if r.returncode == 0 else None
        if pkg and pkg not in build_pk:
            problems.append("the build stage lacks %s (pkg-config module %s)" % (pkg, mod))
osr = open("/etc/os-release").read() if os.path.exists("/etc/os-release") else ""
if "VERSION_CODENAME=bookworm" in osr and shutil.which("apt-cache"):
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + build_pk + run_pk, capture_output=True,
                       text=True)
    found = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
    problems += ["no bookworm package %s" % p for p in build_pk + run_pk if p not in found]
    # every library the server links directly comes from a runtime package
    if server and os.access(server, os.X_OK) and shutil.which("readelf") and shutil.which("dpkg"):
        dyn = subprocess.run(["readelf", "-d", server], capture_output=True, text=True).stdout
        ldc = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        base = {"libc6", "libgcc-s1", "libstdc++6", "libasan8", "libubsan1"}
        for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn):
            m = re.search(r"^\s*%s \(.*x86-64.*\) => (\S+)" % re.escape(lib), ldc, re.M) or \
                re.search(r"^\s*%s \(.*\) => (\S+)" % re.escape(lib), ldc, re.M)
            if not m:
                continue
            path = os.path.realpath(m.group(1))
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if r.returncode != 0:
                r = subprocess.run(["dpkg", "-S", m.group(1)], capture_output=True, text=True)
            pkg = r.stdout.split(":")[0].strip() if r.returncode == 0 else None
            if pkg and pkg not in base and pkg not in run_pk:
                problems.append("the server links %s (package %s), not in the runtime stage" % (lib, pkg))
    else:
        print("note: no server binary / readelf / dpkg: linked libraries not checked")
else:
    print("note: not a bookworm host: package names not checked")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY

if [ "${GP_DOCKER_BUILD:-0}" = 1 ] && have docker && docker info >/dev/null 2>&1; then
    if docker build -q -f "$SRC/deploy/Dockerfile" -t gpuproof-deploy-test "$SRC" >"$tmp/docker.log" 2>&1; then
        ok "docker build"
    else
        bad "docker build: $(tail -5 "$tmp/docker.log")"
    fi
else
    note "docker build (set GP_DOCKER_BUILD=1 with a running Docker daemon)"
fi

# ---- nginx -----------------------------------------------------------------------------------
CONF=$SRC/deploy/nginx-gpuproof.conf
if "$PY" - "$CONF" <<'PY'; then ok "nginx site: structure and directives"; else bad "nginx site"; fi
import re, sys
text = re.sub(r"#.*", "", open(sys.argv[1]).read())
problems = []
depth = 0
for ch in text:
    depth += ch == "{"
    depth -= ch == "}"
    if depth < 0:
        problems.append("unbalanced }")
        break
if depth:
    problems.append("unbalanced {")
for stmt in re.split(r"[;{}]", text):
    stmt = stmt.strip()
    if stmt and "\n\n" in stmt:
        problems.append("a statement without ';': %r" % stmt[:60])
need = [r"ssl_protocols\s+TLSv1\.2\s+TLSv1\.3;", r"listen\s+443\s+ssl", r"Strict-Transport-Security",
        r"proxy_pass\s+http://gpuproof;", r"server\s+127\.0\.0\.1:8080;", r"client_max_body_size\s+1m;",
        r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;",
        r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", r"return\s+301\s+https://"]
problems += ["missing %s" % n for n in need if not re.search(n, text)]
if re.search(r"ssl_protocols[^;]*(SSLv|TLSv1(\s|;)|TLSv1\.1)", text):
    problems.append("old TLS versions enabled")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY
if have nginx && have openssl; then
    mkdir -p "$tmp/nginx/logs"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
        -keyout "$tmp/nginx/key.pem" -out "$tmp/nginx/cert.pem" >/dev/null 2>&1
    sed -e "s#/etc/letsencrypt/live/gpuproof.example.com/fullchain.pem#$tmp/nginx/cert.pem#" \
        -e "s#/etc/letsencrypt/live/gpuproof.example.com/privkey.pem#$tmp/nginx/key.pem#" \
        -e "s#/var/www/letsencrypt#$tmp/nginx#" "$CONF" >"$tmp/nginx/site.conf"
    printf 'pid %s/nginx/nginx.pid;\nerror_log %s/nginx/logs/error.log;\nevents {}\nhttp {\n access_log off;\n include %s/nginx/site.conf;\n}\n' \
        "$tmp" "$tmp" "$tmp" >"$tmp/nginx/nginx.conf"
    if out=$(nginx -t -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>&1); then ok "nginx -t"; else bad "nginx -t: $out"; fi
else
    note "nginx -t: nginx not installed"
fi

# ---- GitHub Actions --------------------------------------------------------------------------
if "$PY" - "$SRC/deploy/github" <<'PY'; then ok "workflows: gpu-proof-submit and gpu-proof-gate"; else bad "workflows"; fi
import os, re, sys
d = sys.argv[1]
sub = open(os.path.join(d, "gpu-proof-submit.yml")).read()
gate = open(os.path.join(d, "gpu-proof-gate.yml")).read()
problems = []
try:
    import yaml  # optional: the structure is checked with it when it is installed
except ImportError:
    yaml = None
    print("note: PyYAML not installed: YAML structure not parsed")
if yaml:
    for name, text in (("submit", sub), ("gate", gate)):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            problems.append("%s: %s" % (name, e))
            continue
        jobs = doc.get("jobs") or {}
        if not jobs or True not in doc and "on" not in doc:
            problems.append("%s: no jobs or no trigger" % name)
        for jn, job in jobs.items():
            if not job.get("runs-on") or not job.get("steps"):
                problems.append("%s/%s: no runs-on or steps" % (name, jn))
        if name == "submit":
            runs_on = next(iter(jobs.values())).get("runs-on")
            if not (isinstance(runs_on, list) and "self-hosted" in runs_on and "gpu" in runs_on):
                problems.append("submit does not run on a self-hosted GPU runner")
            steps = next(iter(jobs.values()))["steps"]
            if not any("gpuproof-cli submit" in (s.get("run") or "") and "always()" in str(s.get("if", ""))
                       for s in steps):
                problems.append("submit: no `gpuproof-cli submit` step that always runs")
if not re.search(r"gpuproof-cli run .*-- pytest", sub):
    problems.append("submit: no `gpuproof-cli run ... -- pytest`")
if "gpuproof-cli check ${{ github.event.pull_request.head.sha }}" not in gate or "--server" not in gate:
    problems.append("gate: no `gpuproof-cli check ${{ github.event.pull_request.head.sha }} --server ...`")
if "secrets." in gate:
    problems.append("gate uses secrets; it must not need any")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY

# ---- man pages -------------------------------------------------------------------------------
if have groff; then
    for m in "$SRC"/docs/man/gpuproof-server.1 "$SRC"/docs/man/gpuproof-cli.1; do
        out=$(groff -man -ww -z "$m" 2>&1)
        [ -z "$out" ] && ok "groff -ww: $(basename "$m") clean" || bad "groff -ww $(basename "$m"): $out"
    done
else
    note "man: groff not installed"
fi

# options a --help text lists, one per line
options_of() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u | grep -vx -- '--help\|--version'; }
man_has() { grep -qF -- "$(printf '%s' "$1" | sed 's/-/\\-/g')" "$2"; }

SMAN=$SRC/docs/man/gpuproof-server.1
if [ -x "$SERVER" ]; then
    miss=
    for o in $("$SERVER" --help 2>&1 | options_of); do man_has "$o" "$SMAN" || miss="$miss $o"; done
    [ -z "$miss" ] && ok "gpuproof-server(1) describes every option of --help" || bad "gpuproof-server(1) lacks:$miss"
    help=$("$SERVER" --help 2>&1)
    extra=
    for o in $(sed -n '/^\.SH OPTIONS/,/^\.SH COMMANDS/p' "$SMAN" | grep -o '^\.BI* \\-\\-[a-z0-9\\-]*' |
               sed 's/^\.BI* //; s/\\-/-/g' | sort -u); do
        [ "$o" = --help ] || [ "$o" = --version ] || printf '%s\n' "$help" | grep -q -- "$o\b" || extra="$extra $o"
    done
    [ -z "$extra" ] && ok "gpuproof-server(1) describes no option the server lacks" ||
        bad "gpuproof-server(1) describes options the server does not have:$extra"
else
    note "man: gpuproof-server not built; its options not compared"
fi

CMAN=$SRC/docs/man/gpuproof-cli.1
if [ -x "$CLI" ]; then
    cmds=$("$CLI" --help 2>&1 | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
    [ -n "$cmds" ] || bad "gpuproof-cli --help lists no commands"
    for c in $cmds; do
        grep -q "^\.SS $(printf '%s' "$c" | sed 's/-/\\\\-/g')\b" "$CMAN" || bad "gpuproof-cli(1) has no section for '$c'"
        if ! h=$("$CLI" "$c" --help 2>&1) || ! printf '%s' "$h" | grep -q "usage"; then
            note "gpuproof-cli $c --help does not answer yet; its options not compared"
            continue
        fi
        miss=
        for o in $(printf '%s\n' "$h" | options_of); do man_has "$o" "$CMAN" || miss="$miss $o"; done
        [ -z "$miss" ] && ok "gpuproof-cli(1) describes every option of '$c'" || bad "gpuproof-cli(1) lacks for '$c':$miss"
    done
else
    note "man: gpuproof-cli not built; its options not compared"
fi

echo "$checked checks passed, $fails failed"
[ "$fails" -gt 0 ] && exit 1
[ "$checked" -eq 0 ] && exit 77
exit 0
