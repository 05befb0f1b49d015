"""What an operator gets on disk and copies from the README: `make run` keeps var/ and the
SQLite files to its own user, and the production example never exposes a gunicorn that
trusts proxy headers to the whole network."""

import ipaddress
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_make_run_keeps_var_and_the_database_to_its_own_user(tmp_path):
    checkout = tmp_path / "keyhouse"
    checkout.mkdir()
    for name in (
        "Makefile",
        "manage.py",
        "pyproject.toml",
        "requirements.lock",
        "requirements-dev.lock",
    ):
        shutil.copy2(ROOT / name, checkout / name)  # keeps mtimes: no reinstall
    # settings.py finds the project through its own real path, so it is copied, not linked.
    shutil.copytree(ROOT / "config", checkout / "config")
    for name in ("accounts", "tokens", "apikeys", "templates", "static"):
        (checkout / name).symlink_to(ROOT / name)
    (checkout / "var").mkdir(mode=0o755)  # an older checkout's var/
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KEYHOUSE_")) and k != "DATABASE_URL"
    }
    make = shutil.which("make")
    assert make
    result = subprocess.run(  # noqa: S603 (our Makefile, our paths)
        [make, "-s", "database", f"VENV={ROOT / '.venv'}", f"PYTHON={sys.executable}"],
        umask=0o022,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    var = checkout / "var"
    assert mode(var) == 0o700
    assert mode(var / "secret_key") == 0o600
    database_files = list(var.glob("keyhouse.sqlite3*"))
    assert var / "keyhouse.sqlite3" in database_files
    for path in database_files:
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"


def production_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README has a production example"
    return "\n".join(blocks)


def test_the_production_example_binds_gunicorn_to_a_private_address():
    example = production_example()
    assert "KEYHOUSE_BEHIND_PROXY=true" in example
    binds = re.findall(r"--bind[ =](\S+)", example)
    assert binds, "the example says where gunicorn listens"
    for bind in binds:
        host = bind.rsplit(":", 1)[0].strip("[]")
        address = ipaddress.ip_address(host)
        assert address.is_loopback or (address.is_private and not address.is_unspecified), bind
