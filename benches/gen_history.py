#!/usr/bin/env python3
"""Writes a git fast-import stream of a generated history to stdout (for
benches/history-vs-git-log.sh): COMMITS commits on main over a tree of FILES files in 50
directories, each commit changing two files; every 1,000th commit rotates the delegate
token in the Kubernetes Secret and the .env file; a release branch and a tag every 5,000
commits. Tokens are made up (seeded), never real.

    gen_history.py COMMITS FILES
"""
import random
import sys

commits, files = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(20261202)
out = sys.stdout.buffer
mark = 0


def blob(data: bytes) -> int:
    global mark
    mark += 1
    out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
    return mark


def token() -> str:
    return "%032x" % rng.getrandbits(128)


def source(index: int, version: int) -> bytes:
    lines = [f"// module {index} version {version}"]
    lines += [f"fn f{n}() -> u32 {{ {rng.getrandbits(16)} }}" for n in range(30)]
    return ("\n".join(lines) + "\n").encode()


paths = [f"src/d{n % 50}/file{n}.rs" for n in range(files)]
current = token()
secret = lambda t: (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: delegate-account-token\n"
    f"stringData:\n  DELEGATE_TOKEN: \"{t}\"\n"
).encode()
head = None
for number in range(commits):
    changes = []
    if number == 0:
        changes = [(p, blob(source(i, 0))) for i, p in enumerate(paths)]
    for _ in range(2):
        i = rng.randrange(files)
        changes.append((paths[i], blob(source(i, number))))
    if number % 1000 == 0:
        current = token()
        changes.append(("k8s/secret.yaml", blob(secret(current))))
        changes.append((".env", blob(f"DELEGATE_TOKEN={current}\n".encode())))
    mark += 1
    out.write(b"commit refs/heads/main\nmark :%d\n" % mark)
    out.write(b"committer Bench <bench@example.com> %d +0000\ndata 7\ncommit\n" % (1_700_000_000 + number * 60))
    if head is not None:
        out.write(b"from :%d\n" % head)
    for path, ref in changes:
        out.write(b"M 100644 :%d %s\n" % (ref, path.encode()))
    head = mark
    if number % 5000 == 4999:
        out.write(b"reset refs/heads/release-%d\nfrom :%d\n\n" % (number // 5000, head))
        out.write(b"reset refs/tags/v%d\nfrom :%d\n\n" % (number // 5000, head))
