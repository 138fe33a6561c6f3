#!/bin/sh
# After the files are removed (deb postrm, rpm %postun): systemd forgets the unit.
set -e

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
