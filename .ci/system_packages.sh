#!/usr/bin/env bash
# System packages docdistill uses beyond Python: Tesseract OCR with Arabic and English language data
# (the tesseract teacher, textlayer's OCR fallback, evaluate's --system NAME=tesseract), and Chromium
# with its driver (only the review page's browser tests drive it; nothing is downloaded at run time).
# Idempotent: does nothing when they are installed. Installs with apt-get when run as root on
# Debian/Ubuntu; otherwise prints the one command to run and exits 0 (everything else works without).
# CI runs it before `make test` and must end with Tesseract installed (the OCR tests fail there otherwise).
set -euo pipefail
PACKAGES=(tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng chromium chromium-driver)

have_all() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || return 1
    command -v tesseract >/dev/null 2>&1 || return 1
    local langs
    langs="$(tesseract --list-langs 2>/dev/null)" || return 1
    grep -qx ara <<<"$langs" && grep -qx eng <<<"$langs"
}

if have_all; then
    echo "system packages: Tesseract $(tesseract --version 2>&1 | head -n1 | awk '{print $2}') with ara, eng;" \
         "$(chromium --version 2>/dev/null | head -n1): present"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    have_all && echo "system packages: installed ${PACKAGES[*]}" && exit 0
    echo "system packages: apt-get ran but Tesseract with ara+eng or Chromium is still missing" >&2
    exit 1
fi
if command -v apt-get >/dev/null 2>&1; then
    echo "system packages: Tesseract OCR or Chromium is missing; install them with: sudo apt-get install ${PACKAGES[*]}"
elif command -v brew >/dev/null 2>&1; then
    echo "system packages: Tesseract OCR or Chromium is missing; install them with: brew install tesseract tesseract-lang chromium chromedriver"
else
    echo "system packages: Tesseract OCR or Chromium is missing; install Tesseract 5 with Arabic (ara) and English (eng) data, and Chromium with chromedriver"
fi
echo "  (only OCR needs Tesseract: the tesseract teacher, the OCR fallback for scans, evaluate's tesseract"
echo "   baseline; only the review page's browser tests need Chromium. Those tests skip with the reason.)"
