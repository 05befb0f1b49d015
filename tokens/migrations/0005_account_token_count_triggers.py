"""Keep ``accounts.ServiceAccount.token_count`` equal to the number of its token rows: one
trigger per write of the tokens table, in the writing statement's transaction, then the
counts of the rows already there."""

from django.db import migrations

TOKENS = "tokens_serviceaccounttoken"
ACCOUNTS = "accounts_serviceaccount"
ADD = f"UPDATE {ACCOUNTS} SET token_count = token_count + 1 WHERE id = NEW.service_account_id"
REMOVE = f"UPDATE {ACCOUNTS} SET token_count = token_count - 1 WHERE id = OLD.service_account_id"
MOVED = "OLD.service_account_id IS DISTINCT FROM NEW.service_account_id"

SQLITE = [
    f"CREATE TRIGGER token_count_insert AFTER INSERT ON {TOKENS} BEGIN {ADD}; END",
    f"CREATE TRIGGER token_count_delete AFTER DELETE ON {TOKENS} BEGIN {REMOVE}; END",
    f"CREATE TRIGGER token_count_move AFTER UPDATE OF service_account_id ON {TOKENS} "
    f"WHEN OLD.service_account_id IS NOT NEW.service_account_id BEGIN {REMOVE}; {ADD}; END",
]
SQLITE_DROP = [
    "DROP TRIGGER token_count_insert",
    "DROP TRIGGER token_count_delete",
    "DROP TRIGGER token_count_move",
]
POSTGRESQL = [
    f"""CREATE FUNCTION token_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN {REMOVE}; END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN {ADD}; END IF;
        RETURN NULL;
    END $$""",
    f"CREATE TRIGGER token_count_write AFTER INSERT OR DELETE ON {TOKENS} "
    "FOR EACH ROW EXECUTE FUNCTION token_count_keep()",
    f"CREATE TRIGGER token_count_move AFTER UPDATE OF service_account_id ON {TOKENS} "
    f"FOR EACH ROW WHEN ({MOVED}) EXECUTE FUNCTION token_count_keep()",
]
POSTGRESQL_DROP = [
    f"DROP TRIGGER token_count_move ON {TOKENS}",
    f"DROP TRIGGER token_count_write ON {TOKENS}",
    "DROP FUNCTION token_count_keep()",
]
FILL = (
    f"UPDATE {ACCOUNTS} SET token_count = "  # noqa: S608
    f"(SELECT COUNT(*) FROM {TOKENS} WHERE service_account_id = {ACCOUNTS}.id)"
)


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise NotImplementedError(f"token_count has no triggers for {vendor}")
    for statement in statements[vendor]:
        schema_editor.execute(statement, params=None)


def create(apps, schema_editor) -> None:
    _run(schema_editor, {"sqlite": [*SQLITE, FILL], "postgresql": [*POSTGRESQL, FILL]})


def drop(apps, schema_editor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP})


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0004_token_expiry_recorded"),
        ("accounts", "0009_serviceaccount_token_count"),
    ]

    operations = [migrations.RunPython(create, drop)]
