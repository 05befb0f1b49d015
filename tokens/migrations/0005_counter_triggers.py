"""Database-kept counters (``NamedModel.DATABASE_KEPT``): each organization's
``service_account_count`` and each service account's ``token_count`` equal the number of
their rows, whoever writes them (services, bulk inserts, cascades, raw SQL): one trigger per
kind of write of the counted table, run in the writing transaction. Then the counts of the
rows already there. (Here, in the tokens app, because it needs both apps' tables.)

On SQLite a table that Django remakes to alter it loses its triggers: a later migration that
alters either table must create them again (tests/accounts/test_counters.py would fail).
"""

from django.core.exceptions import ImproperlyConfigured
from django.db import migrations

# (counted table, its foreign key, the table holding the counter, the counter)
COUNTERS = [
    ("accounts_serviceaccount", "org_id", "accounts_organization", "service_account_count"),
    ("tokens_serviceaccounttoken", "service_account_id", "accounts_serviceaccount", "token_count"),
]


def _statements(vendor: str, table: str, fk: str, parent: str, counter: str) -> list[str]:
    add = f"UPDATE {parent} SET {counter} = {counter} + 1 WHERE id = NEW.{fk}"  # noqa: S608
    remove = f"UPDATE {parent} SET {counter} = {counter} - 1 WHERE id = OLD.{fk}"  # noqa: S608
    name = f"{parent}_{counter}"
    fill = (
        f"UPDATE {parent} SET {counter} = "  # noqa: S608
        f"(SELECT COUNT(*) FROM {table} WHERE {table}.{fk} = {parent}.id)"
    )
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {add}; END",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {remove}; END",
            f"CREATE TRIGGER {name}_move AFTER UPDATE OF {fk} ON {table} "
            f"WHEN OLD.{fk} IS NOT NEW.{fk} BEGIN {remove}; {add}; END",
            fill,
        ]
    if vendor == "postgresql":
        return [
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('DELETE', 'UPDATE') THEN {remove}; END IF;
                IF TG_OP IN ('INSERT', 'UPDATE') THEN {add}; END IF;
                RETURN NULL;
            END $$""",
            f"CREATE TRIGGER {name}_write AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {name}_move AFTER UPDATE OF {fk} ON {table} "
            f"FOR EACH ROW WHEN (OLD.{fk} IS DISTINCT FROM NEW.{fk}) EXECUTE FUNCTION {name}()",
            fill,
        ]
    # Keyhouse runs on SQLite (embedded) and PostgreSQL (production) only (DESIGN §9).
    raise ImproperlyConfigured(f"Keyhouse needs SQLite or PostgreSQL, not {vendor}")


def _dropped(vendor: str, table: str, fk: str, parent: str, counter: str) -> list[str]:
    name = f"{parent}_{counter}"
    if vendor == "sqlite":
        return [f"DROP TRIGGER {name}_{kind}" for kind in ("insert", "delete", "move")]
    return [
        f"DROP TRIGGER {name}_write ON {table}",
        f"DROP TRIGGER {name}_move ON {table}",
        f"DROP FUNCTION {name}()",
    ]


def create(apps, schema_editor) -> None:
    for counter in COUNTERS:
        for statement in _statements(schema_editor.connection.vendor, *counter):
            schema_editor.execute(statement, params=None)


def drop(apps, schema_editor) -> None:
    for counter in COUNTERS:
        for statement in _dropped(schema_editor.connection.vendor, *counter):
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0004_token_expiry_recorded"),
        ("accounts", "0009_counters"),
    ]

    operations = [migrations.RunPython(create, drop)]
