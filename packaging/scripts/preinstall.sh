#!/bin/sh
# Before the files are unpacked (deb preinst, rpm %pre): the system user and group
# the daemon runs as, so that the packaged /var/lib/uptimeping can belong to them.
# Run again on every upgrade; it changes nothing once they exist.
set -e

if ! getent group uptimeping >/dev/null; then
    groupadd --system uptimeping
fi
if ! getent passwd uptimeping >/dev/null; then
    nologin=/usr/sbin/nologin
    [ -x "$nologin" ] || nologin=/sbin/nologin
    useradd --system --gid uptimeping --no-create-home \
        --home-dir /var/lib/uptimeping --shell "$nologin" \
        --comment "uptimeping daemon" uptimeping
fi
