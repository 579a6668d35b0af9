#!/usr/bin/env bash
# Installs the Debian packages the render and browser tests use:
#   LibreOffice (calc + impress) to render decks and workbooks to PDF,
#   poppler-utils (pdftoppm) to turn PDFs into PNG pages,
#   Chromium to test and screenshot the HTML dashboard,
#   fonts so renders look like the client will see them,
#   PostgreSQL (server and libpq) and a Java runtime for the warehouse tests (a throwaway
#   cluster started by scripts/start-test-postgres.sh; Spark in local mode runs on Java).
set -euo pipefail
PKGS=(libreoffice-calc libreoffice-impress poppler-utils chromium fonts-dejavu fonts-liberation2 fonts-crosextra-carlito
      postgresql libpq5 default-jre-headless)
missing=()
for p in "${PKGS[@]}"; do
  # any Debian PostgreSQL server version will do (postgresql is the metapackage of the current one)
  if [ "$p" = postgresql ] && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system deps: all present"; exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
