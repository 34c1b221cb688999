#!/bin/sh
# deb: builds build/ascale_VERSION_ARCH.deb from 'make install' into a staging root
set -eu
B=${1:-build}
VERSION=$(sed -n 's/^#define ASCALE_VERSION "\(.*\)"/\1/p' common/version.h)
ARCH=$(dpkg --print-architecture)
ROOT=$B/deb-root
rm -rf "$ROOT"
make --no-print-directory install B="$B" DESTDIR="$ROOT" PREFIX=/usr UNITDIR=/lib/systemd/system >/dev/null
find "$ROOT/usr/share/man" -type f -exec gzip -9n {} +
mkdir -p "$ROOT/DEBIAN"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" packaging/debian/control.in > "$ROOT/DEBIAN/control"
echo "Installed-Size: $(du -sk "$ROOT" | cut -f1)" >> "$ROOT/DEBIAN/control"
(cd "$ROOT" && find etc -type f | sed 's|^|/|') > "$ROOT/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/postrm "$ROOT/DEBIAN/"
dpkg-deb --root-owner-group --build "$ROOT" "$B/ascale_${VERSION}_${ARCH}.deb" >/dev/null
echo "$B/ascale_${VERSION}_${ARCH}.deb"
