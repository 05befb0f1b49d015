"""Start-up refuses malformed configuration with a clear message."""

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
