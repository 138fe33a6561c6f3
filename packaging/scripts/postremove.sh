#!/bin/sh
# After the files are removed (deb postrm, rpm %postun; on an upgrade too, from
# the old package): systemd rereads its units, forgetting a removed one.
set -e

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
