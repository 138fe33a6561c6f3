#!/bin/sh
# Regenerates the committed shell completion scripts and man pages from the CLI
# definition. Run after changing commands or flags; tests/it/completions.rs and
# tests/it/man.rs fail until then.
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet --bin uptimeping
bin="${CARGO_TARGET_DIR:-target}/debug/uptimeping"
"$bin" completions bash > completions/uptimeping.bash
"$bin" completions zsh > completions/_uptimeping
"$bin" completions fish > completions/uptimeping.fish
echo "updated completions/uptimeping.bash, completions/_uptimeping, completions/uptimeping.fish"
# Pages of commands that are gone must go too.
rm -f man/*.1
"$bin" completions --man man
