#!/bin/sh
# Before the files are removed (deb prerm, rpm %preun). On removal, not on an
# upgrade, the service is stopped and disabled. The data in /var/lib/uptimeping
# and the user are kept: remove them by hand once the data is no longer wanted.
set -e

removing=no
case "$1" in
    remove | purge | 0) removing=yes ;;
esac

if [ "$removing" = yes ] && [ -d /run/systemd/system ]; then
    systemctl disable --now uptimeping.service || true
fi
