from django.urls import path

from annotation import apis, views
from faune_platform import converters  # noqa: F401 registers <id:...>

api_urlpatterns = [
    path("taxa/", apis.TaxonListApi.as_view(), name="api-taxa"),
    path("deployments/", apis.DeploymentListApi.as_view(), name="api-deployments"),
    path("images/", apis.ImageListApi.as_view(), name="api-images"),
    path("images/<id:pk>/", apis.ImageDetailApi.as_view(), name="api-image"),
    path("images/<id:pk>/annotations/", apis.ImageAnnotationApi.as_view(), name="api-image-annotations"),
    path("batches/", apis.BatchListApi.as_view(), name="api-batches"),
    path("batches/<id:pk>/", apis.BatchDetailApi.as_view(), name="api-batch"),
    path("batches/<id:pk>/files/", apis.BatchFilesApi.as_view(), name="api-batch-files"),
    path("imports/", apis.ImportApi.as_view(), name="api-imports"),
    path("review/queues/", apis.ReviewQueueApi.as_view(), name="api-review-queues"),
    path("review/claim/", apis.ReviewClaimApi.as_view(), name="api-review-claim"),
    path("review/tasks/<id:pk>/label/", apis.ReviewVerdictApi.as_view(), name="api-review-label"),
    path("review/tasks/<id:pk>/unsure/", apis.ReviewVerdictApi.as_view(kind="unsure"), name="api-review-unsure"),
    path("review/tasks/<id:pk>/skip/", apis.ReviewVerdictApi.as_view(kind="skip"), name="api-review-skip"),
    path("review/tasks/<id:pk>/resolve/", apis.ReviewResolveApi.as_view(), name="api-review-resolve"),
    path("review/tasks/<id:pk>/release/", apis.ReviewReleaseApi.as_view(), name="api-review-release"),
    path("review/tasks/<id:pk>/propose/", apis.ReviewProposeApi.as_view(), name="api-review-propose"),
    path("decisions/", apis.DecisionListApi.as_view(), name="api-decisions"),
    path("decisions/<id:pk>/undo/", apis.DecisionUndoApi.as_view(), name="api-decision-undo"),
    path("taxon-proposals/", apis.TaxonProposalListApi.as_view(), name="api-taxon-proposals"),
    path("taxon-proposals/<id:pk>/accept/", apis.TaxonProposalAcceptApi.as_view(), name="api-taxon-proposal-accept"),
    path("taxon-proposals/<id:pk>/decline/", apis.TaxonProposalDeclineApi.as_view(),
         name="api-taxon-proposal-decline"),
    path("review/conflicts/", apis.ReviewConflictListApi.as_view(), name="api-review-conflicts"),
    path("review/agreement/", apis.ReviewAgreementApi.as_view(), name="api-review-agreement"),
    path("organisations/<id:pk>/members/", apis.OrganisationMembersApi.as_view(), name="api-members"),
    path("organisations/<id:pk>/members/<id:user_id>/", apis.OrganisationMemberApi.as_view(), name="api-member"),
]

urlpatterns = [
    path("images/", views.image_list, name="image-list"),
    path("images/<id:pk>/", views.image_detail, name="image-detail"),
    path("images/<id:pk>/file", views.image_file, name="image-file"),
    path("images/<id:pk>/thumbnail", views.image_thumbnail, name="image-thumbnail"),
    path("upload/", views.upload_page, name="upload"),
    path("import/", views.import_page, name="import"),
    path("batches/", views.batch_list, name="batch-list"),
    path("batches/<id:pk>/", views.batch_detail, name="batch-detail"),
    path("taxa/", views.taxon_list, name="taxon-list"),
    path("review/", views.review_page, name="review"),
    path("review/conflicts/", views.review_conflicts_page, name="review-conflicts"),
    path("review/proposals/", views.taxon_proposals_page, name="taxon-proposals"),
    path("decisions/<id:pk>/undo/", views.decision_undo_page, name="decision-undo"),
    path("organisations/", views.organisation_list, name="organisation-list"),
    path("organisations/<id:pk>/members/", views.organisation_members, name="organisation-members"),
]
