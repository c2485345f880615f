from django.urls import path

from annotation import (
    apis,
    apis_people,
    apis_review,
    apis_uploads,
    views,
    views_batches,
    views_deployments,
    views_people,
)
from faune_platform import converters  # noqa: F401 registers <id:...>

api_urlpatterns = [
    path("taxa/", apis.TaxonListApi.as_view(), name="api-taxa"),
    path("deployments/", apis.DeploymentListApi.as_view(), name="api-deployments"),
    path("images/", apis.ImageListApi.as_view(), name="api-images"),
    path("images/<id:pk>/", apis.ImageDetailApi.as_view(), name="api-image"),
    path(
        "images/<id:pk>/annotations/",
        apis.ImageAnnotationApi.as_view(),
        name="api-image-annotations",
    ),
    path("batches/", apis_uploads.BatchListApi.as_view(), name="api-batches"),
    path("batches/<id:pk>/", apis_uploads.BatchDetailApi.as_view(), name="api-batch"),
    path("batches/<id:pk>/files/", apis_uploads.BatchFilesApi.as_view(), name="api-batch-files"),
    path("batches/<id:pk>/close/", apis_uploads.BatchCloseApi.as_view(), name="api-batch-close"),
    path("imports/", apis_uploads.ImportApi.as_view(), name="api-imports"),
    path(
        "imports/<id:pk>/mapping/",
        apis_uploads.ImportMappingApi.as_view(),
        name="api-import-mapping",
    ),
    path("review/queues/", apis_review.ReviewQueueApi.as_view(), name="api-review-queues"),
    path("review/claim/", apis_review.ReviewClaimApi.as_view(), name="api-review-claim"),
    path(
        "review/tasks/<id:pk>/label/",
        apis_review.ReviewVerdictApi.as_view(),
        name="api-review-label",
    ),
    path(
        "review/tasks/<id:pk>/unsure/",
        apis_review.ReviewVerdictApi.as_view(kind="unsure"),
        name="api-review-unsure",
    ),
    path(
        "review/tasks/<id:pk>/skip/",
        apis_review.ReviewVerdictApi.as_view(kind="skip"),
        name="api-review-skip",
    ),
    path(
        "review/tasks/<id:pk>/resolve/",
        apis_review.ReviewResolveApi.as_view(),
        name="api-review-resolve",
    ),
    path(
        "review/tasks/<id:pk>/release/",
        apis_review.ReviewReleaseApi.as_view(),
        name="api-review-release",
    ),
    path(
        "review/tasks/<id:pk>/propose/",
        apis_review.ReviewProposeApi.as_view(),
        name="api-review-propose",
    ),
    path("decisions/", apis.DecisionListApi.as_view(), name="api-decisions"),
    path("decisions/<id:pk>/undo/", apis.DecisionUndoApi.as_view(), name="api-decision-undo"),
    path("taxon-proposals/", apis.TaxonProposalListApi.as_view(), name="api-taxon-proposals"),
    path(
        "taxon-proposals/<id:pk>/accept/",
        apis.TaxonProposalAcceptApi.as_view(),
        name="api-taxon-proposal-accept",
    ),
    path(
        "taxon-proposals/<id:pk>/decline/",
        apis.TaxonProposalDeclineApi.as_view(),
        name="api-taxon-proposal-decline",
    ),
    path(
        "review/conflicts/",
        apis_review.ReviewConflictListApi.as_view(),
        name="api-review-conflicts",
    ),
    path(
        "review/agreement/", apis_review.ReviewAgreementApi.as_view(), name="api-review-agreement"
    ),
    path(
        "organisations/<id:pk>/members/",
        apis_people.OrganisationMembersApi.as_view(),
        name="api-members",
    ),
    path(
        "organisations/<id:pk>/members/<id:user_id>/",
        apis_people.OrganisationMemberApi.as_view(),
        name="api-member",
    ),
]

urlpatterns = [
    path("images/", views.image_list, name="image-list"),
    path("images/<id:pk>/", views.image_detail, name="image-detail"),
    path("images/<id:pk>/file", views.image_file, name="image-file"),
    path("images/<id:pk>/thumbnail", views.image_thumbnail, name="image-thumbnail"),
    path("upload/", views_batches.upload_page, name="upload"),
    path("import/", views_batches.import_page, name="import"),
    path("import/<id:pk>/classes/", views_batches.import_classes_page, name="import-classes"),
    path("import/<id:pk>/cancel/", views_batches.import_cancel_view, name="import-cancel"),
    path("batches/", views_batches.batch_list, name="batch-list"),
    path("batches/<id:pk>/", views_batches.batch_detail, name="batch-detail"),
    path("batches/<id:pk>/close/", views_batches.batch_close_view, name="batch-close"),
    path("taxa/", views.taxon_list, name="taxon-list"),
    path("review/", views.review_page, name="review"),
    path("review/conflicts/", views.review_conflicts_page, name="review-conflicts"),
    path("organisations/", views_people.organisation_list, name="organisation-list"),
    path(
        "organisations/<id:pk>/members/",
        views_people.organisation_members,
        name="organisation-members",
    ),
    path("deployments/", views_deployments.deployment_list, name="deployment-list"),
    path("deployments/<id:pk>/", views_deployments.deployment_detail, name="deployment-detail"),
    path("review/proposals/", views.taxon_proposals_page, name="taxon-proposals"),
    path("decisions/<id:pk>/undo/", views.decision_undo_page, name="decision-undo"),
]
