#!/usr/bin/env python3
"""Checks the invariants ARCHITECTURE.md names, as far as a script can:

- core imports no I/O: noegle-core depends on no axum, sqlx, tokio or hyper;
- no source file over 600 lines (Rust, the phone app's and the log-in box's JavaScript, the browser tests);
- handlers hold no rules: no HTTP handler (a `pub async fn` in the server's handler modules) over 25 lines;
- one SQL text: the store's statements live only in crates/store/src/queries/.

Run from the repository root; exits non-zero with every breach listed.
"""

import glob
import re
import subprocess
import sys

MAX_FILE_LINES = 600
MAX_HANDLER_LINES = 25
HANDLER_FILES = ["crates/server/src/api/*.rs", "crates/server/src/pages.rs", "crates/server/src/oidc.rs",
                 "crates/server/src/ops.rs", "crates/server/src/webapp.rs", "crates/server/src/demo_bank.rs"]

breaches = []

tree = subprocess.run(["cargo", "tree", "-p", "noegle-core", "-e", "normal", "--prefix", "none"],
                      check=True, capture_output=True, text=True).stdout
for line in tree.splitlines():
    if re.match(r"^(axum|sqlx|tokio|hyper) ", line):
        breaches.append(f"noegle-core depends on {line.split()[0]}: the core imports no I/O")

sources = glob.glob("crates/**/*.rs", recursive=True) + glob.glob("web/app/**/*.js", recursive=True) + glob.glob("web/box/*.js") + glob.glob("web/e2e/**/*.mjs", recursive=True)
for path in sorted(p for p in sources if "/node_modules/" not in p):
    with open(path, encoding="utf-8") as f:
        n = sum(1 for _ in f)
    if n > MAX_FILE_LINES:
        breaches.append(f"{path}: {n} lines (at most {MAX_FILE_LINES}); split it by what it holds")

for pattern in HANDLER_FILES:
    for path in sorted(glob.glob(pattern)):
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"^pub async fn (\w+)", lines[i])
            if m:
                j = i
                while lines[j] != "}":
                    j += 1
                if j - i + 1 > MAX_HANDLER_LINES:
                    breaches.append(f"{path}: handler {m.group(1)} is {j - i + 1} lines (at most "
                                    f"{MAX_HANDLER_LINES}); move its rules into a core flow")
                i = j
            i += 1

for path in sorted(glob.glob("crates/**/src/**/*.rs", recursive=True)):
    if path.startswith(("crates/store/src/queries/", "crates/bench/", "crates/store/src/testing.rs",
                         "crates/store/src/relay.rs", "crates/store/src/backup.rs")):
        continue
    if re.search(r"sqlx::query", open(path, encoding="utf-8").read()):
        breaches.append(f"{path}: SQL outside crates/store/src/queries/ (one SQL text for both databases)")

for b in breaches:
    print(b, file=sys.stderr)
sys.exit(1 if breaches else 0)
