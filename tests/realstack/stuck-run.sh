#!/usr/bin/env bash
# The stuck-adapter test in the VM (optional; about three minutes under TCG): see
# stuck-guest.sh. usage: stuck-run.sh BUILD_DIR [OUT_DIR]
exec "$(dirname "$0")/run.sh" --guest stuck-guest.sh --name "stuck-adapter VM test" \
  --out "${2:-$1/realstack-stuck}" "$1"
