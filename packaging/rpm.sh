#!/bin/sh
# rpm: builds an .rpm under build/ from 'make install' into a staging root
set -eu
B=$(realpath "${1:-build}")
VERSION=$(sed -n 's/^#define ASCALE_VERSION "\(.*\)"/\1/p' common/version.h)
STAGE=$B/rpm-root
rm -rf "$STAGE" "$B/rpmbuild"
make --no-print-directory install B="$B" DESTDIR="$STAGE" PREFIX=/usr UNITDIR=/usr/lib/systemd/system >/dev/null
find "$STAGE/usr/share/man" -type f -exec gzip -9n {} +
rpmbuild -bb --quiet --define "_topdir $B/rpmbuild" --define "version $VERSION" \
	--define "stage $STAGE" --define "_rpmdir $B" --define "_build_id_links none" \
	--define "__spec_install_post %{nil}" \
	packaging/rpm/ascale.spec
find "$B" -maxdepth 2 -name "ascale-$VERSION-*.rpm"
