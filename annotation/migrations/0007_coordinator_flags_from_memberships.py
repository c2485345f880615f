"""Coordinator rights now come from memberships alone. Accounts that were made site admins only because they
became coordinators (the old membership service set `is_superuser`) lose that flag, so that taking the role back
works for them too. The one account `bootstrap` creates as a site admin keeps it: the name in FAUNE_ADMIN_USER
(default "coordinator"), as when bootstrap ran. A site admin made with `createsuperuser` who was also a coordinator
somewhere cannot be told apart from a promoted coordinator: they stay a coordinator by membership, and a site admin
gives the flag back (`manage.py createsuperuser` or the admin) if it is still wanted."""

import os

from django.db import migrations


def revoke(apps, schema_editor) -> None:
    user_model, membership = (
        apps.get_model("auth", "User"),
        apps.get_model("annotation", "Membership"),
    )
    coordinators = membership.objects.filter(role="coordinator").values("user_id")
    bootstrap_account = os.environ.get("FAUNE_ADMIN_USER", "coordinator")
    user_model.objects.filter(pk__in=coordinators, is_superuser=True).exclude(
        username=bootstrap_account
    ).update(is_superuser=False, is_staff=False)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0006_current_label_and_merges"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(revoke, migrations.RunPython.noop)]
