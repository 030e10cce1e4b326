#!/bin/sh
# The browser tests (tests/web/test_web_browser.py) drive Debian's Chromium
# through chromedriver. Install both when missing: as root with apt-get,
# otherwise stop with the command to run. Downloads of browser builds by
# Playwright or Selenium Manager are not used (they cannot be fetched here).
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium and chromium-driver for the browser tests (apt-get)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
    exit 0
fi
echo "The browser tests need Chromium and chromedriver (Debian: chromium, chromium-driver)." >&2
echo "Install them with:  sudo apt-get update && sudo apt-get install -y chromium chromium-driver" >&2
exit 1
