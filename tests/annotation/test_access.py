"""What a user may see, worked out cheaply: every request asks for the user's rights (one query,
the taxon tree walked in the database) and every frame of a review task is checked one by one
(`image_visible_to`, which must agree with the pool-wide `images_visible_to`, as must
`visible_among` for a task's similar images)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as UserModel
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import ReviewTask, Role, Taxon
from annotation.permissions import user_access
from annotation.selectors import image_visible_to, images_visible_to, visible_among
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.organisations import membership_set
from tests import factories
from tests.factories import taxon

# integration: the recursive query must run on PostgreSQL as on SQLite
pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _fresh(user: UserModel) -> UserModel:
    """The user as the next request loads it: no rights remembered yet."""
    return UserModel.objects.get(pk=user.pk)


def test_an_experts_rights_come_in_one_query_with_every_descendant_taxon(
    org, other_org, django_assert_num_queries
):
    family = Taxon.objects.create(slug="test-family", name_en="Family", name_fr="Famille")
    genus = Taxon.objects.create(slug="test-genus", name_en="Genus", name_fr="Genre", parent=family)
    species = Taxon.objects.create(
        slug="test-species", name_en="Species", name_fr="Espèce", parent=genus
    )
    expert = factories.member("edith", org, Role.EXPERT, taxa=[family, taxon("fox")])
    membership_set(user=expert, organisation=other_org, role=Role.PARTNER)
    user = _fresh(expert)
    with django_assert_num_queries(1):
        access = user_access(user)
    assert access.expert_taxon_ids == {family.pk, genus.pk, species.pk, taxon("fox").pk}
    assert access.organisation_ids == {org.pk, other_org.pk}
    assert not access.coordinator
    with django_assert_num_queries(0):  # remembered for the rest of the request
        user_access(user)


def test_a_partners_review_taxa_give_no_expert_rights(org):
    partner = factories.member("pia", org, Role.PARTNER, taxa=[taxon("fox")])
    access = user_access(_fresh(partner))
    assert access.expert_taxon_ids == frozenset()
    assert access.organisation_ids == {org.pk}


def test_coordinators_come_from_a_membership_or_the_site_admin_flag(org, coordinator):
    assert user_access(_fresh(coordinator)).coordinator
    admin = UserModel.objects.create_superuser("root", password="pw-root-long")
    assert user_access(_fresh(admin)).coordinator
    assert not user_access(AnonymousUser()).authenticated


def test_an_image_is_visible_exactly_when_the_pool_query_says_so(
    org, partner, other_partner, expert, coordinator, tmp_path
):
    batch = batch_open(organisation=org, uploader=partner)
    deer, fox, unlabelled = factories.photos_ingested(batch, tmp_path, (1, 2, 3))
    annotation_add(image=deer, taxon=taxon("red-deer"), author=partner)
    annotation_add(image=fox, taxon=taxon("fox"), author=partner)
    # in triage, so every expert sees it while it waits
    ReviewTask.objects.create(
        image=unlabelled,
        sequence_id=unlabelled.sequence_id,
        opened_for=unlabelled.sequence_id,
        reason="triage",
    )
    people = [AnonymousUser(), partner, other_partner, expert, coordinator]
    seen = {}
    for person in people:
        for image in (deer, fox, unlabelled):
            found = image_visible_to(_fresh_or_anonymous(person), image.pk)
            expected = images_visible_to(person).filter(pk=image.pk).exists()
            assert (found is not None) == expected, (person, image.original_name)
            seen[str(person), image.original_name] = expected
        ids = [deer.pk, fox.pk, unlabelled.pk, 10**9]
        assert visible_among(_fresh_or_anonymous(person), ids) == set(
            images_visible_to(person).filter(pk__in=ids).values_list("pk", flat=True)
        ), person
    assert seen["erin", "1.jpg"] and seen["erin", "3.jpg"] and not seen["erin", "2.jpg"]
    assert not any(seen["otto", name] for name in ("1.jpg", "2.jpg", "3.jpg"))
    assert image_visible_to(coordinator, 10**9) is None


def _fresh_or_anonymous(person):
    return person if isinstance(person, AnonymousUser) else _fresh(person)


def test_an_image_checked_for_a_frame_is_read_alone(org, partner, tmp_path):
    """The review desk checks every thumbnail, prediction and similar-images request this way: one
    row of one table, unless the caller names the relations it needs."""
    batch = batch_open(organisation=org, uploader=partner)
    (photo,) = factories.photos_ingested(batch, tmp_path, (1,))
    user_access(partner)  # the rights are read once per request, before this check
    with CaptureQueriesContext(connection) as read:
        assert image_visible_to(partner, photo.pk) == photo
    assert len(read.captured_queries) == 1 and "JOIN" not in read.captured_queries[0]["sql"]
    with CaptureQueriesContext(connection) as read:
        assert (
            image_visible_to(partner, photo.pk, "deployment").deployment_id == photo.deployment_id
        )
    assert read.captured_queries[0]["sql"].count("JOIN") == 1
