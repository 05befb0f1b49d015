from django.db import migrations


def create_main_org(apps, schema_editor) -> None:
    Organization = apps.get_model("accounts", "Organization")
    if not Organization.objects.exists():
        # The first row of a fresh table gets id 1 on every backend, without touching sequences.
        Organization.objects.create(name="Main Org.", name_key="main org.")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_main_org, migrations.RunPython.noop)]
