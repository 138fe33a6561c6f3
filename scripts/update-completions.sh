#!/bin/sh
# Regenerates the committed shell completion scripts from the CLI definition.
# Run after changing commands or flags; tests/it/completions.rs fails until then.
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet --bin uptimeping
bin="${CARGO_TARGET_DIR:-target}/debug/uptimeping"
"$bin" completions bash > completions/uptimeping.bash
"$bin" completions zsh > completions/_uptimeping
"$bin" completions fish > completions/uptimeping.fish
echo "updated completions/uptimeping.bash, completions/_uptimeping, completions/uptimeping.fish"
