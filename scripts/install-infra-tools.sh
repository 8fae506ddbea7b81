#!/usr/bin/env bash
# Installs the tools the infrastructure checks (test/infra/) need, from Debian's packages:
# ansible and ansible-lint; haproxy and systemd-analyze are used when present (haproxy is
# installed for the integration tests anyway). Terraform 1.x is expected on PATH
# (/usr/local/bin/terraform on these machines); it is not in Debian's archive.
# Idempotent; run as root (CI) or through sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

need=()
command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible)
command -v ansible-lint >/dev/null 2>&1 || need+=(ansible-lint)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)

if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}"
fi

ansible-playbook --version | head -n 1
ansible-lint --version 2>/dev/null | head -n 1 || true
if command -v terraform >/dev/null 2>&1; then
  terraform version 2>/dev/null | head -n 1
else
  echo "warning: terraform is not on PATH; test/infra/terraform.test.ts will fail" >&2
fi
