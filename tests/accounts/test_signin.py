import pytest
from django.test import Client

from accounts.models import Membership
from tests.helpers import PASSWORD, make_user, signed_in

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str = PASSWORD):
    return client.post("/login", {"username": username, "password": password})


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Log in" in response.content
    assert "Content-Security-Policy" in response.headers
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]


def test_admin_signs_in_with_username_and_lands_on_service_accounts(client, admin):
    response = log_in(client, "alice")
    assert response.status_code == 302
    assert client.get("/").url == "/org/serviceaccounts"
    assert client.get("/org/serviceaccounts").status_code == 200


def test_sign_in_by_email_is_case_insensitive(client, admin):
    assert log_in(client, "ALICE@example.com").status_code == 302


def test_session_key_changes_on_sign_in(client, admin):
    client.get("/login")
    client.session.save()
    before = client.session.session_key
    log_in(client, "alice")
    assert client.session.session_key != before


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("ghost", PASSWORD)])
def test_wrong_credentials_get_one_generic_error(client, admin, username, password):
    response = log_in(client, username, password)
    assert response.status_code == 200
    assert b"Invalid username or password." in response.content
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_username_even_with_the_right_password(client, admin):
    for _ in range(5):
        log_in(client, "alice", "wrong")
    response = log_in(client, "alice")
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_lockout_expires_after_the_cool_off(client, admin, settings):
    from datetime import timedelta

    for _ in range(5):
        log_in(client, "alice", "wrong")
    settings.AXES_COOLOFF_TIME = timedelta(seconds=0)
    assert log_in(client, "alice").status_code == 302


def test_operator_can_unlock_a_username(client, admin):
    from django.core.management import call_command

    for _ in range(5):
        log_in(client, "alice", "wrong")
    call_command("axes_reset_username", "alice")
    assert log_in(client, "alice").status_code == 302


def test_inactive_user_cannot_sign_in(client, admin):
    admin.is_active = False
    admin.save()
    assert b"Invalid username or password." in log_in(client, "alice").content


def test_pages_require_sign_in(client):
    response = client.get("/org/serviceaccounts")
    assert response.status_code == 302
    assert response.url.startswith("/login?next=")


def test_logout_by_get_asks_first_and_post_ends_the_session(admin_client):
    page = admin_client.get("/logout")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<form method="post" action="/logout"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Log out</button>" in html
    assert admin_client.get("/org/serviceaccounts").status_code == 200  # still signed in
    assert admin_client.post("/logout").status_code == 302
    assert admin_client.get("/org/serviceaccounts").status_code == 302


def test_logout_page_for_someone_signed_out_leads_to_log_in(client):
    response = client.get("/logout")
    assert response.status_code == 302
    assert response.url == "/login"


def test_logout_refuses_other_methods(admin_client):
    assert admin_client.put("/logout").status_code == 405


def test_forms_enforce_csrf(admin):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 403
    client.force_login(admin)
    assert client.post("/logout").status_code == 403
    assert client.post("/profile/switch-org", {"org": 1}).status_code == 403


def test_login_with_csrf_token_works_under_enforcement(admin):
    client = Client(enforce_csrf_checks=True)
    client.get("/login")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/login", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_user_switches_to_an_org_they_belong_to(admin, org, other_org):
    Membership.objects.create(org=other_org, user=admin, role="Viewer")
    client = signed_in(admin)
    response = client.post("/profile/switch-org", {"org": other_org.pk, "next": "/profile"})
    assert response.url == "/profile"
    admin.refresh_from_db()
    assert admin.current_org == other_org
    # Now only a Viewer there: the admin pages are closed.
    assert client.get("/org/serviceaccounts").status_code == 403


def test_profile_offers_a_switch_only_with_another_org_and_selects_the_current_one(
    admin, org, other_org
):
    client = signed_in(admin)
    html = client.get("/profile").content.decode()
    assert "Switch organization" not in html
    assert f"Your organization: <strong>{org.name}</strong>" in html
    Membership.objects.create(org=other_org, user=admin, role="Viewer")
    html = client.get("/profile").content.decode()
    assert "Switch organization" in html
    assert "---------" not in html
    assert f'<option value="{org.pk}" selected>' in html


def test_user_cannot_switch_to_an_org_they_do_not_belong_to(admin, org, other_org):
    client = signed_in(admin)
    client.post("/profile/switch-org", {"org": other_org.pk})
    admin.refresh_from_db()
    assert admin.current_org == org


def test_switch_ignores_an_offsite_next(admin, org):
    response = signed_in(admin).post(
        "/profile/switch-org", {"org": org.pk, "next": "https://evil.example/"}
    )
    assert response.url == "/"


def test_change_password(admin):
    client = signed_in(admin)
    response = client.post(
        "/profile",
        {
            "old_password": PASSWORD,
            "new_password1": "n3w-Pa55phrase!",
            "new_password2": "n3w-Pa55phrase!",
        },
    )
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password("n3w-Pa55phrase!")
    assert client.get("/profile").status_code == 200  # still signed in


def test_change_password_shows_errors(admin):
    response = signed_in(admin).post(
        "/profile", {"old_password": "nope", "new_password1": "a", "new_password2": "b"}
    )
    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content


def test_layout_shows_configuration_navigation_and_org(admin_client):
    html = admin_client.get("/org/serviceaccounts").content.decode()
    assert "Configuration" in html
    assert "Service accounts" in html
    assert "Acme" in html
    assert 'hx-headers=\'{"X-CSRFToken":' in html


def test_viewer_gets_a_friendly_403(viewer):
    response = signed_in(viewer).get("/org/serviceaccounts")
    assert response.status_code == 403
    assert b"needs the Admin role" in response.content


def test_user_without_any_org_gets_403(db):
    lonely = make_user("lonely", None, None)
    assert signed_in(lonely).get("/org/serviceaccounts").status_code == 403


def test_failures_from_one_address_lock_that_address_for_every_username(admin, viewer):
    attacker = Client(REMOTE_ADDR="10.0.0.1")
    for name in ("a", "b", "c", "d", "e"):
        attacker.post("/login", {"username": name, "password": "guess"})
    assert b"Too many failed login attempts" in log_in(attacker, "vera").content
    elsewhere = Client(REMOTE_ADDR="10.0.0.2")
    assert log_in(elsewhere, "vera").status_code == 302


def test_failures_on_a_username_lock_it_from_every_address(admin):
    for number in range(5):
        log_in(Client(REMOTE_ADDR=f"10.0.1.{number}"), "alice", "guess")
    response = log_in(Client(REMOTE_ADDR="10.0.2.1"), "alice")
    assert b"Too many failed login attempts" in response.content
