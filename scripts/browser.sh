# Sourced by the test script: Debian's chromium and chromedriver for the console's browser
# tests (crates/server/tests/console.rs), installed when missing. Sets STEWARD_REQUIRE_BROWSER
# so the tests fail, rather than skip, without them.

install_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "installing chromium and chromium-driver from Debian"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  export STEWARD_REQUIRE_BROWSER=1
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
}
