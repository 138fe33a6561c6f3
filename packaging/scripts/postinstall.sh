#!/bin/sh
# After the files are unpacked (deb postinst, rpm %post): the data directory is the
# daemon's alone, and systemd learns of a new or changed unit. The service is not
# enabled here: `systemctl enable --now uptimeping` is the administrator's call.
# An upgrade restarts a running daemon on the new binary.
set -e

install -d -o uptimeping -g uptimeping -m 0700 /var/lib/uptimeping

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    systemctl try-restart uptimeping.service || true
fi
