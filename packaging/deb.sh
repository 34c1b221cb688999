#!/bin/sh
# deb: builds build/ascale_VERSION_ARCH.deb from 'make install' into a staging root
set -eu
B=$(realpath "${1:-build}")
VERSION=$(sed -n 's/^#define ASCALE_VERSION "\(.*\)"/\1/p' common/version.h)
ARCH=$(dpkg --print-architecture)
ROOT=$B/deb-root
rm -rf "$ROOT"
make --no-print-directory install B="$B" DESTDIR="$ROOT" PREFIX=/usr UNITDIR=/lib/systemd/system >/dev/null
find "$ROOT/usr/share/man" -type f -exec gzip -9n {} +
mkdir -p "$ROOT/DEBIAN"
# Depends: the packages of the libraries the programs link, with versions, as dpkg-shlibdeps finds them
SHLIBS=$B/deb-shlibs
mkdir -p "$SHLIBS/debian"
printf 'Source: ascale\n\nPackage: ascale\nArchitecture: any\n' > "$SHLIBS/debian/control"
DEPENDS=$(cd "$SHLIBS" && dpkg-shlibdeps -O $(for p in "$ROOT"/usr/sbin/* "$ROOT"/usr/bin/*; do echo "-e$p"; done) |
	sed -n 's/^shlibs:Depends=//p')
if [ -z "$DEPENDS" ]; then
	echo "deb: dpkg-shlibdeps found no dependencies" >&2
	exit 1
fi
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@DEPENDS@/$DEPENDS/" packaging/debian/control.in \
	> "$ROOT/DEBIAN/control"
echo "Installed-Size: $(du -sk "$ROOT" | cut -f1)" >> "$ROOT/DEBIAN/control"
(cd "$ROOT" && find etc -type f | sed 's|^|/|') > "$ROOT/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/postrm "$ROOT/DEBIAN/"
dpkg-deb --root-owner-group --build "$ROOT" "$B/ascale_${VERSION}_${ARCH}.deb" >/dev/null
echo "$B/ascale_${VERSION}_${ARCH}.deb"
