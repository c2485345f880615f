"""Coordinator rights now come from memberships alone. Accounts that were made site admins only because they
became coordinators (the old membership service set `is_superuser`) lose that flag, so that taking the role back
works for them too. Members of the bootstrap organisation keep it: that is where `bootstrap` puts the account it
creates with `createsuperuser`'s rules."""
from django.db import migrations

BOOTSTRAP_ORGANISATION = "Faune coordination"


def revoke(apps, schema_editor):
    user_model, membership = apps.get_model("auth", "User"), apps.get_model("annotation", "Membership")
    coordinators = membership.objects.filter(role="coordinator").values("user_id")
    bootstrap = membership.objects.filter(organisation__name=BOOTSTRAP_ORGANISATION).values("user_id")
    user_model.objects.filter(pk__in=coordinators, is_superuser=True).exclude(pk__in=bootstrap).update(
        is_superuser=False, is_staff=False)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0006_current_label_and_merges"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(revoke, migrations.RunPython.noop)]
