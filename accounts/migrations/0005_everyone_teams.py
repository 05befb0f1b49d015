from django.db import migrations


def create_everyone_teams(apps, schema_editor) -> None:
    """Every existing org gets its built-in Everyone team (new orgs get it from org_create)."""
    Organization = apps.get_model("accounts", "Organization")
    Team = apps.get_model("accounts", "Team")
    with_team = Team.objects.filter(is_everyone=True).values("org_id")
    Team.objects.bulk_create(
        Team(org=org, name="Everyone", name_key="everyone", is_everyone=True)
        for org in Organization.objects.exclude(pk__in=with_team)
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_teams_permissions")]

    operations = [migrations.RunPython(create_everyone_teams, migrations.RunPython.noop)]
