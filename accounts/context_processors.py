from django.http import HttpRequest

from accounts.access import current_identity, orgs_for_user


def navigation(request: HttpRequest) -> dict:
    """The sidebar and org switcher's data, for signed-in pages only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    identity = getattr(request, "identity", None) or current_identity(user)
    return {
        "nav_identity": identity,
        "nav_orgs": orgs_for_user(user).only("pk", "name"),
        "nav_show_api_keys": identity is not None and not identity.org.api_keys_hidden,
    }
