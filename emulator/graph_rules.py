"""What Graph v1.0 returns without `$select`, and which application permission each call needs.

Used by the Graph handlers (graph.py, graph_subscriptions.py) to shape every directory object
they answer and to refuse a caller whose token lacks the documented permission. Every set here
is copied from Microsoft's documentation; emulator/README.md ("Graph: default properties and
permissions") names the page for each.
"""

from __future__ import annotations

from typing import Any

# -- default property sets ----------------------------------------------------------------------

# learn.microsoft.com/graph/api/resources/user ("Properties returned by default" / user-get:
# "by default, only a limited set of properties are returned"). accountEnabled is not among them.
USER_DEFAULT = frozenset(
    {
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    }
)
# User.ReadBasic.All: only the basic profile (learn: permissions-reference, User.ReadBasic.All).
USER_BASIC = frozenset({"displayName", "givenName", "id", "mail", "surname", "userPrincipalName", "businessPhones"})
# learn: resources/group ("Returned by default" on each of these); groups have no accountEnabled.
GROUP_DEFAULT = frozenset(
    {"id", "displayName", "description", "groupTypes", "mail", "mailEnabled", "mailNickname", "securityEnabled"}
)
# learn: resources/serviceprincipal: the properties this emulator renders are all returned by default.
SERVICE_PRINCIPAL_DEFAULT = frozenset(
    {
        "id",
        "accountEnabled",
        "alternativeNames",
        "appDisplayName",
        "appId",
        "appOwnerOrganizationId",
        "displayName",
        "servicePrincipalType",
    }
)
DEFAULTS = {
    "User": USER_DEFAULT,
    "Group": GROUP_DEFAULT,
    "ServicePrincipal": SERVICE_PRINCIPAL_DEFAULT,
    "ManagedIdentity": SERVICE_PRINCIPAL_DEFAULT,
}
# Properties the emulator knows per type (a `$select` of anything else is a 400, as Graph answers).
KNOWN = {
    "User": USER_DEFAULT | {"accountEnabled", "deletedDateTime"},
    "Group": GROUP_DEFAULT | {"deletedDateTime"},
    "ServicePrincipal": SERVICE_PRINCIPAL_DEFAULT | {"deletedDateTime"},
    "ManagedIdentity": SERVICE_PRINCIPAL_DEFAULT | {"deletedDateTime"},
}

# -- application permissions (least privileged first, then the higher ones Graph accepts) ----------

DIRECTORY = frozenset({"Directory.Read.All", "Directory.ReadWrite.All"})
USERS = frozenset({"User.Read.All", "User.ReadWrite.All"}) | DIRECTORY  # user-get, user-list
USERS_BASIC = USERS | {"User.ReadBasic.All"}
GROUPS = frozenset({"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All"}) | DIRECTORY  # group-get/list
SERVICE_PRINCIPALS = frozenset({"Application.Read.All", "Application.ReadWrite.All"}) | DIRECTORY
READ = {
    "User": USERS_BASIC,
    "Group": GROUPS,
    "ServicePrincipal": SERVICE_PRINCIPALS,
    "ManagedIdentity": SERVICE_PRINCIPALS,
}
# directory-deleteditems-get / -list: per type, User.Read.All / Group.Read.All / Application.Read.All.
DELETED = {
    "User": USERS,
    "Group": frozenset({"Group.Read.All", "Group.ReadWrite.All"}) | DIRECTORY,
    "ServicePrincipal": SERVICE_PRINCIPALS,
    "ManagedIdentity": SERVICE_PRINCIPALS,
}
# directory-deleteditems-restore: User.ReadWrite.All / Group.ReadWrite.All / Application.ReadWrite.All.
RESTORE = {
    "User": frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"}),
    "Group": frozenset({"Group.ReadWrite.All", "Directory.ReadWrite.All"}),
    "ServicePrincipal": frozenset({"Application.ReadWrite.All", "Directory.ReadWrite.All"}),
    "ManagedIdentity": frozenset({"Application.ReadWrite.All", "Directory.ReadWrite.All"}),
}
# directoryobject-get and directoryobject-getbyids: Directory.Read.All only.
DIRECTORY_OBJECTS = DIRECTORY
# group-list-transitivemembers / group-list-members: GroupMember.Read.All (Group.Read.All, Directory.Read.All).
MEMBERS = GROUPS
# *-list-transitivememberof, per type: a user's needs User.Read.All (or GroupMember/Group.Read.All);
# a group's needs Directory.Read.All; a service principal's Application.Read.All.
MEMBER_OF = {
    "User": USERS | {"GroupMember.Read.All", "Group.Read.All"},
    "Group": DIRECTORY,
    "ServicePrincipal": SERVICE_PRINCIPALS,
    "ManagedIdentity": SERVICE_PRINCIPALS,
}
DELTA = SERVICE_PRINCIPALS  # serviceprincipal-delta
SEND_MAIL = frozenset({"Mail.Send"})  # user-sendmail


def exchange_allows(caller: Any, role: str, mailbox: Any) -> bool:
    """Exchange Online RBAC for Applications: an `Application …` role assigned to the app's service
    principal in Exchange, for every mailbox or those its management scope names. The grant lives
    in Exchange, not in Entra: the token carries no such role, and it adds to what Entra grants
    (learn: exchange/permissions-exo/application-rbac). Scenario key `exchangeAppRoles` on the
    principal: `[{"role": "Application Mail.Send", "mailboxes"?: [UPN or object id, ...]}]`."""
    if caller is None:
        return False
    names = {str(mailbox.object_id).lower(), str(mailbox.raw.get("userPrincipalName", "")).lower()}
    for grant in caller.raw.get("exchangeAppRoles") or []:
        if not isinstance(grant, dict) or str(grant.get("role", "")).lower() != role.lower():
            continue
        scope = grant.get("mailboxes")
        if scope is None or names & {str(m).lower() for m in scope}:
            return True
    return False


# subscription-post-subscriptions: users need User.Read.All, groups Group.Read.All.
SUBSCRIPTIONS = {"User": USERS, "Group": frozenset({"Group.Read.All", "Group.ReadWrite.All"}) | DIRECTORY}

# `in` is limited to 15 expressions in a filter clause by default (learn: filter-query-parameter).
FILTER_IN_LIMIT = 15


def project(obj: dict[str, Any], kind: str, select: str | None) -> dict:
    """`obj` as Graph answers it: the `$select`ed properties, else the type's default set.

    `@odata.type` and the `@odata.*` annotations are kept; an unknown `$select` name is kept out
    (typed collections refuse it earlier, see `unknown_selected`).
    """
    named = {name.strip() for name in select.split(",") if name.strip()} if select else set()
    wanted = named | {"id"} if select else DEFAULTS[kind]
    # deletedItems answers always carry deletedDateTime (learn: directory-deleteditems-get examples).
    return {k: v for k, v in obj.items() if k in wanted or k.startswith("@") or k == "deletedDateTime"}


def unknown_selected(kind: str, select: str | None) -> list[str]:
    """`$select` names that the type does not have (Graph: 400 Request_BadRequest)."""
    if not select:
        return []
    return [name.strip() for name in select.split(",") if name.strip() and name.strip() not in KNOWN[kind]]
