#!/usr/bin/env bash
# System packages docdistill uses beyond Python: Tesseract OCR with Arabic and English language data
# (the tesseract teacher, textlayer's OCR fallback, evaluate's --system NAME=tesseract).
# Idempotent: does nothing when they are installed. Installs with apt-get when run as root on
# Debian/Ubuntu; otherwise prints the one command to run and exits 0 (everything else works without).
# CI runs it before `make test` and must end with Tesseract installed (the OCR tests fail there otherwise).
set -euo pipefail
PACKAGES=(tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng)

have_all() {
    command -v tesseract >/dev/null 2>&1 || return 1
    local langs
    langs="$(tesseract --list-langs 2>/dev/null)" || return 1
    grep -qx ara <<<"$langs" && grep -qx eng <<<"$langs"
}

if have_all; then
    echo "system packages: Tesseract $(tesseract --version 2>&1 | head -n1 | awk '{print $2}') with ara, eng: present"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    have_all && echo "system packages: installed ${PACKAGES[*]}" && exit 0
    echo "system packages: apt-get ran but Tesseract with ara+eng is still missing" >&2
    exit 1
fi
if command -v apt-get >/dev/null 2>&1; then
    echo "system packages: Tesseract OCR is missing; install it with: sudo apt-get install ${PACKAGES[*]}"
elif command -v brew >/dev/null 2>&1; then
    echo "system packages: Tesseract OCR is missing; install it with: brew install tesseract tesseract-lang"
else
    echo "system packages: Tesseract OCR is missing; install Tesseract 5 with Arabic (ara) and English (eng) data"
fi
echo "  (only OCR needs it: the tesseract teacher, the OCR fallback for scans, evaluate's tesseract baseline)"
