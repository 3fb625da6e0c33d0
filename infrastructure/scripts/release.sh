#!/usr/bin/env bash
# The steps of a release after `terraform apply` published new versions of
# every function. Until `promote`, no traffic reaches them: API Gateway and
# S3 invoke each function's `live` alias, which still names the old version.
#
#   release.sh migrate        invoke the new migrate version ({}); fail the
#                             release if it fails (nothing was promoted yet)
#   release.sh promote        move every live alias to its new version; the
#                             versions it replaced go to previous-versions.json
#   release.sh smoke API_URL  GET /health is ok, and an authorized route
#                             without a token is a 401 problem (authorizer wired)
#   release.sh rollback       move the aliases back to previous-versions.txt
#
# Run from infrastructure/ after apply (reads `terraform output -json releases`).
set -euo pipefail

releases() { terraform output -json releases; }

# "name version" per line, from the releases output.
pairs() {
  python3 -c 'import json, sys
for f in json.load(sys.stdin).values(): print(f["name"], f["version"])'
}

alias_version() {
  aws lambda get-alias --function-name "$1" --name live --query FunctionVersion --output text
}

move_alias() {
  aws lambda update-alias --function-name "$1" --name live --function-version "$2" >/dev/null
  echo "$1: live -> $2"
}

case "${1:-}" in
  migrate)
    read -r name version < <(releases | python3 -c 'import json, sys
m = json.load(sys.stdin)["migrate"]; print(m["name"], m["version"])')
    # The read timeout outlasts migrate's own 300 s; no retry of a slow one.
    aws lambda invoke --function-name "$name" --qualifier "$version" \
      --cli-read-timeout 330 --cli-connect-timeout 10 \
      --cli-binary-format raw-in-base64-out --payload '{}' migrate-result.json >migrate-meta.json
    cat migrate-result.json
    echo
    if grep -q FunctionError migrate-meta.json; then
      echo "::error::migrations failed; nothing was promoted"
      exit 1
    fi
    ;;
  promote)
    : >previous-versions.txt
    while read -r name version; do
      echo "$name $(alias_version "$name")" >>previous-versions.txt
      move_alias "$name" "$version"
    done < <(releases | pairs)
    ;;
  rollback)
    [ -s previous-versions.txt ] || { echo "nothing to roll back to (no previous-versions.txt)"; exit 1; }
    while read -r name version; do
      move_alias "$name" "$version"
    done <previous-versions.txt
    ;;
  smoke)
    url=${2:?usage: release.sh smoke API_URL}
    curl -fsS --retry 10 --retry-delay 5 --retry-all-errors "$url/health" | tee health.json
    echo
    grep -q '"status":"ok"' health.json
    status=$(curl -sS -o unauthorized.json -w '%{http_code}' "$url/auth/me")
    [ "$status" = 401 ] || { echo "::error::GET /auth/me without a token answered $status, not 401"; exit 1; }
    ;;
  *)
    echo "usage: release.sh migrate | promote | smoke API_URL | rollback" >&2
    exit 2
    ;;
esac
