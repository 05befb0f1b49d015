import json

from django.test import Client

from tests.conftest import basic_auth


def call(client: Client, method: str, url: str, body=None, *, as_user: str = "alice", **headers):
    """One API request as ``as_user`` (HTTP Basic) with an optional JSON body."""
    kwargs = {**basic_auth(as_user), **headers}
    if body is not None and method.upper() != "GET":
        kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method.lower())(url, **kwargs)
