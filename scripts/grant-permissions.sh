#!/usr/bin/env bash
# Grants PAL Watch's managed identity what Bicep cannot grant: Microsoft Graph application
# permissions (tenant admin consent) and Monitoring Reader at root scope "/" (the tenant
# activity log). Idempotent: it reads what is granted first and only adds what is missing.
# Run by a tenant admin after `azd up` (docs/deploy.md, step 4). Needs: az (logged in to the
# partner tenant), and for the Graph part a Privileged Role Administrator or Global Administrator.
#
#   scripts/grant-permissions.sh [--principal-id OBJECT_ID] [--client-id CLIENT_ID]
#                                [--mailbox SENDER@DOMAIN] [--no-mail] [--mail-access-policy]
#                                [--skip-graph] [--skip-root] [--elevate] [--dry-run] [--billing]
#
# --billing (or PAL_BILLING=true) also grants Graph PartnerBilling.Read.All, which the daily
# credit snapshot needs to read the partner's own billing export (only in a CSP partner tenant).
#
# Mail: by default Mail.Send is granted in Exchange Online with RBAC for Applications, scoped
# to the sender mailbox (the script prints the Exchange PowerShell), and NOT as a Graph
# permission, which would let the identity send as any mailbox. --mail-access-policy keeps the
# older way (Graph Mail.Send + New-ApplicationAccessPolicy) for tenants that still use it.
#
# Without --principal-id/--client-id the values come from the azd environment
# (PAL_IDENTITY_PRINCIPAL_ID / PAL_IDENTITY_CLIENT_ID outputs), or the environment variables.
set -euo pipefail

GRAPH_APP_ID="00000003-0000-0000-c000-000000000000"   # Microsoft Graph, same in every tenant
MONITORING_READER="Monitoring Reader"   # az takes a built-in role by its name
# After elevateAccess the new User Access Administrator assignment takes a while to apply
# (learn.microsoft.com/azure/role-based-access-control/elevate-access-global-admin: "sign out and
# sign back in to refresh your access"): the assignment at "/" is tried this many times, this long apart.
ELEVATE_TRIES="${PAL_ELEVATE_TRIES:-10}"
ELEVATE_WAIT="${PAL_ELEVATE_WAIT:-30}"
GRAPH_URL="${PAL_GRAPH_ENDPOINT:-https://graph.microsoft.com}"
ARM_URL="${PAL_ARM_ENDPOINT:-https://management.azure.com}"

principal_id="${PAL_IDENTITY_PRINCIPAL_ID:-}"
client_id="${PAL_IDENTITY_CLIENT_ID:-}"
mailbox="${PAL_ALERT_MAIL_FROM:-}"
with_mail=1
access_policy=0
skip_graph=0
skip_root=0
elevate=0
dry_run=0
billing=0
[[ "${PAL_BILLING:-false}" == "true" ]] && billing=1

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --principal-id) principal_id="$2"; shift 2 ;;
    --billing) billing=1; shift ;;
    --client-id) client_id="$2"; shift 2 ;;
    --mailbox) mailbox="$2"; shift 2 ;;
    --no-mail) with_mail=0; shift ;;
    --mail-access-policy) access_policy=1; shift ;;
    --skip-graph) skip_graph=1; shift ;;
    --skip-root) skip_root=1; shift ;;
    --elevate) elevate=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
run() {
  # Prints every change before making it; --dry-run stops there.
  printf '    $ %s\n' "$*"
  if [[ $dry_run -eq 0 ]]; then "$@"; fi
}

azd_value() {
  command -v azd >/dev/null 2>&1 || return 0
  azd env get-values 2>/dev/null | sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" | head -n 1
}

command -v az >/dev/null 2>&1 || { echo "az (Azure CLI) is required" >&2; exit 1; }
[[ -n "$principal_id" ]] || principal_id="$(azd_value PAL_IDENTITY_PRINCIPAL_ID)"
[[ -n "$client_id" ]] || client_id="$(azd_value PAL_IDENTITY_CLIENT_ID)"
[[ -n "$mailbox" ]] || mailbox="$(azd_value PAL_ALERT_MAIL_FROM)"
if [[ -z "$principal_id" ]]; then
  echo "No principal id: pass --principal-id, or run from the azd project after 'azd up'." >&2
  exit 2
fi

tenant_id="$(az account show --query tenantId -o tsv)"
say "Tenant ${tenant_id}; PAL Watch identity: object id ${principal_id}${client_id:+, client id ${client_id}}"
[[ $dry_run -eq 1 ]] && say "Dry run: nothing is changed."

# ---------------------------------------------------------------------------------------------
# 1. Microsoft Graph application permissions (app role assignments on the Graph service
#    principal). What each is for, and what breaks without it, is in docs/deploy.md.
# ---------------------------------------------------------------------------------------------
grant_graph() {
  local graph_sp permissions=(User.Read.All Group.Read.All Application.Read.All)
  # Graph Mail.Send only for the older application-access-policy way (see mail_scope_note).
  [[ $with_mail -eq 1 && $access_policy -eq 1 ]] && permissions+=(Mail.Send)
  [[ $billing -eq 1 ]] && permissions+=(PartnerBilling.Read.All)
  graph_sp="$(az ad sp show --id "$GRAPH_APP_ID" --query id -o tsv)"
  say "Microsoft Graph service principal in this tenant: ${graph_sp}"
  local existing
  existing="$(az rest --method GET \
    --url "${GRAPH_URL}/v1.0/servicePrincipals/${principal_id}/appRoleAssignments" \
    --query "value[?resourceId=='${graph_sp}'].appRoleId" -o tsv)"
  local permission role_id
  for permission in "${permissions[@]}"; do
    role_id="$(az ad sp show --id "$GRAPH_APP_ID" \
      --query "appRoles[?value=='${permission}' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)"
    if [[ -z "$role_id" ]]; then
      echo "Graph has no application role ${permission} in this cloud" >&2
      return 1
    fi
    if grep -qx "$role_id" <<<"$existing"; then
      say "Graph ${permission}: already granted"
      continue
    fi
    say "Graph ${permission}: granting (app role ${role_id})"
    run az rest --method POST \
      --url "${GRAPH_URL}/v1.0/servicePrincipals/${principal_id}/appRoleAssignments" \
      --headers "Content-Type=application/json" \
      --body "{\"principalId\": \"${principal_id}\", \"resourceId\": \"${graph_sp}\", \"appRoleId\": \"${role_id}\"}" \
      --output none
  done
}

mail_scope_note() {
  # az cannot talk to Exchange Online: the commands are printed for Exchange Online PowerShell.
  local app="${client_id:-<client id of the managed identity>}"
  local sender="${mailbox:-<sender mailbox, e.g. pal-watch@contoso.com>}"
  if [[ $access_policy -eq 0 ]]; then
    cat <<EOF
==> Grant Mail.Send for the sender mailbox only: Exchange Online RBAC for Applications
    (Exchange Online PowerShell, run by an Exchange Administrator / Organization Management member):
    Connect-ExchangeOnline
    New-ServicePrincipal -AppId ${app} -ObjectId ${principal_id} -DisplayName "PAL Watch"
    New-ManagementScope -Name "PAL Watch sender" -RecipientRestrictionFilter "PrimarySmtpAddress -eq '${sender}'"
    New-ManagementRoleAssignment -Name "PAL Watch Mail.Send" -App ${principal_id} -Role "Application Mail.Send" \`
      -CustomResourceScope "PAL Watch sender"
    Test-ServicePrincipalAuthorization -Identity ${principal_id} -Resource ${sender}          # InScope: True
    Test-ServicePrincipalAuthorization -Identity ${principal_id} -Resource someone.else@domain  # InScope: False
    (-App and -Identity take the service principal's object id, ${principal_id}, not the client id.)
    No Graph Mail.Send is granted in Entra ID: it would apply to every mailbox, whatever the scope.
    (Older tenants: rerun with --mail-access-policy for Graph Mail.Send + New-ApplicationAccessPolicy.)
EOF
    return 0
  fi
  cat <<EOF
==> Scope Graph Mail.Send to the sender mailbox with an application access policy (the older way;
    Exchange Online now recommends RBAC for Applications, the default of this script):
    Connect-ExchangeOnline
    New-DistributionGroup -Name "PAL Watch senders" -Type Security -Members ${sender}
    New-ApplicationAccessPolicy -AppId ${app} -PolicyScopeGroupId "PAL Watch senders" \`
      -AccessRight RestrictAccess -Description "PAL Watch may send only as ${sender}"
    Test-ApplicationAccessPolicy -Identity ${sender} -AppId ${app}      # AccessCheckResult: Granted
EOF
}

# ---------------------------------------------------------------------------------------------
# 2. Monitoring Reader at root scope "/": read the tenant-level activity log, where Lighthouse
#    writes Microsoft.Resources/tenants/register|unregister/action for every delegation.
#    Assigning at "/" needs User Access Administrator there, which even a Global Administrator
#    only has after "elevate access" (Entra ID > Properties > Access management for Azure
#    resources, or the elevateAccess call below). --elevate does it and removes it afterwards.
# ---------------------------------------------------------------------------------------------
elevated_by_us=0
# shellcheck disable=SC2317  # runs from the EXIT trap
drop_elevation() {
  if [[ $elevated_by_us -eq 1 ]]; then
    local me
    me="$(az ad signed-in-user show --query id -o tsv)"
    say "Removing the temporary User Access Administrator at / from the signed-in user"
    run az role assignment delete --assignee "$me" --role "User Access Administrator" --scope "/"
  fi
}

grant_root() {
  local count
  count="$(az role assignment list --assignee "$principal_id" --scope "/" --role "$MONITORING_READER" \
    --query "length([?scope=='/'])" -o tsv 2>/dev/null || echo "unknown")"
  if [[ "$count" =~ ^[1-9] ]]; then
    say "Monitoring Reader at /: already assigned"
    return 0
  fi
  if [[ $elevate -eq 1 ]]; then
    say "Elevating the signed-in Global Administrator to User Access Administrator at / (temporary)"
    run az rest --method POST --url "${ARM_URL}/providers/Microsoft.Authorization/elevateAccess?api-version=2016-07-01"
    elevated_by_us=1
    trap drop_elevation EXIT
  fi
  say "Monitoring Reader at /: assigning"
  local assign=(az role assignment create --assignee-object-id "$principal_id"
    --assignee-principal-type ServicePrincipal --role "$MONITORING_READER" --scope "/" --output none)
  printf '    $ %s\n' "${assign[*]}"
  [[ $dry_run -eq 1 ]] && return 0
  local attempt=1
  until "${assign[@]}"; do
    if [[ $elevated_by_us -eq 1 && $attempt -lt $ELEVATE_TRIES ]]; then
      say "Not allowed at / yet: elevation takes a few minutes to apply. Try ${attempt}/${ELEVATE_TRIES} failed; again in ${ELEVATE_WAIT}s"
      sleep "$ELEVATE_WAIT"
      attempt=$((attempt + 1))
      continue
    fi
    if [[ $elevated_by_us -eq 1 ]]; then
      cat >&2 <<EOF
Could not assign Monitoring Reader at "/" after ${ELEVATE_TRIES} tries over about $(( (ELEVATE_TRIES - 1) * ELEVATE_WAIT ))s:
the elevation has not reached this sign-in yet. Sign out and in again (az logout; az login --tenant ${tenant_id}),
then rerun this script with --elevate (it is idempotent: what is granted stays). PAL_ELEVATE_TRIES and
PAL_ELEVATE_WAIT wait longer.
EOF
    else
      cat >&2 <<EOF
Could not assign Monitoring Reader at "/". This needs User Access Administrator (or Owner) at root:
a Global Administrator turns on "Access management for Azure resources" (or reruns with --elevate),
runs this script, and turns it off again.
EOF
    fi
    echo "Without the role PAL Watch still works: the watcher reports one configuration finding and new customers are found by the verification timer instead." >&2
    return 1
  done
}

status=0
if [[ $skip_graph -eq 0 ]]; then
  grant_graph || status=1
  [[ $with_mail -eq 1 ]] && mail_scope_note
else
  say "Skipping Graph permissions (--skip-graph)"
fi
if [[ $skip_root -eq 0 ]]; then
  grant_root || status=1
else
  say "Skipping Monitoring Reader at / (--skip-root)"
fi
if [[ $status -eq 0 ]]; then
  say "Done. Check with: GET /api/health?format=text (the doctor as the app), or palwatch doctor"
fi
exit "$status"
