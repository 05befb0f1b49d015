from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_invites_password_resets"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="service_account_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="serviceaccount",
            name="token_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
    ]
