"""Personas shared by every test: two orgs and one user per role. Helper functions that are
not fixtures live in tests/helpers.py."""

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.test import Client, override_settings
from django.urls import clear_url_caches

from accounts.access import Identity
from accounts.audit import services as audit_services
from accounts.models import Organization, ServiceAccount, User
from accounts.roles import Role
from accounts.services import org_create, service_account_create
from apikeys import format as key_format
from apikeys.services import api_key_create
from tests.helpers import make_user, signed_in
from tokens import format as token_format


@pytest.fixture(scope="session", autouse=True)
def _collected_static(tmp_path_factory) -> Iterator[None]:
    """Pages render with the collected, hashed static files, as production serves them.

    Each test session collects them into its own folder (about a second): a bare `pytest`
    needs no `collectstatic` first, and CI's SQLite and PostgreSQL sessions can run side by
    side without one rewriting the files (the manifest, the CSS) the other is serving."""
    with override_settings(STATIC_ROOT=tmp_path_factory.mktemp("static")):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class AuditScan:
    """The secrets a test made (tokens, keys and their digests, passwords) and the JSON of
    every audit event it wrote, from any thread (the browser tests' server included)."""

    secrets: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)  # as JSON

    def leaks(self) -> list[str]:
        return sorted({secret for secret in self.secrets for e in self.events if secret in e})


PASSWORD_MIN_SCAN = 8  # shorter test passwords ("wrong") are words an event may well contain


@pytest.fixture(autouse=True)
def audit_scan(monkeypatch) -> AuditScan:
    """No secret, digest or password ever appears in an audit event (DESIGN §13): every
    secret the test run creates is collected where it is made, every event where it is
    saved, and each test ends by looking for the one in the other."""
    scan = AuditScan()
    for module in (token_format, key_format):

        def generate(*args, _module=module, _original=module.generate, **kwargs):
            secret = _original(*args, **kwargs)
            scan.secrets.update({secret, _module.digest(secret)})
            if _module is key_format:  # the random part inside a legacy key's JSON too
                scan.secrets.add(key_format.parse(secret).secret)
            return secret

        monkeypatch.setattr(module, "generate", generate)
    set_password = User.set_password

    def collecting_set_password(user, raw):
        if raw and len(raw) >= PASSWORD_MIN_SCAN:
            scan.secrets.add(raw)
        set_password(user, raw)

    monkeypatch.setattr(User, "set_password", collecting_set_password)
    write = audit_services.write

    def collecting_write(events):
        scan.events.extend(json.dumps(model_to_dict(event), default=str) for event in events)
        return write(events)

    monkeypatch.setattr(audit_services, "write", collecting_write)
    yield scan
    assert not scan.leaks(), "an audit event contains a secret, digest or password"


@pytest.fixture
def org(db) -> Organization:
    return org_create(name="Acme")


@pytest.fixture
def other_org(db) -> Organization:
    return org_create(name="Globex")


@pytest.fixture
def admin(org) -> User:
    return make_user("alice", org, Role.ADMIN)


@pytest.fixture
def editor(org) -> User:
    return make_user("eddie", org, Role.EDITOR)


@pytest.fixture
def viewer(org) -> User:
    return make_user("vera", org, Role.VIEWER)


@pytest.fixture
def no_role(org) -> User:
    return make_user("nobody", org, Role.NONE)


@pytest.fixture
def outsider(other_org) -> User:
    """An Admin, but of the other org."""
    return make_user("oscar", other_org, Role.ADMIN)


@pytest.fixture
def server_admin(db) -> User:
    return make_user("root", None, None, is_superuser=True, is_staff=True)


@pytest.fixture
def org_admin(org, admin) -> Identity:
    """Alice acting as Admin of Acme, for calling services directly."""
    return Identity(kind="user", org=org, role=Role.ADMIN, user=admin)


@pytest.fixture
def make_account(org_admin):
    def make(name: str = "robot", **kwargs) -> ServiceAccount:
        return service_account_create(identity=org_admin, name=name, **kwargs)

    return make


@pytest.fixture
def make_key(org_admin):
    """A legacy API key (and its secret) made through the service, as Alice by default."""

    def make(name: str = "key", role: Role = Role.VIEWER, seconds_to_live: int = 3600, **kw):
        return api_key_create(
            identity=kw.pop("identity", org_admin),
            name=name,
            role=role,
            seconds_to_live=seconds_to_live,
        )

    return make


@pytest.fixture
def admin_client(admin) -> Client:
    return signed_in(admin)


@pytest.fixture
def django_admin_site(settings):
    """Django's admin site served at /django-admin/, as KEYHOUSE_DJANGO_ADMIN=true does (the
    URLconf reads the setting once, so it is read again here, and after the test)."""
    import config.urls

    settings.KEYHOUSE_DJANGO_ADMIN = True
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.KEYHOUSE_DJANGO_ADMIN = False
    importlib.reload(config.urls)
    clear_url_caches()
