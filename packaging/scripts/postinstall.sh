#!/bin/sh
# After the files are unpacked (deb postinst, rpm %post): the data directory is the
# daemon's alone, and systemd learns of a new or changed unit. The service is not
# enabled or started here: `systemctl enable --now uptimeping` is the
# administrator's call. An upgrade restarts a running daemon on the new binary.
#
# dpkg passes `configure` and the version configured before, empty on a first
# install; rpm passes the number of instances installed after this one: 1 on an
# install, 2 on an upgrade.
set -e

upgrade=no
case "$1" in
    configure)
        if [ -n "${2:-}" ]; then upgrade=yes; fi
        ;;
    [0-9]*)
        if [ "$1" -gt 1 ]; then upgrade=yes; fi
        ;;
esac

install -d -o uptimeping -g uptimeping -m 0700 /var/lib/uptimeping

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ "$upgrade" = yes ]; then
        systemctl try-restart uptimeping.service || true
    fi
fi
