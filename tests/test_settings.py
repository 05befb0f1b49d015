"""Start-up refuses malformed configuration with a clear message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYHOUSE_"))}
    clean.pop("DATABASE_URL", None)  # the default SQLite file
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env={"KEYHOUSE_SECRET_KEY_FILE": "/nonexistent/secret_key", **clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_env_bool(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be true or false"):
        env_bool("X_FLAG")


def test_env_int(monkeypatch):
    monkeypatch.setenv("X_NUM", " 12 ")
    assert env_int("X_NUM", 3) == 12
    monkeypatch.setenv("X_NUM", "")
    assert env_int("X_NUM", 3) == 3
    for bad, message in [("1.5", "whole number"), ("-2", "at least 0"), ("101", "at most 100")]:
        monkeypatch.setenv("X_NUM", bad)
        with pytest.raises(ImproperlyConfigured, match=message):
            env_int("X_NUM", 3, minimum=0, maximum=100)


def test_env_list(monkeypatch):
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "k", "DJANGO_DEBUG": "sure"}, "DJANGO_DEBUG must be true or false"),
        ({"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT": "ten"},
            "KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT must be a whole number",
        ),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_LAST_USED_INTERVAL_SECONDS": "-5"},
            "KEYHOUSE_LAST_USED_INTERVAL_SECONDS must be at least 0",
        ),
        ({"DJANGO_SECRET_KEY": "k", "KEYHOUSE_TOKEN_PREFIX": "GL-SA"}, "KEYHOUSE_TOKEN_PREFIX"),
        ({"DJANGO_SECRET_KEY": "k", "KEYHOUSE_LOG_LEVEL": "verbose"}, "KEYHOUSE_LOG_LEVEL"),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE": "0"},
            "KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE",
        ),
        ({"DJANGO_SECRET_KEY": "k", "KEYHOUSE_PROXY_COUNT": "0"}, "KEYHOUSE_PROXY_COUNT"),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_SESSION_IDLE_SECONDS": "10"},
            "KEYHOUSE_SESSION_IDLE_SECONDS must be at least 60",
        ),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_SESSION_MAX_SECONDS": "1 week"},
            "KEYHOUSE_SESSION_MAX_SECONDS must be a whole number",
        ),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_EXPIRING_SOON_DAYS": "0"},
            "KEYHOUSE_EXPIRING_SOON_DAYS must be at least 1",
        ),
        ({"DJANGO_SECRET_KEY": "k", "KEYHOUSE_PUBLIC_URL": "keyhouse.example.com"}, "PUBLIC_URL"),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_VERIFY_CACHE_SECONDS": "7200"},
            "KEYHOUSE_VERIFY_CACHE_SECONDS must be at most 3600",
        ),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_AUDIT_RETENTION_DAYS": "0"},
            "KEYHOUSE_AUDIT_RETENTION_DAYS must be at least 1",
        ),
        (
            {"DJANGO_SECRET_KEY": "k", "DJANGO_EMAIL_USE_TLS": "true", "DJANGO_EMAIL_USE_SSL": "1"},
            "exclude each other",
        ),
        ({"DJANGO_SECRET_KEY": "k", "DJANGO_EMAIL_PORT": "70000"}, "DJANGO_EMAIL_PORT"),
        ({"DJANGO_SECRET_KEY": "k", "KEYHOUSE_INVITE_DAYS": "0"}, "KEYHOUSE_INVITE_DAYS"),
        (
            {"DJANGO_SECRET_KEY": "k", "KEYHOUSE_PASSWORD_RESET_SECONDS": "86400"},
            "KEYHOUSE_PASSWORD_RESET_SECONDS must be at most 3600",
        ),
        ({"DJANGO_SECRET_KEY": "k", "KEYHOUSE_DJANGO_ADMIN": "maybe"}, "KEYHOUSE_DJANGO_ADMIN"),
        (
            {"DJANGO_SECRET_KEY": "k", "DJANGO_DEFAULT_FROM_EMAIL": "keyhouse"},
            "DJANGO_DEFAULT_FROM_EMAIL must be an e-mail address",
        ),
    ],
)
def test_malformed_environment_stops_start_up(env, message):
    result = load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_debug_needs_no_secret_key_and_defaults_to_sqlite():
    result = load_settings(DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_deploy_check_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYHOUSE_"))}
    env.update(
        DJANGO_SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-1234567890",
        DJANGO_ALLOWED_HOSTS="keyhouse.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_proxy_and_session_settings_come_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.KEYHOUSE_BEHIND_PROXY, s.KEYHOUSE_PROXY_COUNT,"
            " s.SECURE_PROXY_SSL_HEADER[0], s.KEYHOUSE_SESSION_IDLE_SECONDS,"
            " s.KEYHOUSE_SESSION_MAX_SECONDS, s.SESSION_COOKIE_AGE)",
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYHOUSE_"))},
            "DJANGO_SECRET_KEY": "k",
            "KEYHOUSE_BEHIND_PROXY": "true",
            "KEYHOUSE_PROXY_COUNT": "2",
            "KEYHOUSE_SESSION_IDLE_SECONDS": "900",
            "KEYHOUSE_SESSION_MAX_SECONDS": "3600",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["True", "2", "HTTP_X_FORWARDED_PROTO", "900", "3600", "900"]


def test_the_local_key_file_stands_in_for_the_variable(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("a-local-development-key\n")
    result = load_settings(KEYHOUSE_SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr


def settings_values(*names: str, **env: str) -> dict:
    """Settings as a process started with ``env`` (and no other Keyhouse variable) sees them."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, os, config.settings as s; "
            "print(json.dumps({n: getattr(s, n) for n in os.environ['SETTINGS_WANTED'].split()}))",
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYHOUSE_"))},
            "DJANGO_SECRET_KEY": "k",
            "SETTINGS_WANTED": " ".join(names),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


EMAIL = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "DEFAULT_FROM_EMAIL")


def test_mail_goes_to_the_console_unless_an_smtp_host_is_set():
    assert settings_values(*EMAIL) == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "EMAIL_HOST": "",
        "EMAIL_PORT": 25,
        "EMAIL_USE_TLS": False,
        "DEFAULT_FROM_EMAIL": "Keyhouse <keyhouse@localhost>",
    }


def test_smtp_settings_come_from_the_environment():
    values = settings_values(
        *EMAIL,
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        DJANGO_EMAIL_HOST="smtp.example.com",
        DJANGO_EMAIL_USE_TLS="true",
        DJANGO_EMAIL_HOST_USER="keyhouse",
        DJANGO_EMAIL_HOST_PASSWORD="s3cret",
        DJANGO_DEFAULT_FROM_EMAIL="Keyhouse <keyhouse@example.com>",
    )
    assert values == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,  # the submission port, with STARTTLS
        "EMAIL_USE_TLS": True,
        "DEFAULT_FROM_EMAIL": "Keyhouse <keyhouse@example.com>",
        "EMAIL_HOST_USER": "keyhouse",
        "EMAIL_HOST_PASSWORD": "s3cret",
    }
    assert settings_values("EMAIL_PORT", DJANGO_EMAIL_USE_SSL="true") == {"EMAIL_PORT": 465}


def test_expiring_soon_window_and_public_url():
    assert settings_values("KEYHOUSE_EXPIRING_SOON_DAYS", "KEYHOUSE_PUBLIC_URL") == {
        "KEYHOUSE_EXPIRING_SOON_DAYS": 7,
        "KEYHOUSE_PUBLIC_URL": "",
    }
    values = settings_values(
        "KEYHOUSE_EXPIRING_SOON_DAYS",
        "KEYHOUSE_PUBLIC_URL",
        KEYHOUSE_EXPIRING_SOON_DAYS="14",
        KEYHOUSE_PUBLIC_URL="https://keyhouse.example.com/",
    )
    assert values == {
        "KEYHOUSE_EXPIRING_SOON_DAYS": 14,
        "KEYHOUSE_PUBLIC_URL": "https://keyhouse.example.com",
    }


def test_invites_password_resets_and_the_admin_site():
    names = ("KEYHOUSE_INVITE_DAYS", "PASSWORD_RESET_TIMEOUT", "KEYHOUSE_DJANGO_ADMIN")
    assert settings_values(*names) == {
        "KEYHOUSE_INVITE_DAYS": 7,
        "PASSWORD_RESET_TIMEOUT": 3600,
        "KEYHOUSE_DJANGO_ADMIN": False,
    }
    values = settings_values(
        *names,
        KEYHOUSE_INVITE_DAYS="3",
        KEYHOUSE_PASSWORD_RESET_SECONDS="900",
        KEYHOUSE_DJANGO_ADMIN="true",
    )
    assert values == {
        "KEYHOUSE_INVITE_DAYS": 3,
        "PASSWORD_RESET_TIMEOUT": 900,
        "KEYHOUSE_DJANGO_ADMIN": True,
    }
