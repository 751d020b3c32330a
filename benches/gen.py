#!/usr/bin/env python3
"""Deterministic inputs for the benchmarks in this directory (made-up tokens only).

  gen.py tree ROOT FILES         a monorepo-like tree: ~6% of the files hold a key name
  gen.py scale ROOT PLAIN SITES  PLAIN files without a key name and SITES files that each
                                 hold at least one site, spread over the same folders
  gen.py manifests ROOT COUNT    COUNT delegate manifests for rotate: YAML env + Helm values
  gen.py sites FILE FORMAT N     one file holding N sites: FORMAT is env, yaml or json
                                 (or md5: N distinct checksums, token-shaped, no site;
                                 or padded: one .env site after N lines of comments)
  gen.py tokens                  prints OLD, NEW and REVOKED as shell assignments

Every file depends on its index alone (no randomness, no clock), so two runs, or two
machines, measure the same bytes.
"""
import base64
import hashlib
import os
import sys

OLD = "0123456789abcdef0123456789abcdef"  # the token in force in the generated trees
NEW = "fedcba9876543210fedcba9876543210"  # what rotate writes
REVOKED = "00112233445566778899aabbccddeeff"  # revoked in the tree's .rekey.toml

KEY_NAMES = ["DELEGATE_TOKEN", "UPGRADER_TOKEN", "ACCOUNT_SECRET", "delegateToken",
             "accountSecret", "delegate_token", "account_secret"]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def fingerprint(token):
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def digest(i, salt):
    """A made-up 32-hex checksum, the kind of token-shaped string the sweep must judge."""
    return hashlib.md5(f"{salt}{i}".encode()).hexdigest()


def lines(i, template, low=20, high=140):
    """Between low and high lines of template, the count fixed by i."""
    return "".join(template.format(j=j, i=i) for j in range(low + (i * 7919) % (high - low)))


def secret(name, section, key, value):
    return f"""apiVersion: v1
kind: Secret
metadata:
  name: {name}
type: Opaque
{section}:
  {key}: {value}
"""


def delegate_statefulset(name, env):
    """A delegate StatefulSet whose container env ends with the entries in env (YAML text)."""
    return f"""apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: delegate
          image: harness/delegate:24.02.82203
          env:
            - name: DELEGATE_NAME
              value: {name}
{env}"""


# Files holding a key name, one kind after the other. Each returns (name, text).
def k8s_nextgen(i, token):
    name = f"delegate-{i}"
    return f"{name}.yaml", "---\n".join([
        secret(f"{name}-account-token", "stringData", "DELEGATE_TOKEN", f'"{token}"'),
        secret(f"{name}-upgrader-token", "data", "UPGRADER_TOKEN", b64(b64(token))),
        delegate_statefulset(name, f"""            - name: DELEGATE_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {name}-account-token
                  key: DELEGATE_TOKEN
""")])


def helm_values(i, token):
    return f"harness-delegate-values-{i}.yaml", f"""accountId: acct{i}
delegateName: delegate-{i}
delegateToken: {b64(token)}
managerEndpoint: https://app.harness.io
resources:
  limits:
    memory: 2048Mi
""" + lines(i, "extra{j}: value {j}\n", 5, 40)


def docker_run(i, token):
    return f"launch-harness-delegate-{i}.sh", f"""#!/bin/bash
set -e
docker run --cpus=1 --memory=2g \\
  -e DELEGATE_NAME=delegate-{i} \\
  -e ACCOUNT_ID=acct{i} \\
  -e DELEGATE_TOKEN={token} \\
  -e MANAGER_HOST_AND_PORT=https://app.harness.io \\
  harness/delegate:24.02.82203
""" + lines(i, "echo 'step {j}'\n", 5, 40)


def ecs_task(i, token):
    return f"task-definition-{i}.json", (
        '{"family":"delegate-%d","containerDefinitions":[{"name":"delegate",'
        '"image":"harness/delegate:24.02.82203","memory":2048,"environment":['
        '{"name":"DELEGATE_NAME","value":"delegate-%d"},'
        '{"name":"DELEGATE_TOKEN","value":"%s"}]}]}\n' % (i, i, token))


def dotenv(i, token):
    # A hidden file, as real .env files are: a peer that skips hidden files would miss it.
    return f".env.svc{i}", f"DELEGATE_TOKEN={token}\n" + lines(i, "VAR_{j}=value-{j}\n", 10, 60)


def terraform(i, token):
    return f"delegate-{i}.tf", f"""module "delegate_{i}" {{
  source         = "harness/harness-delegate/kubernetes"
  account_id     = "acct{i}"
  delegate_name  = "delegate-{i}"
  delegate_token = "{token}"
}}
""" + lines(i, 'variable "v{j}" {{\n  default = "{j}"\n}}\n', 5, 30)


def legacy_firstgen(i, token):
    return f"harness-delegate-{i}.yml", f"""apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: delegate-{i}
spec:
  template:
    spec:
      containers:
        - name: harness-delegate-instance
          image: harness/delegate:latest
          env:
            - name: ACCOUNT_ID
              value: acct{i}
            - name: ACCOUNT_SECRET
              value: {token}
"""


def docs_mention(i, token):
    # A key name in prose: a candidate for every searcher, a site for none.
    return f"DELEGATE-{i}.md", (f"# Delegate {i}\n\nSet DELEGATE_TOKEN from the secret store.\n"
                                + lines(i, "Paragraph {j} about the service.\n", 10, 60))


HOLDERS = [k8s_nextgen, helm_values, docker_run, ecs_task, dotenv, terraform, legacy_firstgen,
           docs_mention]


# Files without a key name.
def configmap(i):
    return f"config-{i}.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n" + lines(
        i, "  key{j}: value number {j} with some text\n")


def rust(i):
    return f"src-{i}.rs", lines(i, 'fn f{j}() {{ println!("{j}"); }}\n')


def python(i):
    return f"tool_{i}.py", lines(i, "def f{j}():\n    return {j}\n")


def markdown(i):
    return f"NOTES-{i}.md", lines(i, "Line {j} of the notes for service {i}.\n")


def checksums(i):
    # 32-hex strings: token-shaped, so `check`'s sweep decodes and judges each one.
    return f"checksums-{i}.md5", "".join(f"{digest(i * 100 + j, 'c')}  file{j}.tar.gz\n"
                                         for j in range(10))


def gosum(i):
    # 44-character base64 hashes: the length of a token's UI form.
    return f"go-{i}.sum", "".join(
        f"example.com/mod{j} v1.{j}.0 h1:{base64.b64encode(hashlib.sha256(f'{i}/{j}'.encode()).digest()).decode()}\n"
        for j in range(20))


def binary(i):
    data = bytes((i * 31 + j * 17) % 256 for j in range(4096))
    return f"image-{i}.png", data


def build_output(i):
    return f"bundle-{i}.js", lines(i, "var v{j} = {j};\n")


def write(folder, name, content):
    os.makedirs(folder, exist_ok=True)
    mode = "wb" if isinstance(content, bytes) else "w"
    with open(os.path.join(folder, name), mode) as f:
        f.write(content)


def tree(root, count):
    """About 6% of the files hold a key name (one in sixteen), in the formats an infra
    monorepo mixes; 1% are ignored build output, 1% binaries; go.sum files (base64 hashes of
    a token's UI length) and md5 checksum lists (32 hex digits, like a token) give the token
    sweep something to judge."""
    policy_and_ignores(root)
    for i in range(count - 2):
        if i % 16 == 0:
            write(folder_of(root, i), *holder_file(i, (i // 16) % len(HOLDERS), i // 16))
        else:
            write(*plain_file(root, i))


def scale(root, plain, with_sites):
    """PLAIN files without a key name (as in `tree`) and WITH_SITES files that each hold at
    least one site (every holder kind but prose mentions), evenly interleaved."""
    policy_and_ignores(root)
    kinds = [n for n, holder in enumerate(HOLDERS) if holder is not docs_mention]
    total, holders = plain + with_sites, 0
    for i in range(total):
        if (i * with_sites) // total < ((i + 1) * with_sites) // total:
            write(folder_of(root, i), *holder_file(i, kinds[holders % len(kinds)], holders))
            holders += 1
        else:
            write(*plain_file(root, i))


def policy_and_ignores(root):
    write(root, ".rekey.toml", f'[tokens]\ncurrent = ["{fingerprint(OLD)}"]\n'
          f'revoked = ["{fingerprint(REVOKED)}"]\n')
    write(root, ".gitignore", "build/\n*.log\n")


def folder_of(root, i):
    return os.path.join(root, f"team{i % 40}", f"app{i % 400}", ["deploy", "src", "docs"][i % 3])


def holder_file(i, kind, n):
    """The n-th file holding a key name, of HOLDERS[kind]: one in fifty keeps a revoked
    token, for `check` to find."""
    token = REVOKED if n % 50 == 49 else OLD
    return HOLDERS[kind](i, token)


def plain_file(root, i):
    """File i of a tree when it holds no key name: (folder, name, content)."""
    others = [configmap] * 5 + [rust] * 4 + [python] * 2 + [markdown] * 2
    folder = folder_of(root, i)
    if i % 100 == 1:
        return os.path.join(root, f"team{i % 40}", "build"), *build_output(i)
    if i % 1000 == 5:
        # 10 distinct checksums per 1,000 files: each is remembered for masking.
        return folder, *checksums(i)
    if i % 200 == 9:
        return folder, *gosum(i)
    if i % 100 == 7:
        return folder, *binary(i)
    if i % 10007 == 3:
        # The revoked token pasted into prose: no key, still a finding for `check`.
        return folder, f"INCIDENT-{i}.md", f"Old token was {REVOKED}, revoked.\n"
    return folder, *others[(i * 13) % len(others)](i)


def manifests(root, count):
    """COUNT files that each hold the token in force: Kubernetes manifests (the hex in a
    container's env, the UI form in a Secret's stringData) and Helm values (the UI form)."""
    for i in range(count):
        if i % 2 == 0:
            folder, (name, content) = os.path.join(root, "clusters", f"c{i % 50}"), k8s_env(i)
        else:
            folder, (name, content) = os.path.join(root, "charts", f"h{i % 50}"), helm_values(i, OLD)
        write(folder, name, content)


def k8s_env(i):
    name = f"delegate-{i}"
    return f"{name}.yaml", "---\n".join([
        secret(f"{name}-account-token", "stringData", "DELEGATE_TOKEN", f'"{b64(OLD)}"'),
        delegate_statefulset(name, f"""            - name: DELEGATE_TOKEN
              value: {OLD}
            - name: MANAGER_HOST_AND_PORT
              value: https://app.harness.io
""")]) + lines(i, "# note {j}\n", 5, 30)


def sites(path, form, count):
    """One file holding COUNT sites of one token, as small as each format allows: the
    largest (150,000 sites) must stay under rekey's 8 MiB parse limit."""
    with open(path, "w") as f:
        if form == "env":
            f.write(f"DELEGATE_TOKEN={OLD}\n" * count)
        elif form == "yaml":  # a rendered multi-document stream
            f.write(f"---\nDELEGATE_TOKEN: {OLD}\n" * count)
        elif form == "json":  # minified: one line
            f.write("[" + ",".join([f'{{"delegateToken":"{OLD}"}}'] * count) + "]")
        elif form == "md5":  # not sites: distinct token-shaped strings for the sweep
            f.write("".join(f"{digest(j, 's')}  file{j}.tar.gz\n" for j in range(count)))
        elif form == "padded":  # a large file holding one site
            f.write("# a comment line of a large generated file, no token here\n" * count)
            f.write(f"DELEGATE_TOKEN={OLD}\n")
        else:
            sys.exit(f"unknown format {form}: env, yaml, json, md5 or padded")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "tree":
        tree(args[0], int(args[1]))
    elif command == "scale":
        scale(args[0], int(args[1]), int(args[2]))
    elif command == "manifests":
        manifests(args[0], int(args[1]))
    elif command == "sites":
        sites(args[0], args[1], int(args[2]))
    elif command == "tokens":
        print(f"OLD={OLD} NEW={NEW} REVOKED={REVOKED}")
        print(f"OLD_B64={b64(OLD)} NEW_B64={b64(NEW)}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
